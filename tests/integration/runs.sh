#!/bin/bash
# runs.sh - a run is a unit: each manifest records its run (stamp and the
# streams the run planned); `list' shows whether a copy's run is complete
# on its sink, and `verify --latest' and `test-restore JOB' take the
# newest complete run, skipping (with a warning naming the missing
# streams) the copies of a newer run that was interrupted on that sink.
# The interruption is simulated by removing one stream's manifest (the
# commit marker) of the newest run from one sink.
. "$(dirname "$0")/lib.sh"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[source:gen]
plugin = src_gen
size = 64K
push = 16K
streams = 3

[sink:disk]
plugin = local
path = $T/disk

[sink:copy]
plugin = local
path = $T/copy

[job:j]
source = gen
sinks = disk, copy
INI
Z="$CTL -c $T/zb.ini"

check "first run" $Z run j
sleep 1.1	# another stamp for the second run
check "second run" $Z run j

# The run record: the run's stamp and every planned stream, in plan order.
check "list --json after two runs" $Z list --json
cp "$T/out" "$T/list1.json"
read -r r1 r2 < <(python3 - "$T/list1.json" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
stamps = sorted({c["id"].split("@")[1] for c in l})
print(*stamps)
PY
)
if [ -n "${r1:-}" ] && [ -n "${r2:-}" ]; then
	ok "two runs: $r1 $r2"
else
	fail "two runs expected: $(cat "$T/list1.json")"
	finish
	exit 1
fi
python3 - "$T/disk/gen/gen1/$r2/manifest.json" "$r2" <<'PY' &&
import json, sys
m = json.load(open(sys.argv[1]))
r = m["run"]
assert r == {"job": "j", "stamp": sys.argv[2],
    "streams": ["gen0", "gen1", "gen2"]}, r
PY
    ok "manifest records the run" || fail "manifest's run record"
python3 - "$T/list1.json" <<'PY' &&
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 12, len(l)
for c in l:
    r = c["run"]
    assert r["state"] == "complete" and r["streams"] == 3 and \
        r["present"] == 3 and r["missing"] == [], c
    assert r["stamp"] == c["id"].split("@")[1], c
PY
    ok "list --json: every run complete" || fail "list --json runs"

# Interrupt the second run on sink disk: gen1's copy was never committed.
rm "$T/disk/gen/gen1/$r2/manifest.json"

check "list --sink disk" $Z list --sink disk
grep -q "^gen/gen0@$r2 .* incomplete 2/3\$" "$T/out" &&
    ok "list: second run incomplete 2/3" ||
    fail "list: no 'incomplete 2/3' row: $(cat "$T/out")"
grep -q "^gen/gen1@$r1 .* complete\$" "$T/out" &&
    ok "list: first run complete" ||
    fail "list: first run not complete: $(cat "$T/out")"
grep -q "^\[job:j\] run $r2 on sink:disk (source:gen): incomplete 2/3, missing: gen1\$" \
    "$T/out" && ok "list names the missing stream" ||
    fail "list: missing stream not named: $(cat "$T/out")"

check "list --json (one copy missing)" $Z list --json
python3 - "$T/out" "$r1" "$r2" <<'PY' &&
import json, sys
l = json.load(open(sys.argv[1]))
r1, r2 = sys.argv[2], sys.argv[3]
for c in l:
    r = c["run"]
    if c["sink"] == "disk" and c["id"].endswith("@" + r2):
        assert r == {"stamp": r2, "state": "incomplete", "streams": 3,
            "present": 2, "missing": ["gen1"]}, c
    else:
        assert r["state"] == "complete" and r["present"] == 3, c
assert len(l) == 11, len(l)
PY
    ok "list --json: run state per copy" || fail "list --json: $(cat "$T/out")"

# verify --latest on disk: the first run's three copies, not a mix of the
# second run's gen0/gen2 with the first run's gen1.
check "verify --latest --sink disk" $Z verify --latest --sink disk
sort "$T/out" >"$T/got"
printf 'ok     gen/gen%d@%s on sink:disk\n' 0 "$r1" 1 "$r1" 2 "$r1" >"$T/want"
if cmp -s "$T/got" "$T/want"; then
	ok "verify --latest took the complete first run"
