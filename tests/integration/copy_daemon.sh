#!/bin/bash
# copy_daemon.sh - a copy job on the daemon's schedule: a backup job
# writes to `local' every second, the copy job copies the newest copy of
# each stream to `off' every 2 s (newest_per_stream, as a target whose
# retention keeps fewer copies than the origin needs, else what retention
# removed would be copied again), retention (keep_last = 2) runs on `off'
# after each copy run, and the job's state file and the metrics count its
# runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

S=$T/state
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none
metrics_textfile = $T/metrics.prom

[sink:local]
plugin = local
path = $T/local

[sink:off]
plugin = local
path = $T/off
keep_last = 2

[source:a]
plugin = command
command = date +%s%N
extension = txt

[job:a]
source = a
sinks = local
schedule = @every 1s

[job:offsite]
copy_from = local
sinks = off
newest_per_stream = yes
schedule = @every 2s
INI

check "--check-config accepts the copy job" $DAEMON -c "$T/zb.ini" --check-config
start_daemon d "$T/zb.ini"
if wait_until 25 runs_at_least "$S" offsite 4; then
	ok "the copy job ran 4 times on its schedule"
else
	fail "offsite: $(jstate "$S" offsite runs) runs: $(tail -5 "$T/d.log")"
fi
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: the daemon exits 0" "$rc" 0 "$T/d.log"

n=$(grep -c "\[job:offsite\] a/output@[0-9TZ-]*: copied from sink:local to sink:off" "$T/d.log")
[ "$n" -ge 3 ] && ok "the copy job copied $n copies over its runs" ||
    fail "copied $n times: $(grep offsite "$T/d.log" | tail -5)"
[ "$(jstate "$S" offsite outcome)" = ok ] &&
    ok "its state file says ok" || fail "state: $(cat "$S/jobs/offsite.json")"
m=$(find "$T/off" -name manifest.json | wc -l)
[ "$m" -ge 1 ] && [ "$m" -le 2 ] &&
    ok "keep_last = 2 on off after the copy runs ($m copies)" ||
    fail "off holds $m copies: $(find "$T/off" -name manifest.json)"
grep -q "\[sink:off\] retention: removed copy a/output@" "$T/d.log" &&
    ok "retention ran on off" || fail "no retention on off: $(grep -i retention "$T/d.log" | tail -3)"
python3 - "$T/off" <<'PY' && ok "off's manifests name off" || fail "manifests on off"
import json, os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f == "manifest.json":
            assert json.load(open(os.path.join(root, f)))["sink"]["name"] == "off"
PY
grep -q 'backup_runs_total{job="offsite",outcome="ok"} [1-9]' "$T/metrics.prom" &&
    ok "backup_runs_total counts the copy job's runs" ||
    fail "metrics: $(grep offsite "$T/metrics.prom" | head -5)"
finish
