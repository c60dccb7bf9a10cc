#!/bin/bash
# prune_lock.sh - retention on an S3 sink whose bucket has Object Lock
# (the strict fake, its /__lock marking some copies): a copy whose
# manifest removal the bucket refuses is reported as retained (until its
# date, or by a legal hold), not as an error, and prune exits 0; no locked
# copy loses its manifest; unlocked copies go, manifests first (one
# DeleteObjects of manifests, then one of data and sidecars); once the
# date passed the copy goes; a plain AccessDenied stays an error (exit 1).
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3fake.sh"
trap 's3fake_stop; rm -rf "$T"' EXIT

s3fake_start --buckets vault:lock || exit 1
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:vault]
plugin = s3
endpoint = $S3_URL
bucket = vault
prefix = zb
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
retries = 0
keep_last = 1

[source:a]
plugin = command
command = seq 1 1000

[job:a]
source = a
sinks = vault
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

for i in 1 2 3 4; do
	check "run a ($i)" $Z run a
done
check "list --json" $Z list --json
python3 -c 'import json,sys
print("\n".join(sorted(o["id"] for o in json.load(open(sys.argv[1])))))' "$T/out" >"$T/ids"
[ "$(wc -l <"$T/ids")" = 4 ] && ok "four copies" || fail "copies: $(cat "$T/ids")"
c1=$(sed -n 1p "$T/ids"); c2=$(sed -n 2p "$T/ids"); c3=$(sed -n 3p "$T/ids"); c4=$(sed -n 4p "$T/ids")
dir() { echo "zb/${1/@//}/"; }
# c1: COMPLIANCE for 2 days; c2: a legal hold; c3: unlocked; c4: the newest
lock() { curl -sf -X POST "$S3_URL/__lock?bucket=vault&prefix=$(dir "$1")&$2" >"$T/lock.json" &&
	[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["locked"]))' "$T/lock.json")" = 3 ]; }
lock "$c1" "mode=COMPLIANCE&days=2" && ok "c1 locked (3 objects)" || fail "lock c1: $(cat "$T/lock.json")"
lock "$c2" "legal_hold=1" && ok "c2 on legal hold" || fail "lock c2: $(cat "$T/lock.json")"
keys() {	# the keys in the bucket
	s3fake_get /__state | python3 -c 'import json,sys
print("\n".join(json.load(sys.stdin)["buckets"]["vault"]["objects"]))'
}
has_manifest() { keys >"$T/keys"; grep -qxF "$(dir "$1")manifest.json" "$T/keys"; }
s3fake_post "/__log?reset"

check "prune --json with two locked copies exits 0" $Z prune --json
python3 - "$T/out" "$c1" "$c2" "$c3" "$c4" <<'PY' || fail "decisions: $(cat "$T/out")"
import json, sys
d = {o["id"]: o for o in json.load(open(sys.argv[1]))}
c1, c2, c3, c4 = sys.argv[2:]
assert d[c4]["action"] == "keep", d[c4]
assert d[c3]["action"] == "remove" and "error" not in d[c3], d[c3]
for c in (c1, c2):
    assert d[c]["action"] == "retained" and d[c]["rules"] == [], d[c]
    assert "error" not in d[c], d[c]
assert d[c1]["reason"].startswith("retained until 20"), d[c1]
assert d[c1]["reason"].endswith("(COMPLIANCE)"), d[c1]
assert d[c2]["reason"] == "retained by a legal hold", d[c2]
PY
ok "json: c1 retained until its date, c2 by its legal hold, c3 removed, c4 kept"
grep -q "^retained sink:vault copy $c1 (retained until 20[0-9-]*T[0-9:.]*Z (COMPLIANCE))$" "$T/err" &&
    ok "text: the retained copy and its date" || fail "text: $(cat "$T/err")"
grep -q "retention: removed 1 copy, kept 1; 2 retained by the sink (Object Lock)$" "$T/err" &&
    ok "the summary counts them apart, no error" || fail "summary: $(cat "$T/err")"
grep -q "FAILED" "$T/err" && fail "a FAILED line: $(cat "$T/err")" || ok "nothing FAILED"
has_manifest "$c1" && has_manifest "$c2" && ok "no locked copy lost its manifest" ||
    fail "keys: $(keys)"
[ "$(keys | grep -c "^$(dir "$c1")\|^$(dir "$c2")")" = 6 ] &&
    ok "the locked copies are whole" || fail "keys: $(keys)"
keys >"$T/keys"; grep -q "^$(dir "$c3")" "$T/keys" && fail "c3 left: $(keys)" || ok "c3 is gone (manifest, data, sidecar)"
has_manifest "$c4" && ok "c4 stays" || fail "c4 gone"

# the order: the manifests first, in one batch; then data and sidecar of c3 only
s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]:
    if e["op"] == "DeleteObjects":
        print(" ".join(sorted(k.rsplit("/", 1)[1] + "@" + k.rsplit("/", 2)[1] for k in e["delete_keys"])))' >"$T/batches"
[ "$(wc -l <"$T/batches")" = 2 ] && ok "two DeleteObjects" || fail "batches: $(cat "$T/batches")"
sed -n 1p "$T/batches" | tr ' ' '\n' | sed 's/@.*//' | sort -u | grep -qvx manifest.json &&
    fail "first batch: $(sed -n 1p "$T/batches")" || ok "the first batch holds only manifests"
[ "$(sed -n 1p "$T/batches" | wc -w)" = 3 ] && ok "the three manifests" ||
    fail "first batch: $(sed -n 1p "$T/batches")"
[ "$(sed -n 2p "$T/batches" | tr ' ' '\n' | sed 's/@.*//' | sort | tr '\n' ' ')" = "data.out data.out.sha256 " ] &&
    ok "then data and sidecar of the one copy whose manifest went" ||
    fail "second batch: $(sed -n 2p "$T/batches")"

# a plain AccessDenied (no permission) is an error, not a retention
s3fake_post "/__fault?op=DeleteObjects&status=403&code=AccessDenied&count=5"
check_fails 1 "prune: DeleteObjects denied (not a lock)" $Z prune
grep -q "^FAILED to remove sink:vault copy $c1: .*AccessDenied\|^FAILED to remove sink:vault copy $c1: .*403" "$T/out" &&
    ok "reported as a failure" || fail "prune: $(cat "$T/out")"
has_manifest "$c1" && ok "and nothing removed" || fail "c1 lost its manifest"
s3fake_post "/__fault?reset"

# three days later c1's retention is over: it goes; c2 is still held
s3fake_post "/__clock?offset_s=259200"
check "prune after c1's date" $Z prune
grep -q "^removed sink:vault copy $c1 (no rule keeps it)$" "$T/out" &&
    ok "c1 removed once its date passed" || fail "prune: $(cat "$T/out")"
grep -q "^retained sink:vault copy $c2 (retained by a legal hold)$" "$T/out" &&
    ok "c2 still retained" || fail "prune: $(cat "$T/out")"
keys >"$T/keys"; grep -q "^$(dir "$c1")" "$T/keys" && fail "c1 left: $(keys)" || ok "c1 is gone"
finish
