#!/usr/bin/env bash
# Fault: a backend that stops reading. Clients try to push 200 MB each through the proxy;
# back-pressure stops them after a few MB, the proxy's RSS stays bounded meanwhile, and
# after --write-timeout the stalled pairs are closed (1013 towards the client).
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
clients=4
start upstream $PY "$FC" upstream --port "$bp" --no-read
for _ in $(seq 100); do grep -q listening "$WORK/upstream.log" && break; sleep 0.05; done
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$fa" --write-timeout 6 --log-format json
proxy_pid=$!
wait_http "http://127.0.0.1:$fa/readyz"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$proxy_pid/status"; }  # kB

# Warm up the allocator with one full round trip's worth of buffers, then measure.
before=$(rss)
ppids=()
for i in $(seq $clients); do
  timeout 60 $PY "$FC" push --url "ws://127.0.0.1:$fp/ws/chat" --bytes $((200 << 20)) \
    --message-bytes $((1 << 20)) --stall-s 1.5 --report >"$WORK/push$i.out" &
  ppids+=($!)
done
# Wait until every pusher reports it is stuck (or has pushed everything).
for _ in $(seq 400); do
  [ "$(cat "$WORK"/push*.out 2>/dev/null | grep -c '"event"')" -ge $clients ] && break
  sleep 0.05
done
grep -h '"event"' "$WORK"/push*.out
during=$(rss)
for p in "${ppids[@]}"; do wait "$p" || true; done
after=$(rss)
echo "proxy VmRSS: before ${before} kB, while $clients clients are stalled ${during} kB, after ${after} kB"

sent_total=0
for i in $(seq $clients); do
  line=$(tail -1 "$WORK/push$i.out")
  echo "pusher $i: $line"
  sent=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$line")
  sent_total=$((sent_total + sent))
  blocked=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["blocked"])' "$line")
  [ "$blocked" = True ] || fail "pusher $i was never blocked: the proxy read without bound"
  code=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["code"])' "$line")
  case "$code" in 1013|1006) ;; *) fail "pusher $i closed with $code, expected 1013 (or a reset while still writing)";; esac
done
[ $sent_total -lt $((clients * 200 << 20)) ] || fail "everything was accepted"
growth=$(( (during - before) / 1024 ))
# Each pair holds one 1 MiB message in flight plus socket-side buffers; 64 MB is generous
# and far below the 800 MB the clients tried to push.
[ $growth -lt 64 ] || fail "proxy RSS grew by $growth MB while the backend did not read"
pass "backend stopped reading: clients stalled after $((sent_total >> 20)) MB in all, proxy RSS grew by $growth MB"
expect_eq "$(metric $fa 'wsproxy_connections_closed_total{reason="slow_consumer"}')" $clients "slow_consumer closes"
expect_eq "$(metric $fa 'wsproxy_connections_active')" 0 "active connections"
grep -q '"event":"peer_too_slow"' "$WORK/proxy.log" || fail "no peer_too_slow log line"
kill -0 "$proxy_pid" || fail "the proxy died"
