#!/usr/bin/env python3
"""No import circles between the crate's files (run by .ci/run; anyone can run it).

Reads every `src/**/*.rs`, finds the crate paths each file names (`use crate::…`, `use super::…`,
`crate::a::b::c` written inline, and `use self::child` / `child::item` of declared children), maps
each to the file that defines that module, and reports every strongly connected component of more
than one file: a file that imports a file that imports it back, directly or around a longer loop.

One kind of edge is not an import: a module's root (`lib.rs`, `main.rs`, `x/mod.rs`, or `x.rs` with
an `x/` folder) naming its own descendants. The root declares them (`mod child;`) and may re-export
or orchestrate them; the arrow that counts is a child reaching back up into its parent. So a parent
may use its children, and a child its parent, but not both at once through other files.

Usage: scripts/check-imports.py [--graph]   (exit 1 when a circle exists)
"""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(rel):
    """src-relative file path -> module path tuple (('apply','integration'))."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments_and_strings(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def cfg_test_stripped(text):
    """Drops `#[cfg(test)] mod … { … }` blocks: test code may import anything."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (aliases and globs trimmed)."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"as\w+$", "", tree).rstrip(":").removesuffix("::*")]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    out = []
    for it in filter(None, items):
        for e in expand_use(it):
            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
    return out


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs"):
                rel = os.path.relpath(os.path.join(root, n), SRC)
                files[module_of(rel)] = rel
    modules = set(files)

    def resolve(path):
        """Longest module prefix of a crate path that is a file."""
        for k in range(len(path), 0, -1):
            if path[:k] in modules:
                return path[:k]
        return None

    def is_root_of(a, b):
        return len(b) > len(a) and b[: len(a)] == a

    edges = {m: set() for m in modules}
    for mod, rel in files.items():
        with open(os.path.join(SRC, rel), encoding="utf-8") as f:
            text = cfg_test_stripped(strip_comments_and_strings(f.read()))
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths.extend(expand_use(m.group(1)))
        paths.extend(m.group(0) for m in re.finditer(r"\b(?:crate|super)(?:::\w+)+", text))
        children = set(re.findall(r"\bmod\s+(\w+)\s*;", text))
        for m in re.finditer(r"\b(\w+)::\w+", text):
            if m.group(1) in children:
                paths.append("self::" + m.group(0))
        for p in paths:
            segs = p.split("::")
            if segs[0] == "crate":
                target = tuple(segs[1:])
            elif segs[0] in ("super", "self"):
                base = list(mod)
                is_root = os.path.basename(rel) in ("mod.rs", "lib.rs", "main.rs")
                if not is_root and segs[0] == "self":
                    base = base  # a non-root file's children live under its own path
                while segs and segs[0] == "super":
                    base = base[:-1]
                    segs = segs[1:]
                if segs and segs[0] == "self":
                    segs = segs[1:]
                target = tuple(base) + tuple(segs)
            else:
                continue
            t = resolve(target)
            if t is None or t == mod or is_root_of(mod, t):
                continue
            edges[mod].add(t)

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(modules):
        if v not in index:
            visit(v)

    if "--graph" in sys.argv:
        for v in sorted(edges):
            for w in sorted(edges[v]):
                print(f"{files[v]} -> {files[w]}")
    for comp in sccs:
        names = [files[m] for m in comp]
        print("import circle: " + " <-> ".join(names))
        for a in comp:
            for b in sorted(edges[a] & set(comp)):
                print(f"    {files[a]} uses {files[b]}")
    if sccs:
        print(f"{len(sccs)} import circle(s) between {sum(map(len, sccs))} files", file=sys.stderr)
        return 1
    print(f"no import circle among {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
