#!/usr/bin/env bash
# What `wsproxy tap` and `wsproxy connections` show from the admin port's memory, as
# processes: tap --history (alone, with --conn, and merged over two proxies), the warning for
# a --type the rules do not know (the hello's "types"), and connections --closed.
source "$(dirname "$0")/lib.sh"

backend=$(free_port); proxy_a=$(free_port); proxy_b=$(free_port)
admin_a=$(free_port); admin_b=$(free_port)
chat="chat-history-e2e"

start_backend_and_two_proxies "$backend" "$proxy_a" "$admin_a" "$proxy_b" "$admin_b"

# Traffic before any tap: one client through each proxy, kept open, and one through a that
# leaves after a second (for --closed).
start client_a "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_a.log" answered || fail "the client through proxy a got no answer"
start client_b "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_b/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_b.log" answered || fail "the client through proxy b got no answer"
start leaver "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "chat-leaver" --hold 1

# --history on one proxy: the frames from before the tap, then '--- live ---', then live.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_a" --chat "$chat" --history 100 --json \
  >"$WORK/hist.json" 2>"$WORK/hist.err" &
hist_pid=$!; PIDS+=($hist_pid)
wait_for "$WORK/hist.err" "^--- live ---" || fail "tap --history: no live separator: $(cat "$WORK/hist.err")"
start client_a2 "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_a2.log" answered || fail "the second client through proxy a got no answer"
for _ in $(seq 200); do
  grep -v '"history":true' "$WORK/hist.json" | grep -q response_complete && break
  sleep 0.05
done
grep -v '"history":true' "$WORK/hist.json" | grep -q response_complete ||
  fail "no live frames after the history: $(cat "$WORK/hist.json")"
kill -INT "$hist_pid"; wait "$hist_pid" || fail "tap --history exited $? on SIGINT"
"$PY" - "$WORK/hist.json" <<'PY' || fail "tap --history --json: $(head -c 4000 "$WORK/hist.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert "tap" in lines[0], lines[0]
end = [i for i, l in enumerate(lines) if l.get("history_end")]
assert len(end) == 1, "one history_end: %r" % end
before, after = lines[1:end[0]], lines[end[0] + 1:]
assert before and all(l.get("history") is True and l["conn"] == 1 for l in before), before
assert lines[end[0]]["sent"] == len(before), (lines[end[0]], len(before))
types = [l["type"] for l in before]
for t in ("join_chat", "send_message", "response_complete"):
    assert t in types, (t, types)
assert [l["ts"] for l in before] == sorted(l["ts"] for l in before), "history not oldest first"
assert after and all(not l.get("history") for l in after), after
assert any(l["conn"] != 1 for l in after), after  # the second client, live
PY
pass "tap --history: the events from before it started, history_end, then live"

# Text mode with --max-frames inside the history: exactly that many lines.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_a" --chat "$chat" --history 100 --max-frames 3 \
  >"$WORK/hist3.txt" 2>"$WORK/hist3.err" || fail "tap --history --max-frames: $(cat "$WORK/hist3.err")"
expect_eq "$(wc -l <"$WORK/hist3.txt")" 3 "lines from tap --history 100 --max-frames 3"
head -1 "$WORK/hist3.txt" | grep -q "join_chat" || fail "first history line: $(cat "$WORK/hist3.txt")"
pass "tap --history --max-frames 3 prints the three oldest and exits"

# --conn with --history: that connection's own events only.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_a" --conn 1 --history 1000 --json \
  >"$WORK/conn.json" 2>"$WORK/conn.err" &
conn_pid=$!; PIDS+=($conn_pid)
wait_for "$WORK/conn.err" "^--- live ---" || fail "tap --conn --history: $(cat "$WORK/conn.err")"
kill -INT "$conn_pid"; wait "$conn_pid" || true
"$PY" - "$WORK/conn.json" <<'PY' || fail "tap --conn 1 --history: $(head -c 4000 "$WORK/conn.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
frames = [l for l in lines if "conn" in l]
assert frames and all(f["conn"] == 1 and f["history"] for f in frames), frames
assert "send_message" in [f["type"] for f in frames], frames
PY
pass "tap --conn 1 --history: only connection 1's events"

# Two proxies merged: one history, in time order across both, then one separator.
"$BUILD/wsproxy" tap --admin "a=127.0.0.1:$admin_a" --admin "b=127.0.0.1:$admin_b" \
  --chat "$chat" --history 100 --json >"$WORK/both.json" 2>"$WORK/both.err" &
