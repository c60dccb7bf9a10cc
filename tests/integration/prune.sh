#!/bin/bash
# prune.sh - runs and prune on the local sink: ids stay unique when a
# source runs twice in one second; a job never runs twice at once; prune
# leaves a live run's directory alone whatever --grace says, and removes
# what a SIGKILLed run left (its temporaries included), printing and
# counting each removal, also in --dry-run.
. "$(dirname "$0")/lib.sh"

head -c 3000000 /dev/urandom >"$T/rand.bin"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
max_parallel_jobs = 2

[sink:disk]
plugin = local
path = $T/store

[source:quick]
plugin = command
command = seq 1 1000

; 2.5 MB, then it waits for $T/go: a run held in the middle of its data
[source:held]
plugin = command
command = head -c 2500000 $T/rand.bin; while [ ! -e $T/go ]; do sleep 0.1; done; echo end

[job:a]
source = quick
sinks = disk

[job:b]
source = quick
sinks = disk

[job:held]
source = held
sinks = disk
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

# Wait up to 20 s for a command to succeed.
wait_for() {
	local i
	for i in $(seq 1 200); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# Temporaries of data objects: the in-progress marker is written through
# a temporary too, and a kill landing while only that one exists would
# leave no data put for the tests below to find.
temporaries() { find "$T/store" -name '.data.*.zb-*' | wc -l; }
has_temporary() { [ "$(temporaries)" -ge 1 ]; }

# ---- two runs of one source in the same second -------------------------------
check "run a b (one source, same second)" $Z run a b
check "list --json" $Z list --json
python3 - "$T/out" <<'PY' || fail "two distinct copies: $(cat "$T/out")"
import json, sys
a = json.load(open(sys.argv[1]))
ids = sorted(o["id"] for o in a)
assert len(ids) == 2 and ids[0] != ids[1], ids
# in the same second, the later one carries a collision suffix
assert ids[1][len("quick/output@"):][:18] != ids[0][len("quick/output@"):] \
    or ids[1] == ids[0] + "-01", ids
PY
# Deterministic: the state says the source last ran at a later second (a
# clock stepped back): the next runs take that second with suffixes.
echo 2099-01-01T000000Z >"$T/state/stamps/quick"
check "run a b after the clock went back" $Z run a b
$Z list --json >"$T/list.json"
python3 - "$T/list.json" <<'PY' || fail "suffixed stamps: $(cat "$T/list.json")"
import json, sys
ids = sorted(o["id"] for o in json.load(open(sys.argv[1])))
assert ids[-2:] == ["quick/output@2099-01-01T000000Z-01",
    "quick/output@2099-01-01T000000Z-02"], ids
PY
ok "both runs made their own copy"
$Z list --json >"$T/list.json"
for id in $(python3 -c 'import json,sys; print(" ".join(o["id"] for o in json.load(open(sys.argv[1]))))' "$T/list.json"); do
	check "verify $id" $Z verify "$id"
done

# ---- a held run: the job lock, and prune leaves it alone ----------------------
$Z run held >"$T/held.out" 2>"$T/held.err" &
HELD=$!
wait_for has_temporary && ok "the held run is writing" ||
    fail "no temporary appeared: $(cat "$T/held.err")"
has_marker() { ls "$T"/store/held/output/*/in-progress.json >/dev/null 2>&1; }
wait_for has_marker &&
    ok "its in-progress marker is there" || fail "no in-progress marker"

# (bounded: without the lock it would wait for $T/go like the first)
timeout 30 $Z run held >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && ok "a second run of the job is refused (exit 1)" ||
    fail "second run: exit $rc"
grep -q "job held is already running (pid $HELD holds $T/state/locks/held.lock)" "$T/err" &&
    ok "the refusal names the holder's pid" || fail "refusal: $(cat "$T/err")"
grep -q "^job held: refused" "$T/out" || fail "no refused line on stdout: $(cat "$T/out")"

check "prune --grace 0 during the run" $Z prune --grace 0
grep -q "^keep sink:disk held/output/[^ ]* (a run in progress (job held, pid $HELD" "$T/out" &&
    ok "prune keeps the live run's directory" || fail "prune output: $(cat "$T/out")"
grep -q "^removed sink:disk" "$T/out" && fail "prune removed something of a live run"
[ "$(temporaries)" -ge 1 ] && ok "the temporary is still there" ||
    fail "prune removed the live run's temporary"

touch "$T/go"
wait $HELD
rc=$?
[ $rc -eq 0 ] && ok "the held run completes after prune" ||
    fail "held run: exit $rc: $(tail -3 "$T/held.err")"
held_id=$(sed -n 's/.*\(held\/output@[^ :]*\).*/\1/p' "$T/held.err" | head -1)
check "its copy verifies ($held_id)" $Z verify "$held_id"
ls "$T"/store/held/output/*/in-progress.json >/dev/null 2>&1 &&
    fail "the marker outlived the run" || ok "the marker is gone after the manifest"

# ---- SIGKILL mid-run: prune removes what it left --------------------------------
rm -f "$T/go"
$Z run held >/dev/null 2>&1 &
KILLED=$!
wait_for has_temporary || fail "no temporary for the kill test"
kill -KILL $KILLED
wait $KILLED 2>/dev/null
pkill -KILL -f "while \[ ! -e $T/go \]" 2>/dev/null
n_tmp=$(temporaries)
[ "$n_tmp" -ge 1 ] && ok "the killed run left $n_tmp temporar(y/ies)" ||
    fail "nothing left by the kill"
check "prune --dry-run lists the leftovers" $Z prune --grace 0 --dry-run
grep -q "^would remove sink:disk pending put held/output/[^ ]*/data.out (a put that was never committed)" "$T/out" &&
    ok "the dry run lists the temporary" || fail "dry run: $(cat "$T/out")"
grep -q "^would remove sink:disk object held/output/[^ ]*/in-progress.json" "$T/out" &&
    ok "and the dead run's marker" || fail "dry run: $(cat "$T/out")"
[ "$(temporaries)" = "$n_tmp" ] && ok "the dry run removed nothing" ||
    fail "the dry run removed something"
check "prune --grace 1h keeps fresh leftovers" $Z prune
grep -q "^keep sink:disk held/output/[^ ]* (written [0-9]* s ago, within the grace period)" "$T/out" &&
    ok "fresh leftovers wait for the grace period" || fail "prune: $(cat "$T/out")"
check "prune --grace 0 removes them" $Z prune --grace 0
[ "$(temporaries)" = 0 ] && ok "no temporary left" || fail "$(temporaries) temporaries left"
n_removed=$(sed -n 's/^removed \([0-9]*\) objects\{0,1\} on 1 sink.*/\1/p' "$T/out")
n_lines=$(grep -c "^removed sink:disk " "$T/out")
[ -n "$n_removed" ] && [ "$n_removed" = "$n_lines" ] && [ "$n_removed" -ge 2 ] &&
    ok "every removal is reported and counted ($n_removed)" ||
    fail "count '$n_removed' vs $n_lines lines: $(cat "$T/out")"
check "committed copies survive" $Z verify "$held_id"
[ "$(find "$T/store/held" -name manifest.json | wc -l)" = 1 ] &&
    ok "exactly the committed run is left" || fail "store: $(find "$T/store/held")"
finish
