#!/usr/bin/env bash
# Usage and startup errors: each prints one line that starts with "wsproxy: " and says
# what to fix, and exits with code 2.
source "$(dirname "$0")/lib.sh"
W="$BUILD/wsproxy"

expect_error() {  # expect_error 'text in the message' ARGS...
  local want=$1; shift
  set +e
  out=$("$W" "$@" 2>&1 >/dev/null); rc=$?
  set -e
  [ $rc -eq 2 ] || fail "wsproxy $* exited $rc, expected 2: $out"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "wsproxy $* printed more than one line: $out"
  case "$out" in "wsproxy: "*) ;; *) fail "wsproxy $*: the line does not start with 'wsproxy: ': $out";; esac
  printf '%s' "$out" | grep -q -- "$want" || fail "wsproxy $*: expected '$want' in: $out"
  pass "wsproxy $* -> $out"
}
expect_no() {  # expect_no 'text that must not be in the message' ARGS...
  local unwanted=$1; shift
  out=$("$W" "$@" 2>&1 >/dev/null) || true
  printf '%s' "$out" | grep -q -- "$unwanted" && fail "wsproxy $*: '$unwanted' in: $out"
  return 0
}

expect_error "upstream" --listen 127.0.0.1:0
expect_error "unknown flag --bogus" --bogus --upstream ws://127.0.0.1:1
# A mistyped flag: the nearest one is suggested (edit distance, a swap, dashes, a prefix).
expect_error "unknown flag --upstrem (did you mean --upstream?)" --upstrem ws://127.0.0.1:1
expect_error "did you mean --upstream?" --upstraem=ws://127.0.0.1:1
expect_error "did you mean --upstream?" -upstream ws://127.0.0.1:1
expect_error "did you mean --max-connections?" --upstream ws://127.0.0.1:1 --max-conn 5
expect_error "did you mean --log-level?" --upstream ws://127.0.0.1:1 --log-levle debug
expect_error "did you mean --chat?" tap --chatt 1
expect_error "did you mean tap?" tapp
expect_no "did you mean" --bogus --upstream ws://127.0.0.1:1
# CLI11's own errors get the prefix and code 2 too.
expect_error "--threads" --upstream ws://127.0.0.1:1 --threads many
expect_error "--listen" --upstream ws://127.0.0.1:1 --listen
expect_error "ws://HOST:PORT" --upstream http://127.0.0.1:1
expect_error "port" --upstream ws://127.0.0.1:99999
expect_error "cannot read" --upstream ws://127.0.0.1:1 --tls-cert /nonexistent.pem --tls-key /nonexistent.key
expect_error "go together" --upstream ws://127.0.0.1:1 --tls-cert /etc/hostname
expect_error "--mode" --upstream ws://127.0.0.1:1 --mode sometimes
expect_error "--log-level" --upstream ws://127.0.0.1:1 --log-level loud
echo "not: [valid" > "$WORK/bad.yaml"
expect_error "bad.yaml" --upstream ws://127.0.0.1:1 --rules "$WORK/bad.yaml"
expect_error "cannot use" --upstream ws://127.0.0.1:1 --tls-cert /etc/hostname --tls-key /etc/hostname
# Bind addresses: a name, an address of another machine (TEST-NET-1), each said as such.
expect_error "is not an IP address" --upstream ws://127.0.0.1:1 --listen localhost:0
expect_error "192.0.2.1 is not an address of this machine" --upstream ws://127.0.0.1:1 --listen 192.0.2.1:0
expect_error "192.0.2.1 is not an address of this machine" --upstream ws://127.0.0.1:1 --listen 127.0.0.1:0 --admin 192.0.2.1:0
expect_no "another process" --upstream ws://127.0.0.1:1 --listen 192.0.2.1:0

# A busy port.
port=$(free_port)
$PY -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(30)" &
PIDS+=($!)
for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break; sleep 0.05; done
expect_error "cannot listen on 127.0.0.1:$port: the port is already in use" --upstream ws://127.0.0.1:1 --listen "127.0.0.1:$port" --admin 127.0.0.1:0
expect_error "cannot listen on 127.0.0.1:$port: the port is already in use" --upstream ws://127.0.0.1:1 --listen 127.0.0.1:0 --admin "127.0.0.1:$port"

"$W" --help | grep -q -- "--upstream" || fail "--help does not list --upstream"
"$W" --help >/dev/null || fail "--help exited non-zero"
"$W" --version | grep -q "^wsproxy " || fail "--version printed no version"
"$W" --print-default-rules | grep -q "join_chat" || fail "--print-default-rules prints no rules"
pass "--help and --print-default-rules"

# The demo backend refuses a malformed --join-delay instead of reading a prefix of it.
for bad in c1=12abc c1= =5 c1=-3 c1; do
  set +e
  out=$("$BUILD/chat-backend" --listen 127.0.0.1:0 --join-delay "$bad" 2>&1 >/dev/null); rc=$?
  set -e
  [ $rc -eq 2 ] || fail "chat-backend --join-delay $bad exited $rc, expected 2: $out"
  printf '%s' "$out" | grep -q "expected CHAT_ID=MS" || fail "chat-backend --join-delay $bad: $out"
done
pass "chat-backend refuses malformed --join-delay values"

# Every flag --help lists has its line in the README (the proxy's and its two verbs'), and
# chat-backend's in backend/README.md: a flag nobody can read about does not exist for users.
flags_of() { "$@" --help | grep -oE '^[[:space:]]+--[a-z0-9-]+' | tr -d ' ' | sort -u; }
for f in $(flags_of "$W") $(flags_of "$W" tap) $(flags_of "$W" connections); do
  grep -q -- "\`$f" "$ROOT/README.md" || fail "wsproxy $f is in --help but not in README.md"
done
for f in $(flags_of "$BUILD/chat-backend"); do
  grep -q -- "$f" "$ROOT/backend/README.md" || fail "chat-backend $f is in --help but not in backend/README.md"
done
pass "every flag in --help is in the README"
