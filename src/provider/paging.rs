//! Paging state that outlives one request: RFC 9865 cursors and index-paging
//! continuations.
//!
//! - **Cursors** are opaque to clients and stateless here: a position in the query's order
//!   (sort value and insertion sequence), a direction and an issue time, sealed with
//!   HMAC-SHA256 over the directory and the query it belongs to. A changed byte, another
//!   directory or another query is `invalidCursor`; a cursor older than `cursorTimeout` is
//!   `expiredCursor`. Each page is an index seek from the position, so a pass is stable while
//!   the directory changes: a resource present throughout appears exactly once.
//! - **Continuations** give index paging (`startIndex`) the same stability: after serving
//!   a page the provider remembers, per directory and query, the position that ends it, and
//!   a request for the next `startIndex` continues from there instead of counting an
//!   offset from the start — which would skip a resource whenever an earlier one is deleted
//!   mid-pass, and would cost the whole offset. Without a remembered position (another
//!   start, an expired or evicted entry) the offset is served from the index.

use crate::error::{Result, ScimError, ScimType};
use crate::store::{Position, SortValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use parking_lot::Mutex;
use ring::hmac;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Continuations remembered at most (the oldest are forgotten first).
const CONTINUATIONS: usize = 4096;

/// Cursor format version (the first byte).
const VERSION: u8 = 1;
const BACKWARDS: u8 = 1;
const TEXT: u8 = 2;
const TIME: u8 = 4;
const TAG: usize = 32;

/// Where a cursor points: the page after (or, `backwards`, before) `pos`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub backwards: bool,
    pub pos: Position,
}

/// The paging state of one service provider.
pub(crate) struct Paging {
    key: hmac::Key,
    continuations: Mutex<Continuations>,
}

#[derive(Default)]
struct Continuations {
    map: HashMap<(String, u64), (Position, Instant)>,
    order: VecDeque<(String, u64)>,
}

impl Paging {
    /// Cursors sealed with a fresh random key: valid for this process only.
    pub fn new() -> Paging {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, uuid::Uuid::new_v4().as_bytes()));
        Paging::with_key(key)
    }

    /// Cursors sealed with a key derived from `secret`: every process sharing the secret
    /// (a restarted one, another instance on the same database) accepts them.
    pub fn from_secret(secret: &[u8]) -> Paging {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&root, b"libscim cursor key v1");
        Paging::with_key(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    fn with_key(key: hmac::Key) -> Paging {
        Paging {
            key,
            continuations: Mutex::new(Continuations::default()),
        }
    }

    /// The cursor string for `cursor`, issued at `now` (Unix nanoseconds) for `query` of
    /// directory `dir`.
    pub fn seal(&self, dir: &str, query: &str, now: i64, cursor: &Cursor) -> String {
        let mut payload = vec![VERSION, 0];
        if cursor.backwards {
            payload[1] |= BACKWARDS;
        }
        payload.extend_from_slice(&now.to_be_bytes());
        payload.extend_from_slice(&cursor.pos.seq.to_be_bytes());
        match &cursor.pos.value {
            None => {}
            Some(SortValue::Time(t)) => {
                payload[1] |= TIME;
                payload.extend_from_slice(&t.to_be_bytes());
            }
            Some(SortValue::Text(s)) => {
                payload[1] |= TEXT;
                payload.extend_from_slice(s.as_bytes());
            }
        }
        let tag = hmac::sign(&self.key, &signed(dir, query, &payload));
        payload.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The cursor sealed in `token` for `query` of `dir`, if it is genuine and no older
    /// than `timeout` seconds at `now` (Unix nanoseconds; a timeout of 0 expires every
    /// cursor as soon as time moves on).
    pub fn open(
        &self,
        dir: &str,
        query: &str,
        token: &str,
        now: i64,
        timeout: u64,
    ) -> Result<Cursor> {
        let invalid = || {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                "the cursor is not one this service provider issued for this query: \
                 use the nextCursor or previousCursor of the previous page, or an empty \
                 cursor for the first page",
            )
        };
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() < 18 + TAG || raw[0] != VERSION {
            return Err(invalid());
        }
        let (payload, tag) = raw.split_at(raw.len() - TAG);
        hmac::verify(&self.key, &signed(dir, query, payload), tag).map_err(|_| invalid())?;
        let flags = payload[1];
        let int = |at: usize| -> [u8; 8] { payload[at..at + 8].try_into().unwrap_or([0; 8]) };
        let issued = i64::from_be_bytes(int(2));
        let seq = u64::from_be_bytes(int(10));
        let rest = &payload[18..];
        let value = if flags & TIME != 0 {
            let bytes: [u8; 8] = rest.try_into().map_err(|_| invalid())?;
            Some(SortValue::Time(i64::from_be_bytes(bytes)))
        } else if flags & TEXT != 0 {
            Some(SortValue::Text(
                String::from_utf8(rest.to_vec()).map_err(|_| invalid())?,
            ))
        } else {
            None
        };
        let age = i128::from(now) - i128::from(issued);
        if age > i128::from(timeout) * 1_000_000_000 {
            return Err(ScimError::bad_request(
                ScimType::ExpiredCursor,
                format!("the cursor has expired: request pages within cursorTimeout ({timeout} s) of each other"),
            ));
        }
        Ok(Cursor {
            backwards: flags & BACKWARDS != 0,
            pos: Position { value, seq },
        })
    }

    /// The position that ended the page before `start_index` of `query` in `dir`, if one
    /// was served within `ttl`.
    pub fn continuation(
        &self,
        dir: &str,
        query: &str,
        start_index: u64,
        ttl: Duration,
    ) -> Option<Position> {
        let c = self.continuations.lock();
        let (pos, at) = c.map.get(&(key(dir, query), start_index))?;
        (at.elapsed() <= ttl).then(|| pos.clone())
    }

    /// Remember that the page of `query` in `dir` ending just before `next_index` ended at
    /// `pos`.
    pub fn remember(&self, dir: &str, query: &str, next_index: u64, pos: Position) {
        let k = (key(dir, query), next_index);
        let mut c = self.continuations.lock();
        if c.map.insert(k.clone(), (pos, Instant::now())).is_none() {
            c.order.push_back(k);
            while c.order.len() > CONTINUATIONS {
                if let Some(old) = c.order.pop_front() {
                    c.map.remove(&old);
                }
            }
        }
    }
}

