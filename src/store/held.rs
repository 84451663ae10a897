//! Log records made while the calling thread holds a store's writer wait until it lets
//! go. A host's log callback may be slow, or call back into the engine (a write would
//! then wait for the writer its own thread holds): it never runs under the writer.
//!
//! A store marks the writer held with [`WriterHeld`] (made before it takes the lock,
//! dropped after it released it); the logger that calls into the host (the C ABI's log
//! bridge) asks [`hold_back`] first.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

/// A log record held back: level, target, message.
pub(crate) type Held = (log::Level, String, String);

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static WAITING: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

/// The records this thread holds back, taken (a writer thread hands them to the thread
/// whose write made them: [`hand_over`]).
pub(crate) fn take() -> Vec<Held> {
    WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Log records held back on another thread, here: now, or when this thread lets go of
/// the writer it holds.
pub(crate) fn hand_over(records: Vec<Held>) {
    if records.is_empty() {
        return;
    }
    let _held = WriterHeld::enter();
    WAITING.with(|w| w.borrow_mut().extend(records));
}

/// The calling thread holds (or is about to take) a store's writer until this drops;
/// then the records held back meanwhile are logged, in order.
pub(crate) struct WriterHeld {
    // Bound to the thread whose counter it raised.
    _thread: PhantomData<*const ()>,
}

impl WriterHeld {
    pub(crate) fn enter() -> WriterHeld {
        DEPTH.with(|d| d.set(d.get() + 1));
        WriterHeld {
            _thread: PhantomData,
        }
    }
}

impl Drop for WriterHeld {
    fn drop(&mut self) {
        let left = DEPTH.with(|d| {
            let n = d.get().saturating_sub(1);
            d.set(n);
            n
        });
        if left > 0 {
            return;
        }
        for (level, target, message) in take() {
            log::logger().log(
                &log::Record::builder()
                    .level(level)
                    .target(&target)
                    .args(format_args!("{message}"))
                    .build(),
            );
        }
    }
}

/// When the calling thread holds a store's writer, keep `record` for later and return
/// `true`; a logger calls this before it calls into the host.
pub fn hold_back(record: &log::Record) -> bool {
    if DEPTH.with(Cell::get) == 0 {
        return false;
    }
    WAITING.with(|w| {
        w.borrow_mut().push((
            record.level(),
            record.target().to_owned(),
            record.args().to_string(),
        ))
    });
    true
}
