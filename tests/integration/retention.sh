#!/bin/bash
# retention.sh - keep_* on the local sink through `prune': every committed
# copy printed with keep or remove and the rules that kept it (text and
# --json), removal of the rest (manifest, data, sidecar), a job's keys
# overriding the sink's for its source, the newest copy always kept, and
# bad values named with file:line.
. "$(dirname "$0")/lib.sh"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:disk]
plugin = local
path = $T/store
keep_last = 2

[source:a]
plugin = command
command = seq 1 100

[source:b]
plugin = command
command = seq 1 200

[job:a]
source = a
sinks = disk

[job:b]
source = b
sinks = disk
keep_last = 1
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

for i in 1 2 3 4; do
	check "run a b ($i)" $Z run a b
done
ids_of() {	# the ids of source $1 in the listing, oldest first
	$Z list --json | python3 -c 'import json,sys
print("\n".join(sorted(o["id"] for o in json.load(sys.stdin) if o["source"] == sys.argv[1])))' "$1"
}
ids_of a >"$T/a.before"
ids_of b >"$T/b.before"
[ "$(wc -l <"$T/a.before")" = 4 ] && [ "$(wc -l <"$T/b.before")" = 4 ] &&
    ok "four copies of each source" || fail "copies: $(cat "$T/a.before" "$T/b.before")"

check "prune --dry-run --json" $Z prune --dry-run --json
python3 - "$T/out" "$T/a.before" "$T/b.before" <<'PY' || fail "dry run decisions: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
a = open(sys.argv[2]).read().split()
b = open(sys.argv[3]).read().split()
got = {o["id"]: o for o in d}
assert set(got) == set(a) | set(b), got.keys()
for o in d:
    assert o["sink"] == "disk" and o["action"] in ("keep", "remove"), o
# sink's keep_last = 2 for a: the two newest
assert [got[i]["action"] for i in a] == ["remove", "remove", "keep", "keep"], a
assert got[a[3]]["rules"] == ["last"] and got[a[2]]["rules"] == ["last"]
assert got[a[0]]["rules"] == []
# job b's keep_last = 1 overrides the sink's
assert [got[i]["action"] for i in b] == ["remove", "remove", "remove", "keep"], b
PY
ok "the dry run decides by the policy (the job's keys override the sink's)"
grep -q "retention: would remove 5 copies, kept 3" "$T/err" &&
    ok "the summary counts the decisions" || fail "summary: $(cat "$T/err")"
[ "$(find "$T/store" -name manifest.json | wc -l)" = 8 ] &&
    ok "the dry run removed nothing" || fail "the dry run removed something"

check "prune" $Z prune
grep -q "^keep sink:disk copy $(tail -1 "$T/a.before") (last)$" "$T/out" &&
    ok "text: a kept copy and its rule" || fail "prune output: $(cat "$T/out")"
grep -q "^removed sink:disk copy $(head -1 "$T/a.before") (no rule keeps it)$" "$T/out" &&
    ok "text: a removed copy" || fail "prune output: $(cat "$T/out")"
ids_of a >"$T/a.after"
ids_of b >"$T/b.after"
tail -2 "$T/a.before" | cmp -s - "$T/a.after" && ok "a: the two newest are left" ||
    fail "a after: $(cat "$T/a.after")"
tail -1 "$T/b.before" | cmp -s - "$T/b.after" && ok "b: the newest is left" ||
    fail "b after: $(cat "$T/b.after")"
[ "$(find "$T/store" -type f | wc -l)" = 9 ] &&
    ok "manifest, data and sidecar of removed copies are gone" ||
    fail "files left: $(find "$T/store" -type f)"
check "what is left verifies" $Z verify --latest

# keep_last = 0: the newest copy survives anyway
sed -i 's/^keep_last = 1$/keep_last = 0/' "$T/zb.ini"
check "prune with keep_last = 0" $Z prune --json
python3 -c 'import json,sys
d = [o for o in json.load(open(sys.argv[1])) if o["id"].startswith("b/")]
assert len(d) == 1 and d[0]["action"] == "keep" and d[0]["rules"] == ["newest"], d' "$T/out" &&
    ok "the newest copy always survives" || fail "keep_last = 0: $(cat "$T/out")"

# a bad value is named with file:line
sed -i 's/^keep_last = 0$/keep_last = -3/' "$T/zb.ini"
$DAEMON -c "$T/zb.ini" --check-config >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && ok "check-config refuses keep_last = -3 (exit 1)" || fail "exit $rc"
grep_err "the error names file:line and the key" \
    "$T/zb.ini:26: \[job:b\] keep_last: '-3' is not a whole number"
finish
