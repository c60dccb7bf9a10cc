#!/bin/bash
# daemon_api.sh - the daemon's HTTP server and control API (docs/api.md):
# listen on 127.0.0.1 and [::1]; 401 without a token or with a wrong one
# (WWW-Authenticate: Bearer), 403 for an auditor on POST, 2xx for the
# roles allowed, on each endpoint; metrics_auth both ways (on /v1/health,
# which follows the rule of /metrics) switched by a reload that keeps the
# listener; POST /v1/jobs/NAME/run: 202, then 409 while it runs, 404 for
# an unknown job, and the run in /v1/status and /v1/backups; a check run
# by POST; a token file readable by group refused by --check-config with
# file:line; TLS 1.3 with a self-signed certificate and curl --cacert;
# `zentoria-backupctl status [--json]' and `run --daemon'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

command -v curl >/dev/null || { fail "curl is needed"; finish; exit 1; }
command -v openssl >/dev/null || { fail "openssl is needed"; finish; exit 1; }

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

S=$T/state
P=$(free_port)
echo "admin-secret-$RANDOM$RANDOM" >"$T/admin.tok"
echo "auditor-secret-$RANDOM$RANDOM" >"$T/auditor.tok"
chmod 600 "$T/admin.tok" "$T/auditor.tok"
ADM=$(cat "$T/admin.tok")
AUD=$(cat "$T/auditor.tok")

write_ini() {	# write_ini FILE METRICS_AUTH [EXTRA [daemon] LINES]
	cat >"$1" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none
listen = 127.0.0.1:$P, [::1]:$P
admin_token_file = $T/admin.tok
auditor_token_file = $T/auditor.tok
metrics_auth = $2
${3:-}

[source:quick]
plugin = command
command = echo quick

[source:sleepy]
plugin = command
command = sleep 2; echo slept

[sink:d1]
plugin = local
path = $T/d1

[job:fast]
source = quick
sinks = d1
schedule = 0 0 1 1 *

[job:slow]
source = sleepy
sinks = d1

[check:v]
kind = verify
jobs = fast
schedule = 0 0 1 1 *
INI
}

# code [CURL ARGS...] URL: the status code; the body in $T/body, the
# headers in $T/headers
code() {
	curl -s -g -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"
}
eq() {	# eq "what" EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else
		fail "$1: expected $2, got $3 ($(head -c 300 "$T/body"))"; fi
}

write_ini "$T/zb.ini" no
check "--check-config accepts listen and token files" \
    "$DAEMON" -c "$T/zb.ini" --check-config

# A token file readable by group: refused with file:line.
chmod 640 "$T/auditor.tok"
line=$(grep -n '^auditor_token_file' "$T/zb.ini" | cut -d: -f1)
check_fails 1 "--check-config refuses a group-readable token file" \
    "$DAEMON" -c "$T/zb.ini" --check-config
grep_err "the error names file:line and the key" \
    "zb.ini:$line: \[daemon\] auditor_token_file: .*readable by group"
chmod 600 "$T/auditor.tok"
write_ini "$T/bad.ini" no
sed -i "s/^listen = .*/listen = 127.0.0.1/" "$T/bad.ini"
check_fails 1 "--check-config refuses listen without a port" \
    "$DAEMON" -c "$T/bad.ini" --check-config
grep_err "listen without a port is named" "bad.ini:[0-9]*: \[daemon\] listen:"

start_daemon d "$T/zb.ini"
U=http://127.0.0.1:$P
wait_until 10 curl -s -o /dev/null "$U/v1/health" ||
    fail "the daemon listens on 127.0.0.1:$P"

