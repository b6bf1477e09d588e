#!/usr/bin/env python3
"""Type-checks every Swift code sample in Spindle's documentation against the built library.

Samples are the ```swift blocks of the DocC articles (Sources/Spindle/Spindle.docc/*.md), of the
README, and of the `///` doc comments in Sources/ (Spindle and its bridges). Each becomes the body
of its own function (`async throws` when it awaits, else `throws`) in one module, type-checked with `swiftc -typecheck` against
the debug build's modules (run `swift build --enable-all-traits` first); samples whose top level
declares an extension, a protocol or `@main` are placed at file scope as they are. The
placeholders samples use (`work(_:)`, `render(_:)`, `Image`, …) are declared in
scripts/doc-samples/Prelude.swift.

A block whose first line is `// Package.swift` (a manifest excerpt) or `// not compiled: <why>`
is skipped; one whose first line is `// (continues the example above)` is checked together with
the sample before it in the same file.

Usage: python3 scripts/check-doc-samples.py [--scratch-path PATH] [--keep DIR]
  --scratch-path: the build folder whose debug modules to check against (default .build; CI uses
                  its thread-sanitizer build, which has every trait on: type-checking only)
  --keep: leave the generated files in DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FILE_SCOPE = re.compile(r"^(extension |protocol |@main|public extension )", re.M)
# Declarations a sample writes at its top level, which stay at file scope (as in the reader's own
# file): a nested function would capture differently, and a nested type could not be extended.
HOISTED = re.compile(r"^(?:@[A-Za-z]+(?:\([^)]*\))? )*(?:(?:final |private |fileprivate |public |nonisolated )*(?:func|struct|class|enum|actor|typealias) )")


def split_declarations(code):
    """Splits a sample into its top-level declarations (column 0, through the closing brace at
    column 0 or the end of a one-line declaration) and the rest."""
    declarations, rest, i = [], [], 0
    while i < len(code):
        line = code[i]
        attribute_line = re.fullmatch(r"(?:@[A-Za-z]+(?:\([^)]*\))? ?)+", line.strip()) and not line.startswith(" ")
        if attribute_line and i + 1 < len(code) and HOISTED.match(code[i + 1]):
            code = code[:i] + [line.strip() + " " + code[i + 1]] + code[i + 2:]
            line = code[i]
        if HOISTED.match(line):
            # File-private, so that two samples' `fib` do not collide in the one module.
            attributes = re.match(r"^((?:@[A-Za-z]+(?:\([^)]*\))? )*)", line).group(1)
            block = [attributes + "fileprivate " + line[len(attributes):]]
            depth = line.count("{") - line.count("}")
            i += 1
            while depth > 0 and i < len(code):
                block.append(code[i])
                depth += code[i].count("{") - code[i].count("}")
                i += 1
            declarations += block
        else:
            rest.append(line)
            i += 1
    return declarations, rest


# The bridges' samples see their own modules, as their readers' files would.
BRIDGE_IMPORTS = {
    "SpindleMetrics": ["import SpindleMetrics", "import CoreMetrics", "import MetricsTestKit"],
    "SpindleServiceLifecycle": ["import SpindleServiceLifecycle", "import ServiceLifecycle", "import Logging"],
}


def article_samples(path):
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```swift":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            yield start + 1, lines[start:j]
            i = j
        i += 1


def comment_samples(path):
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == "/// ```swift":
            indent = lines[i].index("///")
            start = i + 1
            j = start
            body = []
            while j < len(lines) and lines[j].strip() != "/// ```":
                text = lines[j].strip()
                body.append(text[4:] if text.startswith("/// ") else text[3:])
                j += 1
            yield start + 1, body
            i = j
        i += 1


def samples():
    docc = os.path.join(ROOT, "Sources", "Spindle", "Spindle.docc")
    for name in sorted(os.listdir(docc)):
        if name.endswith(".md"):
            path = os.path.join(docc, name)
            for line, body in article_samples(path):
                yield os.path.relpath(path, ROOT), line, body
    for line, body in article_samples(os.path.join(ROOT, "README.md")):
        yield "README.md", line, body
    for target in ("Spindle", "SpindleMetrics", "SpindleServiceLifecycle"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, "Sources", target)):
            for name in sorted(names):
                if name.endswith(".swift"):
                    path = os.path.join(dirpath, name)
                    for line, body in comment_samples(path):
                        yield os.path.relpath(path, ROOT), line, body


def merged_samples():
    """`samples()`, with each continuation appended to the sample it continues."""
    pending = None
    for source, line, body in samples():
        first = next((l.strip() for l in body if l.strip()), "")
        if first == "// (continues the example above)" and pending and pending[0] == source:
            pending = (source, pending[1], pending[2] + body)
            continue
        if pending:
            yield pending
        pending = (source, line, body)
    if pending:
        yield pending


def main():
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    out = keep or tempfile.mkdtemp(prefix="spindle-doc-samples-")
    os.makedirs(out, exist_ok=True)
    files, origin, skipped = [], {}, 0
    for n, (source, line, body) in enumerate(merged_samples()):
        first = next((l.strip() for l in body if l.strip()), "")
        if first.startswith("// Package.swift") or first.startswith("// not compiled:"):
            skipped += 1
            continue
        imports = [l for l in body if re.match(r"^\s*(@preconcurrency |@_spi\([A-Za-z]+\) )?import ", l)]
        code = [l for l in body if l not in imports]
        name = f"Sample{n:03d}.swift"
        header = ["import Spindle", "import Foundation", "import Synchronization"] + BRIDGE_IMPORTS.get(source.split("/")[1] if source.count("/") else "", [])
        header += [l.strip() for l in imports]
        header.append(f"// {source}:{line}")
        if FILE_SCOPE.search("\n".join(code)):
            text = header + code
            offset = len(header)
        else:
            declarations, rest = split_declarations(code)
            # Line numbers: declarations keep theirs relative to each other; diagnostics in the
            # rest are reported against the sample's start (close enough to find the line).
            # A sample that awaits is the body of an async function; one that does not is
            # synchronous code (where blocking calls such as `wait()` are allowed: they are
            # `noasync`).
            awaits = any(re.search(r"\bawait\b", l.split("//")[0]) for l in rest)
            effects = "async throws" if awaits else "throws"
            text = header + declarations + [f"func sample{n:03d}() {effects} {{"] + ["    " + l for l in rest] + ["}"]
            offset = len(header) + (0 if declarations else 1)
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(text) + "\n")
        files.append(name)
        origin[name] = (source, line, offset)
    shutil.copy(os.path.join(ROOT, "scripts", "doc-samples", "Prelude.swift"), os.path.join(out, "Prelude.swift"))
    scratch = sys.argv[sys.argv.index("--scratch-path") + 1] if "--scratch-path" in sys.argv else ".build"
    build = os.path.join(ROOT, scratch, "debug")
    command = ["swiftc", "-typecheck", "-continue-building-after-errors", "-j", "2", "-swift-version", "6", "-module-name", "DocSamples", "-parse-as-library",
               "-I", os.path.join(build, "Modules"),
               "-Xcc", "-fmodule-map-file=" + os.path.join(build, "CSpindle.build", "module.modulemap"),
               "-Xcc", "-I" + os.path.join(ROOT, "Sources", "CSpindle", "include"),
               "Prelude.swift"] + files
    result = subprocess.run(command, cwd=out, capture_output=True, text=True)
    report = result.stdout + result.stderr
    # Point each diagnostic at the documentation line it came from.
    def relocate(match):
        name, line = match.group(1), int(match.group(2))
        if name not in origin:
            return match.group(0)
        source, start, offset = origin[name]
        return f"{source}:{start + line - 1 - offset}"
    report = re.sub(r"(?:[^\s:]*/)?(Sample\d{3}\.swift):(\d+)", relocate, report)
    # Samples leave values unused (`let hits = …` shows what a call returns): not reported.
    errors = sorted(set(l for l in report.split("\n")
                        if (": error:" in l or ": warning:" in l) and "[#no-usage]" not in l))
    for l in errors:
        print(l)
    if not keep:
        shutil.rmtree(out)
    if result.returncode != 0 or errors:
        print(f"{len(errors)} diagnostic(s) in {len(files)} documentation samples ({skipped} skipped)")
        if "ThreadPoolMetricsReporter' in scope" in report or "ThreadPoolService' in scope" in report:
            print("(the bridges' samples need a build with every trait on: swift build --enable-all-traits)")
        return 1
    print(f"{len(files)} documentation samples type-check ({skipped} skipped: manifest excerpts, marked ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
