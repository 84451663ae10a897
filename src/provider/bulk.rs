//! Bulk (RFC 7644 §3.7): many operations in one request, each run through the same
//! dispatcher as a single request, with `bulkId` references resolved between them.
//!
//! Consecutive resource writes share one store transaction (at most
//! [`MAX_SHARED_OPS`] operations or [`MAX_SHARED_TIME`], so the store's writer is never
//! held for long), each operation in its own savepoint: a failing operation leaves no
//! trace and the others commit together — one commit, one fsync, for many operations.
//! A user create needs no savepoint: it refuses, if at all, before it writes anything
//! (see [`Shared::checked`]). Responses and events stay per operation. If the store fails
//! (the shared commit, or a write without a savepoint), every operation of that
//! transaction answers the error and none of them happened.
//!
//! What does not need the store is done first, outside the writer and in parallel: each
//! plain user create (no bulkId reference in it, see [`preparable`]) is parsed, checked
//! and made into its response and event by [`resources::prepare_user`]; in its turn only
//! its write is left. Order, references between operations, `failOnErrors` and the
//! per-operation results stay as above: preparing changes nothing in the store.

use super::params::Params;
use super::resources::{self, PreparedUser};
use super::{dispatch_with, Ctx, Endpoint, Request, Response};
use crate::error::{Result, ScimError};
use crate::schema::ResourceKind;
use crate::store::{ReadTx, WriteTx};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_PREFIX: &str = "bulkId:";

/// POST /Bulk.
pub(crate) fn run(ctx: &Ctx, body: &Value) -> Result<Response> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let field = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schemas_ok = field("schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(BULK_REQUEST)));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "a BulkRequest must list '{BULK_REQUEST}' in 'schemas'"
        )));
    }
    let ops = field("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest needs an 'Operations' array"))?;
    if ops.len() > ctx.config.max_operations {
        return Err(ScimError::payload_too_large(format!(
            "{} operations exceed maxOperations {}",
            ops.len(),
            ctx.config.max_operations
        )));
    }
    let fail_on_errors = match field("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n as usize),
            _ => {
                return Err(ScimError::invalid_value(
                    "failOnErrors must be an integer of at least 1",
                ))
            }
        },
    };

    // An operation's result carries no resource: its handler need not render one.
    let ctx = &Ctx {
        bodiless: true,
        ..*ctx
    };
    let work = Work {
        params: Params::parse("")?,
        todo: (0..ops.len()).filter(|&i| preparable(&ops[i])).collect(),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    };
    let operations = std::thread::scope(|s| {
        let mut prepared = Prepared::start(s, ctx, ops, &work);
        let operations = execute(ctx, ops, fail_on_errors, &mut prepared);
        // Whatever is still being prepared (after `failOnErrors` stopped the request) is
        // not needed.
        work.stop.store(true, Ordering::Relaxed);
        drop(prepared);
        operations
    });
    Ok(Response::json(
        200,
        &json!({ "schemas": [BULK_RESPONSE], "Operations": operations }),
    ))
}

/// Run the operations (in request order, an operation that refers to a bulkId defined
/// later waiting for a later pass) and return their results.
fn execute(
    ctx: &Ctx,
    ops: &[Value],
    fail_on_errors: Option<usize>,
    prepared: &mut Prepared,
) -> Vec<Value> {
    let mut plan = Plan::new(ops, fail_on_errors);
    while let Some(first) = plan.next() {
        if !shares_transaction(&ops[first]) {
            // Not a resource write (a search, a bad path…): it runs as it would alone.
            let outcome = run_one(
                ctx,
                &ops[first],
                &plan.created,
                prepared.take(first),
                &mut |u| prepared.spent(u),
            );
            plan.done(first, outcome);
            continue;
        }
        // A run of resource writes shares one store transaction, each in its own
        // savepoint: one commit (one fsync) for many operations. The run is bounded so
        // a large request never holds the store's writer for long.
        let mut ran: Vec<usize> = Vec::new();
        let started = Instant::now();
        let committed = ctx.store.write(ctx.dir, &mut |tx| {
            let shared = Shared {
                tx: RefCell::new(tx),
                broken: RefCell::new(None),
            };
            let inner = Ctx {
                shared: Some(&shared),
                ..*ctx
            };
            while ran.len() < MAX_SHARED_OPS && started.elapsed() < MAX_SHARED_TIME {
                let Some(i) = plan.next() else { break };
                if !shares_transaction(&ops[i]) {
                    break;
                }
                let outcome = run_one(&inner, &ops[i], &plan.created, prepared.take(i), &mut |u| {
                    prepared.spent(u)
                });
                plan.done(i, outcome);
                ran.push(i);
                if let Some(e) = shared.broken.take() {
                    // Part of an operation is in the transaction: none of it may commit.
                    return Err(e);
                }
            }
            Ok(())
        });
        if let Err(e) = committed {
            // The shared commit failed: none of these operations happened.
            plan.fail_all(&ran, &e);
        }
    }
    plan.results.into_iter().flatten().collect()
}

