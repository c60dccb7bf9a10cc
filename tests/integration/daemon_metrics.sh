#!/bin/bash
# daemon_metrics.sh - the Prometheus metrics: the daemon with @every jobs
# and a sink that refuses (bad: its stream directory cannot take a new
# entry) writes metrics_textfile with every family, the seed's labels
# (job, source, stream, sink) and values for a success (good) and a
# failure (bad); the values survive a restart (state_dir); `backupctl
# run' writes the same file from the state files alone; promtool finds
# nothing but the backup_age_hours base-unit lint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
trap 'for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
chattr -i "$T/bad/quick/output" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null
rm -rf "$T"' EXIT

die() {	# die WHY: a failure the rest cannot go on from
	fail "$*"
	finish
	exit 1
}
command -v promtool >/dev/null ||
    die "promtool is missing (Debian package prometheus)"
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
P=$(free_port)
S=$T/state
M=$T/textfile/zb.prom
mkdir -p "$T/textfile"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none
metrics_textfile = $M
listen = 127.0.0.1:$P

[source:quick]
plugin = command
command = date +%s%N

[sink:good]
plugin = local
path = $T/good

[sink:bad]
plugin = local
path = $T/bad

[source:slow]
plugin = command
command = sh -c 'head -c 200000 /dev/zero; if [ -f $T/slow ]; then sleep 3; fi'

[job:slowjob]
source = slow
sinks = good
schedule = @every 2s

[job:fast]
source = quick
sinks = good, bad
schedule = @every 1s
rpo = 2m

[check:v]
schedule = @every 1s
kind = verify
jobs = fast
sinks = good
INI
Z="$CTL -c $T/zb.ini"
L='job="fast",source="quick",stream="output"'

# The CLI's run (a cron host): the textfile from the state files alone.
check "run fast (both sinks)" $Z run fast
[ -f "$M" ] && ok "backupctl run wrote metrics_textfile" ||
    fail "no $M after backupctl run"
grep -qx 'backup_success{job="fast",source="quick",stream="output",sink="bad"} 1' "$M" &&
    ok "CLI: bad has its copy" || fail "CLI: $(grep backup_success "$M")"

check "run slowjob (quick)" $Z run slowjob
touch "$T/slow"

# Now bad refuses every new copy.
mkdir -p "$T/bad/quick/output"
chmod 555 "$T/bad/quick/output"
[ "$(id -u)" = 0 ] && chattr +i "$T/bad/quick/output" 2>/dev/null
if mkdir "$T/bad/quick/output/probe" 2>/dev/null; then
	rmdir "$T/bad/quick/output/probe"
	die "cannot make a directory unwritable here"
fi

start_daemon a "$T/zb.ini"
wait_until 20 runs_at_least "$S" fast 3 ||
    die "fast: $(jstate "$S" fast runs) runs in 20 s: $(tail -5 "$T/a.log")"
wait_true 10 'grep -q "^backup_verify_success{" "$M"' ||
    die "no check result in $M: $(tail -5 "$T/a.log")"
wait_true 10 'grep -q "outcome=\"partial\"} [1-9]" "$M"' ||
    die "no partial run in $M"
# While slowjob runs (its source sleeps after 200000 bytes): running 1,
# its bytes read so far in the counter, the buffer in use.
SL='job="slowjob",source="slow",stream="output",sink="good"'
live=0
for i in $(seq 1 100); do
	curl -s -o "$T/live.prom" "http://127.0.0.1:$P/metrics"
	# (one scrape: ended runs from the file, + the running one live)
	ended=$(sed -n 's/^backup_runs_total{job="slowjob",outcome="[a-z]*"} //p' \
	    "$T/live.prom" | paste -sd+ | bc)
	if grep -qx 'backup_running{job="slowjob"} 1' "$T/live.prom" &&
	    grep -qx "backup_bytes_read_total{$SL} $((200000 * (ended + 1)))" \
	    "$T/live.prom"; then
		live=1
		break
	fi
	sleep 0.1
