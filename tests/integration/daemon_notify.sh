#!/bin/bash
# daemon_notify.sh - [notify:NAME] sections: a webhook gets failure,
# success, check_failure and summary events as JSON (with its bearer
# token), the first POST answered 503 is retried; a Slack sink gets {"text": ...}; an
# e-mail (libcurl SMTP to aiosmtpd on 127.0.0.1) names the failed job and
# carries Date, Message-ID and Subject, and none is sent in plain text to a
# server without STARTTLS unless smtp_tls = no; the summary names every source x
# tier.  --check-config refuses a webhook without url, a password_file
# readable by others, smtp_tls = no off the loopback and summary without
# summary_schedule, each with file:line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

FAKES=$ZB_SRCDIR/tests/fakes
S=$T/state

# start_fake NAME SCRIPT ARGS...: a receiver in the background; sets PORT.
start_fake() {
	local name=$1
	shift
	/usr/bin/python3 "$@" --port-file "$T/$name.port" \
	    --out "$T/$name.jsonl" 2>"$T/$name.err" &
	BGPIDS+=("$!")
	if ! wait_until 10 test -s "$T/$name.port"; then
		fail "$name receiver did not start: $(cat "$T/$name.err")"
		finish
		exit 1
	fi
	PORT=$(cat "$T/$name.port")
}

start_fake hook "$FAKES/http_receiver.py" --fail-first 1
HOOK=$PORT
start_fake slack "$FAKES/http_receiver.py"
SLACK=$PORT
start_fake mail "$FAKES/smtp_receiver.py"
MAIL=$PORT

printf 'tok-s3cret\n' >"$T/token"
chmod 600 "$T/token"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[source:quick]
plugin = command
command = echo hello

[source:broken]
plugin = command
command = echo partial; exit 3

[sink:d1]
plugin = local
path = $T/d1

[sink:d2]
plugin = local
path = $T/d2

[job:good]
source = quick
sinks = d1, d2
schedule = @every 2s

[job:bad]
source = broken
sinks = d1
schedule = @every 2s

[check:vbad]
kind = verify
jobs = bad
schedule = @every 3s

[notify:hook]
type = webhook
on = failure, success, check_failure, summary
summary_schedule = @every 5s
url = http://127.0.0.1:$HOOK/hook
token_file = $T/token

[notify:chat]
type = slack
on = failure
url = http://127.0.0.1:$SLACK/services/T0/B0/X

[notify:mail]
type = email
on = failure, summary
summary_schedule = @every 5s
smtp_url = smtp://127.0.0.1:$MAIL
smtp_tls = no
from = backupd@example.org
to = ops@example.org, oncall@example.org

[notify:mailtls]
type = email
on = failure
smtp_url = smtp://127.0.0.1:$MAIL
from = tls@example.org
to = ops@example.org
attempts = 1
INI

check "--check-config accepts the notify sections" \
    "$DAEMON" -c "$T/zb.ini" --check-config

# has FILE PYTHON-EXPR: some record r of FILE's JSON lines satisfies EXPR
# (b: its body parsed as JSON, when it is JSON).
has() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
ok = False
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    r = json.loads(l)
    try:
        b = json.loads(r.get("body", ""))
    except Exception:
        b = {}
    try:
        if eval(sys.argv[2]):
            ok = True
    except Exception:
        pass
sys.exit(0 if ok else 1)
PY
}

start_daemon a "$T/zb.ini"
wait_until 30 has "$T/hook.jsonl" 'r["status"] == 200 and b.get("event") == "summary" and b["copies"] and all(c["last_success"] for c in b["copies"] if c["job"] == "good")' ||
    fail "no summary with the good job's successes: $(cat "$T/hook.jsonl" 2>/dev/null | tail -3)"
wait_until 20 has "$T/mail.jsonl" '"Subject: [zentoria-backupd] backup summary" in r["data"]' ||
    fail "no summary e-mail"
wait_until 10 has "$T/slack.jsonl" 'True' || fail "no slack message"
stop_daemon "$DPID" TERM 20
check_rc "SIGTERM: the daemon exits 0" "$rc" 0 "$T/a.log"

H=$T/hook.jsonl
has "$H" 'r["status"] == 503' &&
    has "$H" 'r["status"] == 200 and r["body"] == [json.loads(x)["body"] for x in lines if json.loads(x)["status"] == 503][0]' &&
    ok "webhook: the POST answered 503 was delivered again" ||
    fail "webhook: no retry after 503: $(head -2 "$H")"
grep -q "attempt 1 failed (HTTP status 503); again in 1 s" "$T/a.log" &&
    ok "the retry is logged" || fail "no retry line in the log"
has "$H" 'b["event"] == "failure" and b["job"] == "bad" and b["source"] == "broken" and b["outcome"] == "failed" and b["sinks"][0]["sink"] == "d1" and b["sinks"][0]["outcome"] == "failed" and "cop" in b["error"] and "duration_s" in b and "bytes_stored" in b' &&
    ok "webhook: failure event of job bad" ||
    fail "webhook: no failure event for bad: $(grep bad "$H" | head -2)"
has "$H" 'b["event"] == "success" and b["job"] == "good" and b["outcome"] == "ok" and [s["sink"] for s in b["sinks"]] == ["d1", "d2"] and all(s["outcome"] == "ok" for s in b["sinks"]) and b["bytes_read"] > 0 and b["error"] is None' &&
    ok "webhook: success event of job good with both sinks" ||
    fail "webhook: no success event for good: $(grep good "$H" | head -2)"
has "$H" 'b["event"] == "failure" and b["job"] == "good"' &&
    fail "webhook: a failure event for the good job" ||
    ok "webhook: no failure event for the good job"
