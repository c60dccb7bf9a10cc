#!/bin/bash
# cli.sh - zentoria-backupctl and zentoria-backupd end to end with the
# command source and two local sinks: run, list, verify, restore, the
# sha256sum sidecar, corruption, failures that must leave no manifest.
. "$(dirname "$0")/lib.sh"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

[sink:near]
plugin = local
path = $T/near

[sink:far]
plugin = local
path = $T/far

[source:numbers]
plugin = command
command = seq 1 300000
restore_command = cat > $T/restored-by-command.txt
extension = txt

[source:broken]
plugin = command
command = echo partial output; echo 'it went wrong' >&2; exit 3

[source:empty]
plugin = command
command = true

[job:numbers]
source = numbers
sinks = near, far

[job:broken]
source = broken
sinks = near, far

[job:empty]
source = empty
sinks = near
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"
seq 1 300000 >"$T/expected.txt"

# --help everywhere, usage errors are exit 2
for c in run list verify restore plugins; do
	check "$c --help" $Z $c --help
	grep -q "usage: zentoria-backupctl" "$T/out" || fail "$c --help text"
done
check "--help" $CTL --help
check "daemon --help" $DAEMON --help
check_fails 2 "unknown command is exit 2" $CTL -c "$T/zb.ini" frobnicate
grep_err "and names it" "unknown command 'frobnicate'"
check_fails 2 "restore without ID is exit 2" $Z restore
grep_err "and prints the usage" "zentoria-backupctl .*restore ID"

# --check-config
check "check-config accepts" $DAEMON -c "$T/zb.ini" --check-config
printf '[daemon]\nplugin_dir = %s\n[sink:x]\nplugin = local\npath = /tmp\nbogus = 1\n' \
    "$ZB_TEST_PLUGIN_DIR" >"$T/bad.ini"
check_fails 1 "check-config refuses an unknown key" $DAEMON -c "$T/bad.ini" --check-config
grep_err "the error names file:line and key" "$T/bad.ini:6: \[sink:x\] bogus: unknown key"
printf '[daemon]\nplugin_dir = %s\n[sink:x]\nplugin = local\npath = %s\n' \
    "$ZB_TEST_PLUGIN_DIR" "$T/nojobs" >"$T/nojobs.ini"
check_fails 1 "check-config refuses a configuration without jobs" $DAEMON -c "$T/nojobs.ini" --check-config
grep_err "and says why" "$T/nojobs.ini: no \[job:NAME\] section: the daemon would have nothing to do"
timeout 10 $DAEMON -c "$T/nojobs.ini" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && ok "the daemon does not start without jobs" ||
    fail "the daemon without jobs: exit $rc (1 expected, 124: it ran)"
grep_err "and says why" "$T/nojobs.ini: no \[job:NAME\] section"
: >"$T/empty.ini"
check_fails 1 "check-config refuses an empty file" $DAEMON -c "$T/empty.ini" --check-config
grep_err "and says why" "$T/empty.ini: no \[job:NAME\] section"
check "zentoria-backupctl still lists a configuration without jobs" $CTL -c "$T/nojobs.ini" list

# Control bytes from the config are escaped in every message (\xNN)
printf '[daemon]\nplugin_dir = %s\ncompression = zstd\033[2J\rx\n[job\033]0;pwned\007:j]\nsource = s\n' \
    "$ZB_TEST_PLUGIN_DIR" >"$T/ctrl.ini"
check_fails 1 "a config with control bytes is refused" $DAEMON -c "$T/ctrl.ini" --check-config
grep_err "the value is echoed escaped" "compression: 'zstd\\\\x1b\\[2J\\\\x0dx' is not"
grep_err "the section title too" "\\[job\\\\x1b\\] unknown section kind"
LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$T/err" &&
    fail "raw control bytes on stderr: $(od -c "$T/err" | head)" || ok "no raw control byte on stderr"

