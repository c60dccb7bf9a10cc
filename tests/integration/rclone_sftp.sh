#!/bin/bash
# rclone_sftp.sh - the rclone sink against `rclone serve sftp' on
# 127.0.0.1 (user and password; the password obscured in a 0600
# rclone.conf): files and command sources with age beside a local sink,
# list/verify/restore from the SFTP tier alone, retention there, and the
# password in no rclone argv or environment.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/rclone.sh"
command -v age >/dev/null || { echo "age(1) not installed: skipped"; exit 77; }
. "$ZB_SRCDIR/tests/lib/procwatch.sh"

rclone_serve sftp "$T/sftp" || { fail "serve sftp"; finish; exit 1; }
OBSCURED=$(sed -n 's/^pass = //p' <<<"$RCS_REMOTE")
(umask 077; printf '[sf]\n%s\n' "$RCS_REMOTE" >"$T/rclone.conf")
SECRET_FILES="$T/rclone.conf"

$CTL keygen -o "$T/op.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/op.key" >"$T/recipients.txt"
mkdir -p "$T/tree/x"
head -c 400000 /dev/urandom >"$T/tree/x/blob.bin"
echo "sftp" >"$T/tree/y.txt"
seq 1 300000 >"$T/expected.txt"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:disk]
plugin = local
path = $T/store

[sink:sf]
plugin = rclone
remote = sf:offsite
rclone_config = $T/rclone.conf
timeout = 30s
max_uploads = 1
keep_last = 2

[source:tree]
plugin = files
path = $T/tree

[source:numbers]
plugin = command
command = seq 1 300000
extension = txt

[job:tree]
source = tree
sinks = disk, sf

[job:numbers]
source = numbers
sinks = disk, sf
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

procwatch_start "$OBSCURED"
check "files and command to disk and sftp (one upload at a time)" $Z run tree numbers
procwatch_stop
procwatch_check "no rclone argv or environment holds the password" rclone
n=$(find "$T/sftp/offsite" -name manifest.json | wc -l)
[ "$n" = 2 ] && ok "two manifests on the sftp server" || fail "manifests: $n"
[ -z "$(find "$T/sftp" -name '.*')" ] && ok "no temporary left" || fail "temporaries left"

sed -e "s|^state_dir = .*|state_dir = $T/state2|" -e 's|^sinks = .*|sinks = sf|' \
    -e '/^\[sink:disk\]/,/^$/d' "$T/zb.ini" >"$T/alone.ini"
chmod 600 "$T/alone.ini"
ZA="$CTL -c $T/alone.ini"
check "list from the sftp tier alone" $ZA list --json
ids() { python3 -c 'import json,sys; print(" ".join(o["id"] for o in json.load(open(sys.argv[1])) if o["source"] == sys.argv[2]))' "$T/out" "$1"; }
TID=$(ids tree); NID=$(ids numbers)
[ -n "$TID" ] && [ -n "$NID" ] && ok "both copies listed" || fail "list: $(cat "$T/out")"
check "verify --deep the tree" $ZA verify --deep --identity "$T/op.key" "$TID"
check "restore the tree from sftp" $ZA restore "$TID" --identity "$T/op.key" --to "$T/out-tree"
diff -r "$T/tree" "$T/out-tree/tree" >/dev/null && ok "tree identical" || fail "tree differs"
check "restore the numbers from sftp" $ZA restore "$NID" --identity "$T/op.key" --to "$T/out.txt"
cmp -s "$T/out.txt" "$T/expected.txt" && ok "numbers identical" || fail "numbers differ"

for i in 1 2; do
	sleep 1
	check "another backup $i to sftp" $ZA run numbers
done
check "prune applies keep_last = 2 on the sftp tier" $ZA prune
n=$(find "$T/sftp/offsite/numbers" -name manifest.json | wc -l)
[ "$n" = 2 ] && ok "two copies of numbers kept" || fail "numbers manifests: $n"
n=$(find "$T/sftp/offsite/tree" -name manifest.json | wc -l)
[ "$n" = 1 ] && ok "the tree's only copy kept" || fail "tree manifests: $n"

finish
