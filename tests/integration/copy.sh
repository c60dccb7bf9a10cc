#!/bin/bash
# copy.sh - zentoria-backupctl copy and copy jobs between two local sinks:
# the config checks of copy_from; --dry-run writes nothing; only the
# copies missing on the target are copied, with the stored bytes and the
# manifest unchanged but for its sink; a second run rewrites nothing
# (inodes and mtimes); --json; the filters (--source, --newest-per-stream,
# --since); an origin whose stored bytes changed is refused (checked on
# the way); a target whose put fails, and a copy killed mid-way, leave no
# manifest and the next run fills the gap, and prune leaves a live copy
# alone; SIGTERM aborts a copy cleanly; a copy job run through the job queue records its state, and
# `check --job` of it checks its target; a target whose retention keeps
# fewer copies gets only those; list, verify and restore work from the
# copied tier alone.
. "$(dirname "$0")/lib.sh"

S=$T/state
common() {
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[sink:local]
plugin = local
path = $T/local

[sink:off]
plugin = local
path = $T/off
INI
}
{
	common
	cat <<INI

[sink:other]
plugin = local
path = $T/other

[source:a]
plugin = command
command = seq 1 100000
extension = txt

[source:b]
plugin = command
command = seq 1 5000
extension = txt

[job:a]
source = a
sinks = local

[job:b]
source = b
sinks = local

[job:offsite]
copy_from = local
sinks = off
INI
} >"$T/zb.ini"
Z="$CTL -c $T/zb.ini"

# ---- config checks: copy_from ---------------------------------------------
bad() {	# bad WHAT PATTERN JOB-LINES...
	local what=$1 pat=$2
	shift 2
	{ common; printf '\n[source:a]\nplugin = command\ncommand = true\n\n'
	  printf '[job:j]\n'; printf '%s\n' "$@"; } >"$T/bad.ini"
	check_fails 1 "config: $what" $Z -c "$T/bad.ini" copy --from local \
	    --to off --dry-run
	grep_err "config: $what: the message" "$pat"
}
bad "source and copy_from" "bad.ini:20: \[job:j\] copy_from: a job either" \
    "source = a" "copy_from = local" "sinks = off"
bad "neither source nor copy_from" "bad.ini:18: \[job:j\] missing .*copy_from" \
    "sinks = off"
bad "copy_from names no sink" "bad.ini:19: \[job:j\] copy_from: no \[sink:nope\]" \
    "copy_from = nope" "sinks = off"
bad "a filter on a backup job" "bad.ini:21: \[job:j\] newest_per_stream: only for a copy job" \
    "source = a" "sinks = off" "newest_per_stream = yes"
bad "the origin among the targets" "bad.ini:20: \[job:j\] sinks: sink 'local' is the copy_from sink" \
    "copy_from = local" "sinks = off, local"
bad "since is a duration" "bad.ini:21: \[job:j\] since: 'soon' is not" \
    "copy_from = local" "sinks = off" "since = soon"
check_fails 2 "copy without --to is a usage error" $Z copy --from local
check_fails 1 "copy to an unknown sink" $Z copy --from local --to nope
grep "FAILED sink:nope" "$T/out" >/dev/null && ok "it names the sink" ||
    fail "unknown sink: $(cat "$T/out" "$T/err")"
check "copy --help" $Z copy --help
grep -q -- "--newest-per-stream" "$T/out" && ok "--help lists the options" ||
    fail "--help: $(cat "$T/out")"

# ---- three copies on local ------------------------------------------------
check "backup a" $Z run a
check "backup b" $Z run b
check "backup a again" $Z run a
n=$(find "$T/local" -name manifest.json | wc -l)
[ "$n" -eq 3 ] && ok "3 copies on local" || fail "$n copies on local"

check_fails 1 "check of the copy job before any copy" $Z check --job offsite
grep -q "^FAILED source:a on sink:off: no complete copy on this sink" "$T/out" &&
    grep -q "^FAILED source:b on sink:off: no complete copy on this sink" "$T/out" &&
    ok "a check of the copy job wants every source on its target" ||
    fail "check before copy: $(cat "$T/out")"
