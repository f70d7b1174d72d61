#!/usr/bin/env python3
"""Prints the import cycles between the modules of src/ (each file, and each folder's files,
is a module; `crate::a::b` and `super::` paths are edges). Exit 1 when there is one.

Used by the tests (tests/integration/ops.rs) so that no cycle comes back."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
modules = {}
for directory, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.relpath(os.path.join(directory, name), root)[:-3].split(os.sep)
        if path[-1] == "mod":
            path = path[:-1]
        if path in (["lib"], ["main"]):
            continue
        modules["::".join(path)] = os.path.join(directory, name)


def strip_tests(text):
    """Drops `#[cfg(test)] mod tests { ... }` blocks: test code may use anything."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod \w+ \{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(path):
    """The longest known module that `path` (a::b::c) names."""
    parts = path.split("::")
    while parts:
        candidate = "::".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


edges = {m: set() for m in modules}
for module, file in modules.items():
    text = strip_tests(open(file, encoding="utf-8").read())
    text = re.sub(r"//[^\n]*", "", text)
    # `super` is the parent of the module the file is.
    parent = module.rsplit("::", 1)[0] if "::" in module else ""
    for m in re.finditer(r"\b(crate|super)((?:::\{?[A-Za-z_][A-Za-z0-9_]*)+)", text):
        head, rest = m.group(1), m.group(2).replace("{", "").strip(":")
        base = "" if head == "crate" else parent
        full = f"{base}::{rest}" if base else rest
        target = resolve(full)
        if target and target != module and not module.startswith(target + "::") and not target.startswith(module + "::"):
            edges[module].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
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
            sccs.append(sorted(scc))


if "-v" in sys.argv:
    for v in sorted(modules):
        print(v, "->", ", ".join(sorted(edges[v])))
for v in sorted(modules):
    if v not in index:
        visit(v)
for scc in sccs:
    print("cycle:", " <-> ".join(scc))
    for v in scc:
        print("  ", v, "->", ", ".join(sorted(w for w in edges[v] if w in scc)))
sys.exit(1 if sccs else 0)
