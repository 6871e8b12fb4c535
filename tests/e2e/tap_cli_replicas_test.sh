#!/usr/bin/env bash
# `wsproxy tap` and `wsproxy connections` against two proxies at once (two replicas in front
# of one chat-backend), as processes: merged output with a source column and field, a tap
# that survives one proxy being killed and restarted on the same admin port (and says so),
# an address that fails while the other keeps working, --watch snapshots, and the address
# flags' errors.
source "$(dirname "$0")/lib.sh"

backend=$(free_port); proxy_a=$(free_port); proxy_b=$(free_port)
admin_a=$(free_port); admin_b=$(free_port)
chat="chat-replicas-e2e"

# Bad addresses are refused before anything is sent: exit 2 and what to write instead.
for bad in "--admin-url https://127.0.0.1:1" "--admin 127.0.0.1" "--admin =127.0.0.1:1" \
    "--admin-url http://127.0.0.1:1/tap" "--admin 127.0.0.1:1 --admin-url http://127.0.0.1:1"; do
  for verb in tap connections; do
    set +e
    # shellcheck disable=SC2086
    out=$("$BUILD/wsproxy" $verb $bad 2>&1); rc=$?
    set -e
    expect_eq "$rc" 2 "wsproxy $verb $bad"
    expect_eq "$(echo "$out" | wc -l)" 1 "lines printed for wsproxy $verb $bad"
    echo "$out" | grep -qE "expected HOST:PORT|plain HTTP|empty name|given twice" ||
      fail "wsproxy $verb $bad said: $out"
  done
done
pass "a bad --admin or --admin-url is one line and exit 2"

start backend "$BUILD/chat-backend" --listen "127.0.0.1:$backend" --no-auto-register
start_proxy() {  # NAME LISTEN_PORT ADMIN_PORT
  "$BUILD/wsproxy" --listen "127.0.0.1:$2" --upstream "ws://127.0.0.1:$backend" \
    --admin "127.0.0.1:$3" --threads 1 >>"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  eval "pid_$1=$!"
}
start_proxy a "$proxy_a" "$admin_a"
start_proxy b "$proxy_b" "$admin_b"
wait_http "http://127.0.0.1:$admin_a/healthz"
wait_http "http://127.0.0.1:$admin_b/healthz"

# One JSON tap and one text tap over both proxies, the first one named.
"$BUILD/wsproxy" tap --admin "pod-a=127.0.0.1:$admin_a" --admin-url "http://127.0.0.1:$admin_b" \
  --chat "$chat" --json >"$WORK/tap.json" 2>"$WORK/tapjson.err" &
json_pid=$!; PIDS+=($json_pid)
"$BUILD/wsproxy" tap --admin "pod-a=127.0.0.1:$admin_a" --admin-url "http://127.0.0.1:$admin_b/" \
  --chat "$chat" >"$WORK/tap.txt" 2>"$WORK/taptxt.err" &
text_pid=$!; PIDS+=($text_pid)
for f in tapjson taptxt; do
  wait_for "$WORK/$f.err" "watching 127.0.0.1:$admin_a as pod-a" || fail "$f: $(cat "$WORK/$f.err")"
  wait_for "$WORK/$f.err" "watching 127.0.0.1:$admin_b (" || fail "$f: $(cat "$WORK/$f.err")"
done

# One client through each proxy on the same chat.
start client_a "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
start client_b "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_b/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_a.log" answered || fail "the client through proxy a got no answer"
wait_for "$WORK/client_b.log" answered || fail "the client through proxy b got no answer"
wait_for "$WORK/tap.json" '"source":"pod-a".*response_complete' ||
  fail "no response_complete from pod-a on the JSON tap: $(cat "$WORK/tap.json")"
wait_for "$WORK/tap.json" "\"source\":\"127.0.0.1:$admin_b\".*response_complete" ||
  fail "no response_complete from proxy b on the JSON tap: $(cat "$WORK/tap.json")"
"$PY" - "$WORK/tap.json" "$admin_b" <<'PY' || fail "tap --json merged: $(head -c 3000 "$WORK/tap.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b = "127.0.0.1:" + sys.argv[2]
assert all("source" in l for l in lines), "a line without its source"
hellos = [l for l in lines if "tap" in l]
assert sorted(h["source"] for h in hellos) == sorted(["pod-a", b]), hellos
frames = [l for l in lines if "conn" in l]
for src in ("pod-a", b):
    mine = [f for f in frames if f["source"] == src]
    up = [f["type"] for f in mine if f["direction"] == "client_to_server"]
    assert up[:2] == ["join_chat", "send_message"], (src, up)
# The source field is spliced in front: the proxy's own fields keep their order.
raw = [l for l in open(sys.argv[1]) if '"conn"' in l][0]
assert raw.startswith('{"source":'), raw
PY
wait_for "$WORK/tap.txt" "127.0.0.1:$admin_b .*response_complete" || fail "text tap: $(cat "$WORK/tap.txt")"
wait_for "$WORK/tap.txt" "pod-a .*response_complete" || fail "text tap: $(cat "$WORK/tap.txt")"
pass "tap over two proxies merges both, with a source field (--json) and column (text)"
grep -m2 "join_chat" "$WORK/tap.txt"

