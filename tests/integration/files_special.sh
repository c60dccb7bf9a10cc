#!/bin/bash
# files_special.sh - what a root restore of the files source makes of
# device nodes and set-id bits.  A tree with a character and a block
# device (one hard-linked), a FIFO, a setuid-root file, a setgid file and
# a setgid directory is backed up as a real artifact (the walk records
# them all).  By default its restore skips the device nodes, keeps the
# FIFO and clears every set-id bit, with a warning naming each member;
# with restore_devices = yes and restore_setid = yes in the source's
# section everything comes back.  A planted archive with a hard link to a
# device node: the link is skipped along with the node.
# mknod and chown need root: SKIP (77) otherwise.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "files_special.sh: needs root (mknod, owners): skipped"
	exit 77
fi

src="$T/src/tree"
mkdir -p "$src/shared"
mknod "$src/chardev" c 1 3
mknod "$src/blockdev" b 7 200
ln "$src/chardev" "$src/chardev-link"	# stored as a second node
mkfifo "$src/fifo"
printf '#!/bin/sh\nid\n' >"$src/suid-root"
chown 0:0 "$src/suid-root"
chmod 4755 "$src/suid-root"
printf 'g\n' >"$src/sgid-file"
chmod 2755 "$src/sgid-file"
chmod 2775 "$src/shared"
printf 'in shared\n' >"$src/shared/file"
chmod 0666 "$src/chardev" "$src/blockdev"

ini() {	# ini FILE [extra source keys...]
	local f=$1
	shift
	{
		printf '[daemon]\nplugin_dir = %s\nstate_dir = %s\ncompression = none\n\n' \
		    "$ZB_TEST_PLUGIN_DIR" "$T/state"
		printf '[sink:disk]\nplugin = local\npath = %s\n\n' "$T/store"
		printf '[source:tree]\nplugin = files\npath = %s\n' "$src"
		for kv in "$@"; do printf '%s\n' "$kv"; done
		printf '\n[job:tree]\nsource = tree\nsinks = disk\n'
	} >"$f"
}
ini "$T/zb.ini"
ini "$T/keep.ini" "restore_devices = yes" "restore_setid = yes"
Z="$CTL -c $T/zb.ini"

