#!/bin/bash
# s3_interop.sh - the s3 sink against an independent server (s3rver from
# npm) with awscli as the independent client: what our sink writes, aws
# lists and downloads, and sha256sum -c accepts the sidecar; restore from
# the S3 tier alone; fan-out with the server killed mid-upload: the local
# copy is committed, the run fails, no manifest lands in the bucket; and
# objects awscli uploads with metadata round-trip through the bucket
# source into another bucket.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3rver.sh"
trap 's3rver_stop; rm -rf "$T"' EXIT

s3rver_start backups photos restored || exit 1
head -c 13000000 /dev/urandom >"$T/rand.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
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
finish