# A password inside the postgresql conninfo is an inline secret: refused
# in a config readable by group or others, in both forms (init() only
# parses the conninfo, so no server is needed)
for ci in "host=127.0.0.1 user=zb password = 'pw in conninfo'" \
    "postgresql://zb:pw_in_conninfo@127.0.0.1/postgres"; do
	cat >"$T/pg.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
[source:pg]
plugin = postgresql
conninfo = $ci
[sink:x]
plugin = local
path = $T/pgstore
[job:pg]
source = pg
sinks = x
INI
	chmod 644 "$T/pg.ini"
	check_fails 1 "a password in conninfo is refused in a 0644 config ($ci)" \
	    $DAEMON -c "$T/pg.ini" --check-config
	grep_err "and says why" "$T/pg.ini:5: \[source:pg\] conninfo: refused: a password inside the value"
	grep -q "pw.in.conninfo" "$T/err" && fail "the password is echoed" || ok "without echoing it"
	chmod 600 "$T/pg.ini"
	check "and accepted in a 0600 config" $DAEMON -c "$T/pg.ini" --check-config
done

check "plugins" $Z plugins
grep -q '^local ' "$T/out" && grep -q '^command ' "$T/out" || fail "plugins lists local and command"

# A backup to two sinks
check "run numbers" $Z run numbers
grep -q "job numbers: ok" "$T/out" || fail "run prints the result"
check "list --json" $Z list --json
python3 - "$T/out" <<'PY' || fail "list --json fields"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 2, a
for o in a:
    for k in ("id", "source", "stream", "sink", "time", "size", "sha256"):
        assert k in o, k
    assert o["source"] == "numbers" and o["stream"] == "output"
assert {o["sink"] for o in a} == {"near", "far"}
PY
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
dir=$(ls -d "$T"/near/numbers/output/*/)
(cd "$dir" && sha256sum -c --status data.txt.zst.sha256) &&
    ok "sha256sum -c accepts the sidecar" || fail "sha256sum -c"
zstd -dc "$dir/data.txt.zst" | cmp -s - "$T/expected.txt" &&
    ok "the stored data is a standard zstd file" || fail "zstd -d"
[ "$(stat -c %a "$dir/data.txt.zst")" = 600 ] &&
    [ "$(stat -c %a "$dir")" = 700 ] && ok "modes 0600/0700" || fail "modes"
python3 - "$dir/manifest.json" <<'PY' || fail "manifest contents"
import json, sys
m = json.load(open(sys.argv[1]))
# zstd changes the bytes: its frame checksum covers the plaintext
assert m["format_version"] == 2
assert m["plaintext"] == {"size": 1988895, "check": "zstd"}, m["plaintext"]
assert m["transforms"]["compression"] == "zstd:3"
assert m["source_plugin"]["name"] == "command"
assert m["sink"]["name"] == "near"
PY
ls -A "$dir" | grep -q '^\.' && fail "temporary files left" || ok "no temporary files"

check "verify ID" $Z verify "$id"
[ "$(grep -c '^ok ' "$T/out")" = 2 ] && ok "both copies verified" || fail "verify output"
check "verify --latest --json" $Z verify --latest --json
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert len(a)==2 and all(o["ok"] for o in a)' "$T/out" ||
    fail "verify --json"

check "restore --to FILE" $Z restore "$id" --to "$T/restored.txt"
cmp -s "$T/restored.txt" "$T/expected.txt" && ok "restored file is identical" || fail "restored differs"
check_fails 1 "restore refuses an existing file" $Z restore "$id" --to "$T/restored.txt"
grep_err "and says so" "exists; refusing to overwrite it"
check "restore --force overwrites" $Z restore "$id" --to "$T/restored.txt" --force
check "restore through restore_command" $Z restore "$id"
cmp -s "$T/restored-by-command.txt" "$T/expected.txt" && ok "restore_command got the data" ||
    fail "restore_command output differs"

# Corruption: one byte on the near copy
flip_byte "$dir/data.txt.zst" 1000
check_fails 1 "verify fails on a corrupted byte" $Z verify "$id"
grep -q "^FAILED $id on sink:near" "$T/out" && grep -q "^ok     $id on sink:far" "$T/out" &&
    ok "only the corrupted copy fails" || fail "verify lines: $(cat "$T/out")"
check_fails 1 "restore from the corrupted copy fails" $Z restore "$id" --sink near --to "$T/bad.txt"
[ ! -e "$T/bad.txt" ] && ! ls -A "$T" | grep -q '^\.bad' && ok "nothing written to the target" ||
    fail "a corrupted restore left a file"
check "restore falls back to the good copy" $Z restore "$id" --to "$T/fallback.txt"
cmp -s "$T/fallback.txt" "$T/expected.txt" && ok "fallback is identical" || fail "fallback differs"

# The near tier is gone: the far tier alone is enough
rm -rf "$T/near"
check "list from the far tier alone" $Z list --sink far
check "restore from the far tier alone" $Z restore "$id" --to "$T/far-only.txt"
cmp -s "$T/far-only.txt" "$T/expected.txt" && ok "far-only restore is identical" || fail "far-only differs"

# A manifest over the size limit (MANIFEST_MAX, 1 MiB) is named with the limit
big="numbers/output/29991231T000000Z/manifest.json"
mkdir -p "$(dirname "$T/far/$big")"
{ cat "$(ls "$T"/far/numbers/output/*/manifest.json | head -1)"
  head -c 1100000 /dev/zero | tr '\0' ' '; } >"$T/far/$big"