/// The store transaction a run of bulk operations shares.
pub(crate) struct Shared<'a> {
    tx: RefCell<&'a mut dyn WriteTx>,
    /// An operation failed in the middle of [`Shared::checked`]'s `apply` (the store
    /// failed): the transaction holds part of it, so the run fails whole.
    broken: RefCell<Option<ScimError>>,
}

impl Shared<'_> {
    /// Run `f` in a savepoint: when it fails, it leaves no trace and the others still
    /// commit.
    pub(crate) fn savepoint(
        &self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        self.tx.borrow_mut().savepoint(f)
    }

    /// Run a write whose refusals all come before its first change, without a savepoint
    /// (for a small write, what SQLite's savepoint costs — a copy of every page it
    /// touches — is a good part of the write): `check` may refuse, having written
    /// nothing; `apply` fails only when the store does, and then the whole run fails.
    pub(crate) fn checked(
        &self,
        check: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
        apply: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        let mut tx = self.tx.borrow_mut();
        check(&**tx)?;
        apply(&mut **tx).inspect_err(|e| *self.broken.borrow_mut() = Some(e.clone()))
    }
}

/// Most operations that share one store transaction.
const MAX_SHARED_OPS: usize = 500;
/// Once a shared transaction has run this long, it commits after the current operation:
/// other writers wait at most about this long for the store's writer.
const MAX_SHARED_TIME: Duration = Duration::from_millis(100);

/// Whether an operation is a resource write, which runs in a savepoint of a shared
/// transaction. Anything else (a search, an unknown endpoint, a malformed operation)
/// runs on its own, as it would outside a bulk request.
fn shares_transaction(op: &Value) -> bool {
    let method = op.get("method").and_then(Value::as_str).unwrap_or("");
    let path = op.get("path").and_then(Value::as_str).unwrap_or("");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    match super::route(path) {
        Ok(Endpoint::Collection(_)) => method.eq_ignore_ascii_case("POST"),
        Ok(Endpoint::Resource(..)) => ["PUT", "PATCH", "DELETE"]
            .iter()
            .any(|m| method.eq_ignore_ascii_case(m)),
        _ => false,
    }
}

/// A worker thread takes at least this many user creates: for fewer, a request's users
/// are prepared on its own thread, where a thread would cost more than it saves.
const MIN_PREPARED_PER_THREAD: usize = 64;

/// Whether an operation is a plain user create: a POST to `/Users` (no query) with a
/// bulkId and `data` that refers to no other operation. What it answers then depends on
/// the store only through its write, so it is prepared ahead (see [`Prepared`]); it
/// answers exactly what it would answer through [`dispatch_with`].
fn preparable(op: &Value) -> bool {
    let field = |name: &str| op.get(name).and_then(Value::as_str);
    let (Some(method), Some(path), Some(_), Some(data)) = (
        field("method"),
        field("path"),
        field("bulkId"),
        op.get("data"),
    ) else {
        return false;
    };
    method.eq_ignore_ascii_case("POST")
        && !path.contains('?')
        && matches!(
            super::route(path),
            Ok(Endpoint::Collection(ResourceKind::User))
        )
        && !has_ref(data)
}

/// What the threads preparing a request's users share.
struct Work {
    /// The (empty) query of every prepared operation.
    params: Params,
    /// The [`preparable`] operations.
    todo: Vec<usize>,
    /// The next of the preparable operations to take.
    next: AtomicUsize,
    /// The request is finished: prepare no more.
    stop: AtomicBool,
}

/// Prepared operations handed over at once, and spent ones handed back: one wake-up of
/// the other thread per this many, not per operation.
const HANDOFF: usize = 32;

/// Operations (by index) prepared by a worker.
type Made = Vec<(usize, Result<PreparedUser>)>;

