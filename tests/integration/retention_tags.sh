#!/bin/bash
# retention_tags.sh - a run's tag (`run --tag NAME', as a schedule line's
# tag=) reaches its manifests' "run" record, `list' (TAG column, --json
# run.tag, absent when none) and retention's keep_<rule>_tag: prune --dry-run --json keeps
# the copies the tag selects, as computed by hand below.  A bad tag is a
# usage error (exit 2) and runs nothing.
. "$(dirname "$0")/lib.sh"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:disk]
plugin = local
path = $T/store

[source:a]
plugin = command
command = seq 1 100

[source:b]
plugin = command
command = seq 1 200

# the two newest "daily" copies
[job:a]
source = a
sinks = disk
keep_last = 2
keep_last_tag = daily

# the newest "daily" copy of each day, and of each hour the newest copy
[job:b]
source = b
sinks = disk
keep_daily = 1
keep_daily_tag = daily
keep_hourly = 1
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

check_fails 2 "run --tag with a blank: a usage error" $Z run --tag "a b" a
grep_err "names the bad tag" "run: --tag 'a b': a tag is 1-31 letters, digits"
check_fails 2 "run --tag of 32 bytes: a usage error" $Z run \
    --tag 0123456789abcdef0123456789abcdef a
check_fails 2 "run --tag '': a usage error" $Z run --tag "" a
check_fails 2 "run --tag ../x: a usage error" $Z run --tag ../x a
[ ! -e "$T/store" ] && ok "a refused run wrote nothing" ||
    fail "a refused run wrote: $(find "$T/store")"

# r1 daily, r2 hourly, r3 daily, r4 hourly, r5 untagged.  Hourly and
# daily periods are those of the clock: should the five runs straddle an
# hour, start again (it cannot happen twice).
runs() {
	rm -rf "$T/store"
	for tag in daily hourly daily hourly ""; do
		check "run ${tag:+--tag $tag }a b" $Z run ${tag:+--tag $tag} a b
	done
}
hours() {
	$Z list --json 2>/dev/null | python3 -c 'import json,sys
print(len({o["id"].split("@")[1][:13] for o in json.load(sys.stdin)}))'
}
runs
[ "$(hours)" = 1 ] || runs
[ "$(hours)" = 1 ] || fail "the runs straddled two hours twice"

# manifests A: a's, oldest first (a stamp sorts before its -NN)
manifests() {
	local f
	for f in "$T"/store/a/output/*/manifest.json; do
		echo "${f%/manifest.json}"
	done | sort | sed 's,$,/manifest.json,'
}
mapfile -t ma < <(manifests)
[ "${#ma[@]}" = 5 ] && ok "five copies of a" || fail "copies of a: ${ma[*]}"
python3 - "${ma[@]}" <<'PY' && ok "manifests: run.tag daily, hourly, daily, hourly, none" ||
import json, sys
tags = [json.load(open(f))["run"].get("tag") for f in sys.argv[1:]]
assert tags == ["daily", "hourly", "daily", "hourly", None], tags
PY
    fail "manifests' tags: $(grep -h '"run"' "${ma[@]}")"

check "list --json" $Z list --json
python3 - "$T/out" <<'PY' && ok "list --json: run.tag of every copy" ||
import json, sys
l = json.load(open(sys.argv[1]))
for src in "a", "b":
    c = sorted((o for o in l if o["source"] == src), key=lambda o: o["id"])
    assert [o["run"].get("tag") for o in c] == \
        ["daily", "hourly", "daily", "hourly", None], c
PY
    fail "list --json tags: $(cat "$T/out")"
check "list" $Z list --source a
head -1 "$T/out" | grep -q "^ID .* SHA256 *TAG *RUN\$" &&
    ok "list: a TAG column before RUN" || fail "list header: $(head -1 "$T/out")"
[ "$(grep -c "^a/output@.* hourly *complete\$" "$T/out")" = 2 ] &&
    [ "$(grep -c "^a/output@.* daily *complete\$" "$T/out")" = 2 ] &&
    [ "$(grep -c "^a/output@.* - *complete\$" "$T/out")" = 1 ] &&
    ok "list: the tag of each copy, - for none" ||
    fail "list rows: $(cat "$T/out")"

check "prune --dry-run --json" $Z prune --dry-run --json
python3 - "$T/out" <<'PY' || fail "tag-selected keeps: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
got = {}
for o in d:
    got.setdefault(o["id"].split("/")[0], []).append(o)
for k in got:
    got[k].sort(key=lambda o: o["id"])    # oldest first: r1 .. r5
def show(src):
    return [(o["action"], o["rules"]) for o in got[src]]
# a: keep_last = 2 counts the "daily" copies only: r3 and r1 (last);
# r5, untagged, survives as the newest; the "hourly" r2 and r4 go
# (keep_last = 2 on time alone would keep r5 and r4).
want_a = [("keep", ["last"]), ("remove", []), ("keep", ["last"]),
          ("remove", []), ("keep", ["newest"])]
# b: keep_daily = 1 counts "daily" copies: r3, the newest of the day;
# keep_hourly = 1 counts every copy: r5, the newest of the hour.
want_b = [("remove", []), ("remove", []), ("keep", ["daily"]),
          ("remove", []), ("keep", ["hourly"])]
assert show("a") == want_a, show("a")
assert show("b") == want_b, show("b")
PY
ok "prune --dry-run --json: the keeps keep_last_tag and keep_daily_tag select"

check "prune" $Z prune
mapfile -t left < <(manifests)
[ "${#left[@]}" = 3 ] && [ "${left[0]}" = "${ma[0]}" ] &&
    [ "${left[1]}" = "${ma[2]}" ] && [ "${left[2]}" = "${ma[4]}" ] &&
    ok "prune removed a's hourly copies" || fail "a after prune: ${left[*]}"
finish
