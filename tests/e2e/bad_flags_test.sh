#!/usr/bin/env bash
# Startup errors: each prints one clear line and exits non-zero.
source "$(dirname "$0")/lib.sh"
W="$BUILD/wsproxy"

expect_error() {  # expect_error 'text in the message' ARGS...
  local want=$1; shift
  set +e
  out=$("$W" "$@" 2>&1 >/dev/null); rc=$?
  set -e
  [ $rc -ne 0 ] || fail "wsproxy $* exited 0"
  [ "$(printf '%s\n' "$out" | wc -l)" -le 2 ] || fail "wsproxy $* printed more than a line or two: $out"
  printf '%s' "$out" | grep -q -- "$want" || fail "wsproxy $*: expected '$want' in: $out"
  pass "wsproxy $* -> $out"
}

expect_error "upstream" --listen 127.0.0.1:0
expect_error "--bogus" --bogus --upstream ws://127.0.0.1:1
expect_error "ws://HOST:PORT" --upstream http://127.0.0.1:1
expect_error "port" --upstream ws://127.0.0.1:99999
expect_error "cannot read" --upstream ws://127.0.0.1:1 --tls-cert /nonexistent.pem --tls-key /nonexistent.key
expect_error "go together" --upstream ws://127.0.0.1:1 --tls-cert /etc/hostname
expect_error "--mode" --upstream ws://127.0.0.1:1 --mode sometimes
expect_error "--log-level" --upstream ws://127.0.0.1:1 --log-level loud
echo "not: [valid" > "$WORK/bad.yaml"
expect_error "bad.yaml" --upstream ws://127.0.0.1:1 --rules "$WORK/bad.yaml"
expect_error "cannot use" --upstream ws://127.0.0.1:1 --tls-cert /etc/hostname --tls-key /etc/hostname

# A busy port.
port=$(free_port)
$PY -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(30)" &
PIDS+=($!)
for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break; sleep 0.05; done
expect_error "cannot listen" --upstream ws://127.0.0.1:1 --listen "127.0.0.1:$port" --admin 127.0.0.1:0

"$W" --help | grep -q -- "--upstream" || fail "--help does not list --upstream"
"$W" --print-default-rules | grep -q "join_chat" || fail "--print-default-rules prints no rules"
pass "--help and --print-default-rules"