# Each role on each endpoint.
for ep in /v1/status /v1/checks "/v1/backups?sink=d1&source=quick"; do
	eq "GET $ep without a token: 401" 401 "$(code "$U$ep")"
	if grep -qi '^WWW-Authenticate: Bearer' "$T/headers"; then
		ok "GET $ep: 401 says WWW-Authenticate: Bearer"
	else
		fail "GET $ep: no WWW-Authenticate: Bearer"
	fi
	eq "GET $ep with a wrong token: 401" 401 \
	    "$(code -H "Authorization: Bearer ${ADM}x" "$U$ep")"
	eq "GET $ep with a token's prefix: 401" 401 \
	    "$(code -H "Authorization: Bearer ${ADM%?}" "$U$ep")"
	eq "GET $ep as auditor: 200" 200 \
	    "$(code -H "Authorization: Bearer $AUD" "$U$ep")"
	eq "GET $ep as admin: 200" 200 \
	    "$(code -H "Authorization: Bearer $ADM" "$U$ep")"
	check "GET $ep: JSON" jq -e . "$T/body"
done
for ep in /v1/jobs/fast/run /v1/checks/v/run; do
	eq "POST $ep without a token: 401" 401 "$(code -X POST "$U$ep")"
	eq "POST $ep with a wrong token: 401" 401 \
	    "$(code -X POST -H "Authorization: Bearer nope" "$U$ep")"
	eq "POST $ep as auditor: 403" 403 \
	    "$(code -X POST -H "Authorization: Bearer $AUD" "$U$ep")"
done
eq "GET /v1/status on [::1] as auditor: 200" 200 \
    "$(code -H "Authorization: Bearer $AUD" "http://[::1]:$P/v1/status")"
eq "GET on a POST route: 405" 405 \
    "$(code -H "Authorization: Bearer $ADM" "$U/v1/jobs/fast/run")"
eq "an unknown path: 404" 404 \
    "$(code -H "Authorization: Bearer $ADM" "$U/v1/nothing")"
eq "metrics_auth = no: /v1/health without a token: 200" 200 \
    "$(code "$U/v1/health")"

# Running a job: 202, 409 while it runs, 404 unknown.
eq "POST /v1/jobs/slow/run as admin: 202" 202 \
    "$(code -X POST -H "Authorization: Bearer $ADM" "$U/v1/jobs/slow/run")"
acc=$(jq -r .accepted_at "$T/body")
eq "the 202 names the job" slow "$(jq -r .job "$T/body")"
eq "POST /v1/jobs/slow/run again while it runs: 409" 409 \
    "$(code -X POST -H "Authorization: Bearer $ADM" "$U/v1/jobs/slow/run")"
eq "POST /v1/jobs/nope/run: 404" 404 \
    "$(code -X POST -H "Authorization: Bearer $ADM" "$U/v1/jobs/nope/run")"
code -H "Authorization: Bearer $AUD" "$U/v1/status" >/dev/null
eq "/v1/status: slow is running" true \
    "$(jq -r '.jobs[] | select(.name == "slow") | .running' "$T/body")"