both_pid=$!; PIDS+=($both_pid)
wait_for "$WORK/both.err" "^--- live ---" || fail "merged --history: $(cat "$WORK/both.err")"
kill -INT "$both_pid"; wait "$both_pid" || fail "merged tap exited $? on SIGINT"
expect_eq "$(grep -c -- '--- live ---' "$WORK/both.err")" 1 "separators from a merged --history"
"$PY" - "$WORK/both.json" <<'PY' || fail "merged --history: $(head -c 4000 "$WORK/both.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hist = [l for l in lines if l.get("history")]
assert {l["source"] for l in hist} == {"a", "b"}, hist
assert [l["ts"] for l in hist] == sorted(l["ts"] for l in hist), "merged history out of order"
last_hist = max(i for i, l in enumerate(lines) if l.get("history"))
ends = [i for i, l in enumerate(lines) if l.get("history_end")]
assert len(ends) == 2 and min(ends) > last_hist, (ends, last_hist)
PY
pass "tap --history over two proxies: one history merged by time, then live"

# A --type the rules do not know: one warning with a guess and the known names.
"$BUILD/wsproxy" tap --admin "127.0.0.1:$admin_a" --admin "127.0.0.1:$admin_b" \
  --type join_chta --type send_message >/dev/null 2>"$WORK/type.err" &
type_pid=$!; PIDS+=($type_pid)
wait_for "$WORK/type.err" "watching 127.0.0.1:$admin_b" || fail "tap --type: $(cat "$WORK/type.err")"
wait_for "$WORK/type.err" "watching 127.0.0.1:$admin_a" || fail "tap --type: $(cat "$WORK/type.err")"
kill -INT "$type_pid"; wait "$type_pid" || fail "tap --type exited $? on SIGINT"
expect_eq "$(grep -c "join_chta" "$WORK/type.err")" 1 "warnings for --type join_chta over two proxies"
grep -q "^wsproxy tap: --type join_chta: .* know no such message type, so it matches nothing; did you mean join_chat? (known: .*send_message" \
  "$WORK/type.err" || fail "the unknown --type warning: $(cat "$WORK/type.err")"
grep -q "type send_message" "$WORK/type.err" && fail "warned about a known type: $(cat "$WORK/type.err")"
pass "tap --type join_chta: $(grep join_chta "$WORK/type.err" | cut -c1-140)..."

# connections --closed: the client that left, with its close codes and reason.
ok=""
for _ in $(seq 100); do
  "$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" --closed --json >"$WORK/closed.json" ||
    fail "connections --closed --json failed"
  # Until the close has been recorded; the last attempt's complaint is kept for the failure.
  if "$PY" - "$WORK/closed.json" "$admin_a" 2>"$WORK/closed.why" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
gone = [c for c in doc["closed"] if any(x["chat_id"] == "chat-leaver" for x in c["chats"]["by_us"])]
assert len(gone) == 1, doc["closed"]
c = gone[0]
assert c["source"] == "127.0.0.1:" + sys.argv[2], c
assert c["close_code_client"] == 1000 and c["close_reason"] == "client_close", c
assert c["closed"].endswith("Z") and c["closed"] >= c["started"] and c["duration_ms"] >= 0, c
assert all(x["source"] for x in doc["connections"]) and len(doc["connections"]) == 2, doc
PY
  then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "connections --closed --json: $(tail -1 "$WORK/closed.why"): $(cat "$WORK/closed.json")"
"$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" --json >"$WORK/open.json"
grep -q '"closed"' "$WORK/open.json" && fail "closed connections listed without --closed"
"$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" --closed >"$WORK/closed.txt"
grep -q "^recently closed" "$WORK/closed.txt" || fail "no closed table: $(cat "$WORK/closed.txt")"
grep -E "chat-leaver .* 1000/.* client_close" "$WORK/closed.txt" >/dev/null ||
  fail "closed row: $(cat "$WORK/closed.txt")"
pass "connections --closed: the client that left, 1000, client_close"
cat "$WORK/closed.txt"

# A stream lost without a restart (the port-forward in between cut, as when kubectl's dies):
# on reconnect the history is asked for again, and only what is newer than the last event
# printed appears, so the gap is filled and nothing is printed twice.
fwd_port=$(free_port)
forward() {  # a port-forward to proxy a's admin port on $fwd_port (tests/e2e/fake_kubectl.py)
  FAKE_PODS="pod-a=$admin_a" "$ROOT/tests/e2e/fake_kubectl.py" port-forward pod/pod-a \
    "$fwd_port:9090" >>"$WORK/forward.out" 2>&1 &
  fwd_pid=$!; PIDS+=($fwd_pid)
  for _ in $(seq 100); do [ "$(grep -c Forwarding "$WORK/forward.out")" = "$1" ] && return 0; sleep 0.05; done
  fail "the forward did not start: $(cat "$WORK/forward.out")"
}
forward 1
"$BUILD/wsproxy" tap --admin "127.0.0.1:$fwd_port" --chat "$chat" --history 1000 --json \
  >"$WORK/gap.json" 2>"$WORK/gap.err" &
