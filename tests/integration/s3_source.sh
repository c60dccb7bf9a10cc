#!/bin/bash
# s3_source.sh - the s3 plugin as a source (bucket -> tar stream) and its
# restore, against the strict S3 fake (every request's SigV4 checked by
# botocore): keys with spaces, '+', UTF-8, a folder marker, an empty and
# a 7 MB object, content types and user metadata as pax xattrs, facts,
# pagination, restore into an empty bucket (compared object by object),
# refusal to overwrite without --force, --to FILE, pause/resume under a
# slow sink, a failing GET (no manifest), buckets = all (ListBuckets).
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3fake.sh"
trap 's3fake_stop; rm -rf "$T"' EXIT

AWS=$(command -v aws || true)
[ -x /usr/bin/aws ] && AWS=/usr/bin/aws
[ -n "$AWS" ] || { echo "aws CLI missing: skipped"; exit 77; }

s3fake_start --buckets src,restore-target,other --page-size 3 || exit 1
export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
A() { "$AWS" --endpoint-url "$S3_URL" "$@"; }
state() {	# python expression over the fake's /__state as d
	s3fake_get /__state | python3 -c "import json,sys
d = json.load(sys.stdin)
print($1)"
}

# ---- the bucket -------------------------------------------------------------
printf 'hello, s3\n' >"$T/small.txt"
head -c 7000000 /dev/urandom >"$T/big.bin"
: >"$T/empty"
put() { A s3api put-object --bucket src "$@" >/dev/null || fail "put-object $*"; }
put --key 'dir/a b+c.txt' --body "$T/small.txt" --content-type text/plain \
    --metadata owner=alice,team=ops
put --key 'ünï/çødé €.txt' --body "$T/small.txt" --content-type 'text/plain; charset=utf-8'
put --key 'big/blob.bin' --body "$T/big.bin" --content-type application/octet-stream \
    --metadata sha=big
put --key 'empty' --body "$T/empty"
put --key 'x/' --body "$T/empty" --content-type application/x-directory
put --key 'keep/one' --body "$T/small.txt"
put --key 'keep/two' --body "$T/small.txt" --metadata n=2
A s3api put-object --bucket other --key o.txt --body "$T/small.txt" >/dev/null
NOBJ=7
NBYTES=$((10 * 4 + 7000000))

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:near]
plugin = local
path = $T/near

[sink:slow]
plugin = sink_slow
delay_ms = 20

[source:minio]
plugin = s3
endpoint = $S3_URL
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
buckets = src
retries = 2
timeout = 10s

[source:keep]
plugin = s3
endpoint = $S3_URL
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
buckets = src
prefix = keep/

[source:every]
plugin = s3
endpoint = $S3_URL
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
buckets = all

[job:minio]
source = minio
sinks = near

[job:keep]
source = keep
sinks = near

[job:every]
source = every
sinks = near

[job:slow]
source = minio
sinks = near, slow
INI
chmod 600 "$T/zb.ini"
Z() { "$CTL" -c "$T/zb.ini" "$@"; }

check "plugins lists s3" Z plugins
cat >"$T/bad.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
[source:bad]
plugin = s3
endpoint = $S3_URL
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
buckets = src, Not_A_Bucket
INI
chmod 600 "$T/bad.ini"
check_fails 1 "a bad bucket name is a configuration error" "$CTL" -c "$T/bad.ini" list
grep_err "names the bucket" 'Not_A_Bucket: not a bucket name'

# ---- backup -----------------------------------------------------------------------
s3fake_post "/__log?reset"
check "run minio (bucket src)" Z run minio
s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]: print(e["op"], e["status"], e["error"] or "-")' >"$T/ops"
grep -q " 403 " "$T/ops" && fail "a request was refused: $(grep ' 403 ' "$T/ops")" ||
    ok "every request's SigV4 accepted by botocore"
[ "$(grep -c '^ListObjectsV2 200' "$T/ops")" = 3 ] && ok "listing paginated (3 pages of 3)" ||
    fail "listing pages: $(grep -c ListObjectsV2 "$T/ops")"
[ "$(grep -c '^GetObject 200' "$T/ops")" = $NOBJ ] && ok "one GET per object" ||
    fail "GETs: $(grep GetObject "$T/ops")"
