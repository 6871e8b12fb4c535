#!/usr/bin/env bash
# --shared-state over TLS with a password: a redis-server with a TLS port only and requirepass.
# wsproxy trusting its CA (SSL_CERT_FILE) with the password file connects
# (wsproxy_shared_state_up 1); without the CA the certificate is refused, and with a wrong
# password AUTH is: either way it says why once and stays local-only (up 0, degraded counted).
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/setup installs it)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
echo "s3cret" >"$WORK/password"; echo "wrong" >"$WORK/wrong"
rp=$(free_port)
start redis redis-server --port 0 --tls-port "$rp" --bind 127.0.0.1 --tls-cert-file "$WORK/cert.pem" \
  --tls-key-file "$WORK/key.pem" --tls-ca-cert-file "$WORK/cert.pem" --tls-auth-clients no \
  --requirepass s3cret --save '' --appendonly no
for _ in $(seq 200); do
  redis-cli -p "$rp" --tls --cacert "$WORK/cert.pem" -a s3cret --no-auth-warning ping 2>/dev/null | grep -q PONG && break
  sleep 0.05
done
bp=$(free_port)
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$bp"
wait_http "http://127.0.0.1:$bp/healthz"

run_proxy() {  # run_proxy NAME ADMIN_PORT PASSWORD_FILE [env...]: started in this shell (PIDS)
  local name=$1 a=$2 pw=$3; shift 3
  start "$name" env "$@" "$BUILD/wsproxy" --listen "127.0.0.1:$(free_port)" \
    --upstream "ws://127.0.0.1:$bp" --admin "127.0.0.1:$a" --log-format json \
    --shared-state "rediss://127.0.0.1:$rp" --shared-state-password-file "$pw"
}
wait_up() { wait_metric "$1" wsproxy_shared_state_up "$2"; }  # wait_up ADMIN VALUE
wait_log() { wait_for "$WORK/$1.log" "$2" || fail "$1 never logged $2"; }  # wait_log NAME PATTERN

good=$(free_port); run_proxy good "$good" "$WORK/password" SSL_CERT_FILE="$WORK/cert.pem"
wait_http "http://127.0.0.1:$good/readyz"
wait_up "$good" 1
pass "rediss:// with the CA trusted and the password: connected"

untrusted=$(free_port); run_proxy untrusted "$untrusted" "$WORK/password" SSL_CERT_FILE=/dev/null
wait_http "http://127.0.0.1:$untrusted/readyz"
wait_log untrusted '"event":"shared_state_down".*TLS'
expect_eq "$(metric "$untrusted" wsproxy_shared_state_up)" 0 "up without the CA"
expect_eq "$(metric "$untrusted" wsproxy_shared_state_degraded_total)" 1 "outage counted once"
pass "an untrusted certificate is refused, said once, local-only"

wrong=$(free_port); run_proxy wrong "$wrong" "$WORK/wrong" SSL_CERT_FILE="$WORK/cert.pem"
wait_http "http://127.0.0.1:$wrong/readyz"
wait_log wrong '"event":"shared_state_down".*AUTH refused'
expect_eq "$(metric "$wrong" wsproxy_shared_state_up)" 0 "up with a wrong password"
pass "a wrong password is refused, said once, local-only"