done
[ $live = 1 ] && ok "GET /metrics while slowjob runs: running 1, bytes read so far counted" ||
    fail "live: $(grep -E 'slowjob|buffer' "$T/live.prom")"
grep -q '^backup_buffer_bytes{state="budget"} [1-9]' "$T/live.prom" &&
    ok "backup_buffer_bytes budget" || fail "$(grep buffer "$T/live.prom")"
wait_until 20 runs_at_least "$S" slowjob 2 || fail "slowjob did not end"

# GET /metrics: the same text, no token needed (metrics_auth = no).
curl -s -D "$T/h" -o "$T/http.prom" "http://127.0.0.1:$P/metrics" ||
    fail "GET /metrics: curl failed"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/h" &&
    grep -q '^HTTP/1.1 200' "$T/h" &&
    ok "GET /metrics: 200, text/plain; version=0.0.4" || fail "$(cat "$T/h")"
grep -qx 'backup_running{job="fast"} [01]' "$T/http.prom" &&
    grep -q "^backup_success{$L,sink=\"bad\"} 0" "$T/http.prom" &&
    [ "$(promtool check metrics <"$T/http.prom" 2>&1)" = 'backup_age_hours use base unit "seconds" instead of "hours"' ] &&
    ok "GET /metrics: the metrics, promtool clean but for backup_age_hours" ||
    fail "GET /metrics: $(head -c 600 "$T/http.prom")"
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: the daemon exits 0" "$rc" 0 "$T/a.log"
cp "$M" "$T/before.prom"
st=$(stat -c %a "$M")
[ "$st" = 644 ] && ok "metrics_textfile is 0644" || fail "mode $st"
ls "$T/textfile" | grep -v '^zb.prom$' && fail "a temporary file is left" ||
    ok "no temporary file left next to it"

# promtool: nothing but the one lint the seed's name causes.
out=$(promtool check metrics <"$M" 2>&1)
[ "$out" = 'backup_age_hours use base unit "seconds" instead of "hours"' ] &&
    ok "promtool check metrics: only the backup_age_hours lint" ||
    fail "promtool check metrics: $out"

# Every family, with HELP and TYPE, in one group.
for f in backup_last_run_timestamp backup_duration_seconds \
    backup_size_bytes backup_success backup_age_hours \
    backup_last_success_timestamp backup_runs_total \
    backup_bytes_read_total backup_bytes_stored_total \
    backup_backpressure_seconds_total backup_buffer_bytes \
    backup_next_run_timestamp backup_verify_success \
    backup_verify_timestamp backup_test_restore_seconds \
    backup_retained_copies backup_running backup_rpo_seconds \
    zentoria_build_info; do
	grep -q "^# HELP $f " "$M" && grep -q "^# TYPE $f " "$M" ||
	    fail "$f: no HELP/TYPE"
done
ok "every family has HELP and TYPE"