# (the stream may still be starting: ask until it is listed)
wait_true 10 'code -H "Authorization: Bearer $AUD" "$U/v1/status" >/dev/null &&
    [ "$(jq -r "[.running[] | select(.job == \"slow\")] | length" "$T/body")" -ge 1 ]' &&
    ok "/v1/status: running lists slow's stream" ||
    fail "running: $(jq -c .running "$T/body")"
eq "/v1/status: the running stream's bytes are a number" number \
    "$(jq -r '[.running[] | select(.job == "slow")][0].bytes | type' "$T/body")"
st() {
	code -H "Authorization: Bearer $AUD" "$U/v1/status" >/dev/null
	jq -r '.jobs[] | select(.name == "slow") | .last.outcome' "$T/body"
}
wait_true 15 '[ "$(st)" = ok ]' || fail "the run of slow ends ok"
eq "/v1/status: the run started at accepted_at" "$acc" \
    "$(jq -r '.jobs[] | select(.name == "slow") | .last.start' "$T/body")"
eq "/v1/status: d1's last outcome" ok \
    "$(jq -r '.jobs[] | select(.name == "slow") | .sinks[0].last_outcome' \
    "$T/body")"
eq "/v1/status: slow's stream on d1" "output d1 6 true" \
    "$(jq -r '.jobs[] | select(.name == "slow") | .streams[0] |
    "\(.stream) \(.sink) \(.size) \(.last_ok)"' "$T/body")"
nok=$(jq -r '.jobs[] | select(.name == "slow") | .streams[0].newest_ok' \
    "$T/body")
if [ "$nok" -ge "$acc" ] 2>/dev/null; then
	ok "/v1/status: newest_ok is the run's"
else
	fail "/v1/status: newest_ok $nok before accepted_at $acc"
fi
eq "/v1/status: the version" "$(jq -r .version "$T/body")" \
    "$("$DAEMON" --version | cut -d' ' -f2)"
code -H "Authorization: Bearer $AUD" "$U/v1/backups?source=sleepy" >/dev/null
eq "/v1/backups?source=sleepy: the run's copy" 1 \
    "$(jq '[.backups[] | select(.source == "sleepy" and .sink == "d1")] |
    length' "$T/body")"
eq "/v1/backups?source=sleepy: nothing else" 1 \
    "$(jq '.backups | length' "$T/body")"
eq "/v1/backups?sink=unknown: 404" 404 \
    "$(code -H "Authorization: Bearer $AUD" "$U/v1/backups?sink=zz")"

# A check run by POST (on fast's copy, made first).
eq "POST /v1/jobs/fast/run: 202" 202 \
    "$(code -X POST -H "Authorization: Bearer $ADM" "$U/v1/jobs/fast/run")"
fst() {
	code -H "Authorization: Bearer $AUD" "$U/v1/status" >/dev/null
	jq -r '.jobs[] | select(.name == "fast") | .last.outcome' "$T/body"
}
wait_true 15 '[ "$(fst)" = ok ]' || fail "the run of fast ends ok"
eq "POST /v1/checks/v/run as admin: 202" 202 \
    "$(code -X POST -H "Authorization: Bearer $ADM" "$U/v1/checks/v/run")"
ck() {
	code -H "Authorization: Bearer $AUD" "$U/v1/checks" >/dev/null
	jq -r '.checks[0].last.ok' "$T/body"
}
wait_true 15 '[ "$(ck)" = true ]' || fail "the check v ends ok: $(cat "$T/body")"
eq "/v1/checks: kind" verify "$(jq -r '.checks[0].kind' "$T/body")"

# The CLI as the daemon's client.
check "backupctl status --json" "$CTL" -c "$T/zb.ini" status --json
cp "$T/err" "$T/status.err"
"$CTL" -c "$T/zb.ini" status --json >"$T/body" 2>>"$T/all.err"
eq "status --json: GET /v1/status's jobs" "fast slow" \
    "$(jq -r '[.jobs[].name] | join(" ")' "$T/body")"
"$CTL" -c "$T/zb.ini" status >"$T/status.out" 2>>"$T/all.err"
if grep -Eq '^slow +idle +ok ' "$T/status.out" &&
    grep -Eq '^v +verify +ok ' "$T/status.out"; then
	ok "backupctl status: a line per job and check"
else
	fail "backupctl status: $(cat "$T/status.out")"
fi
"$CTL" -c "$T/zb.ini" run --daemon slow >"$T/run.out" 2>>"$T/all.err"
check_rc "run --daemon slow: exit 0" $? 0
if grep -q '^job slow: started by the daemon at ' "$T/run.out"; then
	ok "run --daemon says the daemon started it"
else
	fail "run --daemon: $(cat "$T/run.out")"
fi
check_fails 1 "run --daemon slow while it runs: exit 1" \
    "$CTL" -c "$T/zb.ini" run --daemon slow
grep_err "run --daemon: 409 and why" "HTTP 409: job slow: running already"
check_fails 1 "run --daemon nope: exit 1" "$CTL" -c "$T/zb.ini" run --daemon nope
grep_err "run --daemon nope: 404" "HTTP 404: job nope: not in the configuration"
check_fails 2 "run --daemon with two jobs: usage" \
    "$CTL" -c "$T/zb.ini" run --daemon slow fast
wait_true 15 '[ "$(st)" = ok ] && [ "$(jq -r ".jobs[] | select(.name == \"slow\") | .running" "$T/body")" = false ]' ||
    fail "the run of slow started by run --daemon ends"

# metrics_auth = yes by a reload: the listener stays.
write_ini "$T/zb.ini" yes
kill -HUP "$DPID"
wait_true 10 '[ "$(code "$U/v1/health")" = 401 ]' ||
    fail "metrics_auth = yes (reloaded): /v1/health without a token: 401"
eq "metrics_auth = yes: /v1/health as auditor: 200" 200 \
    "$(code -H "Authorization: Bearer $AUD" "$U/v1/health")"
eq "metrics_auth = yes: /v1/health with a wrong token: 401" 401 \
    "$(code -H "Authorization: Bearer x" "$U/v1/health")"
stop_daemon "$DPID" TERM 20
check_rc "the daemon stops on SIGTERM with exit 0" "$rc" 0 "$T/d.log"
check_fails 1 "backupctl status without a daemon: exit 1" \
    "$CTL" -c "$T/zb.ini" status
grep_err "backupctl status names the address it tried" \
    "cannot reach the daemon at http://127.0.0.1:$P/v1/status"
if grep -q "listening on http://\[::1\]:$P" "$T/d.log"; then
	ok "the log names the [::1] listener"
else
	fail "the log names the [::1] listener"
fi

# TLS: a self-signed certificate, TLS 1.3 only.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" \
    2>"$T/openssl.err" || fail "openssl req -x509: $(cat "$T/openssl.err")"
chmod 600 "$T/key.pem"
P=$(free_port)
write_ini "$T/tls.ini" no "tls_cert_file = $T/cert.pem
tls_key_file = $T/key.pem"
check "--check-config accepts the TLS keys" \
    "$DAEMON" -c "$T/tls.ini" --check-config
start_daemon tls "$T/tls.ini"
U=https://127.0.0.1:$P
wait_until 10 curl -s -o /dev/null --cacert "$T/cert.pem" "$U/v1/health" ||
    fail "the TLS daemon listens on 127.0.0.1:$P: $(cat "$T/tls.log")"
eq "HTTPS GET /v1/status as auditor with --cacert: 200" 200 \
    "$(code --cacert "$T/cert.pem" -H "Authorization: Bearer $AUD" \
    "$U/v1/status")"
eq "HTTPS without a token: 401" 401 \
    "$(code --cacert "$T/cert.pem" "$U/v1/status")"
eq "HTTPS on [::1] as admin: 200" 200 \
    "$(code --cacert "$T/cert.pem" -H "Authorization: Bearer $ADM" \
    "https://[::1]:$P/v1/checks")"
eq "HTTPS with TLS 1.2 at most: no connection" 000 \
    "$(code --cacert "$T/cert.pem" --tls-max 1.2 "$U/v1/health")"
eq "HTTPS without the CA: no connection" 000 "$(code "$U/v1/health")"
eq "plain HTTP on the TLS listener: no reply" 000 \
    "$(code "http://127.0.0.1:$P/v1/health")"
check "backupctl status over TLS (the CA: tls_cert_file)" \
    "$CTL" -c "$T/tls.ini" status
stop_daemon "$DPID" TERM 20
check_rc "the TLS daemon stops on SIGTERM with exit 0" "$rc" 0 "$T/tls.log"
write_ini "$T/tls2.ini" no "tls_cert_file = $T/cert.pem"
check_fails 1 "--check-config refuses tls_cert_file without tls_key_file" \
    "$DAEMON" -c "$T/tls2.ini" --check-config
grep_err "the error names tls_cert_file" "tls2.ini:[0-9]*: \[daemon\] tls_cert_file: needs tls_key_file"

finish