$Z list --sink far >"$T/out" 2>"$T/err"
grep_err "list names an oversized manifest and the limit" \
    "\[sink:far\] cannot read $big: larger than 1048576 bytes, the limit"
grep -q "^$id " "$T/out" && ok "and still lists the others" || fail "list output: $(cat "$T/out")"
check_fails 1 "verify fails on it" $Z verify --latest --sink far
grep_err "and names it with the limit" "cannot read $big: larger than 1048576 bytes"
rm -rf "$(dirname "$T/far/$big")"

# A failing source: no manifest anywhere, the error is in the log
check_fails 1 "a failing command fails the run" $Z run broken
grep_err "exit status is named" "command exited with status 3 (it went wrong)"
[ -z "$(find "$T/near" "$T/far" -path '*broken*' -type f 2>/dev/null)" ] &&
    ok "no file of the failed stream anywhere" || fail "files left: $(find "$T" -path '*broken*')"
check_fails 1 "empty output fails the run" $Z run empty
grep_err "and says why" "the source produced no data"

# SIGINT while a command is running: aborted, nothing left behind
cat >>"$T/zb.ini" <<INI
[source:slow]
plugin = command
command = echo \$\$ > $T/slow.pid; echo begin; exec sleep 60

[job:slow]
source = slow
sinks = far
INI
$Z run slow >"$T/out" 2>"$T/err" &
pid=$!
sleep 1
kill -INT $pid
start=$(date +%s)
wait $pid
rc=$?
check_rc "SIGINT aborts the run with exit 130" $rc 130 "$T/err"
[ $(( $(date +%s) - start )) -lt 10 ] && ok "SIGINT is quick" ||
    fail "SIGINT took $(( $(date +%s) - start )) s"
grep_err "the abort says why" "interrupted by a signal"
[ -z "$(find "$T/far" -path '*slow*' -type f 2>/dev/null)" ] && ok "an aborted run leaves no file" ||
    fail "aborted run left: $(find "$T/far" -path '*slow*')"
[ -s "$T/slow.pid" ] && ! kill -0 "$(cat "$T/slow.pid")" 2>/dev/null &&
    ok "the command was killed and reaped" || fail "the command is still running"

finish
