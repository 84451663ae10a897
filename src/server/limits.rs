//! What the built-in server refuses before it does the work: connections beyond a cap,
//! requests beyond an in-flight cap (in all, and per directory), and a directory's
//! requests beyond its rate. Each refusal is an answer a client backs off from (`503` or
//! `429` with `Retry-After`, which Okta and Entra honour), given before the request body
//! is read.
//!
//! Fairness between directories rests on two of these: a directory may hold at most
//! [`super::ServerOptions::max_in_flight_per_directory`] of the in-flight slots, so the
//! others always find some free, and its requests beyond [`RateLimit`] are refused at the
//! cost of a bucket update instead of being served.

use super::ByDirectory;
use crate::error::ScimError;
use crate::provider::Response;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A per-directory request rate: a token bucket of `burst` requests refilled at
/// `per_second`. Requests beyond it get `429 Too Many Requests` with `Retry-After` (the
/// seconds until the bucket holds a request again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second (at least 1).
    pub per_second: u32,
    /// Requests that may come at once after a quiet period (at least 1).
    pub burst: u32,
}

/// How many connections beyond the cap are still answered `503` (each for one request,
/// within the header time limit) instead of being closed unanswered.
const REFUSED_CONNECTIONS: usize = 64;

/// `Retry-After` of a `503`: the server is busy as a whole, not this client.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The longest a rate-limited answer is held back ([`Refusal::hold`]).
const MAX_HOLD: Duration = Duration::from_secs(1);

/// Directory buckets kept before full (idle) ones are forgotten.
const BUCKETS_KEPT: usize = 4096;

/// The counters and buckets of one server.
pub(super) struct Limits {
    connections: Arc<Semaphore>,
    refused_connections: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
    per_directory: usize,
    busy: Arc<Mutex<ByDirectory<usize>>>,
    rate: Option<RateLimit>,
    buckets: Mutex<ByDirectory<Bucket>>,
}

/// What a connection may do, by [`Limits::connection`].
pub(super) enum Admission {
    /// Served; the permit is held for the connection's life.
    Serve(OwnedSemaphorePermit),
    /// Beyond the cap: answer each request `503` and close (the permit bounds how many
    /// such connections are kept).
    Refuse(OwnedSemaphorePermit),
    /// Far beyond the cap: close at once.
    Drop,
}