/// The request's [`preparable`] operations, prepared ahead of their writes: all of them
/// before the first write on this thread for a small request (or a single core); for a
/// large one, by worker threads (one per other core) while the writes run here in
/// request order, each write waiting only for its own operation. The store's writer
/// then spends its time on writes alone.
struct Prepared {
    ready: Vec<Option<Result<PreparedUser>>>,
    /// Operations the workers prepare and have not delivered yet.
    coming: Vec<bool>,
    delivered: Option<mpsc::Receiver<Made>>,
    /// To a worker, which frees prepared users once written, [`HANDOFF`] at a time.
    bury: Option<mpsc::Sender<Vec<PreparedUser>>>,
    spent: Vec<PreparedUser>,
}

impl Prepared {
    fn start<'scope, 'env, 'c: 'scope>(
        s: &'scope std::thread::Scope<'scope, 'env>,
        ctx: &Ctx<'c>,
        ops: &'env [Value],
        work: &'env Work,
    ) -> Prepared {
        let todo = &work.todo;
        let mut ready: Vec<Option<Result<PreparedUser>>> = ops.iter().map(|_| None).collect();
        let mut coming = vec![false; ops.len()];
        // A `Ctx` is not `Sync` (its bulk transaction is a `RefCell`); its `Scope` is,
        // and these operations are prepared outside any transaction.
        let (scope, bodiless) = (ctx.scope, ctx.bodiless);
        let prepare = move |i: usize| -> Result<PreparedUser> {
            let ctx = Ctx {
                scope,
                shared: None,
                bodiless,
            };
            resources::prepare_user(&ctx, &work.params, &ops[i]["data"])
        };
        // This thread has the writes to do: one worker per other core.
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .saturating_sub(1)
            .min(todo.len() / MIN_PREPARED_PER_THREAD);
        if workers == 0 {
            for &i in todo {
                ready[i] = Some(prepare(i));
            }
            return Prepared {
                ready,
                coming,
                delivered: None,
                bury: None,
                spent: Vec::new(),
            };
        }
        for &i in todo {
            coming[i] = true;
        }
        let (tx, rx) = mpsc::channel::<Made>();
        let (bury, graveyard) = mpsc::channel::<Vec<PreparedUser>>();
        let mut graveyard = Some(graveyard);
        for _ in 0..workers {
            let tx = tx.clone();
            let graveyard = graveyard.take();
            s.spawn(move || {
                while !work.stop.load(Ordering::Relaxed) {
                    let first = work.next.fetch_add(HANDOFF, Ordering::Relaxed);
                    let Some(part) = todo.get(first..todo.len().min(first + HANDOFF)) else {
                        break;
                    };
                    let made = part.iter().map(|&i| (i, prepare(i))).collect();
                    if part.is_empty() || tx.send(made).is_err() {
                        break;
                    }
                }
                drop(tx);
                // Then free what the writes are done with: here, where it was allocated,
                // rather than on the thread that holds the store's writer. Ends when the
                // request drops its `Prepared`.
                for users in graveyard.into_iter().flatten() {
                    drop(users);
                }
            });
        }
        Prepared {
            ready,
            coming,
            delivered: Some(rx),
            bury: Some(bury),
            spent: Vec::new(),
        }
    }

    /// What operation `i` was prepared into (waiting for it if a worker is still at
    /// it), or `None` when it is not prepared ahead.
    fn take(&mut self, i: usize) -> Option<Result<PreparedUser>> {
        if std::mem::take(&mut self.coming[i]) {
            let delivered = self.delivered.as_ref()?;
            while self.ready[i].is_none() {
                // Every worker gone without it (one panicked: the panic goes on when the
                // request's thread scope ends): the operation takes the usual path.
                let Ok(made) = delivered.recv() else {
                    break;
                };
                for (j, user) in made {
                    self.coming[j] = false;
                    self.ready[j] = Some(user);
                }
            }
        }
        self.ready[i].take()
    }

    /// A prepared user whose write is done: freed by a worker when there is one.
    fn spent(&mut self, user: PreparedUser) {
        let Some(bury) = &self.bury else {
            return;
        };
        self.spent.push(user);
        if self.spent.len() >= HANDOFF {
            // A worker gone (it panicked) hands them back: freed here.
            let _ = bury.send(std::mem::take(&mut self.spent));
        }
    }
}

/// The order operations run in: request order, an operation that refers to a bulkId
/// defined later waiting for a later pass; and what they answered.
struct Plan<'a> {
    ops: &'a [Value],
    /// Which bulkIds the request defines, so references to them can wait their turn.
    defined: HashMap<&'a str, usize>,
    /// bulkId → the id its operation created.
    created: HashMap<String, String>,
    results: Vec<Option<Value>>,
    /// The operations of the current pass, and how far it has come.
    pending: Vec<usize>,
    pos: usize,
    /// Operations put off to the next pass.
    deferred: Vec<usize>,
    errors: usize,
    fail_on_errors: Option<usize>,
    finished: bool,
}

