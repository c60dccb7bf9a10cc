#!/bin/bash
# s3_interop.sh - the s3 sink against an independent server (s3rver from
# npm) with awscli as the independent client: what our sink writes, aws
# lists and downloads, and sha256sum -c accepts the sidecar; restore from
# the S3 tier alone; fan-out with the server killed mid-upload: the local
# copy is committed, the run fails, no manifest lands in the bucket; and
# objects awscli uploads with metadata round-trip through the bucket
# source into another bucket; a copy never replaces another copy's objects
# (data or manifest planted by awscli at the keys a run will use).
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3rver.sh"
trap 's3rver_stop; rm -rf "$T"' EXIT

s3rver_start backups photos restored || exit 1
head -c 13000000 /dev/urandom >"$T/rand.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

[sink:near]
plugin = local
path = $T/near

[sink:minio]
plugin = s3
endpoint = $S3R_URL
bucket = backups
prefix = zentoria
access_key_file = $T/s3r.ak
secret_key_file = $T/s3r.sk
part_size = 5M
retries = 1
timeout = 5s

[source:rand]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:trickle]
plugin = command
command = head -c 6000000 $T/rand.bin; sleep 4; tail -c 6000000 $T/rand.bin
extension = bin

[job:fanout]
source = rand
sinks = near, minio

[source:tiny]
plugin = command
command = seq 1 1000

[job:tiny1]
source = tiny
sinks = near, minio

[job:tiny2]
source = tiny
sinks = near, minio

[job:trickle]
source = trickle
sinks = near, minio

[source:bucket]
plugin = s3
endpoint = $S3R_URL
access_key_file = $T/s3r.ak
secret_key_file = $T/s3r.sk
buckets = photos

[job:bucket]
source = bucket
sinks = near

[source:collide]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:collidem]
plugin = command
command = seq 1 5000

[job:collide]
source = collide
sinks = near, minio

[job:collidem]
source = collidem
sinks = near, minio
INI
chmod 600 "$T/zb.ini"
Z() { "$CTL" -c "$T/zb.ini" "$@"; }

check "fan-out to local and s3rver (multipart)" Z run fanout
check "aws s3 ls sees our objects" s3r_aws s3 ls --recursive s3://backups/zentoria/
for f in data.bin.zst data.bin.zst.sha256 manifest.json; do
	grep -q "zentoria/rand/output/[0-9TZ-]*/$f\$" "$T/out" && ok "aws lists $f" ||
	    fail "aws ls lacks $f: $(cat "$T/out")"
done
check "aws s3 cp downloads them" s3r_aws s3 cp --recursive \
    s3://backups/zentoria/ "$T/dl/"
