#!/usr/bin/env python3
"""Checks DESIGN.md's layering rule for Sources/Spindle: each folder uses only what is declared
in its own folder or in the folders below it.

Layers, bottom up: Primitives, Jobs, Scheduler, ForkJoin, Tasks, Parallel, Async, Observability.

What counts as a use: a mention of a type (class, struct, enum, protocol, actor, typealias) or a
call of a top-level function or constant (not after a dot, not shadowed in the file) declared in
a higher folder, and a call of a member that a higher folder adds
to a type in an extension (when that member name is declared nowhere else). Comments and string
literals are ignored. Prints each violation as `file:line: <name> from <folder>`; exits 1 if any.

Usage: python3 scripts/check-layers.py [--list]   (--list prints what each folder declares)
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "Spindle")
LAYERS = ["Primitives", "Jobs", "Scheduler", "ForkJoin", "Tasks", "Parallel", "Async", "Observability"]
RANK = {name: i for i, name in enumerate(LAYERS)}

TYPE_DECL = re.compile(r"\b(?:class|struct|enum|protocol|actor|typealias)\s+([A-Za-z_][A-Za-z0-9_]*)")
FUNC_DECL = re.compile(r"\b(?:func|var|let|static\s+func|static\s+var|static\s+let|case)\s+`?([A-Za-z_][A-Za-z0-9_]*)")
EXT_OPEN = re.compile(r"^\s*(?:@[A-Za-z_()]+\s+)*(?:public\s+|internal\s+|fileprivate\s+|private\s+)?extension\s+([A-Za-z_][A-Za-z0-9_.]*)")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
GENERIC_CLAUSE = re.compile(r"\b(?:class|struct|enum|actor|func|init|typealias)\b[^<{(\n]*<([^<>{}]*)>")
# Members the standard library also has: a call of one is not attributed to a folder.
STANDARD_MEMBERS = {"min", "max", "enqueue", "microseconds", "milliseconds", "seconds", "nanoseconds", "values", "split", "firstIndex", "lastIndex", "last", "contains"}
# Associated types of standard protocols (Sequence, Result, Collection): a higher folder's
# typealias of the same name does not own them.
STANDARD_TYPES = {"Element", "Failure", "Success", "Index", "Indices", "Iterator", "SubSequence"}


def strip(source):
    """Blanks out comments and string literals, keeping line structure."""
    out, i, n = [], 0, len(source)
    while i < n:
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", source[i:j])); i = j
        elif source.startswith('"""', i):
            j = source.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append(re.sub(r"[^\n]", " ", source[i:j])); i = j
        elif source[i] == '"':
            j = i + 1
            while j < n and source[j] != '"' and source[j] != "\n":
                j += 2 if source[j] == "\\" else 1
            out.append(" " * (j + 1 - i)); i = j + 1
        else:
            out.append(source[i]); i += 1
    return "".join(out)


def files():
    for layer in LAYERS:
        folder = os.path.join(ROOT, layer)
        for dirpath, _, names in os.walk(folder):
            for name in sorted(names):
                if name.endswith(".swift"):
                    path = os.path.join(dirpath, name)
                    with open(path) as f:
                        yield layer, path, strip(f.read())


def declarations(sources):
    """(types, extension members, top-level functions and constants): name -> set of folders
    declaring it."""
    types, members, globals_ = {}, {}, {}
    for layer, _, text in sources:
        for m in TYPE_DECL.finditer(text):
            types.setdefault(m.group(1), set()).add(layer)
        depth, ext_depth = 0, None
        for line in text.split("\n"):
            if ext_depth is None and EXT_OPEN.match(line):
                ext_depth = depth
            if ext_depth is not None and depth == ext_depth + 1:
                for m in FUNC_DECL.finditer(line):
                    members.setdefault(m.group(1), set()).add(layer)
            elif depth == 0:
                # Top-level functions and constants, used without a dot.
                for m in FUNC_DECL.finditer(line):
                    globals_.setdefault(m.group(1), set()).add(layer)
            depth += line.count("{") - line.count("}")
            if ext_depth is not None and depth <= ext_depth:
                ext_depth = None
    return types, members, globals_


def main():
    sources = list(files())
    types, members, globals_ = declarations(sources)
    # Every member name declared anywhere (also inside type bodies): only extension members
    # whose name is unique to one folder are attributed.
    everywhere = {}
    for layer, _, text in sources:
        for m in FUNC_DECL.finditer(text):
            everywhere.setdefault(m.group(1), set()).add(layer)
    if "--list" in sys.argv:
        for layer in LAYERS:
            print(layer, sorted(n for n, f in types.items() if f == {layer}))
        return 0
    violations = 0
    for layer, path, text in sources:
        # A file's own generic parameters shadow types of the same name elsewhere.
        local = {p.strip().split(":")[0].split()[-1].lstrip("~") for clause in GENERIC_CLAUSE.findall(text)
                 for p in clause.split(",") if p.strip() and p.strip().split(":")[0].split()}
        declared_here = {m.group(1) for m in FUNC_DECL.finditer(text)}
        for number, line in enumerate(text.split("\n"), 1):
            for m in IDENT.finditer(line):
                name = m.group(0)
                if name in local or name in STANDARD_TYPES:
                    continue
                owners = types.get(name)
                before = line[:m.start()].rstrip()
                after = line[m.end():].lstrip()
                if owners is None and name in globals_ and not before.endswith(".") and not after.startswith(":") \
                        and name not in declared_here:
                    owners = globals_[name]
                if owners is None and name in members and name not in STANDARD_MEMBERS and len(everywhere.get(name, ())) == 1:
                    before = line[:m.start()].rstrip()
                    if before.endswith("."):
                        owners = members[name]
                if not owners or layer in owners:
                    continue
                lowest = min(owners, key=RANK.get)
                if RANK[lowest] > RANK[layer]:
                    rel = os.path.relpath(path, os.path.join(ROOT, "..", ".."))
                    print(f"{rel}:{number}: {name} from {lowest}")
                    violations += 1
    if violations:
        print(f"{violations} use(s) of a higher layer (DESIGN.md §2: each layer calls only the ones below it)")
        return 1
    print("layers hold: every folder uses only its own and lower folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