gap_pid=$!; PIDS+=($gap_pid)
wait_for "$WORK/gap.err" "^--- live ---" || fail "tap through the forward: $(cat "$WORK/gap.err")"
kill "$fwd_pid"; wait "$fwd_pid" 2>/dev/null || true
wait_for "$WORK/gap.err" "connection to 127.0.0.1:$fwd_port lost" || fail "no loss reported: $(cat "$WORK/gap.err")"
# While the tap is cut off, a new client talks on the chat ...
start client_gap "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat "$chat" --hold 60
wait_for "$WORK/client_gap.log" answered || fail "the client during the gap got no answer"
# ... and once the forward is back, the tap shows that client's frames from the history.
forward 2
wait_for "$WORK/gap.err" "reconnected to 127.0.0.1:$fwd_port" || fail "no reconnect: $(cat "$WORK/gap.err")"
for _ in $(seq 200); do
  [ "$(grep -c '"history_end"' "$WORK/gap.json")" = 2 ] && break
  sleep 0.05
done
kill -INT "$gap_pid"; wait "$gap_pid" || fail "the tap exited $? on SIGINT"
"$PY" - "$WORK/gap.json" <<'PY' || fail "the gap refill: $(cat "$WORK/gap.json" | cut -c1-200)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ends = [i for i, l in enumerate(lines) if l.get("history_end")]
assert len(ends) == 2, ends
frames = [l for l in lines if "conn" in l]
keys = [(f["conn"], f["ts"], f["direction"], f["type"]) for f in frames]
assert len(keys) == len(set(keys)), "a frame printed twice after the reconnect"
hellos = [i for i, l in enumerate(lines) if "tap" in l]
assert len(hellos) == 2 and hellos[1] < ends[1], (hellos, ends)
first = {f["conn"] for f in lines[:hellos[1]] if "conn" in f}
refill = [l for l in lines[hellos[1] + 1:ends[1]] if "conn" in l]
new = {f["conn"] for f in refill} - first
assert new and all(f["history"] for f in refill), (first, [(f["conn"], f["type"], f.get("history")) for f in refill])
assert "send_message" in [f["type"] for f in refill if f["conn"] in new], [(f["conn"], f["type"], f.get("history")) for f in refill]
PY
pass "a cut stream: reconnected, the gap filled from the history, nothing printed twice"

# connections ID: one connection's record and timeline; the closed one with its close.
leaver=$("$PY" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
print([c for c in doc["closed"] if c["chats"]["by_us"][0]["chat_id"] == "chat-leaver"][0]["id"])' \
  "$WORK/closed.json")
"$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" "$leaver" >"$WORK/one.txt" ||
  fail "connections $leaver: $(cat "$WORK/one.txt")"
head -1 "$WORK/one.txt" | grep -q "^connection $leaver: 127.0.0.1, .*closed after" || fail "drill-down: $(cat "$WORK/one.txt")"
grep -qE "^  [0-9:.]+  \+  opened " "$WORK/one.txt" || fail "no opened line: $(cat "$WORK/one.txt")"
grep -qE "→  join_chat .*chat=chat-leaver .*injected why: frame \(send_message\)" "$WORK/one.txt" ||
  fail "no injected join line: $(cat "$WORK/one.txt")"
grep -qE "answer answered, complete [0-9]+ ms" "$WORK/one.txt" || fail "no answer line: $(cat "$WORK/one.txt")"
tail -1 "$WORK/one.txt" | grep -qE "x  closed .*codes 1000/1000 \(client/server\) .*client_close" ||
  fail "no close line: $(cat "$WORK/one.txt")"
"$BUILD/wsproxy" connections --admin "a=127.0.0.1:$admin_a" --admin "b=127.0.0.1:$admin_b" "$leaver" \
  --json >"$WORK/one.json" || fail "connections $leaver --json over two proxies"
"$PY" - "$WORK/one.json" "$leaver" <<'PY' || fail "drill-down --json: $(cat "$WORK/one.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
leaver = int(sys.argv[2])
a = [f for f in doc["found"] if f["source"] == "a"]
assert len(a) == 1 and a[0]["connection"]["id"] == leaver, doc
events = [e["event"] for e in a[0]["timeline"]]
assert events[0] == "opened" and events[-1] == "closed" and "frame" in events, events
PY
set +e
out=$("$BUILD/wsproxy" connections --admin "127.0.0.1:$admin_a" 99999 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "connections with an unknown id"
echo "$out" | grep -q "no connection 99999 at 127.0.0.1:$admin_a: it is unknown" || fail "unknown id said: $out"
pass "connections ID: the record and timeline (opened, the injected join and why, the answer, the close)"
sed -n 1,4p "$WORK/one.txt"; tail -1 "$WORK/one.txt"
