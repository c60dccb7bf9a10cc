#!/bin/bash
# old_manifests.sh - copies written by zentoria-backupd 0.1 before the
# worker pool (issue 13: hashing, the codec and age moved onto worker
# threads, one SHA-256 pass when no transform changes the bytes) still
# list, verify and restore byte-identical: tests/old (a short path: the
# dist tarball's v7 tar format drops names over 99 bytes) holds
# a zstd + age artifact (`seq 1 3000', its test identity beside it) and an
# uncompressed one (`seq 1 2000'), made by that version's
# zentoria-backupctl run.
. "$(dirname "$0")/lib.sh"

cp -r "$ZB_SRCDIR/tests/old" "$T/store"
chmod -R u+w "$T/store"
mv "$T/store/test-identity.key" "$T/id.key"
chmod 600 "$T/id.key"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state

[sink:disk]
plugin = local
path = $T/store
INI
Z="$CTL -c $T/zb.ini"

check "list the old copies" $Z list --json
cp "$T/out" "$T/list.json"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/list.json")
[ "$n" = 2 ] && ok "both old copies are listed" || fail "listed $n copies"
check "verify --latest (stored and plaintext size and SHA-256)" \
    $Z verify --latest --identity "$T/id.key"
for id in $(python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(open(sys.argv[1]))))' "$T/list.json"); do
	src=${id%%/*}
	check "restore $id" $Z restore "$id" --to "$T/$src.txt" \
	    --identity "$T/id.key"
done
seq 1 3000 | cmp -s - "$T/numbers.txt" &&
    ok "the zstd + age copy restores to the source's bytes" ||
    fail "numbers.txt differs"
seq 1 2000 | cmp -s - "$T/plain.txt" &&
    ok "the uncompressed copy restores to the source's bytes" ||
    fail "plain.txt differs"

finish
