//! Logging into the host: library log records go to a callback, whose userdata the
//! library keeps until the callback is replaced or cleared, then gives back through the
//! host's finalizer.

use super::events::scim_finalizer;
use super::{boundary, scim_result, Failure};
use parking_lot::RwLock;
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};

/// Called with `userdata`, a level (1 error, 2 warn, 3 info, 4 debug, 5 trace), the
/// record's target (`"scim::access"`, …) and message; both strings are valid only during
/// the call. May be called from any thread, concurrently. Never called while the library
/// holds a store's writer (records made then follow once it is released), so the callback
/// may call back into the engine (but not `scim_log_set_callback`: WRONG_STATE).
pub type scim_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The installed callback and the userdata the library keeps for it.
struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    userdata: *mut c_void,
    userdata_free: scim_finalizer,
}
// The host promises, by installing it, that the callback, its userdata and the finalizer
// work on any thread.
unsafe impl Send for Sink {}
unsafe impl Sync for Sink {}

impl Sink {
    /// Give the userdata back: the one place the finalizer is called, so at most once
    /// per installed sink (a `Sink` is moved out of `SINK` exactly once).
    fn finalize(self) {
        if let Some(free) = self.userdata_free {
            unsafe { free(self.userdata) };
        }
    }
}

/// A reader holds the lock for the whole callback, so replacing the sink (a writer)
/// waits until no call with the old userdata is in progress before finalizing it.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// This thread is inside the host's callback: `scim_log_set_callback` from there
    /// would wait for itself.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct Bridge;

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        // Recursive: the callback may call into the engine, which logs on this thread
        // again; a plain read would wait behind a writer that waits for this reader.
        let sink = SINK.read_recursive();
        let Some(s) = sink.as_ref() else {
            return;
        };
        // Never into the host while this thread holds a store's writer: see `store::held`.
        if crate::store::hold_back(record) {
            return;
        }
        let target = CString::new(record.target()).unwrap_or_default();
        let msg = CString::new(record.args().to_string().replace('\0', " ")).unwrap_or_default();
        let outer = IN_CALLBACK.with(|c| c.replace(true));
        unsafe {
            (s.callback)(
                s.userdata,
                record.level() as u32,
                target.as_ptr(),
                msg.as_ptr(),
            )
        };
        IN_CALLBACK.with(|c| c.set(outer));
    }
    fn flush(&self) {}
}

/// Send the library's log records at `max_level` (1–5) and above to `callback`, which
/// gets `userdata` first; NULL turns logging off (the default), as does `max_level` 0.
/// Logging is process wide.
///
/// Ownership of `userdata`: on success with a non-NULL `callback` the library keeps it
/// and calls `userdata_free(userdata)` (when not NULL) exactly once, when a later call
/// replaces or clears the callback: on the thread making that call, before it returns,
/// after every call of the old callback has returned. It is never called at process exit
/// or library unload (the host's runtime may be gone by then): a host that needs its
/// userdata back calls `scim_log_set_callback(NULL, NULL, NULL, 0)` first. On failure,
/// or with a NULL `callback`, the library keeps nothing: `userdata_free` is not called
/// and `userdata` stays the caller's.
///
/// Errors: WRONG_STATE when the process already installed another Rust logger, or when
/// called from inside the log callback.
#[no_mangle]
pub unsafe extern "C" fn scim_log_set_callback(
    callback: scim_log_callback,
    userdata: *mut c_void,
    userdata_free: scim_finalizer,
    max_level: u32,
) -> scim_result {
    boundary(|| {
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure(
                scim_result::SCIM_RESULT_WRONG_STATE,
                "scim_log_set_callback called from inside the log callback".into(),
            ));
        }
        // Whether `Bridge` is the process's logger, decided by the first call (a later
        // call must not succeed when the first one found another logger).
        static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if !*INSTALLED.get_or_init(|| log::set_logger(&Bridge).is_ok()) {
            return Err(Failure(
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
        let new = callback.map(|callback| Sink {
            callback,
            userdata,
            userdata_free,
        });
        let mut sink = SINK.write();
        let old = std::mem::replace(&mut *sink, new);
        log::set_max_level(level);
        drop(sink);
        // Outside the lock: the finalizer may log or install another callback.
        if let Some(old) = old {
            old.finalize();
        }
        Ok(())
    })
}