impl<'a> Plan<'a> {
    fn new(ops: &'a [Value], fail_on_errors: Option<usize>) -> Self {
        Plan {
            ops,
            defined: ops
                .iter()
                .enumerate()
                .filter_map(|(i, op)| Some((op.get("bulkId")?.as_str()?, i)))
                .collect(),
            created: HashMap::new(),
            results: vec![None; ops.len()],
            pending: (0..ops.len()).collect(),
            pos: 0,
            deferred: Vec::new(),
            errors: 0,
            fail_on_errors,
            finished: false,
        }
    }

    fn too_many_errors(&self) -> bool {
        self.fail_on_errors.is_some_and(|max| self.errors >= max)
    }

    /// The operation to run next (the same one until [`Plan::done`] is called for it),
    /// or `None` when the request is finished.
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(&i) = self.pending.get(self.pos) {
                if self.too_many_errors() {
                    self.finished = true;
                    return None;
                }
                if self.waiting(i) {
                    self.deferred.push(i);
                    self.pos += 1;
                    continue;
                }
                return Some(i);
            }
            if self.deferred.is_empty() || self.deferred.len() == self.pending.len() {
                // Nothing left, or only operations whose references can never resolve.
                for i in std::mem::take(&mut self.deferred) {
                    if self.too_many_errors() {
                        break;
                    }
                    let e = ScimError::new(
                        409,
                        Some(crate::ScimType::InvalidValue),
                        "circular or unresolvable bulkId reference",
                    );
                    self.results[i] =
                        Some(op_result(&self.ops[i], None, None, &Response::error(&e)));
                    self.errors += 1;
                }
                self.finished = true;
                return None;
            }
            self.pending = std::mem::take(&mut self.deferred);
            self.pos = 0;
        }
    }

    /// Whether operation `i` refers to a bulkId whose operation has not run yet.
    fn waiting(&self, i: usize) -> bool {
        let op = &self.ops[i];
        let mut refs = Vec::new();
        collect_refs(op.get("data").unwrap_or(&Value::Null), &mut refs);
        if let Some(p) = op.get("path").and_then(Value::as_str) {
            refs.extend(
                p.split('/')
                    .filter_map(|s| s.strip_prefix(BULK_PREFIX))
                    .map(str::to_owned),
            );
        }
        refs.iter().any(|r| {
            !self.created.contains_key(r)
                && self
                    .defined
                    .get(r.as_str())
                    .is_some_and(|&j| self.results[j].is_none() && j != i)
        })
    }

    /// Record what operation `i` (the one [`Plan::next`] gave) answered.
    fn done(&mut self, i: usize, outcome: OpOutcome) {
        self.pos += 1;
        if let (Some(id), Some(bulk_id)) = (
            outcome.created_id,
            self.ops[i].get("bulkId").and_then(Value::as_str),
        ) {
            self.created.insert(bulk_id.to_owned(), id);
        }
        if outcome.failed {
            self.errors += 1;
        }
        self.results[i] = Some(outcome.json);
    }

    /// The transaction these operations shared failed to commit: each of them failed with
    /// `e`, and what they created does not exist.
    fn fail_all(&mut self, ran: &[usize], e: &ScimError) {
        for &i in ran {
            let op = &self.ops[i];
            let already_failed = self.results[i]
                .as_ref()
                .and_then(|r| r["status"].as_str())
                .is_some_and(|s| !s.starts_with('2'));
            if !already_failed {
                self.errors += 1;
            }
            if let Some(b) = op.get("bulkId").and_then(Value::as_str) {
                self.created.remove(b);
            }
            self.results[i] = Some(op_result(op, None, None, &Response::error(e)));
        }
    }
}

struct OpOutcome {
    json: Value,
    failed: bool,
    created_id: Option<String>,
}

