#!/bin/bash
# rclone_copy.sh - copy jobs from a local tier to an rclone WebDAV tier
# (`rclone serve webdav' on 127.0.0.1, the sink under `prefix = Daily'):
# only what is missing is copied, the stored bytes unchanged; a second run
# writes nothing; the server killed mid-copy leaves no manifest there and
# the next run, once it is back, fills the gap; the copied tier verifies
# and restores alone.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/rclone.sh"
command -v age >/dev/null || { echo "age(1) not installed: skipped"; exit 77; }

# -v: the server logs each request (what the in-place puts save).
rclone_serve webdav "$T/dav" -v || { fail "serve webdav"; finish; exit 1; }
DAV_PID=$RCS_PID DAV_PORT=$RCS_PORT DAV_PASS=$RCS_PASS
(umask 077; printf '[dav]\n%s\n' "$RCS_REMOTE" >"$T/rclone.conf")
$CTL keygen -o "$T/op.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/op.key" >"$T/recipients.txt"
mkdir -p "$T/tree"
head -c 100000 /dev/urandom >"$T/tree/blob.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:local]
plugin = local
path = $T/local

[sink:dav]
plugin = rclone
remote = dav:zentoria
rclone_config = $T/rclone.conf
rclone = $T/rclone-argv
prefix = Daily
timeout = 30s

[source:numbers]
plugin = command
command = seq 1 100000
extension = txt

[source:tree]
plugin = files
path = $T/tree

[source:big]
plugin = command
command = head -c 6000000 /dev/urandom
extension = bin

[job:numbers]
source = numbers
sinks = local

[job:tree]
source = tree
sinks = local

[job:big]
source = big
sinks = local

[job:offsite]
copy_from = local
sinks = dav
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"
# rclone, with each command line written down (the arguments only: the
# credentials are in rclone.conf); a wrapper that runs rclone as its
# child, as some packagings do, so that stopping the rclone rcd must stop
# its whole process group.
printf '#!/bin/bash\nprintf "%%s\\n" "$*" >>"%s"\n/usr/bin/rclone "$@"\n' \
    "$T/argv.log" >"$T/rclone-argv"
chmod 755 "$T/rclone-argv"

check "two numbers backups" $Z run numbers
sleep 1
check "and another" $Z run numbers
check "a tree backup" $Z run tree

check "copy local -> dav" $Z copy --from local --to dav --json
python3 - "$T/out" <<'PY' && ok "three copies copied" || fail "copy --json: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
assert sorted(i["action"] for i in items) == ["copied"] * 3, items
assert all(i["sink"] == "dav" and i["bytes"] > 0 for i in items)
PY
python3 - "$T/local" "$T/dav/zentoria/Daily" <<'PY' && ok "same bytes under the prefix, manifests differ in sink only" || fail "stored copies differ"
import hashlib, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in os.walk(src):
    for f in files:
        p = os.path.join(root, f)
        q = os.path.join(dst, os.path.relpath(p, src))
        if f == "manifest.json":
            a, b = json.load(open(p)), json.load(open(q))
            assert b["sink"]["name"] == "dav", b["sink"]
            a.pop("sink"); b.pop("sink")
            assert a == b
        else:
            h = lambda x: hashlib.sha256(open(x, "rb").read()).hexdigest()
            assert h(p) == h(q), p
        n += 1
assert n == 9, n
PY
# A copy knows each object's size: a big one (over 1 MiB) from an origin
# that keeps no local file goes to rcat with it (--size), so a remote that
# cannot take a stream of unknown size uploads as the bytes come instead
# of spooling the whole object first; from a local origin, rclone copies
# the file itself (operations/copyfile in the rcd).  Small ones (markers,
# sidecars, manifests, these small data objects), the listings, checks,
# moves and deletions are calls to one `rclone rcd' per sink, not
# processes of their own.
# argv_check N [PREFIX RCDS]: the rclone commands since the last check
# were RCDS rcd (default 1; -1: any number), gets (cat), and N rcat of data objects under
# PREFIX (default Daily), each with its exact size.
argv_check() {
	python3 - "$T/argv.log" "$T/dav/zentoria/${2:-Daily}" "$1" "${3:-1}" <<'PY'
import os, re, sys
log, remote, want, rcds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n = rcd = 0
for line in open(log):
    w = line.split()
    if "rcd" in w:
        rcd += 1
        assert "--rc-addr" in w and not any(a.startswith(("--rc-user", "--rc-pass")) for a in w), line
        continue
    if "cat" in w:		# a get (a manifest on the target, read back)
        continue
    assert "rcat" in w, "a process for this: " + line
    tmp = w[w.index("rcat") + 1]
    assert "--size" in w, line
    size = int(w[w.index("--size") + 1])
    rel = tmp.split("zentoria/" + os.path.basename(remote) + "/", 1)[1]
    d, base = os.path.split(rel)
    final = re.fullmatch(r"\.(.*)\.zb-[0-9a-f]{8}", base).group(1)
    assert final.startswith("data.") and size > 1048576, line
    assert os.path.getsize(os.path.join(remote, d, final)) == size, (line, size)
    n += 1
assert n == want and (rcds < 0 or rcd == rcds), (n, rcd)
PY
	local rv=$?
	: >"$T/argv.log"
	return $rv
}
argv_check 0 && ok "small objects: one rclone rcd, no other rclone process" ||
    fail "rclone commands: $(cat "$T/argv.log")"
