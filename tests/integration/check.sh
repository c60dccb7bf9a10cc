#!/bin/bash
# check.sh - `zentoria-backupctl check' (the check service, check.c): the
# newest complete copy of every stream of the jobs' sources on each sink
# the jobs write to.  verify is cheap (sizes from a listing, the sidecar)
# and so misses a changed byte that deep-verify finds; a missing copy, a
# wrong size, a missing or wrong sidecar fail verify; test-restore restores
# a redis copy into a scratch server; --job and --sink narrow the check;
# the exit status is 0 only when every item passed.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/redis.sh"
mkdir -m 700 "$T/tmp"
export TMPDIR=$T/tmp

redis_start --diskless no || { fail "start redis"; finish; exit 1; }
redis_seed "$REDIS_PORT" || fail "seed"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:near]
plugin = local
path = $T/near

[sink:far]
plugin = local
path = $T/far

[source:num]
plugin = command
command = seq 1 200000
extension = txt

[source:other]
plugin = command
command = echo other

[source:r]
plugin = redis
address = 127.0.0.1:$REDIS_PORT

[job:num]
source = num
sinks = near, far

[job:other]
source = other
sinks = near

[job:r]
source = r
sinks = far
INI
Z="$CTL -c $T/zb.ini"

check "check --help" $Z check --help
grep -q "deep-verify" "$T/out" || fail "check --help names the kinds"
check_fails 2 "an unknown kind is a usage error" $Z check --kind shallow
grep_err "and says so" "--kind shallow: not verify, deep-verify or test-restore"

# Nothing backed up yet: every job's source on every sink is missing.
check_fails 1 "check before any backup fails" $Z check
grep -q "^FAILED source:num on sink:near: no complete copy on this sink" \
    "$T/out" && ok "names the missing copy" || fail "out: $(cat "$T/out")"
[ "$(grep -c '^FAILED' "$T/out")" = 4 ] && ok "4 missing (num x2, other, r)" ||
    fail "out: $(cat "$T/out")"

check "backup num" $Z run num
check "backup other" $Z run other
check "backup r" $Z run r
check "verify: everything" $Z check
[ "$(grep -c '^ok ' "$T/out")" = 4 ] && ok "4 copies ok" || fail "out: $(cat "$T/out")"
check "--json" $Z check --json
python3 - "$T/out" <<'PY' && ok "JSON: 4 items, all ok, with id and sink" || fail "JSON: $(cat "$T/out")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 4, a
assert all(o["ok"] and o["error"] is None for o in a), a
assert sorted((o["id"].split("/")[0], o["sink"]) for o in a) == \
    [("num", "far"), ("num", "near"), ("other", "near"), ("r", "far")], a
PY
check "--job other" $Z check --job other
[ "$(wc -l <"$T/out")" = 1 ] && grep -q "^ok .*other/.* on sink:near" "$T/out" &&
    ok "--job: one copy" || fail "out: $(cat "$T/out")"
check "--sink near --job num" $Z check --sink near --job num
[ "$(wc -l <"$T/out")" = 1 ] && grep -q "^ok .*num/.* on sink:near" "$T/out" &&
    ok "--sink: one copy" || fail "out: $(cat "$T/out")"
check_fails 1 "an unknown job fails" $Z check --job nope
grep -q "^FAILED job:nope on sink:\*: no such job" "$T/out" &&
    ok "and names it" || fail "out: $(cat "$T/out")"

# The newest copy is the one checked: a second backup of num.
sleep 1.1
check "second backup of num" $Z run num
check "verify after two runs" $Z check --job num --json
python3 - "$T/out" "$T" <<'PY' && ok "the newest copy is checked on each sink" || fail "JSON: $(cat "$T/out")"
import json, os, sys
a = json.load(open(sys.argv[1]))
newest = max(os.listdir(os.path.join(sys.argv[2], "near/num/output")))
assert len(a) == 2 and all(o["id"].endswith("@" + newest) for o in a), (a, newest)
PY

dir=$(dirname "$(ls -d "$T"/near/num/output/*/manifest.json | sort | tail -1)")
data="$dir/data.txt"
cp -a "$T/near" "$T/pristine"
restore() { rm -rf "$T/near"; cp -a "$T/pristine" "$T/near"; }

# A changed byte, same size: verify (sizes only) passes, deep-verify fails.
python3 - "$data" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xff]))
PY
check "verify does not read the data" $Z check --kind verify --sink near --job num
check_fails 1 "deep-verify reads it" $Z check --kind deep-verify --sink near --job num
grep -q "^FAILED num/.* on sink:near: stored data does not match the manifest" \
    "$T/out" && ok "deep-verify names the digest" || fail "out: $(cat "$T/out")"
restore
check "deep-verify of the pristine copy" $Z check --kind deep-verify

# One byte more: verify sees the size.
printf x >>"$data"
check_fails 1 "verify: a wrong size" $Z check --sink near
grep -q "^FAILED num/.* on sink:near: the data object .*/data.txt has [0-9]* bytes, the manifest says" \
    "$T/out" && ok "names the size" || fail "out: $(cat "$T/out")"
grep -q "^ok .*other/.* on sink:near" "$T/out" && ok "the other copy still passes" ||
    fail "out: $(cat "$T/out")"
restore
rm "$data"
check_fails 1 "verify: a missing data object" $Z check --sink near --job num
grep -q "data.txt is missing" "$T/out" && ok "names it" || fail "out: $(cat "$T/out")"
restore
rm "$data.sha256"
check_fails 1 "verify: a missing sidecar" $Z check --sink near --job num
grep -q "data.txt.sha256 is missing" "$T/out" && ok "names it" || fail "out: $(cat "$T/out")"
restore
sed -i 's/^./0/' "$data.sha256"
check_fails 1 "verify: a sidecar that disagrees" $Z check --sink near --job num
grep -q "checksum sidecar .*data.txt.sha256 does not match the manifest" "$T/out" &&
    ok "names it" || fail "out: $(cat "$T/out")"
restore

# test-restore: redis into a scratch server; a command source cannot.
check "test-restore of redis" $Z check --kind test-restore --job r --json
python3 - "$T/out" <<'PY' && ok "one copy restored, timed" || fail "JSON: $(cat "$T/out")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1 and a[0]["ok"] and a[0]["sink"] == "far", a
assert a[0]["restore_seconds"] > 0 and a[0]["seconds"] >= a[0]["restore_seconds"], a
PY
check_fails 1 "test-restore of a command source fails" $Z check --kind test-restore --job other
grep -q "has no test restore" "$T/out" && ok "and says why" || fail "out: $(cat "$T/out")"

redis_stop "$REDIS_PID"
finish