# connections over both: every row with its source, sorted by when it opened.
"$BUILD/wsproxy" connections --admin "pod-a=127.0.0.1:$admin_a" --admin-url "127.0.0.1:$admin_b" \
  --json >"$WORK/conns.json" || fail "connections --json over two proxies failed"
"$PY" - "$WORK/conns.json" "$admin_b" <<'PY' || fail "connections --json merged: $(cat "$WORK/conns.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
b = "127.0.0.1:" + sys.argv[2]
conns = doc["connections"]
assert sorted(c["source"] for c in conns) == sorted(["pod-a", b]), conns
assert [c["started"] for c in conns] == sorted(c["started"] for c in conns), conns
assert doc["sources"] == [{"source": "pod-a"}, {"source": b}], doc["sources"]
assert "closed" not in doc, "closed listed without --closed"
PY
"$BUILD/wsproxy" connections --admin "pod-a=127.0.0.1:$admin_a" --admin-url "127.0.0.1:$admin_b" \
  >"$WORK/conns.txt" || fail "connections over two proxies failed"
head -1 "$WORK/conns.txt" | grep -q "^SOURCE  *ID  *REMOTE" || fail "table header: $(cat "$WORK/conns.txt")"
grep -q "^pod-a  " "$WORK/conns.txt" || fail "no pod-a row: $(cat "$WORK/conns.txt")"
grep -q "^127.0.0.1:$admin_b  " "$WORK/conns.txt" || fail "no proxy b row: $(cat "$WORK/conns.txt")"
pass "connections over two proxies: one table with a SOURCE column, JSON rows with source"
cat "$WORK/conns.txt"

# Kill proxy b: both taps say so and keep showing proxy a.
kill -9 "$pid_b"
wait "$pid_b" 2>/dev/null || true
for f in tapjson taptxt; do
  wait_for "$WORK/$f.err" "connection to 127.0.0.1:$admin_b lost (.*); reconnecting in [0-9.]* s" ||
    fail "$f did not report the loss: $(cat "$WORK/$f.err")"
done
# While b is down the tap keeps retrying it ...
wait_for "$WORK/taptxt.err" "cannot reach the admin port at 127.0.0.1:$admin_b.*retrying in" ||
  fail "the tap did not retry: $(cat "$WORK/taptxt.err")"
kill -0 "$text_pid" || fail "the tap exited when one proxy went away: $(cat "$WORK/taptxt.err")"
# ... and proxy a still reaches it.
start client_a2 "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_a2.log" answered || fail "the second client through proxy a got no answer"
wait_for "$WORK/tap.txt" "pod-a  .* #2 .*join_chat" ||
  fail "proxy a's new connection is not on the tap while b is down: $(cat "$WORK/tap.txt")"
pass "a proxy killed: the tap says 'connection lost; reconnecting', retries, and shows the other"

# connections while b is down: a's rows, b's error, exit 1.
set +e
"$BUILD/wsproxy" connections --admin "pod-a=127.0.0.1:$admin_a" --admin "127.0.0.1:$admin_b" \
  >"$WORK/half.txt" 2>"$WORK/half.err"; rc=$?
set -e
expect_eq "$rc" 1 "connections with one proxy down"
grep -q "^pod-a " "$WORK/half.txt" || fail "connections with b down printed no rows of a: $(cat "$WORK/half.txt")"
grep -q "cannot reach the admin port at 127.0.0.1:$admin_b" "$WORK/half.err" ||
  fail "connections with b down said: $(cat "$WORK/half.err")"
pass "connections with one proxy down prints the other's rows, names the failing one, exits 1"

# Proxy b comes back on the same ports: the taps reconnect and show its new connections.
start_proxy b "$proxy_b" "$admin_b"
wait_http "http://127.0.0.1:$admin_b/healthz"
for f in tapjson taptxt; do
  wait_for "$WORK/$f.err" "reconnected to 127.0.0.1:$admin_b" 200 ||
    fail "$f did not reconnect: $(cat "$WORK/$f.err")"
done
start client_b2 "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_b/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_b2.log" answered || fail "the client through the restarted proxy b got no answer"
wait_for "$WORK/tap.txt" "127.0.0.1:$admin_b .*response_complete" ||
  fail "the restarted proxy's frames are not on the tap: $(cat "$WORK/tap.txt")"
n=$(grep -c "\"source\":\"127.0.0.1:$admin_b\".*\"tap\"" "$WORK/tap.json" || true)
expect_eq "$n" 2 "hello lines from proxy b on the JSON tap (before and after its restart)"
pass "the restarted proxy: 'reconnected to', and its frames flow again"
cat "$WORK/taptxt.err"

