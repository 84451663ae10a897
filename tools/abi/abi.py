#!/usr/bin/env python3
"""The released ABI of include/scim.h, written down and compared.

    abi.py describe HEADER          print the ABI description of HEADER
    abi.py baseline HEADER DIR      write it to DIR/scim-<major>.<minor>.txt
    abi.py check HEADER DIR         compare HEADER with the newest baseline in DIR

The description has one line per item: every function's signature (parameter names
left out: they are not part of the ABI), every callback typedef, every type alias and
opaque type, every enum constant's value, and every struct's size, alignment and each
field's offset and type (measured by compiling a C program against the header, so a
change in a type's definition shows even when the text of the struct does not).

The rule `check` enforces, with the header's SCIM_VERSION_* against the newest baseline
of the same or an older version:
  - anything removed or changed (a function, a signature, a type, an enum value, a
    struct layout or field), a field added to a struct, or a new enum constant that
    reuses a value, needs a new major version;
  - anything added needs at least a new minor version;
  - the version never goes below the baseline's.
A new major version accepts any change; `make abi-baseline` then records the new ABI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

CC = os.environ.get("CC", "cc")
TOKEN = re.compile(r"[A-Za-z_]\w*|\d+|\S")
IDENT = re.compile(r"[A-Za-z_]\w*$")
BASELINE = re.compile(r"scim-(\d+)\.(\d+)\.txt$")


def version(header_text: str) -> Tuple[int, int, int]:
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"^#define SCIM_VERSION_{name} (\d+)$", header_text, re.M)
        if not m:
            raise SystemExit(f"the header has no SCIM_VERSION_{name}")
        parts.append(int(m.group(1)))
    return (parts[0], parts[1], parts[2])


def preprocess(header: Path) -> str:
    """The header's C declarations, comments and C++-only parts gone, the standard
    headers left unexpanded (empty stand-ins) so only libscim's own declarations remain."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("stdint.h", "stddef.h", "stdbool.h"):
            Path(tmp, name).write_text("")
        out = subprocess.run(
            [CC, "-E", "-P", "-std=c99", "-nostdinc", "-I", tmp, "-x", "c", str(header)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return out


def norm(tokens: List[str]) -> str:
    """One canonical spelling of a type: single spaces, no `struct`/`enum` keyword (every
    tag of this header is also its typedef name)."""
    return " ".join(t for t in tokens if t not in ("struct", "enum"))


def split_top(tokens: List[str], sep: str) -> List[List[str]]:
    """Split tokens on `sep` outside parentheses and braces."""
    parts: List[List[str]] = [[]]
    depth = 0
    for t in tokens:
        if t in "({[":
            depth += 1
        elif t in ")}]":
            depth -= 1
        if t == sep and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def params(tokens: List[str]) -> str:
    """A parameter list without the parameters' names."""
    out = []
    for p in split_top(tokens, ","):
        if len(p) > 1 and IDENT.match(p[-1]) and p[-1] not in ("void", "char", "int"):
            p = p[:-1]
        out.append(norm(p))
    return "(" + ", ".join(out) + ")"


def declarations(header: Path) -> Tuple[Dict[str, str], Dict[str, List[Tuple[str, str]]]]:
    """Items (key → value) of everything but struct layouts, and each struct's fields
    (name, type) in order."""
    tokens = TOKEN.findall(preprocess(header))
    items: Dict[str, str] = {}
    structs: Dict[str, List[Tuple[str, str]]] = {}
    for decl in split_top(tokens, ";"):
        if decl[0] == "enum" and "{" in decl:
            name = decl[1]
            body = decl[decl.index("{") + 1 : len(decl) - 1 - decl[::-1].index("}")]
            for const in split_top(body, ","):
                if "=" not in const:
                    raise SystemExit(f"enum {name}: {' '.join(const)} has no explicit value")
                i = const.index("=")
                items[f"enum {name}.{const[0]}"] = " ".join(const[i + 1 :])
        elif decl[0] == "typedef" and decl[1] in ("struct", "union") and "{" in decl:
            name = decl[-1]
            body = decl[decl.index("{") + 1 : len(decl) - 1 - decl[::-1].index("}")]
            fields = []
            for field in split_top(body, ";"):
                if "[" in field:
                    i = field.index("[")
                    fields.append((field[i - 1], norm(field[: i - 1] + field[i:])))
                else:
                    fields.append((field[-1], norm(field[:-1])))
            structs[name] = fields
        elif decl[0] == "typedef" and decl[1] in ("struct", "union") and len(decl) == 4:
            items[f"opaque {decl[-1]}"] = decl[1]
        elif decl[0] == "typedef" and "(" in decl and decl[decl.index("(") + 1] == "*":
            i = decl.index("(")
            name = decl[i + 2]
            rest = decl[i + 4 :]  # after `( * name )`
            items[f"callback {name}"] = f"{norm(decl[1:i])} (*){params(rest[1:-1])}"
        elif decl[0] == "typedef":
            items[f"type {decl[-1]}"] = norm(decl[1:-1])
        elif "(" in decl:
            i = decl.index("(")
            items[f"function {decl[i - 1]}"] = f"{norm(decl[: i - 1])} {params(decl[i + 1 : -1])}"
        else:
            raise SystemExit(f"cannot describe the declaration: {' '.join(decl)}")
    return items, structs


def layouts(header: Path, structs: Dict[str, List[Tuple[str, str]]]) -> Dict[str, str]:
    """Size, alignment and field offsets of every struct, as the C compiler lays them out."""
    if not structs:
        return {}
    lines = ['#include <stdio.h>', '#include <stddef.h>', f'#include "{header.resolve()}"', "int main(void) {"]
    for name, fields in structs.items():
        lines.append(
            f'  printf("struct {name} = size %zu align %zu\\n", sizeof({name}), _Alignof({name}));'
        )
        for field, _ in fields:
            lines.append(
                f'  printf("field {name}.{field} = offset %zu\\n", offsetof({name}, {field}));'
            )
    lines += ["  return 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "layout.c")
        src.write_text("\n".join(lines) + "\n")
        exe = Path(tmp, "layout")
        subprocess.run([CC, "-std=c11", "-o", str(exe), str(src)], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    items = {}
    for line in out.splitlines():
        key, value = line.split(" = ", 1)
        items[key] = value
    for name, fields in structs.items():
        for field, ty in fields:
            items[f"field {name}.{field}"] += f" {ty}"
    return items


def describe(header: Path) -> Dict[str, str]:
    items, structs = declarations(header)
    items.update(layouts(header, structs))
    return items


def render(header: Path, items: Dict[str, str]) -> str:
    major, minor, patch = version(header.read_text())
    out = [
        f"# The ABI of libscim {major}.{minor}: include/scim.h as tools/abi/abi.py describes it.",
        "# Written by `make abi-baseline`; `make abi-check` compares the header with it.",
    ]
    out += [f"{k} = {v}" for k, v in sorted(items.items())]
    return "\n".join(out) + "\n"


def parse(text: str) -> Dict[str, str]:
    items = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(" = ", 1)
            items[key] = value
    return items


def newest_baseline(directory: Path) -> Tuple[Tuple[int, int], Path]:
    found = []
    for p in directory.iterdir() if directory.is_dir() else []:
        m = BASELINE.match(p.name)
        if m:
            found.append(((int(m.group(1)), int(m.group(2))), p))
    if not found:
        raise SystemExit(f"no baseline scim-<major>.<minor>.txt in {directory}: run `make abi-baseline`")
    return max(found)


def compare(base: Dict[str, str], cur: Dict[str, str]) -> Tuple[List[str], List[str]]:
    """(incompatible changes, additions) from `base` to `cur`."""
    breaking, added = [], []
    for key in sorted(base):
        if key not in cur:
            breaking.append(f"removed: {key} = {base[key]}")
        elif cur[key] != base[key]:
            breaking.append(f"changed: {key}: {base[key]}  ->  {cur[key]}")
    for key in sorted(set(cur) - set(base)):
        if key.startswith("field "):
            breaking.append(f"field added to a released struct: {key} = {cur[key]}")
        elif key.startswith("enum "):
            enum = key.split(".", 1)[0]
            used = {k for k, v in base.items() if k.startswith(enum + ".") and v == cur[key]}
            if used:
                breaking.append(f"reuses the value of {', '.join(sorted(used))}: {key} = {cur[key]}")
            else:
                added.append(f"added: {key} = {cur[key]}")
        else:
            added.append(f"added: {key} = {cur[key]}")
    return breaking, added


def check(header: Path, directory: Path) -> int:
    cur_version = version(header.read_text())
    (bmajor, bminor), path = newest_baseline(directory)
    major, minor, _ = cur_version
    shown = ".".join(map(str, cur_version))
    if (major, minor) < (bmajor, bminor):
        print(f"{header}: version {shown} is older than the baseline {path.name}", file=sys.stderr)
        return 1
    breaking, added = compare(parse(path.read_text()), describe(header))
    if major > bmajor:
        print(f"{header}: version {shown} is a new major version over {path.name}: "
              f"{len(breaking)} incompatible changes and {len(added)} additions allowed "
              "(`make abi-baseline` records the new ABI when it is released)")
        return 0
    failed = False
    if breaking:
        failed = True
        print(f"{header} changes the ABI of {path.name} incompatibly without a major version "
              f"bump (version {shown}):", file=sys.stderr)
        for line in breaking:
            print(f"  {line}", file=sys.stderr)
    if added and minor == bminor:
        failed = True
        print(f"{header} adds to the ABI of {path.name} without a minor version bump "
              f"(version {shown}):", file=sys.stderr)
        for line in added:
            print(f"  {line}", file=sys.stderr)
    if failed:
        print("Bump the version in Cargo.toml (then `make header`), or undo the change.",
              file=sys.stderr)
        return 1
    print(f"{header}: compatible with {path.name} (version {shown}, {len(added)} additions)")
    return 0


def main(argv: List[str]) -> int:
    if len(argv) == 3 and argv[1] == "describe":
        header = Path(argv[2])
        sys.stdout.write(render(header, describe(header)))
        return 0
    if len(argv) == 4 and argv[1] == "baseline":
        header, directory = Path(argv[2]), Path(argv[3])
        major, minor, _ = version(header.read_text())
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / f"scim-{major}.{minor}.txt"
        out.write_text(render(header, describe(header)))
        print(f"wrote {out}")
        return 0
    if len(argv) == 4 and argv[1] == "check":
        return check(Path(argv[2]), Path(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
