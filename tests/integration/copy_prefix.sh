#!/bin/bash
# copy_prefix.sh - the sinks' core `prefix =': two local sinks on one path
# (Daily, Weekly) reproduce the seed's folders, a copy job fills Weekly
# from Daily, and each sink sees only its own folder (list, verify,
# restore, retention and garbage collection); a sink without a prefix on
# the same path sees neither.  A prefix that is not a folder path is
# refused naming file:line; a plugin that declares its own `prefix'
# (s3: "/zb/tier2/" would be refused by the core) keeps it.
. "$(dirname "$0")/lib.sh"

R=$T/remote
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:daily]
plugin = local
path = $R
prefix = Zentoria/Backups/Daily

[sink:weekly]
plugin = local
path = $R
prefix = Zentoria/Backups/Weekly
keep_last = 1

[sink:plain]
plugin = local
path = $R

[source:a]
plugin = command
command = seq 1 30000
extension = txt

[job:a]
source = a
sinks = daily

[job:weekly]
copy_from = daily
sinks = weekly
INI
Z="$CTL -c $T/zb.ini"

check "backup a" $Z run a
check "backup a again" $Z run a
n=$(find "$R/Zentoria/Backups/Daily/a/output" -name manifest.json | wc -l)
[ "$n" -eq 2 ] && ok "daily's copies are under Zentoria/Backups/Daily/" ||
    fail "daily: $(find "$R")"
[ ! -e "$R/a" ] && ok "nothing outside the prefix" || fail "outside: $(ls "$R")"

# (weekly keeps the last copy: the older one is not copied, its retention
# would remove it at once)
check "the copy job" $Z run weekly
n=$(find "$R/Zentoria/Backups/Weekly/a/output" -name manifest.json | wc -l)
[ "$n" -eq 1 ] && ok "weekly's copy is under Zentoria/Backups/Weekly/" ||
    fail "weekly: $(find "$R")"
newest=$(ls "$R/Zentoria/Backups/Daily/a/output" | sort | tail -1)
[ -e "$R/Zentoria/Backups/Weekly/a/output/$newest/manifest.json" ] &&
    ok "it is daily's newest" || fail "weekly: $(find "$R/Zentoria/Backups/Weekly")"
(cd "$R/Zentoria/Backups/Daily" && find . -name 'data.txt*' -exec sha256sum {} + | sort) >"$T/d.sum"
(cd "$R/Zentoria/Backups/Weekly" && find . -name 'data.txt*' -exec sha256sum {} + | sort) >"$T/w.sum"
[ -s "$T/w.sum" ] && [ -z "$(comm -13 "$T/d.sum" "$T/w.sum")" ] &&
    ok "the same stored bytes and sidecars in both folders" ||
    fail "sums differ: $(diff "$T/d.sum" "$T/w.sum")"

count() {	# count SINK: the copies list shows on SINK
	$Z list --sink "$1" --json >"$T/l.json" 2>"$T/l.err" &&
	    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/l.json"
}
[ "$(count daily)" = 2 ] && [ "$(count weekly)" = 1 ] &&
    [ "$(count plain)" = 0 ] && ok "each sink lists its own folder only" ||
    fail "lists: daily $(count daily) weekly $(count weekly) plain $(count plain)"

check "a second copy run" $Z copy --from daily --to weekly
grep -q "^copied 0 copies .* 1 present, 0 failed; 1 expired" "$T/out" &&
    ok "it finds it present through the prefix" || fail "again: $(cat "$T/out")"

id=$(ls "$R/Zentoria/Backups/Weekly/a/output" | sort | tail -1)
check "verify on weekly" $Z verify "a/output@$id" --sink weekly --deep
check "restore from weekly" $Z restore "a/output@$id" --sink weekly --to "$T/r.txt"
seq 1 30000 | cmp -s - "$T/r.txt" && ok "restored through the prefix" ||
    fail "restored data differs"

# A newer copy: weekly then holds two, one more than it keeps.
check "backup a (3rd)" $Z run a
check "the copy job again" $Z run weekly
n=$(find "$R/Zentoria/Backups/Weekly/a/output" -name manifest.json | wc -l)
[ "$n" -eq 2 ] && ok "weekly got the new copy" || fail "weekly: $(find "$R/Zentoria/Backups/Weekly")"

# Garbage in the daily folder is daily's: plain (no prefix) never sees it.
g="$R/Zentoria/Backups/Daily/a/output/2020-01-01T000000Z"
mkdir -p "$g" && echo junk >"$g/data.txt" && touch -d '2020-01-01' "$g/data.txt"
check "prune plain" $Z prune --sink plain --grace 0
[ -e "$g/data.txt" ] && ok "prune of plain leaves daily's folder alone" ||
    fail "plain removed daily's object"
check "prune weekly" $Z prune --sink weekly --grace 0
[ -e "$g/data.txt" ] && ok "prune of weekly leaves daily's folder alone" ||
    fail "weekly removed daily's object"
n=$(find "$R/Zentoria/Backups/Weekly" -name manifest.json | wc -l)
m=$(find "$R/Zentoria/Backups/Daily" -name manifest.json | wc -l)
[ "$n" -eq 1 ] && [ "$m" -eq 3 ] &&
    ok "weekly's keep_last = 1 pruned weekly only" ||
    fail "after prune: weekly $n, daily $m"
check "prune daily" $Z prune --sink daily --grace 0
[ ! -e "$g" ] && ok "daily's own garbage is daily's to remove" ||
    fail "daily kept its garbage: $(cat "$T/out")"

# A prefix must be a folder path.
for v in /Daily Daily/ 'a//b' ../up .hidden 'a b'; do
	cat >"$T/bad.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state

[sink:x]
plugin = local
path = $R
prefix = $v
INI
	check_fails 1 "prefix '$v' is refused" $DAEMON -c "$T/bad.ini" --check-config
	grep_err "prefix '$v': the message names file:line" "bad.ini:8: \[sink:x\] prefix: '$v' is not a folder path"
done

# s3 declares its own prefix (with its own rules): the core leaves it.
cat >"$T/s3.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state

[sink:s3]
plugin = s3
endpoint = http://127.0.0.1:9
bucket = backups
region = us-east-1
prefix = /zb/tier2/
access_key = AKIAEXAMPLE
secret_key = not-a-real-secret

[source:a]
plugin = command
command = true

[job:a]
source = a
sinks = s3
INI
chmod 600 "$T/s3.ini"
check "s3's own prefix is left to the plugin" $DAEMON -c "$T/s3.ini" --check-config
finish
