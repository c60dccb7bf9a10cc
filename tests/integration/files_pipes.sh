#!/bin/bash
# files_pipes.sh - the files source's socketpairs on the host's fd
# adapters (ABI 1.5): a tree larger than any socket buffer round-trips
# through a slow sink (the walk is paused) and back (the extraction keeps
# the writer waiting), and a restore from a corrupt copy is aborted with
# neither the target nor a temporary directory left behind.
. "$(dirname "$0")/lib.sh"

src="$T/src/big"
mkdir -p "$src/a" "$src/b"
head -c 12000000 /dev/urandom >"$src/a/one.bin"
head -c 5000000 /dev/urandom >"$src/b/two.bin"
for i in $(seq 1 200); do printf 'file %d\n' "$i" >"$src/b/f$i.txt"; done

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
max_buffer_mb = 1
chunk_kb = 64

[sink:disk]
plugin = local
path = $T/store

[sink:slow]
plugin = sink_slow
delay_ms = 2

[source:big]
plugin = files
path = $src

[job:big]
source = big
sinks = disk, slow
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

check "back up 17 MB through a slow sink" $Z run big
grep -q "job big: ok" "$T/out" || fail "the run is ok: $(cat "$T/out")"
check "list --json" $Z list --json --sink disk
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
check "restore it" $Z restore "$id" --sink disk --to "$T/restored"
diff -r "$src" "$T/restored/big" >/dev/null && ok "the tree is identical" ||
    fail "the restored tree differs"

data=$(ls "$T"/store/big/files/*/data.tar)
flip_byte "$data" 15000000
check_fails 1 "a restore from a corrupt copy fails" $Z restore "$id" --sink disk --to "$T/bad"
grep_err "on the hash" "does not match the manifest"
[ ! -e "$T/bad" ] && ok "no target" || fail "the target exists"
[ -z "$(ls -d "$T"/bad.zb-restore-* 2>/dev/null)" ] && ok "no temporary directory" ||
    fail "left: $(ls -d "$T"/bad.zb-restore-*)"
finish
