#!/usr/bin/python3
"""No Catch test name starts with '-': CTest reads such a name as one of its own options, and
the test fails without running (catch_discover_tests registers every case by its name).

  test_names_test.py <repository root>
"""
import os
import re
import sys

CASE = re.compile(r'\b(?:TEST_CASE|SCENARIO)\s*\(\s*"(-[^"]*)"')


def main():
    root = sys.argv[1]
    problems = []
    for dirpath, _, files in os.walk(os.path.join(root, "tests")):
        for name in files:
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(dirpath, name)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                for m in CASE.finditer(line):
                    problems.append(f"{os.path.relpath(path, root)}:{n}: test name \"{m.group(1)}\" starts "
                                    f"with '-'; CTest takes it for an option: start it with a word")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print("test names: none starts with '-'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
