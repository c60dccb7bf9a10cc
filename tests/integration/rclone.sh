#!/bin/bash
# rclone.sh - the rclone sink on a `local' rclone remote: configuration
# checks named with file:line (rclone_config readable by others, a
# missing rclone binary from --check-config, a connection string, an
# unknown remote, OneDrive's chunk size), an encrypted (age) files round
# trip next to a local sink, list/verify/restore from the rclone tier
# alone with a fresh state directory, no temporary left and none listed,
# inherited RCLONE_* variables ignored, interrupted puts' temporaries
# removed by prune, retention on the rclone tier, the remote's size and
# SHA-256 checked before the commit, rclone's log lines at their level.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/rclone.sh"
command -v age >/dev/null || { echo "age(1) not installed: skipped"; exit 77; }

$CTL keygen -o "$T/op.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/op.key" >"$T/recipients.txt"
mkdir -p "$T/tree/sub"
head -c 300000 /dev/urandom >"$T/tree/sub/blob.bin"
echo "hello" >"$T/tree/a.txt"
(umask 077; printf '[loc]\ntype = local\n' >"$T/rclone.conf")

write_ini() {	# FILE SINKS [EXTRA SINK LINES]
	cat >"$1" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:disk]
plugin = local
path = $T/store

[sink:off]
plugin = rclone
remote = loc:$T/remote/zb
rclone_config = $T/rclone.conf
timeout = 30s
${3:-}

[source:tree]
plugin = files
path = $T/tree

[job:tree]
source = tree
sinks = $2
INI
	chmod 600 "$1"
}
write_ini "$T/zb.ini" "disk, off"
Z="$CTL -c $T/zb.ini"

# ---- configuration checks --------------------------------------------------
check "check-config accepts the rclone sink" $DAEMON -c "$T/zb.ini" --check-config
chmod 644 "$T/rclone.conf"
check_fails 1 "an rclone_config readable by others is refused" $DAEMON -c "$T/zb.ini" --check-config
grep_err "naming file:line, key and mode" "zb.ini:[0-9]*: \[sink:off\] rclone_config: refused: $T/rclone.conf holds the remote's credentials and is accessible by group or others (mode 0644; chmod 600 it)"
chmod 640 "$T/rclone.conf"
check_fails 1 "and one readable by its group" $Z list
chmod 600 "$T/rclone.conf"

write_ini "$T/bin.ini" "off" "rclone = $T/no/such/rclone"
check_fails 1 "a missing rclone binary fails --check-config" $DAEMON -c "$T/bin.ini" --check-config
grep_err "naming file:line and the path" "bin.ini:[0-9]*: \[sink:off\] rclone: $T/no/such/rclone: No such file or directory"
write_ini "$T/bin2.ini" "off" "rclone = rclone-zb-missing"
check_fails 1 "an rclone not in PATH fails --check-config" $DAEMON -c "$T/bin2.ini" --check-config
grep_err "and says so" "bin2.ini:[0-9]*: \[sink:off\] rclone: 'rclone-zb-missing' is not found in PATH"
sed "s|^remote = .*|remote = :sftp,pass=xyz:backups|" "$T/zb.ini" >"$T/cs.ini"
check_fails 1 "a connection string is refused (it would be in argv)" $DAEMON -c "$T/cs.ini" --check-config
grep_err "naming the key" "cs.ini:[0-9]*: \[sink:off\] remote: connection string parameters"
grep -q xyz "$T/err" && fail "the parameter is echoed" || ok "the parameter is not echoed"
sed "s|^remote = .*|remote = nosuch:backups|" "$T/zb.ini" >"$T/nr.ini"
check_fails 1 "a remote missing from rclone_config is refused" $DAEMON -c "$T/nr.ini" --check-config
grep_err "naming it" "nr.ini:[0-9]*: \[sink:off\] remote: remote 'nosuch' is not defined in $T/rclone.conf"
write_ini "$T/cz.ini" "off" "onedrive_chunk_size = 1M"
check_fails 1 "a OneDrive chunk size not a multiple of 320k is refused" $DAEMON -c "$T/cz.ini" --check-config
grep_err "and says why" "onedrive_chunk_size: 1048576 is not a multiple of 320k"
write_ini "$T/cz2.ini" "off" "onedrive_chunk_size = 10M"
check "10M (32 x 320k) is accepted" $DAEMON -c "$T/cz2.ini" --check-config