/// An in-flight slot of the whole server; released when dropped.
pub(super) struct RequestSlot(#[allow(dead_code)] OwnedSemaphorePermit);

/// A directory's in-flight slot; released when dropped.
pub(super) struct DirectorySlot {
    busy: Arc<Mutex<ByDirectory<usize>>>,
    directory: String,
}

impl Drop for DirectorySlot {
    fn drop(&mut self) {
        let mut busy = self.busy.lock();
        if let Some(n) = busy.get_mut(&self.directory) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.directory);
            }
        }
    }
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The server is at a cap: `503`.
    Busy(&'static str),
    /// This directory is beyond its share of the in-flight slots: `429`.
    TooMany(&'static str, Duration),
    /// This directory is beyond its rate: `429`, retry after the duration.
    RateLimited(Duration),
}

impl Refusal {
    /// How long to hold the answer to a request beyond its directory's rate: until its
    /// next request would be admitted, at most [`MAX_HOLD`]. A client that honours
    /// `Retry-After` loses nothing (it waits longer anyway); one that ignores it cannot
    /// turn refusals into a cheap loop that starves the others of CPU.
    pub fn hold(&self) -> Option<Duration> {
        match self {
            Refusal::RateLimited(after) => Some((*after).min(MAX_HOLD)),
            _ => None,
        }
    }

    /// The SCIM error answer, with `Retry-After` in whole seconds (at least 1).
    pub fn response(&self) -> Response {
        let (status, detail, after) = match self {
            Refusal::Busy(d) => (503, *d, BUSY_RETRY_AFTER),
            Refusal::TooMany(d, after) => (429, *d, *after),
            Refusal::RateLimited(after) => (
                429,
                "this directory is sending requests faster than its rate limit",
                *after,
            ),
        };
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Response::error(&ScimError::new(status, None, detail))
            .with_header("Retry-After", &secs.max(1).to_string())
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limits {
    pub fn new(
        max_connections: usize,
        max_in_flight: usize,
        per_directory: usize,
        rate: Option<RateLimit>,
    ) -> Limits {
        Limits {
            connections: Arc::new(Semaphore::new(max_connections.max(1))),
            refused_connections: Arc::new(Semaphore::new(REFUSED_CONNECTIONS)),
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            per_directory: per_directory.max(1),
            busy: Arc::new(Mutex::new(ByDirectory::default())),
            rate: rate.map(|r| RateLimit {
                per_second: r.per_second.max(1),
                burst: r.burst.max(1),
            }),
            buckets: Mutex::new(ByDirectory::default()),
        }
    }

    /// Admit a new connection, refuse it with an answer, or drop it.
    pub fn connection(&self) -> Admission {
        if let Ok(p) = self.connections.clone().try_acquire_owned() {
            return Admission::Serve(p);
        }
        match self.refused_connections.clone().try_acquire_owned() {
            Ok(p) => Admission::Refuse(p),
            Err(_) => Admission::Drop,
        }
    }

    /// An in-flight slot of the whole server, taken before anything else is done.
    pub fn request(&self) -> Result<RequestSlot, Refusal> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map(RequestSlot)
            .map_err(|_| Refusal::Busy("the server is at its limit of requests in flight"))
    }

    /// Admit an authenticated request of `directory`: within its rate, then within its
    /// share of the in-flight slots.
    pub fn directory(&self, directory: &str) -> Result<DirectorySlot, Refusal> {
        if let Some(rate) = self.rate {
            self.take_token(directory, rate, Instant::now())?;
        }
        let mut busy = self.busy.lock();
        // The key is copied only for a directory with nothing in flight.
        let n = match busy.get_mut(directory) {
            Some(n) => n,
            None => busy.entry(directory.to_owned()).or_insert(0),
        };
        if *n >= self.per_directory {
            return Err(Refusal::TooMany(
                "this directory is at its limit of requests in flight",
                BUSY_RETRY_AFTER,
            ));
        }
        *n += 1;
        Ok(DirectorySlot {
            busy: self.busy.clone(),
            directory: directory.to_owned(),
        })
    }

    fn take_token(&self, directory: &str, rate: RateLimit, now: Instant) -> Result<(), Refusal> {
        let (per_second, burst) = (f64::from(rate.per_second), f64::from(rate.burst));
        let mut buckets = self.buckets.lock();
        if buckets.len() >= BUCKETS_KEPT && !buckets.contains_key(directory) {
            // A full bucket is the same as no bucket: forget those.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst
            });
        }
        let b = buckets.entry(directory.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(Refusal::RateLimited(Duration::from_secs_f64(
            (1.0 - b.tokens) / per_second,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: u32, burst: u32) -> Limits {
        Limits::new(8, 8, 8, Some(RateLimit { per_second, burst }))
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = rate(2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take_token("a", l.rate.unwrap(), t0), Ok(()));
        }
        let Err(Refusal::RateLimited(after)) = l.take_token("a", l.rate.unwrap(), t0) else {
            panic!("the fourth request at once is refused");
        };
        assert_eq!(after, Duration::from_millis(500), "one request per 1/2 s");
        // Another directory has its own bucket.
        assert_eq!(l.take_token("b", l.rate.unwrap(), t0), Ok(()));
        // Half a second later there is one request again, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(l.take_token("a", l.rate.unwrap(), t1), Ok(()));
        assert!(l.take_token("a", l.rate.unwrap(), t1).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let r = Refusal::RateLimited(Duration::from_millis(1500)).response();
        assert_eq!((r.status, r.header("Retry-After")), (429, Some("2")));
        let r = Refusal::RateLimited(Duration::from_millis(10)).response();
        assert_eq!(r.header("Retry-After"), Some("1"));
        let r = Refusal::TooMany("x", Duration::from_secs(1)).response();
        assert_eq!((r.status, r.header("Retry-After")), (429, Some("1")));
        let r = Refusal::Busy("x").response();
        assert_eq!((r.status, r.header("Retry-After")), (503, Some("1")));
    }

    #[test]
    fn only_rate_refusals_are_held_and_never_long() {
        assert_eq!(
            Refusal::RateLimited(Duration::from_millis(20)).hold(),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            Refusal::RateLimited(Duration::from_secs(30)).hold(),
            Some(MAX_HOLD)
        );
        assert_eq!(Refusal::TooMany("x", Duration::from_secs(1)).hold(), None);
        assert_eq!(Refusal::Busy("x").hold(), None);
    }

    #[test]
    fn a_directory_holds_at_most_its_share_of_slots() {
        let l = Limits::new(8, 8, 2, None);
        let a1 = l.directory("a").unwrap();
        let _a2 = l.directory("a").unwrap();
        assert!(matches!(l.directory("a"), Err(Refusal::TooMany(..))));
        let _b = l.directory("b").expect("another directory is not affected");
        drop(a1);
        assert!(l.directory("a").is_ok(), "a released slot is free again");
    }
}