check "copy --dry-run" $Z copy --from local --to off --dry-run
[ "$(grep -c '^would copy sink:off ' "$T/out")" -eq 3 ] &&
    ok "--dry-run: 3 would be copied" || fail "--dry-run: $(cat "$T/out")"
[ ! -e "$T/off" ] || [ -z "$(find "$T/off" -type f)" ] &&
    ok "--dry-run wrote nothing" || fail "--dry-run wrote: $(find "$T/off")"

check "copy --source b" $Z copy --from local --to off --source b
[ "$(grep -c '^copied sink:off b/' "$T/out")" -eq 1 ] &&
    ! grep -q ' a/' "$T/out" && ok "--source b: only b's copy" ||
    fail "--source b: $(cat "$T/out")"

check "copy --json" $Z copy --from local --to off --json
python3 - "$T/out" <<'PY' && ok "--json: 2 copied, b present" || fail "--json: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
acts = sorted((i["id"].split("/")[0], i["action"], i["sink"]) for i in items)
assert acts == [("a", "copied", "off"), ("a", "copied", "off"),
                ("b", "present", "off")], acts
assert all(i["bytes"] > 0 for i in items if i["action"] == "copied")
PY

# The stored bytes and sidecars are the origin's; the manifests differ in
# their sink only, which names the target.
python3 - "$T/local" "$T/off" <<'PY' && ok "same bytes, manifests differ in sink only" || fail "stored copies differ"
import hashlib, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in os.walk(src):
    for f in files:
        p = os.path.join(root, f)
        q = os.path.join(dst, os.path.relpath(p, src))
        if f == "manifest.json":
            a, b = json.load(open(p)), json.load(open(q))
            assert b["sink"]["name"] == "off", b["sink"]
            assert a["sink"]["name"] == "local"
            a.pop("sink"); b.pop("sink")
            assert a == b
            n += 1
        elif not f.startswith("in-progress"):
            h = lambda x: hashlib.sha256(open(x, "rb").read()).hexdigest()
            assert h(p) == h(q), p
assert n == 3, n
PY

# A second run rewrites nothing: inodes and mtimes stay.
snap() { find "$T/off" -type f -printf '%i %T@ %s %P\n' | sort; }
snap >"$T/before"
sleep 1.1
check "copy again" $Z copy --from local --to off
grep -q "^copied 0 copies (0 bytes) from sink:local; 3 present, 0 failed" "$T/out" &&
    ok "the second run copies nothing" || fail "second run: $(cat "$T/out")"
snap >"$T/after"
cmp -s "$T/before" "$T/after" && ok "no file of the target was rewritten" ||
    fail "target changed: $(diff "$T/before" "$T/after")"

# ---- filters ---------------------------------------------------------------
check "newest per stream" $Z copy --from local --to other --newest-per-stream --dry-run
[ "$(grep -c '^would copy sink:other a/' "$T/out")" -eq 1 ] &&
    [ "$(grep -c '^would copy sink:other b/' "$T/out")" -eq 1 ] &&
    ok "--newest-per-stream: one copy per stream" ||
    fail "--newest-per-stream: $(cat "$T/out")"
newest=$(ls "$T/local/a/output" | sort | tail -1)
grep -q "^would copy sink:other a/output@$newest " "$T/out" &&
    ok "--newest-per-stream: a's newest" || fail "not the newest $newest: $(cat "$T/out")"
sleep 2.1
check "backup b (new)" $Z run b
check "since 2s" $Z copy --from local --to other --since 2s
[ "$(grep -c '^copied sink:other ' "$T/out")" -eq 1 ] &&
    [ "$(find "$T/other" -name manifest.json | wc -l)" -eq 1 ] &&
    ok "--since 2s: only the new copy" || fail "--since: $(cat "$T/out")"

