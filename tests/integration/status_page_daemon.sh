#!/bin/bash
# status_page_daemon.sh - the status page against the real daemon: GET /
# without a token serves the compiled-in page (text/html), and headless
# Chromium, given an auditor's token as #token=, renders the daemon's own
# /v1/status: after a run of job fast (rpo = 1h, which rpo_s reports), its
# copy on d1 is a green cell.
# Needs chromium and curl: missing, the test FAILS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser)
for tool in "$CHROMIUM" curl; do
	[ -n "$tool" ] && command -v "$tool" >/dev/null ||
	    { fail "chromium and curl are needed"; finish; exit 1; }
done

P=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "admin-$RANDOM$RANDOM$RANDOM" >"$T/admin.tok"
echo "auditor-$RANDOM$RANDOM$RANDOM" >"$T/auditor.tok"
chmod 600 "$T/admin.tok" "$T/auditor.tok"
ADM=$(cat "$T/admin.tok")
AUD=$(cat "$T/auditor.tok")
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
listen = 127.0.0.1:$P
admin_token_file = $T/admin.tok
auditor_token_file = $T/auditor.tok

[source:quick]
plugin = command
command = echo quick

[sink:d1]
plugin = local
path = $T/d1

[job:fast]
source = quick
sinks = d1
rpo = 1h
schedule = 0 0 1 1 *
INI
check "--check-config" "$DAEMON" -c "$T/zb.ini" --check-config
start_daemon d "$T/zb.ini"
U=http://127.0.0.1:$P
wait_until 10 curl -s -o /dev/null "$U/v1/health" ||
    fail "the daemon listens on 127.0.0.1:$P"

code=$(curl -s -o "$T/page.html" -D "$T/headers" -w '%{http_code}' "$U/")
if [ "$code" = 200 ]; then ok "GET / without a token: 200"; else
	fail "GET / without a token: $code"; fi
check "GET / is text/html" grep -qi '^Content-Type: text/html' "$T/headers"
check "GET / is the page" cmp "$T/page.html" \
    "$ZB_SRCDIR/core/daemon/statuspage.html"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $ADM" "$U/v1/jobs/fast/run")
if [ "$code" = 202 ]; then ok "run fast: 202"; else
	fail "POST /v1/jobs/fast/run: $code"; fi
wait_until 30 sh -c "curl -s -H 'Authorization: Bearer $AUD' $U/v1/status |
    grep -q '\"newest_ok\": [0-9]'" || fail "no copy in /v1/status"
curl -s -H "Authorization: Bearer $AUD" "$U/v1/status" >"$T/status.json"
check "rpo_s is the job's rpo" grep -q '"rpo_s": 3600' "$T/status.json"

timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --user-data-dir="$T/profile" --no-first-run --disable-extensions \
    --disable-sync --disable-background-networking \
    --disable-component-update --virtual-time-budget=10000 \
    --dump-dom "$U/#token=$AUD" >"$T/dom.html" 2>"$T/chrome.err"
check "the page loaded the daemon's status" grep -q \
    'data-state="loaded"' "$T/dom.html"
if grep -Eq '<td class="cell-ok"[^>]*data-source="quick"[^>]*data-sink="d1"' \
    "$T/dom.html"; then
	ok "the fresh copy on d1 is green"
else
	fail "no green quick/d1 cell: $(grep -o '<td class="cell[^<]*' \
	    "$T/dom.html"; cat "$T/status.json")"
fi
stop_daemon "$DPID" TERM 10
finish