/// Run operation `op` (`prepared`: what [`prepare_users`] made of it, when it did).
fn run_one(
    ctx: &Ctx,
    op: &Value,
    created: &HashMap<String, String>,
    prepared: Option<Result<PreparedUser>>,
    spent: &mut dyn FnMut(PreparedUser),
) -> OpOutcome {
    let resp = match prepared {
        // Only its write is left.
        Some(Ok(user)) => {
            let resp = resources::insert_user(ctx, &user).unwrap_or_else(|e| Response::error(&e));
            spent(user);
            resp
        }
        Some(Err(e)) => Response::error(&e),
        None => match build_request(op, created) {
            Ok((req, _)) if req.path.trim_matches('/').eq_ignore_ascii_case("Bulk") => {
                Response::error(&ScimError::invalid_value(
                    "a bulk operation cannot itself be a bulk request",
                ))
            }
            Ok((req, data)) => dispatch_with(ctx, &req, &req.path, data.as_deref())
                .unwrap_or_else(|e| Response::error(&e)),
            Err(e) => Response::error(&e),
        },
    };
    // The new resource's `Location` ends with its id (ids never contain '/').
    let created_id = (resp.status == 201)
        .then(|| {
            resp.header("Location")?
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .flatten();
    let location = resp.header("Location").map(str::to_owned).or_else(|| {
        let path = op.get("path")?.as_str()?;
        (resp.status < 300).then(|| format!("{}{}", ctx.base_url, substitute_path(path, created)))
    });
    OpOutcome {
        failed: resp.status >= 400,
        json: op_result(op, location, resp.header("ETag").map(str::to_owned), &resp),
        created_id,
    }
}

fn op_result(
    op: &Value,
    location: Option<String>,
    version: Option<String>,
    resp: &Response,
) -> Value {
    let mut out = Map::new();
    if let Some(m) = op.get("method").and_then(Value::as_str) {
        out.insert("method".into(), Value::String(m.to_ascii_uppercase()));
    }
    if let Some(b) = op.get("bulkId").and_then(Value::as_str) {
        out.insert("bulkId".into(), Value::String(b.to_owned()));
    }
    if let Some(l) = location {
        out.insert("location".into(), Value::String(l));
    }
    if let Some(v) = version {
        out.insert("version".into(), Value::String(v));
    }
    out.insert("status".into(), Value::String(resp.status.to_string()));
    if resp.status >= 400 {
        if let Ok(body) = serde_json::from_slice::<Value>(&resp.body) {
            out.insert("response".into(), body);
        }
    }
    Value::Object(out)
}

/// The request an operation makes, and its body (`data`, with bulkId references
/// replaced; borrowed when it has none). The body is handed over as parsed JSON, never
/// serialised into the request to be parsed again.
fn build_request<'a>(
    op: &'a Value,
    created: &HashMap<String, String>,
) -> Result<(Request, Option<Cow<'a, Value>>)> {
    let method = op
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("bulk operation needs a 'method'"))?
        .to_ascii_uppercase();
    if !matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(ScimError::invalid_syntax(format!(
            "bulk operation method must be POST, PUT, PATCH or DELETE, got '{method}'"
        )));
    }
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("bulk operation needs a 'path'"))?;
    if method == "POST" && op.get("bulkId").and_then(Value::as_str).is_none() {
        return Err(ScimError::invalid_syntax("a bulk POST needs a 'bulkId'"));
    }
    let mut headers = Vec::new();
    if let Some(v) = op.get("version").and_then(Value::as_str) {
        headers.push(("If-Match".into(), v.to_owned()));
    }
    let data = match op.get("data") {
        Some(d) if method != "DELETE" => Some(if !has_ref(d) {
            Cow::Borrowed(d)
        } else {
            let mut d = d.clone();
            substitute(&mut d, created)?;
            Cow::Owned(d)
        }),
        _ if method == "DELETE" => None,
        _ => return Err(ScimError::invalid_syntax("bulk operation needs 'data'")),
    };
    let path = substitute_path(path, created);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (path, String::new()),
    };
    let req = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    Ok((req, data))
}

/// Whether a value holds a `"bulkId:…"` reference anywhere.
fn has_ref(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with(BULK_PREFIX),
        Value::Array(a) => a.iter().any(has_ref),
        Value::Object(o) => o.values().any(has_ref),
        _ => false,
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix(BULK_PREFIX) {
                out.push(r.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Replace every `"bulkId:x"` string with the id the operation with bulkId `x` created.
fn substitute(v: &mut Value, created: &HashMap<String, String>) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix(BULK_PREFIX) {
                let id = created.get(r).ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "bulkId '{r}' does not name a created resource"
                    ))
                })?;
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().try_for_each(|x| substitute(x, created))?,
        Value::Object(o) => o.values_mut().try_for_each(|x| substitute(x, created))?,
        _ => {}
    }
    Ok(())
}

fn substitute_path(path: &str, created: &HashMap<String, String>) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix(BULK_PREFIX).and_then(|r| created.get(r)) {
                Some(id) => id.as_str(),
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}