# ---- an origin whose stored bytes changed is refused on the way ----------
bdir=$(dirname "$(ls "$T"/local/b/output/*/manifest.json | sort | tail -1)")
bstamp=$(basename "$bdir")
cp "$bdir/data.txt" "$T/b.orig"
python3 - "$bdir/data.txt" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100)
    b = f.read(1)
    f.seek(100)
    f.write(bytes([b[0] ^ 0xff]))
PY
check_fails 1 "a changed origin is not copied" $Z copy --from local --to off
grep -q "^FAILED sink:off b/output@$bstamp: data: .*does not match the manifest" "$T/out" &&
    ok "it says the data does not match the manifest" ||
    fail "changed origin: $(cat "$T/out" "$T/err")"
[ ! -e "$T/off/b/output/$bstamp/manifest.json" ] &&
    [ ! -e "$T/off/b/output/$bstamp/data.txt" ] &&
    ok "no data and no manifest on the target" ||
    fail "the bad copy reached the target: $(ls "$T/off/b/output/$bstamp")"
cp "$T/b.orig" "$bdir/data.txt"

# ---- a target whose put fails: no manifest; the next run fills the gap ---
check "backup a (3rd)" $Z run a
astamp=$(ls "$T/local/a/output" | sort | tail -1)
mkdir -p "$T/off/a/output"
: >"$T/off/a/output/$astamp"	# a file where the copy's directory goes
check_fails 1 "copy to a target that cannot take a's copy" $Z copy --from local --to off
grep -q "^FAILED sink:off a/output@$astamp: " "$T/out" &&
    grep -q "^copied sink:off b/output@$bstamp " "$T/out" &&
    ok "a's copy failed, b's was copied" || fail "failed put: $(cat "$T/out")"
[ ! -e "$T/off/a/output/$astamp/manifest.json" ] &&
    ok "no manifest for the failed copy" || fail "a manifest for $astamp"
check "list on the target" $Z list --sink off --json
python3 - "$T/out" "$astamp" <<'PY' && ok "list does not show it" || fail "list: $(cat "$T/out")"
import json, sys
ids = [i["id"] for i in json.load(open(sys.argv[1]))]
assert "a/output@" + sys.argv[2] not in ids, ids
PY
rm "$T/off/a/output/$astamp"
check "the next copy" $Z copy --from local --to off
grep -q "^copied 1 copy .* present, 0 failed" "$T/out" &&
    ok "the next run copies the missing one only" || fail "next: $(cat "$T/out")"
check "verify it on the target" $Z verify "a/output@$astamp" --sink off

# ---- the data and sidecar made it, the manifest did not: the next run
# ---- replaces the leftovers (no sink replaces an object by itself) -----
check "backup b (data left)" $Z run b
lstamp=$(ls "$T/local/b/output" | sort | tail -1)
mkdir -p "$T/off/b/output/$lstamp/manifest.json"	# the manifest's put fails
check_fails 1 "the manifest cannot be written" $Z copy --from local --to off
grep -q "^FAILED sink:off b/output@$lstamp: cannot write the manifest" "$T/out" &&
    [ -f "$T/off/b/output/$lstamp/data.txt" ] &&
    [ -f "$T/off/b/output/$lstamp/data.txt.sha256" ] &&
    ok "data and sidecar written, the manifest failed" ||
    fail "manifest failure: $(cat "$T/out"; ls -a "$T/off/b/output/$lstamp")"
rmdir "$T/off/b/output/$lstamp/manifest.json"
check "the next copy replaces the leftovers" $Z copy --from local --to off
grep -q "^copied sink:off b/output@$lstamp " "$T/out" &&
    ok "the copy is complete after the next run" ||
    fail "leftovers: $(cat "$T/out" "$T/err")"
check "verify it" $Z verify "b/output@$lstamp" --sink off --deep

