#!/usr/bin/python3
"""Checks that README.md and the documents it links stay inside the repository.

  repo-docs.py <repository root> README.md [more starting documents...]

Follows every Markdown link (and image) from the starting documents, recursively through the
linked Markdown files: each target must be a path inside the repository that exists (an
optional #anchor is allowed). Absolute URLs (http:, https:, file:, ...) are refused: the docs
link nothing outside the repository. The starting documents must not name files outside the
repository by path either (../shared/..., /work/...).
"""
import os
import re
import sys

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
OUTSIDE = re.compile(r"(?<![\w.])(\.\./[\w./-]*shared[\w./-]*|/work/[\w./-]+)")


def strip_code_blocks(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)


def main():
    root = os.path.realpath(sys.argv[1])
    starts = [os.path.realpath(p) for p in sys.argv[2:]]
    todo, seen, problems = list(starts), set(), []
    for s in starts:
        text = open(s, encoding="utf-8").read()
        for n, line in enumerate(text.splitlines(), 1):
            for m in OUTSIDE.finditer(line):
                problems.append(f"{os.path.relpath(s, root)}:{n}: names a file outside the repository: {m.group(1)}")
    while todo:
        doc = todo.pop()
        if doc in seen:
            continue
        seen.add(doc)
        text = strip_code_blocks(open(doc, encoding="utf-8").read())
        for m in LINK.finditer(text):
            target = m.group(1)
            where = os.path.relpath(doc, root)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                problems.append(f"{where}: links outside the repository: {target}")
                continue
            path = target.split("#", 1)[0]
            if not path:
                continue  # an anchor in the same file
            full = os.path.realpath(os.path.join(os.path.dirname(doc), path))
            if not (full == root or full.startswith(root + os.sep)):
                problems.append(f"{where}: links outside the repository: {target}")
            elif not os.path.exists(full):
                problems.append(f"{where}: links a missing file: {target}")
            elif full.endswith(".md"):
                todo.append(full)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(seen)} documents followed from {len(starts)}; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
