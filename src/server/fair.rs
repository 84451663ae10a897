//! Fair turns on the runtime workers: requests that run inline (reads) take one of as
//! many turns as there are workers; when every turn is taken, the next free one goes to
//! the waiting directory that holds the fewest. A directory alone uses every worker;
//! one flooding the server makes another wait for at most one request already running,
//! never for the flood's whole queue. Waiting holds no worker (it is an `await`).

use super::ByDirectory;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::oneshot;

pub(super) struct FairTurns {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    free: usize,
    /// Turns held, per directory (absent: none).
    held: ByDirectory<usize>,
    /// Waiters per directory, in arrival order (absent: none).
    waiting: ByDirectory<VecDeque<oneshot::Sender<()>>>,
}

/// A turn; the next waiter gets it when this is dropped.
pub(super) struct Turn {
    state: Arc<Mutex<State>>,
    directory: String,
}

impl FairTurns {
    pub fn new(turns: usize) -> FairTurns {
        FairTurns {
            state: Arc::new(Mutex::new(State {
                free: turns.max(1),
                ..State::default()
            })),
        }
    }

    /// Wait for a turn for a request of `directory`.
    pub async fn turn(&self, directory: &str) -> Turn {
        let busy = {
            let s = self.state.lock();
            s.held.contains_key(directory) || !s.waiting.is_empty()
        };
        if busy {
            // This directory already runs on a worker (or others wait): let the worker
            // look at its sockets first (a yielded task runs after the I/O driver is
            // polled), so another directory's request that just arrived is seen and
            // queued here before this one takes the turn.
            tokio::task::yield_now().await;
        }
        let waiter = {
            let mut s = self.state.lock();
            if s.free > 0 && s.waiting.is_empty() {
                s.free -= 1;
                hold(&mut s, directory);
                None
            } else {
                let (tx, rx) = oneshot::channel();
                s.waiting
                    .entry(directory.to_owned())
                    .or_default()
                    .push_back(tx);
                Some(rx)
            }
        };
        if let Some(rx) = waiter {
            let mut pending = Pending {
                rx: Some(rx),
                state: self.state.clone(),
                directory,
            };
            if let Some(rx) = pending.rx.as_mut() {
                // Its sender is only dropped after handing the turn over.
                let _ = rx.await;
            }
            pending.rx = None;
        }
        Turn {
            state: self.state.clone(),
            directory: directory.to_owned(),
        }
    }
}

/// A waiter: if it is dropped while waiting (its connection closed) after a turn was
/// handed to it, the turn is passed on.
struct Pending<'d> {
    rx: Option<oneshot::Receiver<()>>,
    state: Arc<Mutex<State>>,
    directory: &'d str,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                drop(Turn {
                    state: self.state.clone(),
                    directory: self.directory.to_owned(),
                });
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        release(&mut s, &self.directory);
        // Hand the freed turn to the waiting directory holding the fewest turns.
        while s.free > 0 {
            let Some(next) = s
                .waiting
                .keys()
                .min_by_key(|d| s.held.get(*d).copied().unwrap_or(0))
                .cloned()
            else {
                return;
            };
            let Some(queue) = s.waiting.get_mut(&next) else {
                return;
            };
            let tx = queue.pop_front();
            if queue.is_empty() {
                s.waiting.remove(&next);
            }
            let Some(tx) = tx else { continue };
            // Counted as held before it is sent: the receiver's Turn releases it.
            s.free -= 1;
            hold(&mut s, &next);
            if tx.send(()).is_err() {
                // The waiter is gone (its connection closed): take the turn back.
                release(&mut s, &next);
            }
        }
    }
}

/// One more turn held by `directory` (its key copied only when it held none).
fn hold(s: &mut State, directory: &str) {
    match s.held.get_mut(directory) {
        Some(n) => *n += 1,
        None => {
            s.held.insert(directory.to_owned(), 1);
        }
    }
}

fn release(s: &mut State, directory: &str) {
    s.free += 1;
    if let Some(n) = s.held.get_mut(directory) {
        *n -= 1;
        if *n == 0 {
            s.held.remove(directory);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_directory_with_fewer_turns_goes_first() {
        let turns = Arc::new(FairTurns::new(2));
        let a1 = turns.turn("a").await;
        let _a2 = turns.turn("a").await;
        // A queues more, then B arrives: B gets the first freed turn.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for d in ["a", "a", "b"] {
            let (mine, order) = (turns.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let t = mine.turn(d).await;
                order.lock().push(d);
                t
            }));
            let queued = waiting.len();
            while turns
                .state
                .lock()
                .waiting
                .values()
                .map(VecDeque::len)
                .sum::<usize>()
                < queued
            {
                tokio::task::yield_now().await;
            }
        }
        drop(a1);
        let first = waiting.pop().unwrap().await.unwrap();
        assert_eq!(*order.lock(), ["b"]);
        drop(first);
        drop(_a2);
        for w in waiting {
            drop(w.await.unwrap());
        }
        assert_eq!(order.lock().len(), 3);
        let s = turns.state.lock();
        assert_eq!((s.free, s.held.len(), s.waiting.len()), (2, 0, 0));
    }

    #[tokio::test]
    async fn a_turn_handed_to_a_waiter_that_left_is_passed_on() {
        let turns = Arc::new(FairTurns::new(1));
        let held = turns.turn("a").await;
        let gone = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _ = turns.turn("b").await;
            })
        };
        while turns.state.lock().waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        drop(held);
        let s = turns.state.lock();
        assert_eq!((s.free, s.held.len()), (1, 0), "the turn came back");
    }
}