# SIGINT ends a tap cleanly: exit 0.
kill -INT "$text_pid"
wait "$text_pid" || fail "tap exited $? on SIGINT"
kill -TERM "$json_pid"
wait "$json_pid" || fail "tap exited $? on SIGTERM"
pass "SIGINT and SIGTERM end the tap with exit 0"

# --no-reconnect: the old behaviour, one stream and done when it ends.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_b" --no-reconnect >/dev/null 2>"$WORK/once.err" &
once_pid=$!; PIDS+=($once_pid)
wait_for "$WORK/once.err" "watching" || fail "tap --no-reconnect: $(cat "$WORK/once.err")"
kill -9 "$pid_b"
set +e
wait "$once_pid"; rc=$?
set -e
expect_eq "$rc" 1 "tap --no-reconnect when its proxy is killed"
grep -q "lost the admin connection to 127.0.0.1:$admin_b" "$WORK/once.err" ||
  fail "tap --no-reconnect said: $(cat "$WORK/once.err")"
pass "tap --no-reconnect ends when its stream is lost"

# --wait: a tap started before its proxy waits for it.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_b" --wait >/dev/null 2>"$WORK/wait.err" &
wait_pid=$!; PIDS+=($wait_pid)
wait_for "$WORK/wait.err" "cannot reach the admin port at 127.0.0.1:$admin_b.*retrying in" ||
  fail "tap --wait: $(cat "$WORK/wait.err")"
start_proxy b "$proxy_b" "$admin_b"
wait_for "$WORK/wait.err" "watching 127.0.0.1:$admin_b" 200 || fail "tap --wait: $(cat "$WORK/wait.err")"
kill -INT "$wait_pid"
wait "$wait_pid" || fail "tap --wait exited $? on SIGINT"
pass "tap --wait retries a first connect until the proxy is up"

# An address that is down from the start, next to one that works: reported, not fatal for
# the other; the run's exit code says that one failed.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_a" --admin "127.0.0.1:$(free_port)" --chat "$chat" \
  --type send_message --max-frames 1 >"$WORK/partial.txt" 2>"$WORK/partial.err" &
partial_pid=$!; PIDS+=($partial_pid)
wait_for "$WORK/partial.err" "watching 127.0.0.1:$admin_a" || fail "partial tap: $(cat "$WORK/partial.err")"
start client_a3 "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 5
set +e
wait "$partial_pid"; rc=$?
set -e
expect_eq "$rc" 1 "tap --max-frames with one address down from the start"
grep -q "cannot reach the admin port" "$WORK/partial.err" || fail "partial tap said: $(cat "$WORK/partial.err")"
grep -q "send_message" "$WORK/partial.txt" || fail "partial tap printed: $(cat "$WORK/partial.txt")"
pass "an address down from the start is reported; the other's frames still print"

# --watch: snapshots until interrupted; not a terminal, so separated by a blank line.
# Interrupted once three snapshots are out (not after a fixed time: on a loaded machine a
# signal sent too early finds the process before it took SIGINT, and it dies of it).
"$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" --admin "127.0.0.1:$admin_b" \
  --watch --interval 0.2 >"$WORK/watch.txt" 2>"$WORK/watch.err" &
watch_pid=$!; PIDS+=($watch_pid)
for _ in $(seq 400); do
  [ "$(grep -c "^wsproxy connections at .*every 0.2 s" "$WORK/watch.txt" || true)" -ge 3 ] && break
  sleep 0.05
done
kill -INT "$watch_pid"
set +e
wait "$watch_pid"; rc=$?
set -e
expect_eq "$rc" 0 "connections --watch ended by SIGINT"
n=$(grep -c "^wsproxy connections at .*every 0.2 s" "$WORK/watch.txt" || true)
[ "$n" -ge 3 ] || fail "connections --watch printed $n snapshots: $(cat "$WORK/watch.txt") $(cat "$WORK/watch.err")"
blank=$(grep -c '^$' "$WORK/watch.txt" || true)
expect_eq "$blank" "$((n - 1))" "blank lines between $n --watch snapshots"
grep -q $'\x1b\[' "$WORK/watch.txt" && fail "--watch cleared the screen of a file"
pass "connections --watch: $n snapshots at --interval 0.2, a blank line between them"

# --watch on a terminal (script(1) gives it one): each snapshot clears the screen first.
set +e
script -qec "timeout -s INT --preserve-status 3 '$BUILD/wsproxy' connections --admin 127.0.0.1:$admin_a --watch --interval 0.2" \
  /dev/null >"$WORK/tty.out"
rc=$?
set -e
expect_eq "$rc" 0 "connections --watch on a terminal ended by SIGINT"
n=$(grep -o $'\x1b\[H\x1b\[2J' "$WORK/tty.out" | wc -l)
[ "$n" -ge 2 ] || fail "connections --watch on a terminal cleared the screen $n times: $(od -c "$WORK/tty.out" | head)"
pass "connections --watch on a terminal clears the screen for each of its $n snapshots"