else
	fail "verify --latest checked: $(cat "$T/out")"
fi
grep_err "verify --latest says it skipped the incomplete run" \
    "sink:disk: run $r2 of \[job:j\] (source:gen) is incomplete, 2 of 3 streams (missing: gen1): its copies are skipped"

# Over both sinks: the second run is complete on copy, so its copies
# there are the latest; disk's incomplete copies are left out.
check "verify --latest (all sinks)" $Z verify --latest --json
python3 - "$T/out" "$r2" <<'PY' &&
import json, sys
l = json.load(open(sys.argv[1]))
got = sorted((c["id"], c["sink"], c["ok"]) for c in l)
want = [("gen/gen%d@%s" % (i, sys.argv[2]), "copy", True) for i in range(3)]
assert got == want, got
PY
    ok "verify --latest over both sinks: the complete copies only" ||
    fail "verify --latest --json: $(cat "$T/out")"
grep_err "verify --latest (all sinks) warns" "sink:disk: run $r2 .* is incomplete"

# Only incomplete runs: nothing to verify, and it says why.
mkdir "$T/only"
cp -r "$T/disk/gen" "$T/only/"
rm -r "$T/only/gen/gen0/$r1" "$T/only/gen/gen1/$r1" "$T/only/gen/gen2/$r1"
sed "s|^path = $T/copy\$|path = $T/only|" "$T/zb.ini" >"$T/only.ini"
check_fails 1 "verify --latest with only an incomplete run" \
    $CTL -c "$T/only.ini" verify --latest --sink copy
grep_err "verify --latest: no complete run" "no complete run to verify on sink:copy"
grep_err "verify --latest: the skipped run" "sink:copy: run $r2 .* is incomplete"
[ ! -s "$T/out" ] && ok "verify --latest verified nothing" ||
    fail "verify --latest verified: $(cat "$T/out")"

# verify of the explicit id still checks that copy.
check "verify ID of an incomplete run's copy" $Z verify "gen/gen0@$r2" --sink disk

# test-restore JOB picks from the same complete run.  src_gen has no test
# restore, so every pick fails; what matters is which ids were tried.
check_fails 1 "test-restore j --sink disk (no test restore in src_gen)" \
    $Z test-restore j --sink disk
grep -o '^FAILED [^ ]*' "$T/out" | sort >"$T/got"
printf 'FAILED gen/gen%d@%s\n' 0 "$r1" 1 "$r1" 2 "$r1" >"$T/want"
if cmp -s "$T/got" "$T/want"; then
	ok "test-restore JOB tried the complete first run"
else
	fail "test-restore JOB tried: $(cat "$T/out")"
fi
grep_err "test-restore JOB says it skipped the incomplete run" \
    "sink:disk: run $r2 of \[job:j\] (source:gen) is incomplete"
grep_err "test-restore failed for want of a test restore" "has no test restore"

# A manifest from before run records is a complete run of its own.
m="$T/copy/gen/gen2/$r1/manifest.json"
python3 - "$m" <<'PY' || fail "strip run"
import json, sys
m = json.load(open(sys.argv[1]))
del m["run"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
check "list an old manifest" $Z list --json --sink copy
python3 - "$T/out" "$r1" <<'PY' &&
import json, sys
l = json.load(open(sys.argv[1]))
c = [c for c in l if c["id"] == "gen/gen2@" + sys.argv[2]][0]
assert c["run"] == {"stamp": sys.argv[2], "state": "complete", "streams": 1,
    "present": 1, "missing": []}, c
PY
    ok "an old manifest is a complete run of its own" ||
    fail "old manifest: $(cat "$T/out")"

# A manifest whose run record is wrong is refused (and list says so).
m="$T/copy/gen/gen0/$r1/manifest.json"
python3 - "$m" <<'PY' || fail "break run"
import json, sys
m = json.load(open(sys.argv[1]))
m["run"]["streams"] = ["gen1", "../x"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
check_fails 1 "list with a bad run record" $Z list --sink copy
grep_err "bad run record is named" "gen/gen0/$r1/manifest.json: bad manifest: bad \"run\": a stream name is not valid"

finish
