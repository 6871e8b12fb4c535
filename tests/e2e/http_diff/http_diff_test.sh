#!/usr/bin/env bash
# Differential test of the HTTP reverse-proxy path against nginx (nginx-light): the
# same raw requests and upstream responses through both; see README.md here. The
# table goes to the build folder; the committed RESULTS.md is refreshed by running
# http_diff.py by hand (see README.md).
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec /usr/bin/python3 "$HERE/http_diff.py" --wsproxy "$BUILD/wsproxy" \
  --results "$BUILD/http_diff/RESULTS.md"
