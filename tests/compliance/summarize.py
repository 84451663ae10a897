"""Judge the outputs of scim2-tester (`scim2 test`) and `scim-sanity probe --json-output`.

Pass rules:
  scim2-tester: every check reports SUCCESS (scim2-cli itself exits 1 on anything else).
  scim-sanity:  every result is `pass`; `skip` is allowed only for the agent extension
                phases (draft-abbey-scim-agent-extension: Agent, AgenticApplication),
                which are not part of RFC 7643/7644. `warn`, `fail`, `error` fail.

Prints each non-passing check, then `compliance: N passed, M failed[, K skipped]` on a
line of its own; exits 1 when anything failed.
"""

import argparse
import json
import re
import sys

TESTER_LINE = re.compile(
    r"^(SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) (.*)$"
)
AGENT_PHASES = ("Phase 4", "Phase 5")  # Phase 5 and 5a: AgenticApplication, Agent rapid
AGENT_NAMES = re.compile(r"\bAgent(icApplication)?\b")


def judge_tester(path, rc):
    passed, failed = 0, []
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        m = TESTER_LINE.match(line)
        if not m:
            continue
        status, title = m.groups()
        if status == "SUCCESS":
            passed += 1
            continue
        reason = []
        for follow in lines[i + 1 : i + 3]:
            if follow.startswith("  "):
                reason.append(follow.strip())
            else:
                break
        failed.append(f"scim2-tester {status}: {title}" + (f" -- {' | '.join(reason)}" if reason else ""))
    if passed + len(failed) == 0:
        tail = "\n    ".join(lines[-20:])
        failed.append(f"scim2-tester: no check ran (exit {rc}); output ends:\n    {tail}")
    elif rc != 0 and not failed:
        failed.append(f"scim2-tester: exit {rc} with every check SUCCESS")
    return passed, failed


def judge_sanity(path, err_path, rc):
    passed, skipped, failed = 0, 0, []
    try:
        report = json.load(open(path, encoding="utf-8"))
        results = report["results"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        err = open(err_path, encoding="utf-8", errors="replace").read().strip()
        return 0, 0, [f"scim-sanity: no JSON report (exit {rc}): {e}; stderr: {err[-500:]}"]
    for r in results:
        status, name = r.get("status"), r.get("name", "?")
        phase = r.get("phase", "")
        label = f"[{phase}] {name}" if phase else name
        msg = r.get("message", "")
        print(f"  {status or '?':5} {label}")
        if status == "pass":
            passed += 1
        elif status == "skip" and (
            phase.startswith(AGENT_PHASES) or AGENT_NAMES.search(name)
        ):
            skipped += 1
        else:
            failed.append(f"scim-sanity {status.upper() if status else '?'}: {label}" + (f" -- {msg}" if msg else ""))
    if not results:
        failed.append(f"scim-sanity: empty report (exit {rc})")
    elif rc != 0 and not failed:
        failed.append(f"scim-sanity: exit {rc} with every result passing")
    return passed, skipped, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tester", required=True)
    ap.add_argument("--tester-rc", type=int, required=True)
    ap.add_argument("--sanity", required=True)
    ap.add_argument("--sanity-err", required=True)
    ap.add_argument("--sanity-rc", type=int, required=True)
    a = ap.parse_args()

    t_pass, t_fail = judge_tester(a.tester, a.tester_rc)
    print("scim-sanity results:")
    s_pass, s_skip, s_fail = judge_sanity(a.sanity, a.sanity_err, a.sanity_rc)
    print(f"scim2-tester: {t_pass} passed, {len(t_fail)} failed")
    print(f"scim-sanity: {s_pass} passed, {len(s_fail)} failed, {s_skip} skipped (agent extensions)")
    for f in t_fail + s_fail:
        print(f"  FAILED {f}")
    failed = len(t_fail) + len(s_fail)
    skipped = f", {s_skip} skipped" if s_skip else ""
    print(f"compliance: {t_pass + s_pass} passed, {failed} failed{skipped}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
