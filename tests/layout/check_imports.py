#!/usr/bin/env python3
"""No import cycles between the modules of a Rust crate (`make lint`).

Modules are the crate's files (`src/a.rs`, `src/a/mod.rs`, `src/a/b.rs`). A path
`crate::…`, `super::…` or `self::…` (in a `use` or in code) in module `x::y` that
names a module `x::z` (or something in or below it) is an edge
`y → z` between siblings of `x`; at the top, `directory → mapping` is such an edge.
Every strongly connected set of siblings of more than one module is a cycle, and fails
the check unless ALLOWED names it with the reason.

Ancestor and descendant uses are not edges (a module and its parts belong together), nor
are uses in `#[cfg(test)]` modules, comments or strings. Only paths are seen: a re-export
counts as the module that re-exports it, and a method call into an `impl` block in
another file is no edge.

    check_imports.py [SRC_DIR]      check a tree (default: src beside this repository)
    check_imports.py --self-test    prove the check finds a cycle, and passes without one
"""
import os
import re
import sys
import tempfile

# (parent module path, frozenset of the cycle's modules) -> why the cycle is kept.
ALLOWED = {
    # One layer in two files: `query` is the SQL half of `Tx`'s `ReadTx` impl (`tx`
    # delegates `range`, `range_text` and `count_where` to it, and it reads rows with
    # `tx`'s row decoders and `&Tx`).
    (("store", "postgres"), frozenset({"query", "tx"})): "query is part of Tx's ReadTx impl",
    # `tx` <-> `query` as above. `schema` <-> `tx` is a real fault: the migration backfill
    # reads rows with `tx`'s decoders and `tx` writes `schema`'s sort columns; the row
    # codecs belong in a leaf (`rows`) both use. Kept while src/store/sqlite is being
    # reworked by the write/read performance work: remove this entry when they move.
    (("store", "sqlite"), frozenset({"query", "schema", "tx"})): "query is part of Tx; "
    "schema <-> tx pending (row codecs to a leaf)",
}