# ---- killed mid-copy: prune leaves the live copy alone, no manifest after
# ---- the kill, and the next run fills the gap -------------------------
check "backup a (4th)" $Z run a
kstamp=$(ls "$T/local/a/output" | sort | tail -1)
{
	cat "$T/zb.ini"
	cat <<INI

[sink:held]
plugin = sink_slow
hold_at = 100000
hold_flag = $T/held.flag
hold_until = $T/never

[job:heldcopy]
copy_from = local
sinks = off, held
sources = a
newest_per_stream = yes
INI
} >"$T/kill.ini"
# (the newest of a only: held lists nothing, so it lacks every copy)
$CTL -c "$T/kill.ini" -v run heldcopy >"$T/kill.out" 2>"$T/kill.err" &
kpid=$!
for i in $(seq 1 100); do [ -e "$T/held.flag" ] && break; sleep 0.1; done
[ -e "$T/held.flag" ] && ok "the copy is held mid-way" ||
    fail "never held: $(tail -5 "$T/kill.err")"
[ -e "$T/off/a/output/$kstamp/in-progress.json" ] &&
    ok "the copy wrote its in-progress marker" ||
    fail "no marker: $(ls -a "$T/off/a/output/$kstamp" 2>&1)"
check "prune --grace 0 while the copy runs" $Z prune --sink off --grace 0
grep -q "keep sink:off a/output/$kstamp (a run in progress (job heldcopy" "$T/out" &&
    ls -a "$T/off/a/output/$kstamp" | grep -q '\.data\.txt\.zb-' &&
    ok "prune leaves the live copy's directory alone" ||
    fail "prune during the copy: $(cat "$T/out"; ls -a "$T/off/a/output/$kstamp")"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
[ -d "$T/off/a/output/$kstamp" ] && [ ! -e "$T/off/a/output/$kstamp/manifest.json" ] &&
    ok "killed mid-copy: its directory has no manifest" ||
    fail "killed: $(ls -a "$T/off/a/output/$kstamp" 2>&1)"
check "the copy after the kill" $Z copy --from local --to off
grep -q "^copied sink:off a/output@$kstamp " "$T/out" &&
    grep -q "^copied 1 copy" "$T/out" &&
    ok "the next run fills the gap (the dead copy's marker removed)" ||
    fail "after the kill: $(cat "$T/out" "$T/err")"
[ ! -e "$T/off/a/output/$kstamp/in-progress.json" ] &&
    ok "no marker left after the copy" || fail "a marker is left"

# ---- SIGTERM mid-copy: exit 143, the put aborted, no manifest, no marker
check "backup a (5th)" $Z run a
tstamp=$(ls "$T/local/a/output" | sort | tail -1)
rm -f "$T/held.flag"
$CTL -c "$T/kill.ini" copy --from local --to off --to held --source a \
    --newest-per-stream >"$T/term.out" 2>"$T/term.err" &
tpid=$!
for i in $(seq 1 100); do [ -e "$T/held.flag" ] && break; sleep 0.1; done
[ -e "$T/held.flag" ] && ok "the second copy is held mid-way" ||
    fail "never held: $(tail -5 "$T/term.err")"
kill -TERM "$tpid"
wait "$tpid"
check_rc "SIGTERM: copy exits 143" $? 143 "$T/term.err"
grep -q "^FAILED sink:off a/output@$tstamp: " "$T/term.out" &&
    ok "SIGTERM: the copy is reported failed" || fail "SIGTERM: $(cat "$T/term.out")"
left=$(ls -A "$T/off/a/output/$tstamp" 2>/dev/null)
[ -z "$left" ] && ok "SIGTERM: nothing left on the target (put aborted, marker removed)" ||
    fail "SIGTERM left: $left"

# ---- a copy job through the job queue -------------------------------------
check "backup b (3rd)" $Z run b
check "run the copy job" $Z run offsite
grep -q "^job offsite: ok" "$T/out" && ok "the copy job is ok" ||
    fail "run offsite: $(cat "$T/out" "$T/err")"