M=$(find "$T/near/minio/src" -name manifest.json | head -1)
fact() { python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["facts"]
for k in sys.argv[2:]: m = m[k]
print(m)' "$@"; }
[ "$(fact "$M" objects)" = $NOBJ ] && ok "fact objects = $NOBJ" || fail "objects: $(fact "$M" objects)"
[ "$(fact "$M" bytes)" = $NBYTES ] && ok "fact bytes = $NBYTES" || fail "bytes: $(fact "$M" bytes)"
[ "$(fact "$M" bucket)" = src ] && ok "fact bucket = src" || fail "bucket fact"
TAR=$(find "$T/near/minio/src" -name data.tar | head -1)
[ -f "$TAR" ] && ok "data.tar stored" || fail "no data.tar: $(find "$T/near")"
python3 - "$TAR" "$T/big.bin" >"$T/tarcheck" 2>&1 <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = {i.name: i for i in t}
def x(n, k): return m[n].pax_headers.get('SCHILY.xattr.user.s3.' + k)
assert set(m) == {'dir/a b+c.txt', 'ünï/çødé €.txt', 'big/blob.bin', 'empty',
                  'x', 'keep/one', 'keep/two'}, sorted(m)
assert x('dir/a b+c.txt', 'content-type') == 'text/plain'
assert x('dir/a b+c.txt', 'meta.owner') == 'alice'
assert x('dir/a b+c.txt', 'meta.team') == 'ops'
assert x('ünï/çødé €.txt', 'content-type') == 'text/plain; charset=utf-8'
assert m['x'].isdir() and m['empty'].size == 0
assert t.extractfile('big/blob.bin').read() == open(sys.argv[2], 'rb').read()
assert t.extractfile('dir/a b+c.txt').read() == b'hello, s3\n'
print('tar ok')
PY
grep -q "tar ok" "$T/tarcheck" && ok "tar: keys, data, content types and metadata as pax xattrs" ||
    fail "tar check: $(cat "$T/tarcheck")"
if command -v bsdtar >/dev/null; then
	bsdtar -tvf "$TAR" >"$T/bsdtar" 2>&1 && grep -q 'big/blob.bin' "$T/bsdtar" &&
	    ok "bsdtar lists it" || fail "bsdtar: $(cat "$T/bsdtar")"
fi
ID=$(Z list --json | grep -o '"minio/src@[^"]*"' | head -1 | tr -d '"')
[ -n "$ID" ] && ok "artifact $ID" || fail "no artifact"

check "prefix: only keys under keep/" Z run keep
M2=$(find "$T/near/keep/src" -name manifest.json | head -1)
[ "$(fact "$M2" objects)" = 2 ] && [ "$(fact "$M2" prefix)" = keep/ ] &&
    ok "prefix facts" || fail "prefix facts: $(cat "$M2")"

# ---- restore ---------------------------------------------------------------------
s3fake_post "/__log?reset"
check "restore --to restore-target (empty)" Z restore "$ID" --to restore-target
python3 - "$S3_URL" >"$T/cmp" 2>&1 <<'PY'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + '/__state'))['buckets']
a, b = d['src']['objects'], d['restore-target']['objects']
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in a:
    for f in ('size', 'etag', 'content_type', 'meta'):
        assert a[k][f] == b[k][f], (k, f, a[k][f], b[k][f])
print('same')
PY
grep -q same "$T/cmp" && ok "every object restored: bytes (ETag), content type, metadata" ||
    fail "restore differs: $(cat "$T/cmp")"
A s3api head-object --bucket restore-target --key 'dir/a b+c.txt' >"$T/head" &&
    grep -q '"owner": "alice"' "$T/head" && grep -q '"ContentType": "text/plain"' "$T/head" &&
    ok "aws head-object shows metadata and content type" || fail "head-object: $(cat "$T/head")"
A s3api get-object --bucket restore-target --key big/blob.bin "$T/big.back" >/dev/null &&
    cmp -s "$T/big.bin" "$T/big.back" && ok "aws get-object: 7 MB object identical" ||
    fail "big object differs"
s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]:
    if e["op"] == "PutObject": print(e["content_md5"] or "-")' >"$T/md5s"
[ "$(grep -c '^-$' "$T/md5s")" = 0 ] && [ "$(wc -l <"$T/md5s")" = $NOBJ ] &&
    ok "every PUT carries Content-MD5" || fail "PUTs: $(cat "$T/md5s")"

n_before=$(state 'len(d["buckets"]["restore-target"]["objects"])')
s3fake_post "/__log?reset"
check_fails 1 "restore into a bucket holding the keys, without --force" \
    Z restore "$ID" --to restore-target
grep_err "refusal names the key and --force" 'exists; refusing to overwrite objects (use --force)'
s3fake_get /__log | grep -q '"PutObject"' && fail "a PUT was made despite the refusal" ||
    ok "nothing written when refused"
