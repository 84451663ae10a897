//! Change events for hosts: pull (`next` + `ack`) or push (a callback on a thread of the
//! library's own).

use super::cast::{take_box, to_box, try_clone_arc, Castable, OwnershipBox};
use super::engine::{engine, scim_engine};
use super::{boundary, check_out, json_out, null, out, quiet, scim_result, str_arg};
use crate::engine::Subscription;
use crate::store::{Event, DEFAULT_GROUP};
use std::ffi::{c_char, c_void, CString};
use std::time::Duration;

/// Wait up to `timeout_ms` for events of directory `id` not yet delivered, and return up
/// to `limit` of them as a JSON array (`[]` on timeout): each
/// `{"seq", "kind", "resource_type", "resource_id", "time", "data"}`. Events delivered but
/// not acknowledged come again after a restart. Thread-safe (blocks the calling thread).
/// JSON: the result is an array of `schema/event.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_event_next(
    engine: *const scim_engine,
    id: *const c_char,
    limit: usize,
    timeout_ms: u32,
    events_json_out: *mut *mut c_char,
) -> scim_result {
    next(engine, id, None, limit, timeout_ms, events_json_out)
}

/// Acknowledge every event of directory `id` up to `seq`: applied, not to be delivered
/// again. Errors: NOT_FOUND, CONFLICT (`seq` beyond the last event).
#[no_mangle]
pub unsafe extern "C" fn scim_event_ack(
    engine: *const scim_engine,
    id: *const c_char,
    seq: u64,
) -> scim_result {
    boundary(|| Ok(self::engine(engine)?.ack_events(str_arg(id, "id")?, seq)?))
}

/// `scim_event_next` for consumer group `group` (`scim_event_next` is group
/// `"default"`): each group receives every event, in order, on its own acknowledged
/// cursor. The engine is one consumer of the group; across engines and processes on one
/// database, a group's stream of a directory is leased to one consumer at a time (the
/// engine configuration's `"event_lease_ms"`, default 30000, renewed by every call here and
/// by `scim_event_group_ack`), and handed again from the acknowledged cursor to the next
/// consumer when the holder stops renewing. Errors: NOT_FOUND, INVALID_VALUE (a group
/// name that is empty, longer than 64 bytes or holds control characters). Thread-safe.
/// JSON: the result is an array of `schema/event.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_event_group_next(
    engine: *const scim_engine,
    id: *const c_char,
    group: *const c_char,
    limit: usize,
    timeout_ms: u32,
    events_json_out: *mut *mut c_char,
) -> scim_result {
    next(engine, id, Some(group), limit, timeout_ms, events_json_out)
}

/// `scim_event_next` and `scim_event_group_next`: group `group`, or [`DEFAULT_GROUP`]
/// for `None`.
unsafe fn next(
    engine: *const scim_engine,
    id: *const c_char,
    group: Option<*const c_char>,
    limit: usize,
    timeout_ms: u32,
    events_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(events_json_out, "events_json_out")?;
        let e = self::engine(engine)?;
        let id = str_arg(id, "id")?;
        let group = match group {
            Some(g) => str_arg(g, "group")?,
            None => DEFAULT_GROUP,
        };
        let timeout = Duration::from_millis(timeout_ms.into());
        let events = e.next_group_events(id, group, limit, timeout)?;
        out(events_json_out, "events_json_out", json_out(&events)?)
    })
}

/// `scim_event_ack` for consumer group `group`: an event is deleted once every group
/// acknowledged it. Errors: NOT_FOUND, CONFLICT (`seq` beyond the last event),
/// INVALID_VALUE (the group name).
#[no_mangle]
pub unsafe extern "C" fn scim_event_group_ack(
    engine: *const scim_engine,
    id: *const c_char,
    group: *const c_char,
    seq: u64,
) -> scim_result {
    boundary(|| {
        Ok(self::engine(engine)?.ack_group_events(
            str_arg(id, "id")?,
            str_arg(group, "group")?,
            seq,
        )?)
    })
}

/// `scim_event_rewind` for consumer group `group`: gives the group's stream back, so
/// every event it has not acknowledged is delivered again.
#[no_mangle]
pub unsafe extern "C" fn scim_event_group_rewind(
    engine: *const scim_engine,
    id: *const c_char,
    group: *const c_char,
) -> scim_result {
    boundary(|| {
        Ok(self::engine(engine)?
            .rewind_group_events(str_arg(id, "id")?, str_arg(group, "group")?)?)
    })
}

