#!/usr/bin/env python3
"""`make bench-ffi` (part of `make bench`): what the Python and Go bindings cost per
request over the Rust call they wrap, measured in the same run.

Each round runs, one after the other on the same request (benches/ffi/scenario.json, a
GET of one user by id):
  Rust    `cargo bench --bench ffi`: Engine::handle, no FFI at all (the baseline), and
          scim_request_handle called from Rust (what the C ABI itself adds);
  Python  bindings/python/bench/bench_handle.py: libscim.Engine.handle() over ctypes;
  Go      BenchmarkHandle of bindings/go: scim.Engine.Handle over cgo.
A binding's overhead is its time per call minus the Rust time of the same round; the
table shows the median over the rounds, and each figure as a ratio to the Rust call.
Times are the process's CPU time per call (user + system), the figure the verdict uses:
on a machine shared with other work, wall time mostly measures waiting for a core
(wall times are printed beside). The rounds interleave the three languages.

Environment: PYTHON (interpreter with nothing installed needed: the package is loaded
from bindings/python with LIBSCIM_LIBRARY=target/release/libscim.so), GO (default go),
CARGO (default cargo), SCIM_BENCH_FFI_ROUNDS (default 5), SCIM_BENCH_JSON (also write
the figures there as JSON).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The budgets of issue 17: microseconds a binding may add to the Rust call.
BUDGET_US = {"python": 15.0, "go": 3.0}
# CPU µs per call of scim_request_handle from Rust, one per round (benches/ffi.rs).
ABI_CPU: list = []


def rust(cargo: str) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = dict(os.environ, SCIM_BENCH_FFI_JSON=out.name)
        subprocess.run(
            [cargo, "bench", "--quiet", "--bench", "ffi"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )
        f = json.loads(Path(out.name).read_text())
        ABI_CPU.append(f["abi_cpu_ns"] / 1000)
        return f["rust_cpu_ns"] / 1000, f["rust_ns"] / 1000


def python(interpreter: str) -> float:
    env = dict(
        os.environ,
        LIBSCIM_LIBRARY=str(ROOT / "target" / "release" / "libscim.so"),
        PYTHONPATH=str(ROOT / "bindings" / "python"),
    )
    out = subprocess.run(
        [interpreter, str(ROOT / "bindings/python/bench/bench_handle.py"), "--json"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    f = json.loads(out)
    return f["python_cpu_ns"] / 1000, f["python_ns"] / 1000


def go(test_binary: Path) -> float:
    out = subprocess.run(
        [str(test_binary), "-test.run", "^$", "-test.bench", "^BenchmarkHandle$",
         "-test.benchtime", "20000x", "-test.count", "5"],
        cwd=ROOT / "bindings" / "go", check=True, capture_output=True, text=True,
    ).stdout
    wall = [float(m) for m in re.findall(r"BenchmarkHandle\S*\s+\d+\s+([\d.]+) ns/op", out)]
    cpu = [float(m) for m in re.findall(r"([\d.]+) cpu-ns/op", out)]
    if not wall or len(cpu) != len(wall):
        raise SystemExit("no BenchmarkHandle figures in:\n" + out)
    return statistics.median(cpu) / 1000, statistics.median(wall) / 1000


def main() -> None:
    cargo = os.environ.get("CARGO", "cargo")
    gocmd = os.environ.get("GO", "go")
    interpreter = os.environ.get("PYTHON", sys.executable)
    rounds = int(os.environ.get("SCIM_BENCH_FFI_ROUNDS", "5"))
    # The library the bindings load, and the Go test binary, built once.
    subprocess.run([cargo, "build", "--quiet", "--release", "--lib"], cwd=ROOT, check=True)
    test_binary = ROOT / "target" / "go" / "ffi-bench.test"
    test_binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [gocmd, "test", "-c", "-o", str(test_binary), "."],
        cwd=ROOT / "bindings" / "go", check=True, env=dict(os.environ, GOTOOLCHAIN="local"),
    )
    cpu = {"rust": [], "python": [], "go": []}
    wall = {"rust": [], "python": [], "go": []}
    for r in range(rounds):
        for name, run in (
            ("rust", lambda: rust(cargo)),
            ("python", lambda: python(interpreter)),
            ("go", lambda: go(test_binary)),
        ):
            c, w = run()
            cpu[name].append(c)
            wall[name].append(w)
        print(
            f"  round {r + 1}/{rounds} (CPU µs per call): "
            + ", ".join(f"{n} {cpu[n][-1]:.2f}" for n in cpu),
            flush=True,
        )
    base, base_wall = statistics.median(cpu["rust"]), statistics.median(wall["rust"])
    result = {"rust_cpu_us": base, "rust_wall_us": base_wall}
    print(
        f"\nFFI overhead per request (benches/ffi/scenario.json: GET /Users/<id>), "
        f"median of {rounds} rounds; CPU time per call (wall time in brackets)"
    )
    print(f"  {'Rust Engine::handle':<22} {base:7.2f} µs ({base_wall:6.2f})  1.00x (baseline)")
    abi = statistics.median(ABI_CPU)
    abi_over = statistics.median(b - a for a, b in zip(cpu["rust"], ABI_CPU))
    print(
        f"  {'C ABI (from Rust)':<22} {abi:7.2f} µs {'':8}  {abi / base:.2f}x  "
        f"+{abi_over:.2f} µs over Rust (scim_request_handle itself)"
    )
    result.update({"abi_cpu_us": abi, "abi_overhead_cpu_us": abi_over})
    for name, label in (("python", "Python Engine.handle"), ("go", "Go Engine.Handle")):
        per_call = statistics.median(cpu[name])
        per_call_wall = statistics.median(wall[name])
        over = statistics.median(b - a for a, b in zip(cpu["rust"], cpu[name]))
        budget = BUDGET_US[name]
        verdict = "within" if over <= budget else "OVER"
        print(
            f"  {label:<22} {per_call:7.2f} µs ({per_call_wall:6.2f})  {per_call / base:.2f}x  "
            f"+{over:.2f} µs over Rust ({verdict} the {budget:g} µs budget)"
        )
        result.update({f"{name}_cpu_us": per_call, f"{name}_wall_us": per_call_wall,
                       f"{name}_overhead_cpu_us": over})
    print("reproduce: make bench-ffi")
    if os.environ.get("SCIM_BENCH_JSON"):
        Path(os.environ["SCIM_BENCH_JSON"]).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