def strip(text):
    """The code of a Rust file with comments, strings and char literals blanked out."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif re.match(r'b?r#*"', text[i:i + 260]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not text[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^'\\])'", text[i:i + 12]):
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i:i + 12])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(code):
    """`code` without the bodies of `#[cfg(test)] mod name { … }`."""
    out, pos = [], 0
    for m in re.finditer(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        if m.start() < pos:
            continue
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        out.append(code[pos:m.start()])
        out.append("\n" * code.count("\n", m.start(), j))
        pos = j
    out.append(code[pos:])
    return "".join(out)


def modules(src):
    """{module path tuple: [files]} of the crate rooted at `src`."""
    mods = {}
    for dirpath, _, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        base = () if rel == "." else tuple(rel.split(os.sep))
        for f in files:
            if not f.endswith(".rs"):
                continue
            name = f[:-3]
            if base == () and name in ("lib", "main"):
                path = ()
            elif name == "mod":
                path = base
            else:
                path = base + (name,)
            mods.setdefault(path, []).append(os.path.join(dirpath, f))
    return mods


PATH = re.compile(r"(?<![\w:])((?:crate|super|self)(?:\s*::\s*(?:super|self))*)\s*::\s*(\{|\w+)")


def group(code, at):
    """The items of the `{ … }` group starting at `code[at]`, split at top-level commas."""
    depth, j, items, start = 0, at, [], at + 1
    while j < len(code):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                items.append(code[start:j])
                break
        elif code[j] == "," and depth == 1:
            items.append(code[start:j])
            start = j + 1
        j += 1
    return [i.strip() for i in items if i.strip()]


def first_segments(item):
    """The leading path segments of a `use` item (`a::b::{c, d}` -> ['a', 'b'])."""
    return [s for s in re.split(r"\s*::\s*", item.split("{")[0].split(" as ")[0].strip()) if s]


def references(code, here):
    """(absolute path, line) for every module path `code` (module `here`) names."""
    refs = []
    for m in PATH.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        anchor = [s.strip() for s in m.group(1).split("::")]
        # `self` and `super` are relative to the file's module, `here`.
        cur = list(here)
        for s in anchor:
            if s == "crate":
                cur = []
            elif s == "super":
                cur = cur[:-1]
        base = tuple(cur)
        if m.group(2) == "{":
            for item in group(code, m.end() - 1):
                refs.append((base + tuple(first_segments(item)), line))
        else:
            rest = re.match(r"(\w+(?:\s*::\s*\w+)*)", code[m.start(2):])
            refs.append((base + tuple(re.split(r"\s*::\s*", rest.group(1))), line))
    return refs


def module_of(path, mods):
    """The longest prefix of `path` that is a module."""
    while path and path not in mods:
        path = path[:-1]
    return path


def edges(src):
    """{(parent, from child, to child): [file:line, …]}."""
    mods = modules(src)
    out = {}
    for here, files in mods.items():
        for f in files:
            code = drop_test_modules(strip(open(f, encoding="utf-8").read()))
            for target, line in references(code, here):
                t = module_of(target, mods)
                k = 0
                while k < min(len(here), len(t)) and here[k] == t[k]:
                    k += 1
                if k < len(here) and k < len(t):
                    key = (here[:k], here[k], t[k])
                    out.setdefault(key, []).append(f"{os.path.relpath(f)}:{line}")
    return out


def cycles(graph):
    """Strongly connected sets of more than one node (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    nodes = sorted(set(graph) | {b for bs in graph.values() for b in bs})

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def check(src, out=sys.stdout, allowed=None):
    """Print every cycle not in `allowed` (ALLOWED), and every entry of it that is no
    longer a cycle (so that the list stays true); 1 when there is either, else 0."""
    allowed = ALLOWED if allowed is None else allowed
    found = edges(src)
    by_parent = {}
    for (parent, a, b) in found:
        by_parent.setdefault(parent, {}).setdefault(a, set()).add(b)
    bad, seen = 0, set()
    for parent in sorted(by_parent):
        for scc in cycles(by_parent[parent]):
            name = "::".join(("crate",) + parent)
            if (parent, frozenset(scc)) in allowed:
                seen.add((parent, frozenset(scc)))
                continue
            bad += 1
            print(f"import cycle among {name}::{{{', '.join(scc)}}}:", file=out)
            for (p, a, b), where in sorted(found.items()):
                if p == parent and a in scc and b in scc:
                    print(f"  {a} -> {b}: {', '.join(where[:3])}", file=out)
    for parent, scc in sorted(set(allowed) - seen, key=str):
        bad += 1
        name = "::".join(("crate",) + parent)
        print(f"no longer a cycle: {name}::{{{', '.join(sorted(scc))}}}: remove it from "
              f"ALLOWED in {os.path.relpath(__file__)}", file=out)
    return 1 if bad else 0


def self_test():
    """The check fails on cycles of two and three modules, at the top and below, and on
    an allow-list entry that is no cycle; it passes without a cycle, or an allowed one."""
    files = {
        "lib.rs": "pub mod a; pub mod b; pub mod c; pub mod leaf;\n",
        "leaf.rs": "pub enum Kind { X }\n",
        "a.rs": "use crate::leaf::Kind;\n// crate::c in a comment is no edge\n"
                "const S: &str = \"crate::c::T\";\n#[cfg(test)]\nmod tests { use crate::c::T; }\n",
        "b.rs": "use crate::{a, leaf::Kind};\n",
        "c/mod.rs": "mod x; mod y;\npub use x::T;\n",
        "c/x.rs": "pub struct T;\n",
        "c/y.rs": "use super::x::T;\nuse crate::a;\n",
    }
    a_b = {"a.rs": files["a.rs"] + "use crate::b;\n"}
    cases = [
        # The comment, string and test module of a.rs name c, and c::y uses a: no edge.
        ("no cycle", {}, {}, 0),
        ("a <-> b", a_b, {}, 1),
        ("a <-> b allowed", a_b, {((), frozenset({"a", "b"})): "why"}, 0),
        ("allowed but no cycle", {}, {((), frozenset({"a", "b"})): "why"}, 1),
        ("a -> b -> c -> a", {"a.rs": files["a.rs"] + "fn f() { crate::b::g(); }\n",
                              "b.rs": files["b.rs"] + "use crate::c::{self};\n"}, {}, 1),
        ("a <-> c (through c::y)", {"a.rs": files["a.rs"] + "use crate::c::T;\n"}, {}, 1),
        ("x <-> y below c", {"c/x.rs": files["c/x.rs"] + "use super::y;\n"}, {}, 1),
        ("x <-> y below c, grouped", {"c/x.rs": files["c/x.rs"] + "use super::{y::U};\n"}, {}, 1),
    ]
    ok = True
    for name, change, allowed, want in cases:
        with tempfile.TemporaryDirectory() as d:
            for f, text in {**files, **change}.items():
                os.makedirs(os.path.dirname(os.path.join(d, f)), exist_ok=True)
                with open(os.path.join(d, f), "w") as fh:
                    fh.write(text)
            with open(os.devnull, "w") as null:
                got = check(d, null, allowed)
        if got != want:
            print(f"self-test '{name}': exit {got}, want {want}")
            ok = False
    print("check_imports self-test: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    sys.exit(check(src))