s3fake_post "/__fault?op=PutObject&match=blob&status=503"
check "restore --force into it (a PUT answered 503 is retried)" \
    Z restore "$ID" --to restore-target --force
grep_err "the retry is logged" 'PUT s3://restore-target/big/blob.bin: HTTP 503.*retry 1 of'
s3fake_post "/__fault?reset"
A s3api get-object --bucket restore-target --key big/blob.bin "$T/big.back2" >/dev/null &&
    cmp -s "$T/big.bin" "$T/big.back2" && ok "retried PUT re-read its body from the start" ||
    fail "big object differs after a retried PUT"
[ "$(state 'len(d["buckets"]["restore-target"]["objects"])')" = "$n_before" ] &&
    ok "forced restore overwrote in place" || fail "object count changed"
check "restore into a non-empty bucket without any of the keys" Z restore "$ID" --to other
[ "$(state 'len(d["buckets"]["other"]["objects"])')" = $((NOBJ + 1)) ] &&
    ok "other: its object and the restored ones" || fail "other bucket"
check_fails 1 "restore into a missing bucket" Z restore "$ID" --to no-such-bucket
grep_err "says so" 'no-such-bucket: no such bucket'
check "restore --to FILE writes the tar" Z restore "$ID" --to "$T/out.tar"
cmp -s "$TAR" "$T/out.tar" && ok "the tar file is the stored tar" || fail "tar file differs"
check_fails 1 "restore --to FILE refuses an existing file" Z restore "$ID" --to "$T/out.tar"
ls /tmp/zb-s3-restore.* >/dev/null 2>&1 && fail "spool files left in /tmp" ||
    ok "no spool file left behind"

# ---- pause and resume: a slow sink, a small buffer ---------------------------------
cat >"$T/slow.ini" <<INI
$(sed 's/^compression = none$/compression = none\nchunk_kb = 64\nmax_buffer_mb = 1/' "$T/zb.ini")
INI
sed -i 's|^path = .*/near$|path = '"$T"'/near2|' "$T/slow.ini"
chmod 600 "$T/slow.ini"
check "slow sink, 1 MB buffer" "$CTL" -v -c "$T/slow.ini" run slow
grep -c ': pause (' "$T/err" | grep -q '^[1-9]' && ok "the stream was paused" ||
    fail "no pause: $(grep -i pause "$T/err" | head -3)"
grep -q 'GET paused at byte [1-9]' "$T/err" && ok "a GET was paused mid-body and resumed" ||
    fail "no GET paused: $(grep -i pause "$T/err" | head -3)"
M3=$(find "$T/near2/minio/src" -name manifest.json | head -1)
[ -n "$M3" ] && [ "$(fact "$M3" bytes)" = $NBYTES ] && ok "complete after pauses" ||
    fail "slow run manifest"
T2=$(find "$T/near2/minio/src" -name data.tar | head -1)
cmp -s "$TAR" "$T2" || python3 -c '
import sys, tarfile
a = [(m.name, m.size, m.pax_headers) for m in tarfile.open(sys.argv[1])]
b = [(m.name, m.size, m.pax_headers) for m in tarfile.open(sys.argv[2])]
sys.exit(a != b)' "$TAR" "$T2" && ok "same members as the fast run" || fail "slow tar differs"

# ---- a failing GET fails the stream, no manifest ----------------------------------
before=$(find "$T/near/minio" -name manifest.json | wc -l)
s3fake_post "/__fault?op=GetObject&count=10&status=500"
check_fails 1 "GET failing with 500 (retries exhausted) fails the run" Z run minio
grep_err "names the object and the error" 's3://src/.*HTTP 500 InternalError'
s3fake_post "/__fault?reset"
[ "$(find "$T/near/minio" -name manifest.json | wc -l)" = "$before" ] &&
    ok "no manifest for the failed run" || fail "a manifest was written"
s3fake_post "/__fault?op=GetObject&where=mid&drop=1&match=blob"
check "a GET dropped mid-body is resumed with a Range" Z run minio
grep_err "resume logged" 'resuming at byte'
s3fake_post "/__fault?reset"

# ---- buckets = all -----------------------------------------------------------------
s3fake_post "/__log?reset"
check "buckets = all" Z run every
s3fake_get /__log | grep -q '"ListBuckets"' && ok "ListBuckets used" || fail "no ListBuckets"
for b in src restore-target other; do
	find "$T/near/every/$b" -name manifest.json | grep -q . &&
	    ok "stream $b" || fail "no stream for bucket $b"
done
finish