/// What a cursor's tag covers: the directory, the query and the payload.
fn signed(dir: &str, query: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(dir.len() + query.len() + payload.len() + 2);
    m.extend_from_slice(dir.as_bytes());
    m.push(0);
    m.extend_from_slice(query.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}

/// A directory-qualified query key for the continuation map.
fn key(dir: &str, query: &str) -> String {
    format!("{dir}\0{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(value: Option<SortValue>, seq: u64) -> Position {
        Position { value, seq }
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let p = Paging::new();
        for value in [
            None,
            Some(SortValue::Text("Ünïcode ✓".into())),
            Some(SortValue::Time(-5)),
        ] {
            for backwards in [false, true] {
                let c = Cursor {
                    backwards,
                    pos: pos(value.clone(), 42),
                };
                let t = p.seal("d1", "q", 1000, &c);
                assert!(t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                assert_eq!(p.open("d1", "q", &t, 1000, 600).unwrap(), c);
                let later = 1000 + 600 * 1_000_000_000;
                assert_eq!(p.open("d1", "q", &t, later, 600).unwrap(), c);
                // Another directory, another query, another key: invalid.
                for e in [
                    p.open("d2", "q", &t, 1000, 600).unwrap_err(),
                    p.open("d1", "q2", &t, 1000, 600).unwrap_err(),
                    Paging::new().open("d1", "q", &t, 1000, 600).unwrap_err(),
                ] {
                    assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
                }
                // Every single-byte change is caught.
                let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
                for i in 0..raw.len() {
                    let mut bad = raw.clone();
                    bad[i] ^= 0x01;
                    let e = p
                        .open("d1", "q", &URL_SAFE_NO_PAD.encode(&bad), 1000, 600)
                        .unwrap_err();
                    assert_eq!(e.scim_type, Some(ScimType::InvalidCursor), "byte {i}");
                }
                let e = p.open("d1", "q", &t, later + 1, 600).unwrap_err();
                assert_eq!(
                    (e.status, e.scim_type),
                    (400, Some(ScimType::ExpiredCursor))
                );
            }
        }
        for junk in ["", "!!", "abc", "AAAA"] {
            let e = p.open("d1", "q", junk, 0, 600).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
        }
    }

    #[test]
    fn a_shared_secret_makes_cursors_portable() {
        let a = Paging::from_secret(b"secret");
        let b = Paging::from_secret(b"secret");
        let c = Cursor {
            backwards: false,
            pos: pos(None, 7),
        };
        let t = a.seal("d", "q", 5, &c);
        assert_eq!(b.open("d", "q", &t, 5, 600).unwrap(), c);
        let other = Paging::from_secret(b"other");
        assert!(other.open("d", "q", &t, 5, 600).is_err());
    }

    #[test]
    fn continuations_are_bounded_and_expire() {
        let p = Paging::new();
        p.remember("d", "q", 101, pos(None, 100));
        let ttl = Duration::from_secs(60);
        assert_eq!(p.continuation("d", "q", 101, ttl), Some(pos(None, 100)));
        assert_eq!(p.continuation("d", "q", 201, ttl), None);
        assert_eq!(p.continuation("e", "q", 101, ttl), None);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(
            p.continuation("d", "q", 101, Duration::from_millis(1)),
            None
        );
        for i in 0..(CONTINUATIONS as u64 + 10) {
            p.remember("d", "other", i, pos(None, i));
        }
        assert_eq!(p.continuation("d", "q", 101, ttl), None, "evicted");
        assert!(p.continuations.lock().map.len() <= CONTINUATIONS);
    }
}
