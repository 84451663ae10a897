//! Push delivery: a directory's events handed to a callback, in order, in batches, on a
//! thread of the library's own, as they commit.

use super::Engine;
use crate::error::{Result, ScimError};
use crate::store::Event;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Events read per batch.
const BATCH: usize = 100;
/// How long one wait for events lasts, and so how long [`Subscription::stop`] may wait
/// for the thread to notice (and the pause after a failed read).
const WAIT: Duration = Duration::from_millis(200);

/// A running push subscription (consumer group `"default"`): the
/// host acknowledges with [`Engine::ack_events`], from any thread. Stopped by
/// [`Subscription::stop`] or when dropped.
pub struct Subscription {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Subscription {
    /// Deliver directory `directory_id`'s events to `deliver` as they commit (events
    /// delivered but not acknowledged come again after a restart). `stopped` runs once on
    /// the subscription's thread, after the last call of `deliver`, when the subscription
    /// stops. A failed read is logged (target `scim::events`) and retried. Errors:
    /// not_found (the directory), io (no thread).
    pub fn start(
        engine: Arc<Engine>,
        directory_id: &str,
        mut deliver: impl FnMut(&[Event]) + Send + 'static,
        stopped: impl FnOnce() + Send + 'static,
    ) -> Result<Subscription> {
        engine.directory(directory_id)?;
        let id = directory_id.to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("libscim-events".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    match engine.next_events(&id, BATCH, WAIT) {
                        Ok(batch) if batch.is_empty() => {}
                        Ok(batch) => deliver(&batch),
                        Err(err) => {
                            log::error!(target: "scim::events", "subscription for {id}: {err}");
                            std::thread::sleep(WAIT);
                        }
                    }
                }
                stopped();
            })
            .map_err(|e| ScimError::io(format!("cannot start the subscription thread: {e}")))?;
        Ok(Subscription {
            stop,
            thread: Some(thread),
        })
    }

    /// Stop: waits for a delivery in progress to return, then runs `stopped`. Never call
    /// it from inside `deliver` (it would wait for itself).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.halt();
    }
}
