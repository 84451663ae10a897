#!/usr/bin/env python3
"""Time ``Engine.handle()`` on the request of ``benches/ffi/scenario.json``: the Python
side of the FFI overhead figures (``benches/ffi/run.py``, ``make bench-ffi``).

    python bindings/python/bench/bench_handle.py [scenario.json] [--json]

Prints the median wall time and CPU time (the process's, as ``cargo bench --bench ffi``
measures it) per call over several rounds; ``--json`` prints ``{"python_ns",
"python_cpu_ns"}`` instead. The difference to the Rust figure is what the binding costs
per request.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import libscim

ROUNDS = 7
ITERS = 5000


def fill(s: str, values: dict) -> str:
    for k, v in values.items():
        s = s.replace("{" + k + "}", v)
    return s


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default = Path(__file__).resolve().parents[3] / "benches" / "ffi" / "scenario.json"
    scenario = json.loads(Path(args[0] if args else default).read_text())
    with libscim.Engine(None, scenario["config"]) as engine:
        directory = engine.create_directory(scenario["directory"])
        token = engine.issue_token(directory["id"])["secret"]
        user = engine.handle(
            "POST",
            f"/scim/v2/{directory['id']}/Users",
            headers={"Authorization": f"Bearer {token}"},
            body=scenario["user"],
        ).raise_for_status().json()["id"]
        values = {"directory": directory["id"], "user": user, "token": token}
        r = scenario["request"]
        method, path, query = (fill(r[k], values) for k in ("method", "path", "query"))
        headers = [(fill(k, values), fill(v, values)) for k, v in r["headers"]]
        # The answer is the user itself: the benchmark measures a real read.
        assert engine.handle(method, path, query, headers).raise_for_status().json()["id"] == user

        handle = engine.handle
        walls, cpus = [], []
        for _ in range(ROUNDS):
            t, c = time.perf_counter_ns(), time.process_time_ns()
            for _ in range(ITERS):
                handle(method, path, query, headers)
            cpus.append((time.process_time_ns() - c) / ITERS)
            walls.append((time.perf_counter_ns() - t) / ITERS)
        wall, cpu = sorted(walls)[ROUNDS // 2], sorted(cpus)[ROUNDS // 2]
    if "--json" in sys.argv:
        print(json.dumps({"python_ns": round(wall), "python_cpu_ns": round(cpu)}))
    else:
        print(f"Engine.handle (Python): {wall / 1000:.2f} µs wall, {cpu / 1000:.2f} µs CPU per call")


if __name__ == "__main__":
    main()
