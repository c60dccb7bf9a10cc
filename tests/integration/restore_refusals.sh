#!/bin/bash
# restore_refusals.sh - the files plugin refuses each kind of hostile tar
# member on its own, with its own message: a `..' component, an absolute
# name, a hard link to an absolute or `..' name.  Each archive is planted
# as a well-formed artifact (it verifies) holding one hostile member
# after a harmless one, so the refusal is the plugin's check and not
# libarchive's, and nothing is written outside the target, nor the target.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/src/tree"
echo ok >"$T/src/tree/ok.txt"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:disk]
plugin = local
path = $T/store

[source:tree]
plugin = files
path = $T/src/tree

[job:tree]
source = tree
sinks = disk
INI
Z="$CTL -c $T/zb.ini"
check "backup" $Z run tree
manifest=$(ls "$T"/store/tree/files/*/manifest.json)

# plant STAMP KIND NAME [LINKTARGET]: an artifact whose tar holds
# tree/ok.txt and then one member NAME (a file, or a hard link).
plant() {
	local stamp=$1 edir="$T/store/tree/files/$1"
	mkdir -p "$edir"
	python3 - "$edir/data.tar" "$2" "$3" "${4:-}" <<'PY'
import io, sys, tarfile
path, kind, name, target = sys.argv[1:5]
with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
    data = b"ok\n"
    ti = tarfile.TarInfo("tree/ok.txt")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo(name)
    if kind == "link":
        ti.type = tarfile.LNKTYPE
        ti.linkname = target
        t.addfile(ti)
    else:
        data = b"evil\n"
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
	python3 - "$manifest" "$edir" "$stamp" <<'PY'
import hashlib, json, os, sys
src, edir, stamp = sys.argv[1:4]
raw = open(os.path.join(edir, "data.tar"), "rb").read()
sha = hashlib.sha256(raw).hexdigest()
m = json.load(open(src))
m["id"] = "tree/files@" + stamp
m["time"] = stamp
m["data"] = "data.tar"
m["stored"] = {"size": len(raw), "sha256": sha}
m["plaintext"] = {"size": len(raw), "sha256": sha}
m["transforms"]["compression"] = "none"
json.dump(m, open(os.path.join(edir, "manifest.json"), "w"))
open(os.path.join(edir, "data.tar.sha256"), "w").write(sha + "  data.tar\n")
PY
}

# refused WHAT STAMP MESSAGE: the planted artifact verifies, its restore
# fails with MESSAGE, and leaves no target
refused() {
	local what=$1 id="tree/files@$2"
	check "$what: the planted artifact verifies" $Z verify "$id"
	check_fails 1 "$what: restore refuses it" $Z restore "$id" --to "$T/victim/$2"
	grep_err "$what: with the plugin's message" "$3"
	[ ! -e "$T/victim/$2" ] && ok "$what: no target created" ||
	    fail "$what: $T/victim/$2 exists"
}

mkdir -p "$T/victim"
abs="$T/absolute-escape.txt"

plant 2001-01-01T000001Z file "../escaped.txt"
refused "a .. member" 2001-01-01T000001Z \
    'refusing tar member "../escaped.txt": absolute or with a `..'"'"' component'
plant 2001-01-01T000002Z file "tree/../../escaped2.txt"
refused "an inner .. component" 2001-01-01T000002Z \
    'refusing tar member "tree/../../escaped2.txt": absolute'
plant 2001-01-01T000003Z file "$abs"
refused "an absolute member" 2001-01-01T000003Z \
    "refusing tar member \"$abs\": absolute or with a"
plant 2001-01-01T000004Z link "tree/hl" "$abs"
refused "a hard link to an absolute name" 2001-01-01T000004Z \
    "refusing tar member \"tree/hl\": hard link to \"$abs\""
plant 2001-01-01T000005Z link "tree/hl" "../outside"
refused "a hard link to a .. name" 2001-01-01T000005Z \
    'refusing tar member "tree/hl": hard link to "../outside"'

[ ! -e "$T/escaped.txt" ] && [ ! -e "$T/victim/escaped.txt" ] &&
    [ ! -e "$T/escaped2.txt" ] && [ ! -e "$abs" ] &&
    ok "nothing written outside the targets" || fail "a hostile member escaped"

finish
