#!/usr/bin/env bash
# `wsproxy tap` and `wsproxy connections` as processes against build/wsproxy in front of
# build/chat-backend, with an admin token, while python3-websockets clients that never
# join send messages: the injected join_chat shows on the tap, content stays redacted,
# and /connections shows the five signals.
source "$(dirname "$0")/lib.sh"

backend=$(free_port); proxy=$(free_port); admin=$(free_port)
echo "tap-e2e-token" > "$WORK/token"
chat="chat-cli-e2e"

# An admin port nobody listens on: one clear line, exit 1.
set +e
out=$("$BUILD/wsproxy" tap --admin "127.0.0.1:$(free_port)" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "tap against a closed port exits"
echo "$out" | grep -q "cannot reach the admin port" || fail "tap against a closed port said: $out"
expect_eq "$(echo "$out" | wc -l)" 1 "lines printed for a closed port"
set +e
out=$("$BUILD/wsproxy" connections --admin "127.0.0.1:$(free_port)" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "connections against a closed port exits"
echo "$out" | grep -q "cannot reach the admin port" || fail "connections against a closed port said: $out"
pass "an unreachable admin port is one clear line and exit 1"

start backend "$BUILD/chat-backend" --listen "127.0.0.1:$backend" --no-auto-register
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$proxy" --upstream "ws://127.0.0.1:$backend" \
  --admin "127.0.0.1:$admin" --admin-token-file "$WORK/token" --tap-payloads --threads 2
wait_http "http://127.0.0.1:$admin/healthz"

# Without the token: refused, and said so.
set +e
out=$("$BUILD/wsproxy" tap --admin "127.0.0.1:$admin" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "tap without a token exits"
echo "$out" | grep -q "needs a token" || fail "tap without a token said: $out"
set +e
out=$("$BUILD/wsproxy" connections --admin "127.0.0.1:$admin" --token wrong 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "connections with a wrong token exits"
echo "$out" | grep -q "refused the token" || fail "connections with a wrong token said: $out"
pass "the admin token is required by both verbs"

# Two taps: everything of our chat as JSON, and the first injected join_chat only.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin" --token-file "$WORK/token" --chat "$chat" --json \
  >"$WORK/tap.out" 2>"$WORK/tap.err" &
tap_pid=$!; PIDS+=($tap_pid)
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin" --token-file "$WORK/token" --type join_chat \
  --max-frames 1 >"$WORK/tap-join.out" 2>"$WORK/tap-join.err" &
join_pid=$!; PIDS+=($join_pid)
for _ in $(seq 200); do
  grep -q '"tap"' "$WORK/tap.out" 2>/dev/null && grep -q "watching" "$WORK/tap-join.err" 2>/dev/null && break
  sleep 0.05
done
grep -q '"tap"' "$WORK/tap.out" || fail "wsproxy tap --json did not subscribe: $(cat "$WORK/tap.err")"
grep -q "watching" "$WORK/tap-join.err" || fail "wsproxy tap did not subscribe: $(cat "$WORK/tap-join.err")"

# Clients that never join: one on our chat, one on another; both stay connected a while.
start clients "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy/ws/chat" \
  --clients 1 --chat "$chat" --hold 30
start other "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy/ws/chat" \
  --clients 1 --chat "chat-other" --hold 30
for _ in $(seq 200); do
  grep -q answered "$WORK/clients.log" && grep -q answered "$WORK/other.log" && break
  sleep 0.05
done
grep -q answered "$WORK/clients.log" || fail "the client on $chat got no answer through the proxy"

# The --max-frames tap exits by itself after the injected join_chat.
for _ in $(seq 100); do kill -0 "$join_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$join_pid" 2>/dev/null && fail "wsproxy tap --max-frames 1 did not exit"
wait "$join_pid" || fail "wsproxy tap --max-frames 1 failed: $(cat "$WORK/tap-join.err")"
expect_eq "$(wc -l <"$WORK/tap-join.out")" 1 "lines from tap --max-frames 1"
grep -q "join_chat" "$WORK/tap-join.out" || fail "tap line: $(cat "$WORK/tap-join.out")"
grep -q "injected" "$WORK/tap-join.out" || fail "tap line has no injected flag: $(cat "$WORK/tap-join.out")"
grep -q "→" "$WORK/tap-join.out" || fail "tap line has no arrow: $(cat "$WORK/tap-join.out")"
grep -q $'\x1b\[' "$WORK/tap-join.out" && fail "tap coloured output that is not a terminal"
pass "wsproxy tap prints one readable line per frame: $(cat "$WORK/tap-join.out")"

# The JSON tap saw our chat only, the injected join first, and no content.
for _ in $(seq 100); do grep -q '"response_complete"' "$WORK/tap.out" && break; sleep 0.05; done
"$PY" - "$WORK/tap.out" "$chat" <<'PY' || fail "tap --json content: $(head -c 3000 "$WORK/tap.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
chat = sys.argv[2]
assert "tap" in lines[0] and lines[0]["tap"]["payloads"] is True, lines[0]
frames = [l for l in lines if "conn" in l]
assert all(f["chat_id"] == chat for f in frames), "another chat leaked into --chat"
up = [f for f in frames if f["direction"] == "client_to_server"]
assert up[0]["type"] == "join_chat" and up[0]["flags"]["injected"], up[0]
assert up[1]["type"] == "send_message" and not up[1]["flags"]["injected"], up[1]
assert up[1]["payload"]["data"]["content"] == "[redacted]", up[1]
types = [f["type"] for f in frames if f["direction"] == "server_to_client"]
for t in ("chat_joined", "response_start", "response_chunk", "response_complete"):
    assert t in types, (t, types)
joined = [f for f in frames if f["type"] == "chat_joined"][0]
assert joined["flags"]["hidden"], joined   # the answer to our join never reaches the client
text = open(sys.argv[1]).read()
assert "secret question" not in text, "content leaked"
assert "mip_session" not in text, "cookie leaked"
for f in frames:
    if f["type"] in ("response_chunk", "response_complete"):
        assert f["payload"]["data"]["content"] == "[redacted]", f
print("frames:", len(frames))
PY
pass "wsproxy tap --chat --json: the injected join_chat first, hidden chat_joined, content redacted"

# /connections through the CLI, as JSON and as a table.
ok=""
for _ in $(seq 100); do
  "$BUILD/wsproxy" connections --admin "127.0.0.1:$admin" --token-file "$WORK/token" --json \
    >"$WORK/conns.json" 2>"$WORK/conns.err" || fail "connections --json: $(cat "$WORK/conns.err")"
  if "$PY" - "$WORK/conns.json" "$chat" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
conns = doc["connections"]
assert len(conns) == 2, conns
mine = [c for c in conns if any(x["chat_id"] == sys.argv[2] for x in c["chats"]["by_us"])]
assert len(mine) == 1, conns
c = mine[0]
assert c["signals"] == {"A": True, "B": True, "C": True, "D": True, "E": True}, c["signals"]
assert c["client_id"] and c["phase"] == "ready" and c["remote"] == "127.0.0.1", c
assert c["chats"]["by_us"][0]["state"] == "acknowledged", c
assert c["frames"]["client_to_server"] >= 1 and c["bytes"]["server_to_client"] > 0, c
assert "mip_session" not in json.dumps(doc)
PY
  then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "connections --json: $(cat "$WORK/conns.json")"
pass "wsproxy connections --json: both live connections, all five signals for ours"

"$BUILD/wsproxy" connections --admin "127.0.0.1:$admin" --token-file "$WORK/token" >"$WORK/conns.txt"
head -1 "$WORK/conns.txt" | grep -q "A B C D E" || fail "table header: $(cat "$WORK/conns.txt")"
grep -q "$chat" "$WORK/conns.txt" || fail "table has no chat: $(cat "$WORK/conns.txt")"
grep -q "✔ ✔ ✔ ✔ ✔" "$WORK/conns.txt" || fail "table has no all-green signals: $(cat "$WORK/conns.txt")"
pass "wsproxy connections prints a table"
cat "$WORK/conns.txt"

kill "$tap_pid"
