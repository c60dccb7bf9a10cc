#!/bin/bash
# daemon_sinks.sh - retention after a run is per sink: a run that put
# every stream on sink good but failed on sink bad prunes good (keep_last
# = 1) and leaves bad alone.  And the tag of the schedule line that fired
# reaches the manifests: of two lines due at once, the first one's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
# (bad's directory may be made immutable below: undo that before rm -rf)
trap 'for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
chattr -i "$T/bad/quick/output" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null
rm -rf "$T"' EXIT

S=$T/state
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[source:quick]
plugin = command
command = date +%s%N

[sink:good]
plugin = local
path = $T/good

[sink:bad]
plugin = local
path = $T/bad

[job:fast]
source = quick
sinks = good, bad
keep_last = 1
schedule = @every 1s tag=first, @every 1s tag=second
INI
Z="$CTL -c $T/zb.ini"

# Two copies on each sink, by hand.
check "run fast (1)" $Z run fast
check "run fast (2)" $Z run fast
copies() {	# copies DIR: the committed copies of quick there
	ls "$T/$1"/quick/output/*/manifest.json 2>/dev/null | wc -l
}
[ "$(copies good)" = 2 ] && [ "$(copies bad)" = 2 ] &&
    ok "two copies on each sink" || fail "copies: $(copies good) $(copies bad)"
bad_before=$(cd "$T/bad" && find . | sort)

# Now no new copy can go to bad: its stream directory takes no new entry
# (as root, mode bits do not stop us: the immutable attribute does).
chmod 555 "$T/bad/quick/output"
[ "$(id -u)" = 0 ] && chattr +i "$T/bad/quick/output" 2>/dev/null
if mkdir "$T/bad/quick/output/probe" 2>/dev/null; then
	rmdir "$T/bad/quick/output/probe"
	echo "cannot make a directory unwritable here: skipped"
	exit 77
fi

# The job state counts every run, the CLI's two above included.
cli_runs=$(jstate "$S" fast runs)
[ "$cli_runs" = 2 ] && ok "the CLI's runs are recorded" ||
    fail "runs after two CLI runs: '$cli_runs'"
start_daemon a "$T/zb.ini"
if wait_until 20 runs_at_least "$S" fast 4; then
	ok "the daemon ran fast twice"
else
	fail "fast: $(jstate "$S" fast runs) runs in 20 s: $(tail -5 "$T/a.log")"
fi
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: the daemon exits 0" "$rc" 0 "$T/a.log"

[ "$(jstate "$S" fast outcome)" = partial ] &&
    ok "the runs were partial (bad took no copy)" ||
    fail "outcome $(jstate "$S" fast outcome): $(tail -5 "$T/a.log")"
# good: keep_last = 1 after each run, partial or not: the newest run.
newest=$(stamps "$T/a.log" fast | tail -1)
have=$(cd "$T/good/quick/output" && ls -d */manifest.json | sed 's,/.*,,' |
    tr '\n' ' ')
[ "$have" = "$newest " ] && ok "good: keep_last = 1 kept the newest run $newest" ||
    fail "good: copies '$have', want '$newest ': $(grep retention "$T/a.log")"
grep -q "\[sink:good\] retention of source quick" "$T/a.log" &&
    ok "good: retention logged" || fail "good: no retention in the log"
grep -q "\[sink:bad\] retention" "$T/a.log" &&
    fail "bad: retention ran: $(grep "sink:bad" "$T/a.log")" ||
    ok "bad: no retention after runs it missed"
[ "$(cd "$T/bad" && find . | sort)" = "$bad_before" ] &&
    ok "bad: untouched, its two copies kept" ||
    fail "bad changed: $(cd "$T/bad" && find . | sort)"

# Both lines are due at once: the first listed wins (tag=first).
python3 - "$T/good/quick/output/$newest/manifest.json" <<'PY' &&
import json, sys
r = json.load(open(sys.argv[1]))["run"]
assert r.get("tag") == "first", r
PY
    ok "the daemon's run carries the tag of the first line due" ||
    fail "run record: $(grep '"run"' "$T/good/quick/output/$newest/manifest.json")"
finish
