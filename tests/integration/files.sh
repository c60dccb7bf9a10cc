#!/bin/bash
# files.sh - the files source end to end through the CLI: a tree with odd
# names (spaces, UTF-8, a leading dash, symlinks, a hard link, empty
# directories, modes, mtimes) round-trips identical; excludes apply; a
# non-empty target is refused; hostile archives planted as valid
# artifacts, one per refusal rule of files_restore.c (absolute name, ..,
# hard links out, a name too long, a member through a symlink), are
# refused with our message and write nothing.
. "$(dirname "$0")/lib.sh"

src="$T/src/tree"
mkdir -p "$src/empty dir" "$src/sub/deeper/deepest" "$src/ünï cødé/日本"
printf 'plain\n' >"$src/plain.txt"
printf 'spaces\n' >"$src/name with  spaces.txt"
printf 'utf8\n' >"$src/ünï cødé/日本/ファイル.txt"
printf 'dash\n' >"$src/-leading-dash"
printf 'tab\n' >"$src/tab	name"
head -c 300000 /dev/urandom >"$src/sub/deeper/blob.bin"
printf 'skip me\n' >"$src/sub/scratch.tmp"
ln -s plain.txt "$src/link-to-plain"
ln -s /nonexistent/target "$src/dangling"
ln "$src/plain.txt" "$src/sub/hardlink.txt"
chmod 0750 "$src/sub"
chmod 0600 "$src/sub/deeper/blob.bin"
chmod 0700 "$src/empty dir"
chmod 0755 "$src/plain.txt"
touch -d '2001-02-03 04:05:06.123456789' "$src/name with  spaces.txt"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

[sink:disk]
plugin = local
path = $T/store

[source:tree]
plugin = files
path = $src
exclude = *.tmp

[job:tree]
source = tree
sinks = disk
INI
Z="$CTL -c $T/zb.ini"

check "run files job" $Z run tree
check "list --json" $Z list --json
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
case "$id" in tree/files@*) ok "artifact id $id" ;; *) fail "artifact id '$id'" ;; esac
manifest=$(ls "$T"/store/tree/files/*/manifest.json)
python3 - "$manifest" <<'PY' || fail "manifest facts"
import json, sys
f = json.load(open(sys.argv[1]))["facts"]
assert f["files"] >= 7 and f["symlinks"] == 2 and f["directories"] >= 6, f
PY
zstd -dc "$(ls "$T"/store/tree/files/*/data.tar.zst)" | tar -tf - >"$T/members"
grep -q '^tree/plain.txt$' "$T/members" && ! grep -q '^/' "$T/members" &&
    ok "members are relative to the source" || fail "members: $(head -3 "$T/members")"
grep -q 'scratch.tmp' "$T/members" && fail "exclude ignored" || ok "exclude applied"

check "verify" $Z verify "$id"
check "restore --to a new directory" $Z restore "$id" --to "$T/restored"
rm "$src/sub/scratch.tmp"	# excluded, so not expected back
if diff -r --no-dereference "$src" "$T/restored/tree" >"$T/diff" 2>&1; then
	ok "restored tree is identical"
else
	fail "restored tree differs: $(head -5 "$T/diff")"
fi
(cd "$src" && find . -printf '%P %m %y %l\n' | sort) >"$T/meta.src"
(cd "$T/restored/tree" && find . -printf '%P %m %y %l\n' | sort) >"$T/meta.dst"
cmp -s "$T/meta.src" "$T/meta.dst" && ok "modes, types and link targets kept" ||
    fail "metadata differs: $(diff "$T/meta.src" "$T/meta.dst" | head -5)"
[ "$(stat -c %Y.%y "$src/name with  spaces.txt")" = "$(stat -c %Y.%y "$T/restored/tree/name with  spaces.txt")" ] &&
    ok "mtime kept to the nanosecond" || fail "mtime differs"
[ "$(stat -c %i "$T/restored/tree/plain.txt")" = "$(stat -c %i "$T/restored/tree/sub/hardlink.txt")" ] &&
    ok "hard link kept" || fail "hard link lost"

check_fails 1 "restore refuses a non-empty target" $Z restore "$id" --to "$T/restored"
ls -A "$T" | grep -q 'zb-restore' && fail "temporary directory left" || ok "no temporary directory left"

# A fresh machine: the backed-up path does not exist, restore still works.
mv "$T/src" "$T/src.away"
check "restore works where the source path is missing" $Z restore "$id" --to "$T/fresh"
diff -r --no-dereference "$T/src.away/tree" "$T/fresh/tree" >/dev/null 2>&1 &&
    ok "fresh-machine restore is identical" || fail "fresh-machine restore differs"
check_fails 1 "a backup of a missing path fails" $Z run tree
grep_err "naming the path" "path $src: No such file or directory"
mv "$T/src.away" "$T/src"

