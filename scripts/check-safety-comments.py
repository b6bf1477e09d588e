#!/usr/bin/env python3
"""Every `unsafe` site in Sources/Spindle carries its reason (issue 17, SE-0458).

The library target builds with `.strictMemorySafety()`, so the compiler already insists on the
`unsafe` marker; this checks the other half: each function (or other declaration) whose body
marks an expression `unsafe` has a `// SAFETY:` comment before that expression, in the same
declaration, and every `@unsafe` declaration documents its obligations under `# Safety` (or says
why it is unsafe on the line above). Prints `file:line: …` for each miss; exit status 1 if any.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
# A declaration starts a new scope for the rule: the reason must be inside it.
DECL = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|private|fileprivate|static|final|override|mutating|nonmutating|convenience|required)\s+)*(?:(?:func|init|deinit|subscript)\b|var\s+\w+\s*:[^=]*\{\s*$)')
UNSAFE = re.compile(r'(?<![\w@.])unsafe\s+(?![:=,)])')
problems = []
for path in sorted((root / "Sources/Spindle").rglob("*.swift")):
    lines = path.read_text().split("\n")
    seen_reason = False
    for i, line in enumerate(lines):
        code = line.split("//", 1)[0]
        if "SAFETY:" in line or "# Safety" in line or re.search(r'//\s*@(un)?safe:', line):
            seen_reason = True
        if DECL.match(code) and not UNSAFE.search(code):
            # a new declaration: reasons above it were for the previous one, unless the reason is
            # in its own doc comment / the comment lines right above it
            j = i - 1
            own = False
            while j >= 0 and lines[j].strip().startswith(("//", "@")):
                if "SAFETY:" in lines[j] or "# Safety" in lines[j] or re.search(r'//\s*@(un)?safe:', lines[j]):
                    own = True
                j -= 1
            seen_reason = own
        if re.match(r'^\s*@unsafe\b', line):
            j = i - 1
            documented = False
            while j >= 0 and lines[j].strip().startswith(("//", "///", "@")):
                if "# Safety" in lines[j] or re.search(r'//\s*@unsafe:', lines[j]):
                    documented = True
                j -= 1
            if not documented:
                problems.append(f"{path.relative_to(root)}:{i + 1}: @unsafe declaration without `# Safety` or `// @unsafe:` reason")
        if UNSAFE.search(code) and not seen_reason:
            problems.append(f"{path.relative_to(root)}:{i + 1}: `unsafe` without a `// SAFETY:` reason before it in its declaration")
for p in problems:
    print(p)
print(f"{len(problems)} unsafe site(s) without a reason" if problems else "every unsafe site gives its reason")
sys.exit(1 if problems else 0)