python3 - "$S/jobs/offsite.json" <<'PY' && ok "its state file records the run" || fail "state: $(cat "$S/jobs/offsite.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["outcome"] == "ok" and j["runs"] >= 1, j
PY
check "check --job offsite after the copies" $Z check --job offsite --kind deep-verify
[ "$(grep -c '^ok .* on sink:off' "$T/out")" -eq 2 ] &&
    ok "the check verifies the newest copy of each stream on off" ||
    fail "check: $(cat "$T/out")"
a=$(find "$T/local" -name manifest.json | wc -l)
o=$(find "$T/off" -name manifest.json | wc -l)
[ "$a" -eq "$o" ] && ok "off holds every copy of local ($o)" ||
    fail "local $a, off $o"

# ---- a target that keeps fewer copies than the origin holds ---------------
# Its retention would remove the older ones right after they came: they
# are not copied ("expired"), so that no copy run sends them again and
# again, and retention then finds nothing to remove.
{
	common
	printf '\n[sink:few]\nplugin = local\npath = %s/few\nkeep_last = 2\n' "$T"
	printf '\n[job:tofew]\ncopy_from = local\nsinks = few\n'
} >"$T/few.ini"
F="$CTL -c $T/few.ini"
few_check() {	# what: the copy --json output in $T/out, by stream
	python3 - "$T/out" "$1" <<'PY'
import collections, json, sys
items = json.load(open(sys.argv[1]))
want = sys.argv[2]
by = collections.defaultdict(list)
for i in items:
    by[i["id"].split("@")[0]].append((i["id"].split("@")[1], i["action"]))
assert set(by) == {"a/output", "b/output"}, by
for stream, acts in by.items():
    acts.sort(reverse=True)		# newest first
    got = [a for _, a in acts]
    assert len(got) > 2, (stream, got)
    kept = "copied" if want == "first" else "present"
    assert got[:2] == [kept, kept], (stream, got)
    assert all(a == "expired" for a in got[2:]), (stream, got)
    assert all("retention" in i.get("error", "") for i in items if i["action"] == "expired"), items
PY
}
check "copy to a target that keeps the last 2" $F copy --from local --to few --json
few_check first && ok "the newest 2 of each stream copied, the older ones expired" ||
    fail "few: $(cat "$T/out")"
grep -q "expired (the target's retention would remove them at once)" "$T/err" &&
    ok "the summary counts them" || fail "summary: $(tail -2 "$T/err")"
n1=$(find "$T/few" -name manifest.json | wc -l)
check "retention on that target" $F prune --sink few
n2=$(find "$T/few" -name manifest.json | wc -l)
[ "$n1" -eq 4 ] && [ "$n2" -eq 4 ] && ok "retention finds nothing to remove" ||
    fail "few: $n1 copies, $n2 after retention"
check "copy to it again" $F copy --from local --to few --json
few_check again && ok "nothing copied again" || fail "few again: $(cat "$T/out")"
# As a copy job: the target holds all it keeps, so the run is ok (not
# partial), and its retention pass may run.
check "the copy job to it" $F run tofew
grep -Eq "^job tofew: ok \(([0-9]+) of \1 streams on every sink" "$T/out" &&
    ok "the copy job is ok and whole: the expired ones count as done" ||
    fail "run tofew: $(cat "$T/out" "$T/err")"

# ---- the copied tier alone ------------------------------------------------
cat >"$T/alone.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state2

[sink:off]
plugin = local
path = $T/off
INI
A="$CTL -c $T/alone.ini"
check "list from the copied tier alone" $A list --json
python3 - "$T/out" "$o" <<'PY' && ok "it lists every copy" || fail "alone list: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
assert len(items) == int(sys.argv[2]), len(items)
assert all(i["sink"] == "off" for i in items)
PY
check "verify --latest from the copied tier" $A verify --latest
check "deep verify from the copied tier" $A verify --latest --deep
check "restore from the copied tier" $A restore "a/output@$kstamp" --to "$T/restored.txt"
seq 1 100000 | cmp -s - "$T/restored.txt" && ok "restored bytes are a's output" ||
    fail "restored data differs"
finish