# ---- the remote's size and SHA-256 are checked before the commit ----------
# Wrappers that make the upload differ from the stream (as a remote that
# truncates or garbles would): the put must fail, leave no manifest and no
# temporary.
printf '#!/bin/bash\nfor a; do [ "$a" = rcat ] && { head -c -1 | /usr/bin/rclone "$@"; exit; }; done\nexec /usr/bin/rclone "$@"\n' >"$T/rclone-short"
printf '#!/bin/bash\nfor a; do [ "$a" = rcat ] && { python3 -c "import sys; d = bytearray(sys.stdin.buffer.read()); d[0] ^= 0xff; sys.stdout.buffer.write(d)" | /usr/bin/rclone "$@"; exit; }; done\nexec /usr/bin/rclone "$@"\n' >"$T/rclone-flip"
chmod 755 "$T/rclone-short" "$T/rclone-flip"
write_ini "$T/short.ini" "disk, off" "rclone = $T/rclone-short"
check_fails 1 "an upload one byte short fails" $CTL -c "$T/short.ini" run tree
grep_err "by its size" "sink:off.*: the remote has [0-9]* bytes, [0-9]* were written"
write_ini "$T/flip.ini" "disk, off" "rclone = $T/rclone-flip"
check_fails 1 "an upload with a changed byte fails" $CTL -c "$T/flip.ini" run tree
grep_err "by its SHA-256 (the local backend has one)" "sink:off.*: the remote's SHA-256 is [0-9a-f]*, [0-9a-f]* was written"
[ -z "$(find "$T/remote" -name manifest.json 2>/dev/null)" ] && ok "no manifest on the remote" ||
    fail "a manifest: $(find "$T/remote" -name manifest.json)"
sleep 1	# deletions of the temporaries run after the run's end
[ -z "$(find "$T/remote" -type f 2>/dev/null)" ] && ok "no temporary left" ||
    fail "left on the remote: $(find "$T/remote" -type f)"
rm -rf "$T/store" "$T/state"

# ---- rclone's log lines at their own level ---------------------------------
# A wrapper that says one line per level on its stderr before each upload.
printf '#!/bin/bash\nfor a; do [ "$a" = rcat ] && printf "%%s\\n" "2026/12/06 18:10:48 ERROR : zb-error-line" "2026/12/06 18:10:48 NOTICE: zb-notice-line" "2026/12/06 18:10:48 INFO  : zb-info-line" "zb-undated-line" >&2; done\nexec /usr/bin/rclone "$@"\n' >"$T/rclone-talk"
chmod 755 "$T/rclone-talk"
write_ini "$T/talk.ini" "off" "rclone = $T/rclone-talk"
check "a backup through a talkative rclone" $CTL -c "$T/talk.ini" run tree
grep_err "ERROR at error level" "^zentoria-backupctl: error: \[sink:off\] rclone put tree/files/[^:]*: zb-error-line$"
grep_err "NOTICE at warning level" "^zentoria-backupctl: warning: \[sink:off\] rclone put tree/files/[^:]*: zb-notice-line$"
grep_err "INFO at info level" "^zentoria-backupctl: info: \[sink:off\] rclone put tree/files/[^:]*: zb-info-line$"
grep_err "a line of a block at its block's level" "^zentoria-backupctl: info: \[sink:off\] rclone put tree/files/[^:]*: zb-undated-line$"
rm -rf "$T/remote" "$T/state"

