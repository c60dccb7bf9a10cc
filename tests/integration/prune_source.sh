#!/bin/bash
# prune_source.sh - the prune service as the daemon calls it after a run
# ({sink, source, retention = 1, gc = 0}, through tests/tools/prune_call):
# only that source's copies on that sink are decided and removed; the
# other source on the same sink, the same source on another sink, and
# garbage (no collection asked) are left alone.  Then the same call with
# collection removes the garbage (so the first one could have).
. "$(dirname "$0")/lib.sh"

PC="$ZB_BUILDDIR/tests/tools/prune_call"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:one]
plugin = local
path = $T/one
keep_last = 1

[sink:two]
plugin = local
path = $T/two
keep_last = 1

[source:a]
plugin = command
command = seq 1 100

[source:b]
plugin = command
command = seq 1 200

[job:a]
source = a
sinks = one, two

[job:b]
source = b
sinks = one, two
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

for i in 1 2 3; do
	check "run a b ($i)" $Z run a b
done
manifests() { find "$T/$1/$2" -name manifest.json | wc -l; }
for s in one two; do for src in a b; do
	[ "$(manifests $s $src)" = 3 ] || fail "sink $s source $src: $(manifests $s $src) copies"
done; done
# garbage of source a on sink one: a directory without manifest, old
g="$T/one/a/output/2020-01-01T000000Z"
mkdir -p "$g" && echo leftover >"$g/data.out" && touch -d 2020-01-01 "$g/data.out"

check "the daemon's call: sink one, source a, retention only" \
    "$PC" -c "$T/zb.ini" -k one -s a -r
grep -q "^result removed=2 kept=1 retained=0 errors=0 sinks=1 gc_removed=0 gc_kept=0$" "$T/out" &&
    ok "two copies removed, one kept, on one sink" || fail "result: $(cat "$T/out")"
[ "$(grep -c '^\(keep\|remove\) ' "$T/out")" = 3 ] &&
    ! grep -v '^result ' "$T/out" | grep -qv '^\(keep\|remove\) one copy a/' &&
    ok "every decision is about source a on sink one" || fail "decisions: $(cat "$T/out")"
[ "$(manifests one a)" = 1 ] && ok "sink one keeps one copy of a" ||
    fail "sink one, a: $(manifests one a) copies"
[ "$(manifests one b)" = 3 ] && ok "source b on the same sink is untouched" ||
    fail "sink one, b: $(manifests one b) copies"
[ "$(manifests two a)" = 3 ] && [ "$(manifests two b)" = 3 ] &&
    ok "sink two is untouched" || fail "sink two: $(manifests two a) $(manifests two b)"
[ "$(find "$T/one/a" -type f | wc -l)" = 4 ] &&
    ok "the removed copies' data and sidecars are gone too" ||
    fail "files left: $(find "$T/one/a" -type f)"
[ -e "$g/data.out" ] && ok "no garbage collection was asked: the leftover stays" ||
    fail "the leftover was removed"

check "the same call with garbage collection" "$PC" -c "$T/zb.ini" -k one -s a -r -g -G 0
[ ! -e "$g/data.out" ] && ok "with -g the leftover goes" || fail "leftover still there: $(cat "$T/out")"
grep -q "^remove one object a/output/2020-01-01T000000Z/data.out$" "$T/out" &&
    ok "and is reported" || fail "report: $(cat "$T/out")"
[ "$(manifests one b)" = 3 ] && ok "source b still untouched" || fail "b: $(manifests one b)"
finish