val() {	# val SAMPLE: its value in $M
	grep -F "$1 " "$M" | sed 's/.* //'
}
now=$(date +%s)
[ "$(val "backup_success{$L,sink=\"good\"}")" = 1 ] &&
    [ "$(val "backup_success{$L,sink=\"bad\"}")" = 0 ] &&
    ok "backup_success: good 1, bad 0" || fail "$(grep ^backup_success "$M")"
ts=$(val "backup_last_success_timestamp{$L,sink=\"good\"}")
[ -n "$ts" ] && [ $((now - ts)) -lt 30 ] &&
    ok "good: last success is recent" || fail "good: last success '$ts'"
# bad: its last success is the CLI's run, before it refused.
tb=$(val "backup_last_success_timestamp{$L,sink=\"bad\"}")
lr=$(val "backup_last_run_timestamp{$L,sink=\"bad\"}")
[ -n "$tb" ] && [ "$tb" -gt 0 ] && [ "$lr" -gt "$tb" ] &&
    ok "bad: the last run is newer than its last success" ||
    fail "bad: last success '$tb', last run '$lr'"
sz=$(val "backup_size_bytes{$L,sink=\"good\"}")
[ "$sz" -ge 19 ] && [ "$sz" -le 21 ] && ok "backup_size_bytes: the 20-byte copy" ||
    fail "size $sz"
ag=$(val "backup_age_hours{$L,sink=\"good\"}")
python3 -c "import sys; sys.exit(not 0 <= float('$ag') < 0.01)" &&
    ok "good: age in hours ~0" || fail "age $ag"
rd=$(val "backup_bytes_read_total{$L,sink=\"good\"}")
sd=$(val "backup_bytes_stored_total{$L,sink=\"bad\"}")
[ "$rd" -ge 60 ] && [ "$sd" -ge 19 ] && [ "$sd" -le 21 ] &&
    ok "byte counters add up (good read $rd, bad stored $sd: only the CLI's)" ||
    fail "read $rd stored $sd"
ok_runs=$(val 'backup_runs_total{job="fast",outcome="ok"}')
pa_runs=$(val 'backup_runs_total{job="fast",outcome="partial"}')
runs=$(jstate "$S" fast runs)
[ "$ok_runs" = 1 ] && [ $((ok_runs + pa_runs)) = "$runs" ] &&
    ok "backup_runs_total: 1 ok (the CLI) + $pa_runs partial = $runs runs" ||
    fail "runs_total ok $ok_runs partial $pa_runs, job state $runs"
[ "$(val 'backup_running{job="fast"}')" = 0 ] &&
    ok "backup_running 0 after the stop" || fail "$(grep ^backup_running "$M")"
nx=$(val 'backup_next_run_timestamp{job="fast"}')
[ -n "$nx" ] && [ "$nx" -ge $((now - 5)) ] && [ "$nx" -le $((now + 5)) ] &&
    ok "backup_next_run_timestamp within a second or so" || fail "next '$nx'"
[ "$(val 'backup_rpo_seconds{job="fast"}')" = 120 ] &&
    ok "backup_rpo_seconds{job=fast} is its rpo" ||
    fail "$(grep ^backup_rpo "$M")"
# What the alert rules and the dashboard rely on (tests/prometheus/lint.py's
# EXPORTED) is what the daemon exports: every name, with exactly its labels.
python3 - "$ZB_SRCDIR/tests/prometheus" "$M" <<'PY' &&
import re, sys
sys.path.insert(0, sys.argv[1])
from lint import EXPORTED
seen, families = {}, set()
for line in open(sys.argv[2]):
    if line.startswith("# TYPE "):
        families.add(line.split()[2])
        continue
    m = re.match(r'([a-z_]+)(?:\{(.*)\})? ', line)
    if m:
        labels = set(re.findall(r'([a-z_]+)="', m.group(2) or ""))
        seen.setdefault(m.group(1), set()).update(labels)
# (a family without samples here, e.g. no test-restore check, has no labels
# to compare)
bad = [f"{n}: exported {sorted(seen[n])}, rules expect {sorted(l)}"
       for n, l in EXPORTED.items() if n in seen and seen[n] != set(l)]
bad += [f"{n}: not exported" for n in EXPORTED if n not in families]
bad += [f"{n}: not known to the rules' linter" for n in families
        if n not in EXPORTED]
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    ok "the rules' and dashboard's metric list matches the export" ||
    fail "metric list mismatch (above)"
[ "$(val 'backup_verify_success{check="v",kind="verify"}')" = 1 ] &&
    ok "backup_verify_success{check=v} 1" || fail "$(grep ^backup_verify "$M")"
vt=$(val 'backup_verify_timestamp{check="v",kind="verify"}')
[ -n "$vt" ] && [ $((now - vt)) -lt 30 ] && ok "verify timestamp recent" ||
    fail "verify timestamp '$vt'"
# Retention after each run that reached every sink: good's count is every
# committed copy there (no keep rules: all kept), of both sources; bad never
# had a retention pass (each daemon run missed it), so it has no sample yet.
# The count is as of the last retention pass: a run SIGTERM caught after
# its commit (every second here, so often under load) has one more copy
# on good than that pass counted, and none after it.
on_good=$(find "$T/good" -name manifest.json | wc -l)
rg=$(val 'backup_retained_copies{sink="good"}')
[ -n "$rg" ] && { [ "$rg" = "$on_good" ] || [ "$rg" = $((on_good - 1)) ]; } &&
    [ -z "$(val 'backup_retained_copies{sink="bad"}')" ] &&
    ok "backup_retained_copies: good $on_good (its manifests), bad none yet" ||
    fail "retained: $(grep ^backup_retained "$M"), $on_good manifests on good"
grep -q '^zentoria_build_info{version="[0-9][^"]*"} 1$' "$M" &&
    ok "zentoria_build_info" || fail "$(grep zentoria_build "$M")"
grep -q '^backup_buffer_bytes{state="in_use"} ' "$M" &&
    grep -q '^backup_buffer_bytes{state="budget"} ' "$M" &&
    ok "backup_buffer_bytes in_use and budget" || fail "no buffer gauge"

# A restart keeps every value: the first file the new daemon writes has
# the same copies (up to its own newer runs).
rm -f "$M"
sed -i 's/^schedule = @every 1s$/schedule = @every 1h/' "$T/zb.ini"
start_daemon b "$T/zb.ini"
wait_until 20 test -f "$M" ||
    die "the restarted daemon wrote no $M: $(tail -5 "$T/b.log")"
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: the second daemon exits 0" "$rc" 0 "$T/b.log"
kept=1
for s in "backup_last_success_timestamp{$L,sink=\"bad\"}" \
    "backup_success{$L,sink=\"bad\"}" \
    "backup_bytes_stored_total{$L,sink=\"bad\"}" \
    'backup_runs_total{job="fast",outcome="partial"}' \
    'backup_verify_timestamp{check="v",kind="verify"}'; do
	a=$(grep -F "$s " "$T/before.prom")
	b=$(grep -F "$s " "$M")
	if [ -z "$a" ] || [ "$a" != "$b" ]; then
		fail "after a restart: '$b', before '$a'"
		kept=0
	fi
done
[ $kept = 1 ] && ok "values kept across a restart"

# zentoria-backupctl prune records what each sink keeps, bad included
# (the CLI's copy), and writes the textfile again.
check "prune (the CLI)" $Z prune
on_bad=$(find "$T/bad" -name manifest.json | wc -l)
on_good=$(find "$T/good" -name manifest.json | wc -l)
[ "$on_bad" -ge 1 ] &&
    [ "$(val 'backup_retained_copies{sink="bad"}')" = "$on_bad" ] &&
    [ "$(val 'backup_retained_copies{sink="good"}')" = "$on_good" ] &&
    ok "after prune: retained copies bad $on_bad, good $on_good" ||
    fail "after prune: $(grep ^backup_retained "$M") ($on_bad, $on_good)"

# A torn metrics file of one job: named in the log, that job left out,
# the others' metrics still written.
printf '{"kind": "metrics", "job": "slo' >"$S/metrics/slowjob.json"
rm -f "$T/slow"
chattr -i "$T/bad/quick/output" 2>/dev/null
chmod 755 "$T/bad/quick/output"
check "run fast with slowjob's metrics torn" $Z run fast
grep_err "the torn file is named" "metrics: $S/metrics/slowjob.json: not JSON"
grep -q "^backup_success{$L,sink=\"bad\"} 1$" "$M" &&
    ! grep -q 'job="slowjob"' "$M" &&
    ok "fast's metrics written, slowjob's copies left out" ||
    fail "after a torn file: $(grep -E 'slowjob|sink="bad"' "$M")"
finish