has "$H" 'r["authorization"] == "Bearer tok-s3cret" and r["content_type"] == "application/json" and r["path"] == "/hook"' &&
    ok "webhook: bearer token and content type" ||
    fail "webhook: headers: $(head -1 "$H")"
has "$H" 'b["event"] == "summary" and sorted((c["source"], c["sink"]) for c in b["copies"]) == [("broken", "d1"), ("quick", "d1"), ("quick", "d2")] and [c for c in b["copies"] if c["job"] == "bad"][0]["last_outcome"] == "failed" and [c for c in b["copies"] if c["job"] == "good"][0]["size"] > 0 and b["problems"] == 1' &&
    ok "webhook: the summary names every source x tier" ||
    fail "webhook: summary: $(grep summary "$H" | tail -1)"
has "$H" 'b["event"] == "check_failure" and b["check"] == "vbad" and b["outcome"] == "failed" and b["items"] == 1 and b["failed"] == 1 and b["failing"][0]["sink"] == "d1" and "no complete copy" in b["failing"][0]["error"]' &&
    ok "webhook: check_failure event of check vbad naming the failing copy" ||
    fail "webhook: no check_failure: $(grep check_failure "$H" | head -1)"
has "$H" 'b["event"] == "summary" and b["checks"] and b["checks"][0]["check"] == "vbad" and b["checks"][0]["outcome"] == "failed"' &&
    ok "webhook: the summary has the check's result" ||
    fail "webhook: summary without the check: $(grep summary "$H" | tail -1)"
grep -q "tok-s3cret" "$T/a.log" && fail "the token is in the log" ||
    ok "the token is not in the log"

has "$T/slack.jsonl" 'list(b.keys()) == ["text"] and "job bad FAILED" in b["text"]' &&
    ok "slack: {\"text\": ...} naming the failed job" ||
    fail "slack: $(head -1 "$T/slack.jsonl")"
has "$T/slack.jsonl" '"good" in b["text"]' &&
    fail "slack: a message about the good job (on = failure only)" ||
    ok "slack: only failures"

M=$T/mail.jsonl
has "$M" 'r["from"] == "backupd@example.org" and r["to"] == ["ops@example.org", "oncall@example.org"] and "Subject: [zentoria-backupd] job bad failed" in r["data"] and "\nDate: " in "\n" + r["data"] and "\nMessage-ID: <" in r["data"] and "job bad FAILED" in r["data"] and "sink d1: failed" in r["data"] and "\r\nerror: " in r["data"]' &&
    ok "e-mail: the failure of job bad, with Date, Message-ID, Subject" ||
    fail "e-mail: $(head -c 600 "$M")"
has "$M" '"quick / d1 (good)" in r["data"] and "quick / d2 (good)" in r["data"] and "broken / d1 (bad)" in r["data"]' &&
    ok "e-mail: the summary names every source x tier" ||
    fail "e-mail summary: $(tail -c 800 "$M")"

# smtp_tls defaults to yes: a server without STARTTLS gets nothing.
has "$M" 'r["from"] == "tls@example.org"' &&
    fail "e-mail: sent in plain text although smtp_tls = yes" ||
    ok "e-mail: no plain-text fallback when STARTTLS is required"
grep -q "notify mailtls: job bad failure not delivered after 1 attempt: .*" \
    "$T/a.log" && ok "e-mail: the refused STARTTLS is logged" ||
    fail "e-mail: no STARTTLS failure in the log: $(grep mailtls "$T/a.log" | head -2)"

# ---- config errors -------------------------------------------------------
# base: a good file but for the section appended (lines 1-3, 5 on).
base() {
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
INI
}
job() {
	cat <<INI

[source:quick]
plugin = command
command = echo hello

[sink:d1]
plugin = local
path = $T/d1

[job:good]
source = quick
sinks = d1
INI
}
base >"$T/nourl.ini"
cat >>"$T/nourl.ini" <<INI

[notify:hook]
type = webhook
on = failure
INI
job >>"$T/nourl.ini"
check_fails 1 "--check-config: webhook without url" \
    "$DAEMON" -c "$T/nourl.ini" --check-config
grep_err "file:line and the missing url" \
    "nourl.ini:5: \[notify:hook\] missing required key 'url'"
grep_err "one error only" "nourl.ini: 1 error$"

printf 'pw\n' >"$T/pw"
chmod 644 "$T/pw"
base >"$T/pw.ini"
cat >>"$T/pw.ini" <<INI

[notify:mail]
type = email
on = failure
smtp_url = smtps://mail.example.org
from = a@example.org
to = b@example.org
username = a
password_file = $T/pw
INI
job >>"$T/pw.ini"
check_fails 1 "--check-config: a password_file readable by others" \
    "$DAEMON" -c "$T/pw.ini" --check-config
grep_err "file:line of password_file" \
    "pw.ini:12: \[notify:mail\] password_file: .*readable by group or others"
grep_err "one error only" "pw.ini: 1 error$"

base >"$T/tls.ini"
cat >>"$T/tls.ini" <<INI

[notify:mail]
type = email
on = failure, summary
smtp_url = smtp://mail.example.org
smtp_tls = no
from = a@example.org
to = b@example.org
INI
job >>"$T/tls.ini"
check_fails 1 "--check-config: smtp_tls = no off the loopback" \
    "$DAEMON" -c "$T/tls.ini" --check-config
grep_err "file:line of smtp_tls" "tls.ini:9: \[notify:mail\] smtp_tls: no is only for a server on the loopback"
grep_err "file:line of on (summary without schedule)" \
    "tls.ini:7: \[notify:mail\] on: summary needs summary_schedule"
grep_err "two errors only" "tls.ini: 2 errors$"

finish
