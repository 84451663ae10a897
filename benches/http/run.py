#!/usr/bin/env python3
"""The HTTP benchmark of `make bench` (`make bench-http`): libscim's `serve` against the
machine's limit and a Go peer, side by side on loopback, in one run.

Three servers start on free 127.0.0.1 ports:
  bare    a bare hyper 1.x server answering one fixed body (benches/http/bare_hyper.rs)
  libscim the `serve` example on its default SQLite store, in a fresh data directory
  Go      github.com/elimity-com/scim with an in-memory handler (benches/http/go-elimity)

then, in this order, each figure on each server that can answer it:
  Bulk      N users into libscim in requests of 1,000 operations → users/s (the Go
            library has no /Bulk: the Go server creates the same N users in-process with
            -preload before it listens)
  listing   on the loaded directory, one client: count=0, startIndex=1&count=2 (Okta's
            credential test), startIndex=N-99&count=100, sortBy=userName&count=100, then a
            full paging pass with count=100 → ms; serve's VmHWM (peak RSS) after the load
            and after the pass
  reads     wrk: GET /Users/{id} (random loaded ids), GET /Users?filter=userName eq "…"
            (random loaded names) → requests/s, latency, and the server's CPU time per
            request (utime + stime from /proc: steady on a machine shared with other work)
  groups    wrk, one connection: one-member PATCH (add, then remove) in a group of
            min(100,000, N) members and in a 10-member group → ms and their ratio
  writes    wrk: POST /Users, a unique userName per request (last: it grows the directory)

and prints one table with the command line that reproduces it. Ratios are speed ratios
(higher is faster for the first named): libscim/bare, libscim/Go, Go/bare.

PostgreSQL (SCIM_BENCH_PG, default on): a throwaway cluster (initdb in the temporary
directory, Unix socket only, fsync and synchronous_commit on: as durable as serve's SQLite
with synchronous=FULL) and two more `serve --database postgres://…` processes on one
database, sharing the secrets key. The Bulk load then runs there too (half the users
through one instance: PG x1; the other half through both at once, one client each: PG x2),
and reads and writes run on one instance (PG x1) and on both (PG x2: two wrk at once, each
with half the connections, one per instance; their requests are summed). Two wrk rather
than a proxy: a load balancer is not part of libscim, and a proxy on this machine would
spend CPU and a hop that would be measured as libscim's. A second table gives the PG
figures next to SQLite's as ratios (PG x1/SQLite, PG x2/SQLite, PG x2/PG x1).

Environment (knobs):
  SCIM_BENCH_USERS        users loaded (default 100000; the issue's figures use 1000000)
  SCIM_BENCH_SECTIONS     comma list of listing,reads,groups,writes (default all; the
                          Bulk load always runs, the others need it)
  SCIM_BENCH_DURATION     seconds per wrk figure (default 8)
  SCIM_BENCH_THREADS      wrk threads (default 2)
  SCIM_BENCH_CONNECTIONS  wrk connections (default 32)
  SCIM_BENCH_LIST_BUDGET  seconds one listing query may be repeated for (default 10)
  SCIM_BENCH_PASS_BUDGET  seconds the paging pass may take before it stops and reports
                          a projection (default 300)
  SCIM_BENCH_JSON         also write every figure to this file as JSON
  SCIM_BENCH_PG           0: no PostgreSQL figures (default 1; needs Debian's postgresql,
                          `make pg-deps`; SCIM_PG_BIN overrides its bin directory)
  SERVE_BIN, BARE_BIN, GO_BIN  the three servers (make bench-http builds them)
  WRK                     the wrk binary (default: wrk on PATH)
  KEEP_LOGS=1             keep the temporary directory (server logs, data)
"""

import http.client
import json
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LUA = os.path.join(HERE, "scim.lua")
BULK_OPS = 1000
GROUP_MAX = 100_000
SMALL_GROUP = 10
ID_SAMPLE = 10_000
KNOBS = ("SCIM_BENCH_USERS", "SCIM_BENCH_SECTIONS", "SCIM_BENCH_DURATION",
         "SCIM_BENCH_THREADS", "SCIM_BENCH_CONNECTIONS", "SCIM_BENCH_LIST_BUDGET",
         "SCIM_BENCH_PASS_BUDGET", "SCIM_BENCH_PG")
SECTIONS = ("listing", "reads", "groups", "writes")


class BenchError(Exception):
    pass


def env_int(name, default):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise BenchError(f"{name} must be positive")
    return value


