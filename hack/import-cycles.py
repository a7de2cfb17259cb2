#!/usr/bin/env python3
"""Import cycles between the library's source files.

Every path a file names (`use crate::…`, `use super::…`, and paths written inline such as
`super::defaults::LIMIT`) is resolved to the file that defines the module it goes through, the
longest one that exists: `crate::strategy::rollout::hooks::HookPoint` is an edge to
src/strategy/rollout/hooks.rs, `crate::strategy::Revision` one to src/strategy/mod.rs (a folder's
`mod.rs` stands for the folder). A module and the modules inside it (a `mod.rs` and its folder's
files, `shift.rs` and `shift/`) are one tree and may name each other; any other two files that
name each other are a cycle: each can only be understood, and moved, together with the other.

    hack/import-cycles.py            the cycles (exit 1 when there is one)
    hack/import-cycles.py --edges    every edge between files, with the names behind it

Comments and string literals are skipped; `super` inside an inline `mod tests { … }` stays in
its file. Only the library (src/lib.rs and its modules) is read: the binaries' crates are leaves.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """The source with comments and string/char literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
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
        elif re.match(r'(b?r#*)"', text[i:i + 8]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def modules():
    """Module path (tuple) -> file, for the library crate."""
    found = {(): SRC / "lib.rs"}
    for f in SRC.rglob("*.rs"):
        rel = f.relative_to(SRC)
        if rel.parts[0] == "bin" or rel in (Path("lib.rs"), Path("main.rs")):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "mod":
            parts.pop()
        found[tuple(parts)] = f
    # Files of the `cutover` binary (main.rs's own `mod`s) are not the library's.
    main = SRC / "main.rs"
    if main.exists():
        for name in re.findall(rf"^\s*mod\s+({IDENT})\s*;", strip(main.read_text()), re.M):
            found.pop((name,), None)
    return found


def expand(tree):
    """`a::{b, c::{self, d}}` -> ["a::b", "a::c", "a::c::d"]."""
    tree = re.sub(rf"\s+as\s+{IDENT}", "", tree)
    tree = re.sub(r"\s+", "", tree)
    start = tree.find("{")
    if start < 0:
        return [tree.removesuffix("::*")]
    prefix, inner = tree[:start], tree[start + 1:-1]
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
    paths = []
    for item in filter(None, items):
        if item == "self":
            paths.append(prefix.rstrip(":"))
        else:
            paths.extend(expand(prefix + item))
    return paths


def paths_in(text):
    """Each path the file names, with the number of inline `mod … {` blocks around it."""
    text = strip(text)
    # Inline modules: where each opens and closes, to know what `super` means.
    opens = []
    for m in re.finditer(rf"\bmod\s+{IDENT}\s*\{{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        opens.append((m.end(), i))

    def nesting(pos):
        return sum(1 for a, b in opens if a <= pos < b)

    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        for p in expand(m.group(1)):
            if p.startswith(("crate::", "super::", "self::")) or p in ("crate", "super", "self"):
                found.append((p, nesting(m.start())))
    rest = re.sub(r"\buse\s+[^;]+;", lambda m: " " * len(m.group(0)), text)
    for m in re.finditer(rf"\b(?:crate|super|self)(?:::{IDENT})+", rest):
        found.append((m.group(0), nesting(m.start())))
    return found


def resolve(path, here, inline, mods):
    """The module a path goes through (longest existing prefix), or None when it stays in `here`."""
    parts = path.split("::")
    if parts[0] == "crate":
        base, parts = (), parts[1:]
    else:
        base = list(here)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                if inline:
                    inline -= 1
                else:
                    base.pop()
            parts = parts[1:]
        base = tuple(base)
    target = base
    for p in parts:
        if base + (p,) not in mods:
            break
        base = base + (p,)
        target = base
    return target


def edges():
    mods = modules()
    by_file = {f: m for m, f in mods.items()}
    out = defaultdict(set)
    for f, here in by_file.items():
        for path, inline in paths_in(f.read_text()):
            target = resolve(path, here, inline, mods)
            if target != here:
                out[(here, target)].add(path)
    return mods, out


def name(mods, m):
    return str(mods[m].relative_to(ROOT))


def related(a, b):
    """One module inside the other (a folder's mod.rs and its files)."""
    return a[: len(b)] == b or b[: len(a)] == a


def main():
    mods, out = edges()
    if "--edges" in sys.argv:
        for (a, b), paths in sorted(out.items()):
            print(f"{name(mods, a)} -> {name(mods, b)}: {', '.join(sorted(paths))}")
        return 0
    cycles = [
        (a, b)
        for (a, b) in out
        if a < b and (b, a) in out and not related(a, b)
    ]
    for a, b in sorted(cycles):
        print(f"{name(mods, a)} <-> {name(mods, b)}")
        print(f"    {name(mods, a)} names {', '.join(sorted(out[(a, b)]))}")
        print(f"    {name(mods, b)} names {', '.join(sorted(out[(b, a)]))}")
    if not cycles:
        print("no two files import each other")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