# Hostile archives, one per refusal rule of files_restore.c, each planted
# as a well-formed artifact on the sink (manifest, sidecar, hashes that
# match): a harmless member, then the one hostile member.  The restore
# must fail with our own message naming the member and the rule, write
# nothing outside, and leave no target.
mkdir -m 700 "$T/outside"
long=$(printf 'd%.0s' $(seq 1 200))
long="tree/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/x"
python3 - "$T/evil" "$T/outside" "$long" <<'PY'
import io, os, sys, tarfile
out, outside, long = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out)
def member(name, data=b"evil\n", **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if ti.type == tarfile.REGTYPE:
        ti.size = len(data)
        return ti, io.BytesIO(data)
    return ti, None
cases = {
    # name: the hostile members
    "absolute": [member(outside + "/absolute.txt")],
    "dotdot": [member("../escaped.txt")],
    "inner-dotdot": [member("tree/sub/../../../escaped-inner.txt")],
    "hardlink-absolute": [member("tree/hl", type=tarfile.LNKTYPE,
                                 linkname=outside + "/target.txt")],
    "hardlink-dotdot": [member("tree/hl", type=tarfile.LNKTYPE,
                               linkname="../../outside/target.txt")],
    "long-name": [member(long)],
    "through-symlink": [member("tree/link", type=tarfile.SYMTYPE,
                               linkname=outside),
                        member("tree/link/through.txt")],
}
for name, hostile in cases.items():
    with tarfile.open("%s/%s.tar" % (out, name), "w",
                      format=tarfile.PAX_FORMAT) as t:
        for ti, f in [member("tree/ok.txt")] + hostile:
            t.addfile(ti, f)
PY
printf 'target\n' >"$T/outside/target.txt"

# plant NAME STAMP: $T/evil/NAME.tar as the artifact tree/files@STAMP
plant() {
	local tar=$T/evil/$1.tar edir=$T/store/tree/files/$2 sha size
	mkdir -p "$edir"
	cp "$tar" "$edir/data.tar"
	sha=$(sha256sum <"$tar" | cut -d' ' -f1)
	size=$(stat -c %s "$tar")
	echo "$sha  data.tar" >"$edir/data.tar.sha256"
	python3 - "$manifest" "$edir/manifest.json" "$sha" "$size" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
sha, size, stamp = sys.argv[3], int(sys.argv[4]), sys.argv[5]
m["id"] = "tree/files@" + stamp
m["time"] = stamp
m["data"] = "data.tar"
m["stored"] = {"size": size, "sha256": sha}
m["plaintext"] = {"size": size, "sha256": sha}
m["transforms"]["compression"] = "none"
json.dump(m, open(sys.argv[2], "w"))
PY
}

# hostile NAME DAY MESSAGE: plant, verify, restore must be refused
hostile() {
	local name=$1 stamp=2001-01-${2}T000000Z msg=$3
	plant "$name" "$stamp"
	check "$name: the planted artifact verifies (it is well-formed)" \
	    $Z verify "tree/files@$stamp"
	rm -rf "$T/victim"
	mkdir "$T/victim"
	check_fails 1 "$name: restore refuses the archive" \
	    $Z restore "tree/files@$stamp" --to "$T/victim/out"
	grep_err "$name: with our message" "$msg"
	[ -z "$(ls -A "$T/victim")" ] && ok "$name: no target, no temporary" ||
	    fail "$name: left in victim/: $(ls -A "$T/victim")"
	[ "$(ls -A "$T/outside")" = target.txt ] &&
	    [ "$(cat "$T/outside/target.txt")" = target ] &&
	    [ ! -e "$T/escaped.txt" ] && [ ! -e "$T/escaped-inner.txt" ] &&
	    [ ! -e "$T/victim/escaped.txt" ] &&
	    ok "$name: nothing written outside" ||
	    fail "$name: written outside: $(ls -A "$T/outside" "$T")"
}
q='absolute or with a `\.\.'"'"' component'
hostile absolute 01 "refusing tar member \"$T/outside/absolute.txt\": $q"
hostile dotdot 02 "refusing tar member \"\.\./escaped.txt\": $q"
hostile inner-dotdot 03 "refusing tar member \"tree/sub/\.\./\.\./\.\./escaped-inner.txt\": $q"
hostile hardlink-absolute 04 "refusing tar member \"tree/hl\": hard link to \"$T/outside/target.txt\", $q"
hostile hardlink-dotdot 05 "refusing tar member \"tree/hl\": hard link to \"\.\./\.\./outside/target.txt\", $q"
hostile long-name 06 "refusing tar member \"tree/d[d/]*\.\.\.\": name too long"
hostile through-symlink 07 "cannot restore tree/link/through.txt: .*symlink"
finish