def log(msg):
    print(f"[bench-http {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def user_name(i):
    return f"user{i:07d}@example.com"


def user_body(i):
    """The user of the Bulk load; go-elimity's benchUser builds the same one."""
    name = user_name(i)
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": f"ext{i:07d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    }


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces: count fields after its ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mb(pid):
    """Peak resident set size of a process, from /proc/<pid>/status (VmHWM, kB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM in /proc/{pid}/status")


class Client:
    """One keep-alive HTTP/1.1 connection to a server, reopened after an error."""

    def __init__(self, port, base, token, timeout=600):
        self.port, self.base, self.token, self.timeout = port, base, token, timeout
        self.conn = None

    def request(self, method, path, body=None):
        headers = {"Accept": "application/scim+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/scim+json"
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.base + path, body=body, headers=headers)
                res = self.conn.getresponse()
                return res.status, res.read()
            except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
                self.conn.close()
                self.conn = None
                if attempt == 2 or isinstance(e, socket.timeout):
                    raise BenchError(f"{method} {self.base}{path}: {e}") from None

    def json(self, method, path, body=None, expect=(200,)):
        status, raw = self.request(method, path, body)
        if status not in expect:
            raise BenchError(f"{method} {self.base}{path}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None


class Server:
    """A server process in its own process group, killed when the run ends."""

    def __init__(self, name, tmp):
        self.name, self.tmp = name, tmp
        self.proc = None
        self.port = None
        self.log_path = os.path.join(tmp, f"{name}.log")

    def spawn(self, argv):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=8):
        try:
            with open(self.log_path, errors="replace") as f:
                lines = [ln for ln in f.read().splitlines() if "token" not in ln.lower()]
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log_file.close()
        self.proc = None

    def start(self, make_argv, ready, timeout):
        """Start on a free port, retrying on another one if it was taken meanwhile."""
        for attempt in (1, 2, 3):
            self.port = free_port()
            self.spawn(make_argv(self.port))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive():
                try:
                    if ready(self.port):
                        log(f"{self.name} ready on 127.0.0.1:{self.port} (pid {self.proc.pid})")
                        return
                except (OSError, ValueError, KeyError, http.client.HTTPException):
                    pass
                time.sleep(0.1)
            code = self.proc.poll()
            self.stop()
            why = f"exited with {code}" if code is not None else f"not ready after {timeout} s"
            log(f"{self.name} on port {self.port} {why} (attempt {attempt}):\n{self.log_tail()}")
        raise BenchError(f"{self.name} did not start; its log: {self.log_path} (KEEP_LOGS=1 keeps it)")


def http_status(port, path, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


# ---- wrk --------------------------------------------------------------------------------

class Wrk:
    def __init__(self, binary, duration, threads, connections):
        self.binary, self.duration = binary, duration
        self.threads, self.connections = threads, connections

    def run(self, server, token, args, threads=None, connections=None):
        return self.run_together([(server, token, args)], threads, connections)

    def run_together(self, runs, threads=None, connections=None):
        """One wrk per (server, token, args), all at once, the connections shared out
        between them; their figures summed (requests/s) or taken from the worst of them
        (latency). CPU is the servers' (serve's own: not a database's processes)."""
        t = max(1, (threads or self.threads) // len(runs))
        c = max(1, (connections or self.connections) // len(runs))
        cpu_before = [cpu_seconds(server.proc.pid) for server, _, _ in runs]
        procs = []
        for server, token, args in runs:
            argv = [self.binary, f"-t{t}", f"-c{c}", f"-d{self.duration}s", "--timeout", "10s",
                    "-s", LUA, f"http://127.0.0.1:{server.port}", "--", *args]
            env = dict(os.environ, SCIM_BENCH_TOKEN=token or "none")
            procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        results = []
        for (server, _, args), proc in zip(runs, procs):
            try:
                stdout, stderr = proc.communicate(timeout=self.duration + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            result = None
            for line in stdout.splitlines():
                if line.startswith("{"):
                    result = json.loads(line)
            if proc.returncode != 0 or result is None:
                raise BenchError(f"wrk on {server.name} failed ({proc.returncode}): "
                                 f"{(stderr or stdout)[-500:]}")
            if not server.alive():
                raise BenchError(f"{server.name} died during wrk:\n{server.log_tail()}")
            results.append(result)
        cpu = sum(cpu_seconds(server.proc.pid) - before
                  for (server, _, _), before in zip(runs, cpu_before))
        requests = sum(r["requests"] for r in results)
        errors = sum(sum(r["errors"].values()) for r in results)
        out = {
            "rps": sum(r["requests"] / (r["duration_us"] / 1e6) for r in results if r["duration_us"]),
            "requests": requests,
            "errors": errors,
            "mean_ms": max(r["latency_us"]["mean"] for r in results) / 1000,
            "p50_ms": max(r["latency_us"]["p50"] for r in results) / 1000,
            "p99_ms": max(r["latency_us"]["p99"] for r in results) / 1000,
            # The server's own CPU time per request (utime + stime of all its threads):
            # what a request costs, whatever else runs on the machine meanwhile.
            "cpu_us": cpu * 1e6 / requests if requests else 0.0,
        }
        if errors:
            names = "+".join(server.name for server, _, _ in runs)
            log(f"WARNING: {names} {runs[0][2][0]}: {errors} of {requests} requests failed")
        return out


# ---- PostgreSQL ---------------------------------------------------------------------------

class Postgres:
    """A throwaway cluster in `tmp`: initdb, the server as the `postgres` user when run as
    root (PostgreSQL refuses root), listening on a Unix socket only; durable settings
    (fsync, synchronous_commit on), as serve's SQLite. Like tests/support/postgres.rs."""

    PORT = 5432

    def __init__(self, tmp):
        self.root = os.path.join(tmp, "pg")
        self.proc = None
        self.log_file = None

    @staticmethod
    def bin_dir():
        if os.environ.get("SCIM_PG_BIN"):
            return os.environ["SCIM_PG_BIN"]
        base = "/usr/lib/postgresql"
        versions = sorted(int(v) for v in (os.listdir(base) if os.path.isdir(base) else [])
                          if v.isdigit())
        if not versions:
            raise BenchError("PostgreSQL is missing (no /usr/lib/postgresql/<version>/bin): "
                             "`make pg-deps`, or SCIM_BENCH_PG=0 to leave it out")
        return os.path.join(base, str(versions[-1]), "bin")

    def as_postgres(self, program):
        path = os.path.join(self.bin_dir(), program)
        return ["runuser", "-u", "postgres", "--", path] if os.geteuid() == 0 else [path]

    def run(self, program, *args):
        proc = subprocess.run(self.as_postgres(program) + list(args), capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"{program} failed: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self):
        os.makedirs(self.root)
        # The parent (mkdtemp: 0700) must let the postgres user reach its socket and data.
        os.chmod(os.path.dirname(self.root), 0o711)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = os.path.join(self.root, "data")
        self.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                 "--locale=C.UTF-8")
        self.log_file = open(os.path.join(self.root, "server.log"), "ab")
        self.proc = subprocess.Popen(
            self.as_postgres("postgres") + ["-D", data, "-k", self.root, "-p", str(self.PORT),
                                            "-c", "listen_addresses=", "-c", "max_connections=300"],
            stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(self.as_postgres("pg_isready") + ["-h", self.root, "-p", str(self.PORT), "-q"]
                             ).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"PostgreSQL did not start: see {self.root}/server.log")
            time.sleep(0.1)
        self.run("psql", "-h", self.root, "-p", str(self.PORT), "-U", "postgres", "-XAtq",
                 "-c", "CREATE DATABASE scim")
        log(f"PostgreSQL ready on {self.root}")

    def url(self):
        from urllib.parse import quote
        return f"postgres://postgres@{quote(self.root, safe='')}:{self.PORT}/scim"

    def stop(self):
        if self.proc is None:
            return
        try:
            with open(os.path.join(self.root, "data", "postmaster.pid")) as f:
                os.kill(int(f.readline()), signal.SIGINT)
            self.proc.wait(timeout=60)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log_file.close()
        self.proc = None


def pg_bulk(clients, n, ids):
    """Users n/2..n-1 through every client at once (one thread each, its share of whole
    Bulk requests); returns users/s over the wall time."""
    import threading
    first = n // 2
    chunks = [(a, min(a + BULK_OPS, n)) for a in range(first, n, BULK_OPS)]
    failures = []

    def work(client, mine):
        try:
            for a, b in mine:
                got, _ = bulk_load_range(client, a, b)
                ids[a:b] = got
        except BenchError as e:
            failures.append(e)

    threads = [threading.Thread(target=work, args=(c, chunks[i::len(clients)]))
               for i, c in enumerate(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = time.perf_counter() - t0
    if failures:
        raise failures[0]
    return (n - first) / spent


# ---- the run ----------------------------------------------------------------------------

def bulk_load_range(client, first, last):
    """Users first..last-1 in one POST /Bulk; returns (their ids, seconds it took)."""
    ops = ",".join(
        '{"method":"POST","path":"/Users","bulkId":"u%d","data":%s}' % (i, json.dumps(user_body(i)))
        for i in range(first, last))
    body = ('{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],'
            '"Operations":[%s]}' % ops).encode()
    t0 = time.perf_counter()
    status, raw = client.request("POST", "/Bulk", body)
    spent = time.perf_counter() - t0
    if status != 200:
        raise BenchError(f"POST /Bulk (users {first}..{last - 1}): HTTP {status}: {raw[:300]!r}")
    ids = [None] * (last - first)
    for op in json.loads(raw)["Operations"]:
        if not str(op.get("status", "")).startswith("2"):
            raise BenchError(f"POST /Bulk: operation {op.get('bulkId')} failed: {op}")
        ids[int(op["bulkId"][1:]) - first] = op["location"].rsplit("/", 1)[1]
    if any(i is None for i in ids):
        raise BenchError("POST /Bulk: some operations are missing from the responses")
    return ids, spent


def bulk_load(client, n, serve, end=None):
    """Users 0..end-1 (default N) through POST /Bulk, 1,000 operations a request; returns
    (ids, users/s), the ids list N long."""
    end = n if end is None else end
    ids = [None] * n
    spent = 0.0
    cpu0 = cpu_seconds(serve.proc.pid)
    for first in range(0, end, BULK_OPS):
        last = min(first + BULK_OPS, end)
        ids[first:last], took = bulk_load_range(client, first, last)
        spent += took
        if (last // BULK_OPS) % 50 == 0 or last == end:
            log(f"{serve.name} Bulk: {last}/{end} users, {last / spent:,.0f} users/s, "
                f"{(cpu_seconds(serve.proc.pid) - cpu0) * 1e6 / last:.0f} µs CPU/user, "
                f"VmHWM {vm_hwm_mb(serve.proc.pid):.0f} MB")
    return ids, end / spent


def timed_query(client, path, budget, n_expected):
    """Median latency (ms) of one listing query, repeated within the budget."""
    samples = []
    started = time.monotonic()
    while len(samples) < 20 and (not samples or time.monotonic() - started < budget):
        t0 = time.perf_counter()
        status, raw = client.request("GET", path)
        samples.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise BenchError(f"GET {path}: HTTP {status}: {raw[:300]!r}")
        total = json.loads(raw).get("totalResults")
        if total != n_expected:
            raise BenchError(f"GET {path}: totalResults {total}, expected {n_expected}")
    return statistics.median(samples), len(samples)


def paging_pass(client, n, budget):
    """GET every page of count=100 in order; checks each loaded user comes exactly once."""
    seen = set()
    pages = 0
    start = 1
    t0 = time.perf_counter()
    while start <= n:
        page = client.json("GET", f"/Users?startIndex={start}&count=100")
        resources = page.get("Resources", [])
        if not resources:
            raise BenchError(f"paging pass: empty page at startIndex={start} of {n}")
        for r in resources:
            if r["id"] in seen:
                raise BenchError(f"paging pass: {r['id']} came twice")
            seen.add(r["id"])
        pages += 1
        start += len(resources)
        elapsed = time.perf_counter() - t0
        if elapsed > budget and start <= n:
            projected = elapsed / (start - 1) * n
            return {"complete": False, "pages": pages, "seconds": elapsed,
                    "projected_s": projected, "ms_per_page": elapsed * 1000 / pages}
    elapsed = time.perf_counter() - t0
    if len(seen) != n:
        raise BenchError(f"paging pass saw {len(seen)} users, expected {n}")
    return {"complete": True, "pages": pages, "seconds": elapsed, "ms_per_page": elapsed * 1000 / pages}


def listing(client, n, budget, pass_budget, name):
    out = {}
    queries = [
        ("count=0", "/Users?count=0"),
        ("startIndex=1&count=2", "/Users?startIndex=1&count=2"),
        (f"startIndex={max(1, n - 99)}&count=100", f"/Users?startIndex={max(1, n - 99)}&count=100"),
        ("sortBy=userName&count=100", "/Users?sortBy=userName&startIndex=1&count=100"),
    ]
    for label, path in queries:
        ms, k = timed_query(client, path, budget, n)
        out[label] = ms
        log(f"{name} GET /Users?{label}: {ms:.2f} ms (median of {k})")
    out["pass"] = paging_pass(client, n, pass_budget)
    p = out["pass"]
    log(f"{name} paging pass: {p['pages']} pages in {p['seconds']:.1f} s"
        + ("" if p["complete"] else f" (stopped; full pass projected {p['projected_s']:.0f} s)"))
    return out


def make_group(client, name, member_ids):
    """A group holding member_ids, filled by PATCHes of 1,000 members; returns its id."""
    g = client.json("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                        "displayName": name}, expect=(201,))
    for first in range(0, len(member_ids), 1000):
        chunk = [{"value": m} for m in member_ids[first:first + 1000]]
        client.json("PATCH", f"/Groups/{g['id']}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": chunk}]}, expect=(200, 204))
    return g["id"]


def groups(client, wrk, server, token, ids, name):
    size = min(GROUP_MAX, len(ids))
    # The member the PATCHes add and remove: a user outside both groups.
    extra = client.json("POST", "/Users", user_body(len(ids)), expect=(201,))["id"]
    t0 = time.perf_counter()
    big = make_group(client, f"bench-{size}", ids[:size])
    log(f"{name}: group of {size} members filled in {time.perf_counter() - t0:.1f} s")
    small = make_group(client, f"bench-{SMALL_GROUP}", ids[:SMALL_GROUP])
    out = {"size": size}
    for label, gid in (("big", big), ("small", small)):
        r = wrk.run(server, token, ["patch", server.base, gid, extra], threads=1, connections=1)
        out[label] = r
        log(f"{name} PATCH one member, {label} group: {r['mean_ms']:.2f} ms")
    return out


def sample_files(tmp, name, ids, indices):
    ids_path = os.path.join(tmp, f"{name}-ids.txt")
    with open(ids_path, "w") as f:
        f.write("\n".join(ids[i] for i in indices) + "\n")
    names_path = os.path.join(tmp, "names.txt")
    with open(names_path, "w") as f:
        f.write("\n".join(user_name(i) for i in indices) + "\n")
    return ids_path, names_path


def ensure_wrk():
    binary = os.environ.get("WRK") or shutil.which("wrk")
    if not binary:
        raise BenchError("wrk is missing: `apt-get install -y wrk` (make bench-http installs it)")
    return binary


def bin_path(var, default):
    path = os.environ.get(var) or os.path.join(ROOT, default)
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is missing: run `make bench-http`, which builds it (or set {var})")
    return path


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def ratio(a, b):
    if not a or not b:
        return "-"
    r = a / b
    if r >= 0.1:
        return f"{r:.2f}x"
    return f"{r:.3f}x" if r >= 0.001 else f"1/{1 / r:,.0f}"


def print_table(cfg, res):
    cmd = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in KNOBS if k in os.environ)
    print()
    print(f"== libscim HTTP benchmark: {cfg['users']:,} users, wrk -t{cfg['threads']} "
          f"-c{cfg['connections']} -d{cfg['duration']}s, {os.cpu_count()} CPUs "
          f"(load average {cfg['load']:.1f} at the start), "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"   command: {(cmd + ' ') if cmd else ''}make bench-http   (git {cfg['git']})")
    print("   ratios are speed ratios: libscim/bare = libscim req/s ÷ bare req/s (or inverse latency)")
    print()
    head = f"{'figure':<44}{'bare hyper':>14}{'libscim':>14}{'Go elimity':>14}" \
           f"{'lib/bare':>10}{'lib/Go':>9}{'Go/bare':>9}"
    print(head)
    print("-" * len(head))

    def row(label, b, l, g, unit_fmt=fmt_rate):
        print(f"{label:<44}{unit_fmt(b):>14}{unit_fmt(l):>14}{unit_fmt(g):>14}"
              f"{ratio(l, b):>10}{ratio(l, g):>9}{ratio(g, b):>9}")

    def lat(label, r):
        vals = [r.get(s) for s in ("bare", "libscim", "go")]
        print(f"{label:<44}" + "".join(
            f"{'-' if v is None else '%.2f/%.2f' % (v['p50_ms'], v['p99_ms']):>14}" for v in vals))

    def cpu(label, r):
        # CPU time is a cost: the ratios are inverted so that, like the others, higher
        # means faster for the first named.
        c = [r.get(s, {}).get("cpu_us") for s in ("bare", "libscim", "go")]
        print(f"{label:<44}" + "".join(f"{'-' if v is None else '%.1f' % v:>14}" for v in c)
              + f"{ratio(c[0], c[1]):>10}{ratio(c[2], c[1]):>9}{ratio(c[0], c[2]):>9}")

    for key, label in (("get", "GET /Users/{id}  req/s"), ("filter", 'GET ?filter=userName eq "…"  req/s'),
                       ("post", f"POST /Users ({cfg['connections']} clients)  req/s")):
        if key in res:
            r = res[key]
            row(label, *(r.get(s, {}).get("rps") for s in ("bare", "libscim", "go")))
            lat("    latency p50/p99 ms", r)
            cpu("    server CPU µs/request", r)
    if "bulk" in res:
        row(f"Bulk load, {BULK_OPS} ops/request  users/s", None, res["bulk"], None)
        print("    (the Go server has no /Bulk: it creates the same users in-process, -preload)")
    if "listing" in res:
        ls, lg = res["listing"].get("libscim", {}), res["listing"].get("go", {})
        for label in [k for k in ls if k != "pass"]:
            lib_ms, go_ms = ls[label], lg.get(label)
            print(f"{'GET /Users?' + label + '  ms':<44}{'-':>14}{lib_ms:>14.2f}"
                  f"{'-' if go_ms is None else '%.2f' % go_ms:>14}{'-':>10}"
                  f"{ratio(go_ms, lib_ms):>9}{'-':>9}")
        for who, p in (("libscim", ls.get("pass")), ("Go", lg.get("pass"))):
            if p:
                extra = "" if p["complete"] else f" (stopped, full pass ~{p['projected_s']:.0f} s)"
                print(f"paging pass count=100, {who}: {p['pages']} pages, {p['seconds']:.1f} s, "
                      f"{p['ms_per_page']:.2f} ms/page{extra}")
    if "rss" in res:
        r = res["rss"]
        stopped = not res.get("listing", {}).get("libscim", {}).get("pass", {}).get("complete", True)
        print(f"serve VmHWM (peak RSS): {r['after_load']:.0f} MB after the Bulk load"
              + (f", {r['after_pass']:.0f} MB after the listing and paging pass"
                 + (" (stopped early)" if stopped else "") if "after_pass" in r else ""))
    if "groups" in res:
        for who, g in res["groups"].items():
            big, small = g["big"]["mean_ms"], g["small"]["mean_ms"]
            print(f"one-member PATCH, {who}: {big:.2f} ms in a {g['size']:,}-member group, "
                  f"{small:.2f} ms in a {SMALL_GROUP}-member group: {small / big:.2f}x")
    if "pg" in res:
        print_pg_table(cfg, res)
    if res.get("errors"):
        print(f"WARNING: failed requests during wrk: {res['errors']}")
    print()


def print_pg_table(cfg, res):
    pg = res["pg"]
    print()
    print("-- PostgreSQL (throwaway cluster on this machine, fsync on) next to SQLite, same run;")
    print("   PG x2: two serve processes on one database, each half the clients")
    head = f"{'figure':<44}{'SQLite':>16}{'PG x1':>16}{'PG x2':>16}" \
           f"{'x1/SQLite':>11}{'x2/SQLite':>11}{'x2/x1':>8}"
    print(head)
    print("-" * len(head))

    def row(label, lite, one, two):
        print(f"{label:<44}{fmt_rate(lite):>16}{fmt_rate(one):>16}{fmt_rate(two):>16}"
              f"{ratio(one, lite):>11}{ratio(two, lite):>11}{ratio(two, one):>8}")

    if "bulk" in pg:
        row(f"Bulk load, {BULK_OPS} ops/request  users/s", res.get("bulk"), pg["bulk"].get("x1"),
            pg["bulk"].get("x2"))
    for key, label in (("get", "GET /Users/{id}  req/s"), ("filter", 'GET ?filter=userName eq "…"  req/s'),
                       ("post", f"POST /Users ({cfg['connections']} clients)  req/s")):
        if key in pg:
            lite = res.get(key, {}).get("libscim", {})
            row(label, lite.get("rps"), pg[key]["x1"]["rps"], pg[key]["x2"]["rps"])
            print(f"{'    latency p50/p99 ms':<44}" + "".join(
                f"{'-' if not v else '%.2f/%.2f' % (v['p50_ms'], v['p99_ms']):>16}"
                for v in (lite, pg[key]["x1"], pg[key]["x2"])))


def main():
    n = env_int("SCIM_BENCH_USERS", 100_000)
    duration = env_int("SCIM_BENCH_DURATION", 8)
    threads = env_int("SCIM_BENCH_THREADS", 2)
    connections = env_int("SCIM_BENCH_CONNECTIONS", 32)
    list_budget = env_int("SCIM_BENCH_LIST_BUDGET", 10)
    pass_budget = env_int("SCIM_BENCH_PASS_BUDGET", 300)
    sections = [s.strip() for s in os.environ.get("SCIM_BENCH_SECTIONS", ",".join(SECTIONS)).split(",") if s.strip()]
    with_pg = os.environ.get("SCIM_BENCH_PG", "1") != "0"
    for s in sections:
        if s not in SECTIONS:
            raise BenchError(f"SCIM_BENCH_SECTIONS: unknown section {s!r} (known: {', '.join(SECTIONS)})")
    wrk = Wrk(ensure_wrk(), duration, threads, connections)
    serve_bin = bin_path("SERVE_BIN", "target/release/examples/serve")
    bare_bin = bin_path("BARE_BIN", "target/release/examples/bare_hyper")
    go_bin = bin_path("GO_BIN", "target/go/bench-elimity")
    try:
        git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        git = "?"
    cfg = {"load": os.getloadavg()[0], "users": n, "duration": duration, "threads": threads, "connections": connections, "git": git}

    tmp = tempfile.mkdtemp(prefix="libscim-bench-http.")
    servers = []
    res = {"config": cfg}
    pg = None
    try:
        bare = Server("bare", tmp)
        servers.append(bare)
        bare.base, bare.token = "", None
        bare.start(lambda p: [bare_bin, f"127.0.0.1:{p}"], lambda p: http_status(p, "/") == 200, 30)

        lib = Server("libscim", tmp)
        servers.append(lib)
        creds = os.path.join(tmp, "creds.json")

        def serve_argv(p):
            shutil.rmtree(os.path.join(tmp, "data"), ignore_errors=True)
            if os.path.exists(creds):
                os.remove(creds)
            # --quiet: no activity line per request, so serve is measured like the other
            # servers (none of which writes a line per request).
            return [serve_bin, "--listen", f"127.0.0.1:{p}", "--data", os.path.join(tmp, "data"),
                    "--credentials-file", creds, "--quiet"]

        def serve_ready(p):
            with open(creds) as f:
                c = json.load(f)
            lib.token, lib.tenant = c["token"], c["tenant_url"]
            return bool(lib.token) and http_status(p, "/healthz") == 200

        lib.start(serve_argv, serve_ready, 30)
        # The tenant URL's path (/scim/v2/<directory> or similar) is every request's base.
        lib.base = "/" + lib.tenant.split("://", 1)[1].split("/", 1)[1].rstrip("/")

        go = Server("go", tmp)
        servers.append(go)
        go.token = os.urandom(16).hex()
        token_file = os.path.join(tmp, "go-token")
        with open(token_file, "w") as f:
            f.write(go.token + "\n")
        go_ids_file = os.path.join(tmp, "go-ids.txt")
        go.base = "/v2"
        log(f"Go server: creating {n:,} users in-process (-preload)")
        go.start(lambda p: [go_bin, "-listen", f"127.0.0.1:{p}", "-token-file", token_file,
                            "-preload", str(n), "-ids-out", go_ids_file],
                 lambda p: http_status(p, "/v2/ServiceProviderConfig", go.token) == 200,
                 max(60, n // 2000))
        with open(go_ids_file) as f:
            go_ids = f.read().split()
        if len(go_ids) != n:
            raise BenchError(f"the Go server preloaded {len(go_ids)} users, expected {n}")

        lc = Client(lib.port, lib.base, lib.token)
        gc = Client(go.port, go.base, go.token)

        pgs = []
        if with_pg:
            pg = Postgres(tmp)
            pg.start()
            pg_creds = os.path.join(tmp, "pg-creds.json")
            for i in (1, 2):
                srv = Server(f"pg{i}", tmp)
                servers.append(srv)

                def pg_argv(p, i=i):
                    # The instances share the database and the secrets key, nothing else;
                    # one public URL (as behind a load balancer), so the second keeps the
                    # token the first wrote instead of issuing another.
                    return [serve_bin, "--listen", f"127.0.0.1:{p}", "--database", pg.url(),
                            "--public-url", "http://scim.bench.test",
                            "--data", os.path.join(tmp, f"pg{i}-data"),
                            "--secrets-key-file", os.path.join(tmp, "pg-secrets.key"),
                            "--credentials-file", pg_creds, "--quiet"]

                def pg_ready(p, srv=srv):
                    with open(pg_creds) as f:
                        c = json.load(f)
                    srv.token, srv.tenant = c["token"], c["tenant_url"]
                    return bool(srv.token) and http_status(p, "/healthz") == 200

                srv.start(pg_argv, pg_ready, 60)
                srv.base = "/" + srv.tenant.split("://", 1)[1].split("/", 1)[1].rstrip("/")
                pgs.append(srv)
            if pgs[0].token != pgs[1].token or pgs[0].base != pgs[1].base:
                raise BenchError("the two PostgreSQL instances serve different directories")
            log(f"PostgreSQL: Bulk load of {n:,} users, half through pg1, half through both")
            pg_ids, x1 = bulk_load(Client(pgs[0].port, pgs[0].base, pgs[0].token), n, pgs[0],
                                   end=n // 2)
            x2 = pg_bulk([Client(s.port, s.base, s.token) for s in pgs], n, pg_ids)
            res["pg"] = {"bulk": {"x1": x1, "x2": x2}}
            log(f"PostgreSQL Bulk: {x1:,.0f} users/s through pg1, {x2:,.0f} through both")

        log(f"libscim: Bulk load of {n:,} users ({BULK_OPS} operations a request)")
        lib_ids, rate = bulk_load(lc, n, lib)
        res["bulk"] = rate
        res["rss"] = {"after_load": vm_hwm_mb(lib.proc.pid)}
        log(f"libscim Bulk: {rate:,.0f} users/s; VmHWM {res['rss']['after_load']:.0f} MB")

        if "listing" in sections:
            res["listing"] = {"libscim": listing(lc, n, list_budget, pass_budget, "libscim"),
                              "go": listing(gc, n, list_budget, pass_budget, "go")}
            res["rss"]["after_pass"] = vm_hwm_mb(lib.proc.pid)

        errors = {}
        if "reads" in sections:
            rnd = random.Random(13)
            indices = [rnd.randrange(n) for _ in range(min(ID_SAMPLE, n))]
            lib_ids_path, names_path = sample_files(tmp, "libscim", lib_ids, indices)
            go_ids_path, _ = sample_files(tmp, "go", go_ids, indices)
            pg_ids_path = sample_files(tmp, "pg", pg_ids, indices)[0] if pgs else None
            for key, files in (("get", (lib_ids_path, lib_ids_path, go_ids_path, pg_ids_path)),
                               ("filter", (names_path, names_path, names_path, names_path))):
                res[key] = {}
                for who, srv, path in zip(("bare", "libscim", "go"), (bare, lib, go), files):
                    r = wrk.run(srv, srv.token, [key, srv.base, path])
                    res[key][who] = r
                    errors[f"{key}/{who}"] = r["errors"]
                    log(f"{who} {key}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                        f"p99 {r['p99_ms']:.2f} ms, {r['cpu_us']:.1f} µs CPU/request")
                if pgs:
                    res["pg"][key] = pg_wrk(wrk, pgs, [key, pgs[0].base, files[3]], errors)

        if "groups" in sections:
            res["groups"] = {"libscim": groups(lc, wrk, lib, lib.token, lib_ids, "libscim"),
                             "Go": groups(gc, wrk, go, go.token, go_ids, "go")}
            for who, g in res["groups"].items():
                errors[f"patch/{who}"] = g["big"]["errors"] + g["small"]["errors"]

        if "writes" in sections:
            res["post"] = {}
            nonce = os.urandom(4).hex()
            for who, srv in (("bare", bare), ("libscim", lib), ("go", go)):
                r = wrk.run(srv, srv.token, ["post", srv.base, nonce])
                res["post"][who] = r
                errors[f"post/{who}"] = r["errors"]
                log(f"{who} post: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                    f"p99 {r['p99_ms']:.2f} ms, {r['cpu_us']:.1f} µs CPU/request")
            if pgs:
                res["pg"]["post"] = pg_wrk(wrk, pgs, ["post", pgs[0].base, nonce], errors)
        res["errors"] = {k: v for k, v in errors.items() if v}

        print_table(cfg, res)
        sys.stdout.flush()
        if os.environ.get("SCIM_BENCH_JSON"):
            with open(os.environ["SCIM_BENCH_JSON"], "w") as f:
                json.dump(res, f, indent=2)
        return 1 if res["errors"] else 0
    finally:
        for s in reversed(servers):
            s.stop()
        if pg is not None:
            pg.stop()
        if os.environ.get("KEEP_LOGS") == "1":
            log(f"logs and data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def pg_wrk(wrk, pgs, args, errors):
    """One wrk figure on one PostgreSQL instance (x1), then on both at once (x2)."""
    out = {}
    key = args[0]
    for label, runs in (("x1", pgs[:1]), ("x2", pgs)):
        mine = [list(args) for _ in runs]
        if key == "post":
            # Every wrk creates userNames of its own (the script numbers them per nonce).
            for i, a in enumerate(mine):
                a[2] = f"{args[2]}{label}{i}"
        r = wrk.run_together([(s, s.token, a) for s, a in zip(runs, mine)])
        out[label] = r
        errors[f"{key}/pg-{label}"] = r["errors"]
        log(f"PostgreSQL {label} {key}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
            f"p99 {r['p99_ms']:.2f} ms")
    return out


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
