#!/usr/bin/python3
"""Documents helm/wsproxy/values.yaml from its `# --` comments (helm-docs style).

  values_doc.py values.yaml            prints the Markdown table of every value
  values_doc.py values.yaml README.md  checks: every value has a `# --` comment (its own, or its
                                       parent's for the keys of a documented map) and a row in
                                       the README; exits 1 otherwise

A value is a key whose content is a scalar, a list or a map documented as a whole with `# --`.
Plain `#` comments above a map only group its keys.
"""
import json
import re
import sys

import yaml

KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(.*)$")


def rows(values_path):
    lines = open(values_path, encoding="utf-8").read().splitlines()
    data = yaml.safe_load("\n".join(lines))
    out, problems = [], []
    stack = []  # (indent, key, documented)
    comment = None
    for ln in lines:
        stripped = ln.strip()
        if stripped.startswith("# --"):
            comment = stripped[4:].strip()
            continue
        if stripped.startswith("#") and comment is not None:
            comment += " " + stripped[1:].strip()
            continue
        if stripped.startswith("#") or not stripped:
            if not stripped:
                comment = None
            continue
        m = KEY.match(ln)
        if not m or stripped.startswith("- "):
            comment = None
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if any(doc for _, _, doc in stack):  # inside a map documented as a whole
            comment = None
            continue
        path = ".".join([k for _, k, _ in stack] + [m.group(2)])
        value = data
        for k in path.split("."):
            value = value[k]
        is_map = isinstance(value, dict) and value
        if comment is not None:
            out.append((path, value, comment))
            stack.append((indent, m.group(2), True))
        elif is_map:
            stack.append((indent, m.group(2), False))
        else:
            problems.append(f"{path}: no '# --' comment")
            stack.append((indent, m.group(2), False))
        comment = None
    return out, problems


def fmt(v):
    if isinstance(v, (dict, list)):
        s = json.dumps(v, separators=(",", ":"))
        return f"`{s}`" if len(s) <= 60 else "see values.yaml"
    if v is None:
        return "`null`"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if v == "":
        return '`""`'
    return f"`{v}`"


def main():
    table, problems = rows(sys.argv[1])
    if len(sys.argv) == 2:
        print("| Key | Default | Description |")
        print("| --- | --- | --- |")
        for path, value, desc in table:
            cell = desc.replace("|", "\\|")
            print(f"| `{path}` | {fmt(value)} | {cell} |")
        return 1 if problems else 0
    readme = open(sys.argv[2], encoding="utf-8").read()
    for path, _, _ in table:
        if f"| `{path}` |" not in readme:
            problems.append(f"{path}: not in the README's values table")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(table)} values documented; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