# Markers and sidecars are put in place (ABI 1.9 put_in_place): no
# temporary and no MOVE for them; data and manifests still go to a
# temporary and are moved into place, one MOVE each.
python3 - "$T/rclone-serve-$DAV_PORT.log" <<'PY' && ok "markers and sidecars in place, data and manifests moved" ||
import re, sys
moves, puts = [], []
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"INFO  : (/\S+): (PUT|MOVE) from", line)
    if m:
        (moves if m.group(2) == "MOVE" else puts).append(m.group(1).rsplit("/", 1)[1])
tmp = re.compile(r"\.(.+)\.zb-[0-9a-f]{8}")
assert len(moves) == 6, moves
assert sorted(tmp.fullmatch(b).group(1).split(".")[0] for b in moves) == ["data"] * 3 + ["manifest"] * 3, moves
assert puts.count("in-progress.json") == 3, puts
assert len([b for b in puts if b.endswith(".sha256")]) == 3, puts
assert not [b for b in puts if tmp.fullmatch(b) and (".sha256." in b or "in-progress" in b)], puts
PY
    fail "requests: $(grep -E ': (PUT|MOVE) from' "$T/rclone-serve-$DAV_PORT.log" | head -20)"
find "$T/dav" -type f -printf '%p %T@ %i\n' | sort >"$T/before"
check "a second copy run" $Z copy --from local --to dav --json
python3 - "$T/out" <<'PY' && ok "everything present, nothing copied" || fail "second run: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
assert sorted(i["action"] for i in items) == ["present"] * 3, items
PY
find "$T/dav" -type f -printf '%p %T@ %i\n' | sort >"$T/after"
cmp -s "$T/before" "$T/after" && ok "no file on the server was rewritten" ||
    fail "rewritten: $(diff "$T/before" "$T/after" | head -5)"

# ---- the server killed mid-copy ---------------------------------------------
check "a big backup to the local tier" $Z run big
sed -i 's|^timeout = 30s|timeout = 30s\nbwlimit = 1M|' "$T/zb.ini"
$Z copy --from local --to dav >"$T/copy.out" 2>"$T/copy.err" &
BG=$!
for i in $(seq 1 150); do
	[ -n "$(find "$T/dav/zentoria/Daily/big" -name '.data.*' 2>/dev/null)" ] && break
	sleep 0.1
done
[ -n "$(find "$T/dav/zentoria/Daily/big" -name '.data.*' 2>/dev/null)" ] &&
    ok "the big copy is under way" || fail "no upload seen"
rclone_stop "$DAV_PID"
wait "$BG"
check_rc "the copy with the server killed" $? 1 "$T/copy.err"
[ -z "$(find "$T/dav/zentoria/Daily/big" -name manifest.json 2>/dev/null)" ] &&
    ok "no manifest of the big copy on the server" || fail "a manifest on the server"
# (a short directory cache: the test ages a file behind the server's back)
RCS_WANT_PORT=$DAV_PORT RCS_WANT_PASS=$DAV_PASS rclone_serve webdav "$T/dav" \
    --dir-cache-time 1s ||
    fail "restart webdav"
sed -i '/^bwlimit = 1M$/d' "$T/zb.ini"
: >"$T/argv.log"
check "the next copy run fills the gap" $CTL -v -c "$T/zb.ini" copy --from local --to dav --json
grep -q "rclone copies the origin's file $T/local/big/" "$T/err" &&
    ok "rclone copied the big object from the local file" ||
    fail "not from the file: $(grep -i 'put .*data' "$T/err" | head -3)"
argv_check 0 && ok "the big data object: no rclone process but the rcd" ||
    fail "rclone commands: $(cat "$T/argv.log")"
python3 - "$T/out" <<'PY' && ok "the big copy copied, the rest present" || fail "gap run: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
acts = sorted((i["id"].split("/")[0], i["action"]) for i in items)
assert acts == [("big", "copied"), ("numbers", "present"), ("numbers", "present"),
                ("tree", "present")], acts
PY