d=$(ls -d "$T"/dl/rand/output/*/)
(cd "$d" && sha256sum -c data.bin.zst.sha256) >"$T/out" 2>&1 &&
    ok "sha256sum -c accepts the sidecar" || fail "sha256sum: $(cat "$T/out")"
zstd -dc "$d/data.bin.zst" | cmp -s - "$T/rand.bin" &&
    ok "the downloaded data is the source's" || fail "downloaded data differs"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]));
assert m["stored"]["size"] == int(sys.argv[2])' "$d/manifest.json" \
    "$(stat -c %s "$d/data.bin.zst")" && ok "manifest size matches aws's copy" ||
    fail "manifest"

check "list from s3rver" Z list --sink minio --json
ID=$(grep -o '"rand/output@[^"]*"' "$T/out" | head -1 | tr -d '"')
check "verify on s3rver" Z verify "$ID" --sink minio
rm -rf "$T/near"
check "restore from the S3 tier alone" Z restore "$ID" --to "$T/back.bin"
cmp -s "$T/back.bin" "$T/rand.bin" && ok "restored identical" || fail "differs"

# Fan-out, and the S3 server dies in the middle of the upload.
Z run trickle >"$T/trickle.out" 2>"$T/trickle.err" &
RUN=$!
sleep 2		# the first 6 MB (a part) went out; the rest comes at 4 s
s3rver_stop
wait $RUN
rc=$?
check_rc "the run reports the failure (exit 1)" $rc 1 "$T/trickle.err"
grep -q "\[sink:minio\].*Couldn't connect to server" "$T/trickle.err" &&
    ok "the error names the sink and the cause" ||
    fail "error: $(tail -3 "$T/trickle.err")"
grep -q "partial" "$T/trickle.err" && ok "the run is reported partial" ||
    fail "not partial: $(tail -2 "$T/trickle.err")"
ls "$T"/near/trickle/output/*/manifest.json >/dev/null 2>&1 &&
    ok "the local copy is committed" || fail "no local copy"
s3rver_restart || fail "restart s3rver"
s3r_aws s3 ls --recursive s3://backups/zentoria/trickle/ >"$T/out" 2>&1
grep -q manifest.json "$T/out" && fail "a manifest reached the bucket" ||
    ok "no manifest in the bucket"
check "prune after the server is back" Z prune --sink minio --grace 0
check "verify --latest on the S3 tier" Z verify --latest --sink minio

# Objects awscli uploads, with metadata, through the bucket source.
printf 'hello, bucket\n' >"$T/hello.txt"
head -c 7000000 /dev/urandom >"$T/big.jpg"
check "aws put-object with metadata" s3r_aws s3api put-object --bucket photos \
    --key "2026/hello world.txt" --body "$T/hello.txt" \
    --content-type "text/plain; charset=utf-8" --metadata owner=alice,team=ops
check "aws cp a 7 MB object" s3r_aws s3 cp "$T/big.jpg" s3://photos/2026/big.jpg \
    --content-type image/jpeg
check "back up the bucket from s3rver" Z run bucket
check "list it" Z list --source bucket --json
BID=$(grep -o '"bucket/photos@[^"]*"' "$T/out" | head -1 | tr -d '"')
[ -n "$BID" ] && ok "artifact $BID" || fail "no bucket artifact"
check "restore --to another bucket" Z restore "$BID" --to restored
check "aws reads the restored object back" s3r_aws s3api get-object \
    --bucket restored --key "2026/hello world.txt" "$T/hello.back"
cmp -s "$T/hello.txt" "$T/hello.back" && ok "same bytes" || fail "bytes differ"
grep -q '"owner": "alice"' "$T/out" && grep -q '"team": "ops"' "$T/out" &&
    ok "user metadata kept" || fail "metadata: $(cat "$T/out")"
grep -q '"ContentType": "text/plain; charset=utf-8"' "$T/out" &&
    ok "content type kept" || fail "content type: $(cat "$T/out")"
check "aws reads the big one" s3r_aws s3 cp s3://restored/2026/big.jpg "$T/big.back"
cmp -s "$T/big.jpg" "$T/big.back" && ok "7 MB object identical" || fail "big differs"
# Two runs of one source in one second: two copies on s3rver, none replaced.
check "run tiny1 tiny2 (one source, one second)" Z run tiny1 tiny2
stamps=$(sed -n 's/.*\[job:tiny[12]\] run \([^ ]*\) started.*/\1/p' "$T/err" | sort -u)
[ "$(echo "$stamps" | wc -l)" = 2 ] && ok "two distinct ids:" $stamps ||
    fail "stamps: $stamps"
for s in $stamps; do
	check "tiny/output@$s verifies on s3rver" Z verify "tiny/output@$s" --sink minio
done

# No copy replaces another copy's objects: s3rver ignores If-None-Match, so
# the HEAD before each put is what refuses them.  Another copy's data for a
# window of stamps (a multipart-sized stream), and another's manifest.
stamps() {	# the run stamps of the seconds from now-2 to now+30
	local now i
	now=$(date +%s)
	for i in $(seq -2 30); do
		date -u -d "@$((now + i))" +%Y-%m-%dT%H%M%SZ
	done
}
run_stamp() {	# run_stamp JOB: the stamp the last run reported on stderr
	sed -n "s/.*\[job:$1\] run \([0-9TZ-]*\): .*/\1/p" "$T/err" | tail -1
}
plant() {	# plant FILE SOURCE NAME: FILE at SOURCE/output/STAMP/NAME, every stamp
	local s
	rm -rf "$T/plant"
	for s in $(stamps); do
		mkdir -p "$T/plant/zentoria/$2/output/$s"
		cp "$1" "$T/plant/zentoria/$2/output/$s/$3"
	done
	s3r_aws s3 cp --recursive --quiet "$T/plant/" s3://backups/
}
printf 'the data of another copy\n' >"$T/planted"
printf '{"another": "copy"}\n' >"$T/planted.json"
check "aws plants another copy's data" plant "$T/planted" collide data.bin.zst
check_fails 1 "a copy whose data key exists fails" Z run collide
grep_err "the run is partial" '\[job:collide\] run .*: partial'
grep_err "the error names the sink and the key" \
    'sink:minio.* s3://backups/zentoria/collide/output/[0-9TZ-]*/data.bin.zst already exists: refusing to replace another copy'
st=$(run_stamp collide)
s3r_aws s3 cp --quiet "s3://backups/zentoria/collide/output/$st/data.bin.zst" \
    "$T/planted.back" && cmp -s "$T/planted" "$T/planted.back" &&
    ok "the planted object is unchanged" || fail "planted object at '$st' changed"
s3r_aws s3 ls --recursive "s3://backups/zentoria/collide/output/$st/" >"$T/out" 2>&1
grep -q "manifest.json" "$T/out" && fail "a manifest reached the bucket" ||
    ok "no manifest of the run on the S3 sink"
[ -f "$T/near/collide/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"

check "aws plants another copy's manifest" plant "$T/planted.json" collidem manifest.json
check_fails 1 "a copy whose manifest key exists fails" Z run collidem
grep_err "the run is partial" '\[job:collidem\] run .*: partial'
grep_err "the error names the manifest" \
    'sink:minio.* s3://backups/zentoria/collidem/output/[0-9TZ-]*/manifest.json already exists: refusing to replace another copy'
st=$(run_stamp collidem)
s3r_aws s3 cp --quiet "s3://backups/zentoria/collidem/output/$st/manifest.json" \
    "$T/planted.back" && cmp -s "$T/planted.json" "$T/planted.back" &&
    ok "the planted manifest is unchanged" || fail "planted manifest at '$st' changed"
[ -f "$T/near/collidem/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"
finish