/// Directory `id`'s consumer groups, by name, as a JSON array of
/// `{"group", "acked", "delivered", "owner", "lease_until"}` (`owner`: the consumer
/// holding the lease or `null`; `lease_until`: when it ends, milliseconds since the Unix
/// epoch by the store's clock). Errors: NOT_FOUND.
/// JSON: the result is an array of `schema/event_group.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_event_group_list(
    engine: *const scim_engine,
    id: *const c_char,
    groups_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(groups_json_out, "groups_json_out")?;
        let groups = self::engine(engine)?.event_groups(str_arg(id, "id")?)?;
        out(groups_json_out, "groups_json_out", json_out(&groups)?)
    })
}

/// Called with `userdata` first and a JSON array of events (valid only during the call).
/// JSON: `events_json` is an array of `schema/event.json`.
pub type scim_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, events_json: *const c_char)>;
/// Called once with `userdata` when the library no longer needs it.
pub type scim_finalizer = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A push subscription; free it with `scim_subscription_free`.
pub struct scim_subscription {
    _private: [u8; 0],
}

/// The handle owns the subscription (the core's [`Subscription`]):
/// `scim_subscription_free` takes it back to stop it.
impl Castable for scim_subscription {
    type Ownership = OwnershipBox;
    type RustType = Subscription;
}

struct Userdata(*mut c_void);
// The host promises, by subscribing, that userdata may be used from the library's thread.
unsafe impl Send for Userdata {}

/// Deliver directory `id`'s events to `callback` as they commit, in order, in batches,
/// on a thread the library owns (never the caller's). The host acknowledges with
/// `scim_event_ack` (from any thread). `finalizer` (may be NULL) is called with
/// `userdata` once the subscription is freed.
#[no_mangle]
pub unsafe extern "C" fn scim_subscription_start(
    engine: *const scim_engine,
    id: *const c_char,
    callback: scim_event_callback,
    userdata: *mut c_void,
    finalizer: scim_finalizer,
    subscription_out: *mut *mut scim_subscription,
) -> scim_result {
    boundary(|| {
        check_out(subscription_out, "subscription_out")?;
        let e = try_clone_arc(engine, "engine")?;
        let id = str_arg(id, "id")?;
        let callback = callback.ok_or_else(|| null("callback"))?;
        let (ud, ud_fin) = (Userdata(userdata), Userdata(userdata));
        let deliver = move |batch: &[Event]| {
            let ud = &ud;
            let Ok(json) = serde_json::to_string(batch) else {
                return;
            };
            let json = CString::new(json).unwrap_or_default();
            // A panic in the host's callback cannot unwind here (it is C), but guard our
            // own side.
            let _ = std::panic::catch_unwind(|| unsafe { callback(ud.0, json.as_ptr()) });
        };
        let stopped = move || {
            let ud = ud_fin;
            if let Some(f) = finalizer {
                unsafe { f(ud.0) };
            }
        };
        let sub = Subscription::start(e, id, deliver, stopped)?;
        out(subscription_out, "subscription_out", to_box(sub))
    })
}

/// Stop a subscription: waits for a callback in progress to return, then calls the
/// finalizer. NULL is a no-op. Do not call it from inside the callback.
#[no_mangle]
pub unsafe extern "C" fn scim_subscription_free(subscription: *mut scim_subscription) {
    quiet(|| {
        if let Some(sub) = take_box(subscription) {
            sub.stop();
        }
    })
}

/// Deliver every unacknowledged event of directory `id` again (the host could not apply
/// what it was given).
#[no_mangle]
pub unsafe extern "C" fn scim_event_rewind(
    engine: *const scim_engine,
    id: *const c_char,
) -> scim_result {
    boundary(|| Ok(self::engine(engine)?.rewind_events(str_arg(id, "id")?)?))
}

/// The state of directory `id`'s outbox, as a JSON object
/// `{"last_seq", "acked", "kept", "dropped"}`: `dropped` counts the unacknowledged events
/// that retention (the `"events"` limits of the engine's configuration) deleted after the
/// acknowledged cursor, which a consumer never receives. Errors: NOT_FOUND.
/// JSON: the result is `schema/event_stats.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_event_stats_get(
    engine: *const scim_engine,
    id: *const c_char,
    stats_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(stats_json_out, "stats_json_out")?;
        let stats = self::engine(engine)?.event_stats(str_arg(id, "id")?)?;
        out(stats_json_out, "stats_json_out", json_out(&stats)?)
    })
}

/// Delete directory `id`'s acknowledged events; `*pruned_out` is how many. Retention
/// already deletes them on every acknowledgement, so this rarely finds any.
#[no_mangle]
pub unsafe extern "C" fn scim_event_prune(
    engine: *const scim_engine,
    id: *const c_char,
    pruned_out: *mut u64,
) -> scim_result {
    boundary(|| {
        check_out(pruned_out, "pruned_out")?;
        let n = self::engine(engine)?.prune_events(str_arg(id, "id")?)?;
        out(pruned_out, "pruned_out", n)
    })
}