# ---- from the rclone tier to another: a stream of known size ----------------
# An origin that keeps no local file (the WebDAV tier itself): the big
# object's bytes go through rcat, with their exact --size.
cat >>"$T/zb.ini" <<INI

[sink:weekly]
plugin = rclone
remote = dav:zentoria
rclone_config = $T/rclone.conf
rclone = $T/rclone-argv
prefix = Weekly
timeout = 30s
INI
: >"$T/argv.log"
check "copy dav -> weekly" $Z copy --from dav --to weekly --json
python3 - "$T/out" <<'PY' && ok "every copy on dav copied to weekly" || fail "weekly: $(cat "$T/out")"
import json, sys
items = json.load(open(sys.argv[1]))
assert sorted(i["action"] for i in items) == ["copied"] * 4, items
PY
argv_check 1 Weekly -1 && ok "the big data object: one rcat with its exact --size" ||
    fail "rclone commands: $(cat "$T/argv.log")"
# The killed upload's temporary is a pending put: kept within prune's
# grace period (a live run could own it), removed once it is old.
tmp=$(find "$T/dav/zentoria/Daily/big" -name '.data.*')
[ -n "$tmp" ] && ok "the killed upload left its temporary" || fail "no temporary"
check "prune within the grace period" $Z prune
[ -e "$tmp" ] && ok "keeps a fresh temporary" || fail "a fresh temporary was removed"

# ---- the copied tier alone ---------------------------------------------------
sed -e "s|^state_dir = .*|state_dir = $T/state2|" -e '/^\[sink:local\]/,/^$/d' \
    -e '/^\[job:/,$d' "$T/zb.ini" >"$T/alone.ini"
printf '[job:numbers]\nsource = numbers\nsinks = dav\n\n[job:tree]\nsource = tree\nsinks = dav\n\n[job:big]\nsource = big\nsinks = dav\n' >>"$T/alone.ini"
chmod 600 "$T/alone.ini"
ZA="$CTL -c $T/alone.ini"
# The killed copy's temporary, aged: prune (from the tier alone) removes it.
touch -d '3 days ago' "$tmp"
sleep 2
check "prune once the temporary is old" $ZA prune
[ ! -e "$tmp" ] && ok "removes it" || fail "old temporary left: $(cat "$T/out")"
: >"$T/argv.log"
check "list from the copied tier alone" $ZA list --json
# A catalog reads every manifest: through the rclone rcd's --rc-serve,
# not one `rclone cat' process each.
[ "$(grep -c 'rcd' "$T/argv.log")" = 1 ] && ! grep -qw cat "$T/argv.log" &&
    ok "the manifests were read through the one rclone rcd" ||
    fail "rclone commands of the listing: $(cat "$T/argv.log")"
BID=$(python3 -c 'import json,sys; print([o["id"] for o in json.load(open(sys.argv[1])) if o["source"] == "big"][0])' "$T/out")
TID=$(python3 -c 'import json,sys; print([o["id"] for o in json.load(open(sys.argv[1])) if o["source"] == "tree"][0])' "$T/out")
check "verify --deep the big copy there" $ZA verify --deep --identity "$T/op.key" "$BID"
check "restore the tree from the copied tier" $ZA restore "$TID" --identity "$T/op.key" --to "$T/out-tree"
diff -r "$T/tree" "$T/out-tree/tree" >/dev/null && ok "tree identical" || fail "tree differs"
[ -z "$(find "$T/dav" -name '.*')" ] && ok "no temporary left on the server" ||
    fail "temporaries: $(find "$T/dav" -name '.*')"
rcds() { pgrep -f -- "--config $T/rclone.conf .* rcd " || true; }
[ -z "$(rcds)" ] && ok "no rclone rcd outlives the commands that started it" ||
    fail "rclone rcd left: $(rcds)"

