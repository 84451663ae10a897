//! Logging into the host: library log records go to a callback.

use super::{boundary, scim_result};
use parking_lot::RwLock;
use std::ffi::{c_char, c_void, CString};

/// Called with `userdata`, a level (1 error, 2 warn, 3 info, 4 debug, 5 trace), the
/// record's target (`"scim::access"`, …) and message; both strings are valid only during
/// the call. May be called from any thread, concurrently. Never called while the library
/// holds a store's writer (records made then follow once it is released), so the callback
/// may call back into the engine.
pub type scim_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    userdata: *mut c_void,
}
// The host promises, by installing it, that the callback and userdata work on any thread.
unsafe impl Send for Sink {}
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct Bridge;

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        let sink = SINK.read();
        let Some(s) = sink.as_ref() else {
            return;
        };
        // Never into the host while this thread holds a store's writer: see `store::held`.
        if crate::store::hold_back(record) {
            return;
        }
        let target = CString::new(record.target()).unwrap_or_default();
        let msg = CString::new(record.args().to_string().replace('\0', " ")).unwrap_or_default();
        unsafe {
            (s.callback)(
                s.userdata,
                record.level() as u32,
                target.as_ptr(),
                msg.as_ptr(),
            )
        };
    }
    fn flush(&self) {}
}

/// Send the library's log records at `max_level` (1–5) and above to `callback`; NULL
/// turns logging off (the default). Replaces any earlier callback. Logging is process
/// wide: when the process already installed another Rust logger, this fails with
/// WRONG_STATE.
#[no_mangle]
pub unsafe extern "C" fn scim_set_log_callback(
    callback: scim_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> scim_result {
    boundary(|| {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        let mut ok = true;
        INSTALLED.call_once(|| ok = log::set_logger(&Bridge).is_ok());
        if !ok {
            return Err(super::Failure(
                scim_result::SCIM_RESULT_WRONG_STATE,
                "another logger is installed in this process".into(),
            ));
        }
        let level = match (callback, max_level) {
            (None, _) | (_, 0) => log::LevelFilter::Off,
            (_, 1) => log::LevelFilter::Error,
            (_, 2) => log::LevelFilter::Warn,
            (_, 3) => log::LevelFilter::Info,
            (_, 4) => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        };
        *SINK.write() = callback.map(|callback| Sink { callback, userdata });
        log::set_max_level(level);
        Ok(())
    })
}