# ---- round trip next to a local sink ---------------------------------------
# An inherited RCLONE_* variable must not reach rclone: a dry run would
# store nothing, a wrong config file would fail.
check "an encrypted backup to disk and rclone" env RCLONE_DRY_RUN=true RCLONE_CONFIG=/nonexistent $Z run tree
n=$(find "$T/remote/zb/tree" -name manifest.json | wc -l)
[ "$n" = 1 ] && ok "one manifest on the remote" || fail "manifests on the remote: $n"
data=$(find "$T/remote/zb/tree" -name 'data.tar.zst.age')
ddata=$(find "$T/store/tree" -name 'data.tar.zst.age')
[ -n "$data" ] && cmp -s "$data" "$ddata" && ok "the same stored bytes as on disk" ||
    fail "remote data differs"
[ -z "$(find "$T/remote" -name '.*')" ] && ok "no temporary left" || fail "temporaries: $(find "$T/remote" -name '.*')"
check "list shows the copy on both sinks" $Z list
[ "$(grep -c '^tree/files@' "$T/out")" = 2 ] && ok "two copies listed" || fail "list: $(cat "$T/out")"

# ---- the rclone tier alone, a machine that never ran the daemon -----------
sed -e "s|^state_dir = .*|state_dir = $T/state2|" -e "s|^sinks = .*|sinks = off|" \
    -e '/^\[sink:disk\]/,/^$/d' "$T/zb.ini" >"$T/alone.ini"
chmod 600 "$T/alone.ini"
ZA="$CTL -c $T/alone.ini"
check "list from the rclone tier alone" $ZA list --json
id=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a[0]["id"] if len(a) == 1 and a[0]["sink"] == "off" else "")' "$T/out")
[ -n "$id" ] && ok "it finds the copy ($id)" || fail "list --json: $(cat "$T/out")"
check "verify --deep from the rclone tier" $ZA verify --deep --identity "$T/op.key" "$id"
check "restore from the rclone tier" $ZA restore "$id" --identity "$T/op.key" --to "$T/out-tree"
diff -r "$T/tree" "$T/out-tree/tree" >/dev/null && ok "restored tree identical" || fail "restored tree differs"

# A changed byte on the remote is found by verify.
cp "$data" "$T/data.bak"
python3 - "$data" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xFF]))
PY
check_fails 1 "verify finds a changed byte on the remote" $ZA verify "$id"
cp "$T/data.bak" "$data"

# ---- interrupted puts: temporaries ----------------------------------------
dir=$(dirname "$data")
head -c 1000 /dev/urandom >"$dir/.data.tar.zst.age.zb-0badc0de"
touch -d '3 days ago' "$dir/.data.tar.zst.age.zb-0badc0de"
check "list ignores a temporary" $ZA list
[ "$(grep -c '^tree/files@' "$T/out")" = 1 ] && ok "still one copy" || fail "list: $(cat "$T/out")"
check "prune removes an old temporary" $ZA prune
[ ! -e "$dir/.data.tar.zst.age.zb-0badc0de" ] && ok "the temporary is gone" ||
    fail "temporary left: $(cat "$T/out" "$T/err")"
[ -e "$data" ] && ok "the object stays" || fail "prune removed the object"

# ---- retention on the rclone tier -----------------------------------------
sed -i "s|^timeout = 30s|timeout = 30s\nkeep_last = 2|" "$T/alone.ini"
for i in 1 2 3; do
	echo "$i" >"$T/tree/n.txt"
	check "backup $i to the rclone tier" $ZA run tree
	sleep 1
done
check "prune applies keep_last = 2 on the rclone tier" $ZA prune
n=$(find "$T/remote/zb/tree" -name manifest.json | wc -l)
[ "$n" = 2 ] && ok "two copies kept" || fail "manifests left: $n"
n=$(find "$T/remote/zb/tree" -type f | wc -l)
[ "$n" = 6 ] && ok "their data and sidecars only" || fail "files left: $(find "$T/remote/zb" -type f)"
check "the kept copies verify" $ZA verify --latest --source tree

finish