# ---- a corrupt object on the origin ---------------------------------------------
# rclone reads the local file while the copy checks the same bytes against
# the manifest: one flipped byte fails the copy, and nothing of it stays on
# the target (the upload is taken back before any commit).
check "a big backup to the local tier, to be corrupted" $Z run big
cdir=$(ls -d "$T"/local/big/output/*/ | sort | tail -1)
cdir=${cdir%/}
cobj=$(ls "$cdir"/data.* | grep -v '\.sha256$')
chmod u+w "$cobj"
python3 - "$cobj" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(3000000)
    b = f.read(1)
    f.seek(3000000)
    f.write(bytes([b[0] ^ 1]))
PY
check_fails 1 "a copy of the corrupted object fails" $CTL -v -c "$T/zb.ini" copy --from local --to dav
grep -q "rclone copies the origin's file" "$T/err" &&
    grep -q "does not match the manifest" "$T/err" &&
    ok "refused by the check, with rclone already copying the file" ||
    fail "corrupt copy: $(grep -iE 'copies|match|error' "$T/err" | head -5)"
crel=${cdir#"$T"/local/}
[ -z "$(find "$T/dav/zentoria/Daily/$crel" \( -name 'manifest.json' -o -name '*data.*' \) 2>/dev/null)" ] &&
    ok "no manifest, data or temporary of it on the target" ||
    fail "left on the target: $(find "$T/dav/zentoria/Daily/$crel" 2>/dev/null)"
rm -rf "$cdir"

# ---- the copying process killed ----------------------------------------------
check "another big backup to the local tier" $Z run big
sed -i 's|^timeout = 30s|timeout = 30s\nbwlimit = 1M|' "$T/zb.ini"
$Z copy --from local --to dav >"$T/copy.out" 2>"$T/copy.err" &
BG=$!
for i in $(seq 1 150); do
	[ -n "$(rcds)" ] && [ -n "$(find "$T/dav/zentoria/Daily/big" -name '.data.*' 2>/dev/null)" ] && break
	sleep 0.1
done
[ -n "$(rcds)" ] && ok "the copy runs an rclone rcd" || fail "no rclone rcd seen"
kill -KILL "$BG"
wait "$BG" 2>/dev/null
for i in $(seq 1 50); do [ -z "$(rcds)" ] && break; sleep 0.1; done
[ -z "$(rcds)" ] && ok "SIGKILL of the copy: its rclone rcd stops too" ||
    fail "rclone rcd left after SIGKILL: $(rcds)"
# The upload was rclone's (copyfile in the rcd): it ends with the rcd,
# the temporary stops growing (1 MB/s while it ran).
ktmp=$(find "$T/dav/zentoria/Daily/big" -name '.data.*' -newer "$T/copy.out" | head -1)
s1=$(stat -c %s "$ktmp" 2>/dev/null)
sleep 1.5
s2=$(stat -c %s "$ktmp" 2>/dev/null)
[ -n "$ktmp" ] && [ -n "$s1" ] && [ "$s1" = "$s2" ] &&
    ok "and its upload stops ($s1 bytes)" ||
    fail "upload after SIGKILL: ${ktmp:-no temporary}: $s1 -> $s2"
[ -z "$(pgrep -f -- "--config $T/rclone.conf .* rcat ")" ] && ok "no rcat left" ||
    fail "rcat left: $(pgrep -af -- "--config $T/rclone.conf .* rcat ")"

# ---- in place, never over an object ----------------------------------------
# A marker or a sidecar written in place still never replaces an object of
# its name (another host's run under the same stamp, say): the put fails,
# the object stays as it was, and no manifest is written.  (A copy job
# removes an earlier copy's leftovers itself first: a run is the case.)
sed -i '/^bwlimit = 1M$/d' "$T/zb.ini"
cat >>"$T/zb.ini" <<INI

[source:side]
plugin = command
command = seq 1 1000
extension = txt

[job:side]
source = side
sinks = dav
INI
# stray_run NAME: a run of job side, with a stray NAME (uploaded through
# the server, which caches directories) under each stamp of the seconds
# to come.
stray_run() {
	local name=$1 now i stamp dir
	now=$(date +%s)
	rm -rf "$T/stray"
	for i in $(seq 3 12); do
		stamp=$(date -u -d "@$((now + i))" +%Y-%m-%dT%H%M%SZ)
		mkdir -p "$T/stray/side/output/$stamp"
		printf 'stray\n' >"$T/stray/side/output/$stamp/$name"
	done
	rclone --config "$T/rclone.conf" copy "$T/stray" dav:zentoria/Daily
	while [ "$(date +%s)" -lt $((now + 3)) ]; do sleep 0.1; done
	check_fails 1 "a run onto a stray $name fails" $CTL -v -c "$T/zb.ini" run side
	grep "exists already" "$T/err" | grep -q "$name" &&
	    ok "refused: $name exists already" ||
	    fail "not refused for $name: $(grep -iE 'error|exists' "$T/err" | head -3)"
	dir=$(grep -o "side/output/20[0-9T-]*Z" "$T/err" | head -1)
	[ -n "$dir" ] && [ "$(cat "$T/dav/zentoria/Daily/$dir/$name")" = stray ] &&
	    [ ! -e "$T/dav/zentoria/Daily/$dir/manifest.json" ] &&
	    ok "the stray $name is as it was, and no manifest" ||
	    fail "after the refused run: $dir: $(ls -la "$T/dav/zentoria/Daily/$dir" 2>&1)"
	rclone --config "$T/rclone.conf" purge dav:zentoria/Daily/side
}
stray_run in-progress.json
stray_run data.txt.zst.age.sha256

finish
