#!/usr/bin/env bash
# Fault: TLS errors on either leg.
#  - a client that speaks plain HTTP to the TLS listener is dropped and counted
#    (wsproxy_handshake_errors_total{reason="tls"}), with a log line at debug level;
#  - an upstream whose certificate the proxy does not trust: the upgrade gets 502, one
#    upstream_failed line names the TLS stage and the verification error, and once a
#    trusted upstream takes the port the same proxy serves again.
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
(
  cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=fault test CA' -keyout ca.key -out ca.pem
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=localhost' -keyout self.key -out self.pem \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'
  openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.pem
) >/dev/null 2>&1 || fail "openssl could not make the test certificates"

# The upstream serves a self-signed certificate nobody vouches for.
start untrusted $PY "$FC" upstream --port "$bp" --tls-cert "$WORK/self.pem" --tls-key "$WORK/self.key"
up_pid=$!
for _ in $(seq 100); do grep -q listening "$WORK/untrusted.log" && break; sleep 0.05; done
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "wss://localhost:$bp" \
  --admin "127.0.0.1:$fa" --upstream-ca "$WORK/ca.pem" --tls-cert "$WORK/server.pem" \
  --tls-key "$WORK/server.key" --log-format json --log-level debug
proxy_pid=$!
wait_http "http://127.0.0.1:$fa/readyz"

# Client leg: plain HTTP (and a plain WebSocket upgrade) to the TLS listener.
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$fp/ws/chat" || true)
[ "$code" = 000 ] || fail "plain HTTP to the TLS listener got an HTTP answer: $code"
timeout 10 $PY "$FC" connect --url "ws://127.0.0.1:$fp/ws/chat" --timeout 3 >"$WORK/plain.out" \
  && fail "a plain upgrade to the TLS listener succeeded: $(cat "$WORK/plain.out")"
for _ in $(seq 100); do [ "$(metric $fa 'wsproxy_handshake_errors_total{reason="tls"}')" = 2 ] && break; sleep 0.05; done
expect_eq "$(metric $fa 'wsproxy_handshake_errors_total{reason="tls"}')" 2 "client TLS handshake errors"
grep -q '"event":"client_tls_failed"' "$WORK/proxy.log" || fail "no client_tls_failed log line"
pass "plain HTTP to the TLS listener: dropped, counted, logged ($(grep '"event":"client_tls_failed"' "$WORK/proxy.log" | head -1))"

# Upstream leg: untrusted certificate.
timeout 10 $PY "$FC" connect --url "wss://localhost:$fp/ws/chat" --ca "$WORK/ca.pem" \
  --expect-status 502 >"$WORK/untrusted.out" || fail "expected 502: $(cat "$WORK/untrusted.out")"
expect_eq "$(metric $fa 'wsproxy_upstream_errors_total{reason="tls"}')" 1 "upstream TLS errors"
line=$(grep '"event":"upstream_failed"' "$WORK/proxy.log" | head -1)
echo "$line" | grep -q '"stage":"tls"' || fail "upstream_failed does not name the TLS stage: $line"
echo "$line" | grep -qi 'certificate verify failed' || fail "upstream_failed does not say why: $line"
pass "untrusted upstream certificate: 502 and one clear line: $line"

# The proxy is otherwise unaffected: health, and a trusted upstream on the same port works.
curl -sf "http://127.0.0.1:$fa/healthz" >/dev/null || fail "healthz"
kill "$up_pid"; wait "$up_pid" 2>/dev/null || true
start trusted $PY "$FC" upstream --port "$bp" --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key"
for _ in $(seq 100); do grep -q listening "$WORK/trusted.log" && break; sleep 0.05; done
timeout 10 $PY "$FC" connect --url "wss://localhost:$fp/ws/chat" --ca "$WORK/ca.pem" --echo \
  >"$WORK/trusted.out" || fail "a trusted upstream should work: $(cat "$WORK/trusted.out")"
pass "same proxy, trusted upstream: relayed over TLS on both legs"
kill -0 "$proxy_pid" || fail "the proxy died"