check "run the files job" $Z run tree
id=$(ls "$T/store/tree/files")
id="tree/files@$id"
tar -tvf "$T"/store/tree/files/*/data.tar >"$T/members"
grep -q '^c.* tree/chardev$' "$T/members" &&
    grep -q '^b.* tree/blockdev$' "$T/members" &&
    grep -q '^-rwsr-xr-x root/root .* tree/suid-root$' "$T/members" &&
    grep -q '^drwxrwsr-x .* tree/shared/$' "$T/members" &&
    ok "the artifact holds the device nodes and set-id modes" ||
    fail "the artifact lacks them: $(cat "$T/members")"

# ---- default: no device nodes, no set-id bits ----
check "restore by default succeeds" $Z restore "$id" --to "$T/def"
d="$T/def/tree"
[ ! -e "$d/chardev" ] && [ ! -e "$d/blockdev" ] && [ ! -e "$d/chardev-link" ] &&
    ok "no device node restored" ||
    fail "device nodes restored: $(ls -l "$d")"
[ -p "$d/fifo" ] && ok "the FIFO is restored" || fail "FIFO missing"
[ "$(stat -c %a "$d/suid-root")" = 755 ] &&
    [ "$(stat -c %a "$d/sgid-file")" = 755 ] &&
    [ "$(stat -c %a "$d/shared")" = 775 ] &&
    ok "set-id bits cleared (files and directory)" ||
    fail "set-id bits kept: $(stat -c '%n %a' "$d/suid-root" "$d/sgid-file" "$d/shared")"
[ "$(cat "$d/suid-root")" = "$(cat "$src/suid-root")" ] &&
    [ "$(cat "$d/shared/file")" = "in shared" ] &&
    ok "the data of the others is restored" || fail "data lost"
grep_err "a warning names the character device" \
    'tree/chardev: character device node not restored (restore_devices = yes'
grep_err "a warning names the block device" \
    'tree/blockdev: block device node not restored'
grep_err "a warning names the other name of it" \
    'tree/chardev-link: character device node not restored'
grep_err "a warning names the setuid file" \
    'tree/suid-root: set-user-ID bit cleared (restore_setid = yes'
grep_err "a warning names the setgid directory" \
    'tree/shared/: set-group-ID bit cleared'
grep_err "and a count" '3 device nodes not restored, set-id bits cleared on 3 members'

# ---- restore_devices = yes, restore_setid = yes ----
check "restore with the options on" $CTL -c "$T/keep.ini" restore "$id" \
    --to "$T/keep"
k="$T/keep/tree"
[ -c "$k/chardev" ] && [ "$(stat -c '%t:%T %a' "$k/chardev")" = "1:3 666" ] &&
    [ -b "$k/blockdev" ] && [ "$(stat -c '%t:%T' "$k/blockdev")" = "7:c8" ] &&
    ok "device nodes restored with their numbers" ||
    fail "device nodes: $(ls -l "$k")"
[ -c "$k/chardev-link" ] && ok "its other name too" || fail "chardev-link"
[ "$(stat -c '%a %u' "$k/suid-root")" = "4755 0" ] &&
    [ "$(stat -c %a "$k/sgid-file")" = 2755 ] &&
    [ "$(stat -c %a "$k/shared")" = 2775 ] &&
    ok "set-id bits kept" ||
    fail "set-id bits: $(stat -c '%n %a' "$k/suid-root" "$k/sgid-file" "$k/shared")"
grep -q 'not restored\|bit cleared' "$T/err" &&
    fail "warnings with the options on: $(cat "$T/err")" ||
    ok "no warning with the options on"

# ---- a planted archive: a hard link to a device node ----
python3 - "$T/planted.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("tree/mem")
    ti.type, ti.devmajor, ti.devminor, ti.mode = tarfile.CHRTYPE, 1, 1, 0o666
    t.addfile(ti)
    ti = tarfile.TarInfo("tree/mem-link")
    ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, "tree/mem", 0o666
    t.addfile(ti)
    data = b"plain\n"
    ti = tarfile.TarInfo("tree/plain")
    ti.size, ti.mode = len(data), 0o4755
    t.addfile(ti, io.BytesIO(data))
PY
stamp=2001-01-01T000000Z
pdir="$T/store/tree/files/$stamp"
mkdir -p "$pdir"
cp "$T/planted.tar" "$pdir/data.tar"
sha=$(sha256sum <"$T/planted.tar" | cut -d' ' -f1)
echo "$sha  data.tar" >"$pdir/data.tar.sha256"
python3 - "$(ls "$T"/store/tree/files/*/manifest.json | head -1)" \
    "$pdir/manifest.json" "$sha" "$(stat -c %s "$T/planted.tar")" "$stamp" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
sha, size, stamp = sys.argv[3], int(sys.argv[4]), sys.argv[5]
m["id"] = "tree/files@" + stamp
m["time"] = stamp
m["stored"] = {"size": size, "sha256": sha}
m["plaintext"] = {"size": size, "sha256": sha}
json.dump(m, open(sys.argv[2], "w"))
PY
check "restore of the planted archive" $Z restore "tree/files@$stamp" \
    --to "$T/planted"
p="$T/planted/tree"
[ ! -e "$p/mem" ] && [ ! -e "$p/mem-link" ] &&
    [ "$(stat -c %a "$p/plain")" = 755 ] &&
    ok "no device node, no link to one, no setuid bit" ||
    fail "planted archive restored: $(ls -l "$p")"
grep_err "the hard link is named" \
    'tree/mem-link: hard link to "tree/mem", which was not restored; skipped'

finish
