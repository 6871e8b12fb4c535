#!/usr/bin/python3
"""No include in proxy/ runs upward: each folder includes only itself and the folders below it.

  layers_test.py <repository root>

The order is proxy/README.md's, bottom first. A new folder, or an include of a layer above,
fails with the file, the line and what to do.
"""
import os
import re
import sys

LAYERS = ["base", "ws", "http", "net", "admin", "cluster", "relay", "cli", ""]  # "" = proxy/ itself (server, main)
INCLUDE = re.compile(r'^\s*#\s*include\s+"proxy/([^"]+)"')


def layer_of(rel):
    """proxy/relay/ws_pair.cpp -> "relay"; proxy/server.cpp -> ""."""
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 else ""


def main():
    root = sys.argv[1]
    problems = []
    for dirpath, _, files in os.walk(os.path.join(root, "proxy")):
        for name in files:
            if not name.endswith((".hpp", ".cpp", ".in")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            mine = layer_of(rel)
            if mine not in LAYERS:
                problems.append(f"{rel}: folder proxy/{mine}/ is not in the layer list; add it to "
                                f"LAYERS here and to proxy/README.md")
                continue
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                theirs = layer_of("proxy/" + m.group(1))
                if theirs not in LAYERS:
                    problems.append(f"{rel}:{n}: includes proxy/{m.group(1)}, in no known layer")
                elif LAYERS.index(theirs) > LAYERS.index(mine):
                    problems.append(f"{rel}:{n}: proxy/{mine or '.'}/ includes proxy/{m.group(1)}, a layer "
                                    f"above it; move the shared part down or pass it in")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"layers: proxy/ includes run only downward ({' < '.join(l or 'proxy/' for l in LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
