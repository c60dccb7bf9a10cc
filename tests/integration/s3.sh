#!/bin/bash
# s3.sh - the s3 sink against the strict S3 fake (every request's SigV4
# checked by botocore): single PUT and multipart, fan-out with a local
# tier, verify and restore from the S3 tier alone, retries on injected
# 503s and "200 errors", a GET dropped mid-body resumed with a Range,
# retries exhausted (upload aborted, no manifest, this run's local copy
# committed), a refused sidecar PUT (no manifest without its sidecar: the
# copy does not count), Object Lock with
# Content-MD5, prune (DeleteObjects batch, stale multipart uploads after a
# killed client), bad credentials.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3fake.sh"
trap 's3fake_stop; rm -rf "$T"' EXIT

s3fake_start --buckets backups,vault:lock --page-size 4 || exit 1
state() {	# python expression over the fake's /__state as d
	s3fake_get /__state | python3 -c "import json,sys
d = json.load(sys.stdin)
print($1)"
}
log_ops() {	# the operations in the request log, one per line
	s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]:
    print(e["op"], e["status"], e["error"] or "-", e["content_md5"] or "-",
          e["payload_hash"][:16])'
}
head -c 12000000 /dev/urandom >"$T/rand.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
compression = none

[sink:near]
plugin = local
path = $T/near

[sink:s3]
plugin = s3
endpoint = $S3_URL
bucket = backups
prefix = /zb/tier2/
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
part_size = 5M
max_uploads = 3
retries = 3
timeout = 10s

[sink:locked]
plugin = s3
endpoint = $S3_URL
bucket = vault
access_key = env:ZB_TEST_AK
secret_key = env:ZB_TEST_SK
object_lock_mode = governance
object_lock_days = 30

[sink:badkey]
plugin = s3
endpoint = $S3_URL
bucket = backups
access_key_file = $T/s3.ak
secret_key = env:ZB_TEST_WRONG
retries = 0

[source:rand]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:small]
plugin = command
command = seq 1 5000

[job:fanout]
source = rand
sinks = near, s3

[job:small]
source = small
sinks = s3

[job:locked]
source = small
sinks = locked

[job:badkey]
source = small
sinks = badkey
INI
chmod 600 "$T/zb.ini"
export ZB_TEST_AK=$S3_AK ZB_TEST_SK=$S3_SK ZB_TEST_WRONG=not-the-secret
Z() { "$CTL" -c "$T/zb.ini" "$@"; }
# run_stamp SOURCE/STREAM: the stamp of that stream's artifact in the
# last command's log (the run's own id)
run_stamp() {
	grep -o "$1@[0-9TZ-]*" "$T/err" | head -1 | sed 's/.*@//'
}

check "prune --help" Z prune --help
grep -q "usage: zentoria-backupctl" "$T/out" || fail "prune --help text"
check "plugins lists s3 as sink and source" Z plugins
grep -q "^s3 " "$T/out" || fail "plugins: $(cat "$T/out")"

# ---- single PUT and multipart, fan-out, every request signed -----------------
check "small job (single PUT)" Z run small
check "fan-out job: local + s3, 12 MB in 5 MiB parts" Z run fanout
log_ops >"$T/ops"
grep -q "^CreateMultipartUpload 200" "$T/ops" && ok "multipart upload used" ||
    fail "no multipart: $(cat "$T/ops")"
[ "$(grep -c '^UploadPart 200' "$T/ops")" = 3 ] && ok "3 parts" ||
    fail "parts: $(grep -c '^UploadPart' "$T/ops")"
grep -q "^CompleteMultipartUpload 200" "$T/ops" && ok "completed" || fail "not completed"
grep -q " 403 " "$T/ops" && fail "a request was refused: $(grep ' 403 ' "$T/ops")" ||
    ok "every request's SigV4 accepted by botocore"
[ "$(state 'len(d["uploads"])')" = 0 ] && ok "no open upload left" || fail "uploads left"
state '"\n".join(sorted(d["buckets"]["backups"]["objects"]))' >"$T/keys"
grep -q '^zb/tier2/rand/output/.*/data.bin$' "$T/keys" &&
    grep -q '^zb/tier2/rand/output/.*/manifest.json$' "$T/keys" &&
    grep -q '^zb/tier2/rand/output/.*/data.bin.sha256$' "$T/keys" &&
    ok "layout under the prefix" || fail "keys: $(cat "$T/keys")"
ctype=$(state '[o["content_type"] for k,o in d["buckets"]["backups"]["objects"].items() if k.endswith("manifest.json")][0]')
[ "$ctype" = application/json ] && ok "manifest content type" || fail "ctype $ctype"
check "list (paginated: page size 4)" Z list --sink s3 --json
[ "$(grep -c '"id"' "$T/out")" = 2 ] && ok "two artifacts on s3" || fail "list: $(cat "$T/out")"
ID=$(grep -o '"rand/output@[^"]*"' "$T/out" | head -1 | tr -d '"')

# ---- read back from the S3 tier alone ---------------------------------------------
check "verify on s3" Z verify "$ID" --sink s3
rm -rf "$T/near"
check "restore with the local tier gone" Z restore "$ID" --to "$T/back.bin"
cmp -s "$T/rand.bin" "$T/back.bin" && ok "restored identical" || fail "restore differs"

s3fake_post "/__log?reset"
s3fake_post "/__fault?op=GetObject&match=data.bin&where=mid&drop=1" ||
    fail "fault not installed"
check "verify survives a GET dropped mid-body" Z verify "$ID" --sink s3
log_ops | grep '^GetObject' >"$T/gets"
grep -A1 '^GetObject dropped-mid-body' "$T/gets" | tail -1 |
    grep -q '^GetObject 206' &&
    ok "resumed with a ranged GET (206)" || fail "no resume: $(cat "$T/gets")"
grep_err "the resume is logged" 'resuming at byte [1-9]'

# ---- retries --------------------------------------------------------------------------
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=UploadPart&nth=2&status=503"
s3fake_post "/__fault?op=CompleteMultipartUpload&status=200"
check "run with a 503 on a part and a 200-error on complete" Z run fanout
log_ops >"$T/ops"
grep -q "^UploadPart 503 SlowDown" "$T/ops" && ok "503 seen" || fail "no 503"
grep -q "^CompleteMultipartUpload 200 InternalError" "$T/ops" &&
    grep -q "^CompleteMultipartUpload 200 -" "$T/ops" &&
    ok "200-error retried" || fail "complete: $(grep Complete "$T/ops")"
grep_err "the retry is logged" 'retry 1 of 3 in'

s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=UploadPart&nth=2&count=10&status=500"
before=$(state 'len([k for k in d["buckets"]["backups"]["objects"] if k.endswith("manifest.json")])')
check_fails 1 "retries exhausted: the run fails" Z run fanout
grep_err "the error names the part and the code" 'part [0-9]*: .*HTTP 500 InternalError'
log_ops >"$T/ops"
grep -q "^AbortMultipartUpload 204" "$T/ops" && ok "upload aborted" || fail "no abort: $(cat "$T/ops")"
[ "$(state 'len(d["uploads"])')" = 0 ] && ok "no upload left" || fail "uploads left"
after=$(state 'len([k for k in d["buckets"]["backups"]["objects"] if k.endswith("manifest.json")])')
[ "$before" = "$after" ] && ok "no manifest for the failed copy" || fail "manifest written"
# This run's local copy, not one of an earlier run.
stamp=$(run_stamp rand/output)
[ -n "$stamp" ] && [ -f "$T/near/rand/output/$stamp/manifest.json" ] &&
    ok "the local copy of this run was still committed" ||
    fail "no local copy of this run ($stamp): $(ls "$T/near/rand/output")"

# ---- commit order: a copy whose sidecar is refused does not exist ----------
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=PutObject&match=data.bin.sha256&status=403&code=AccessDenied"
check_fails 1 "a refused sidecar PUT fails the run" Z run fanout
grep_err "naming the sink and the sidecar" \
    'rand/output@.*sink:s3.*checksum sidecar not written, this copy does not count'
stamp=$(run_stamp rand/output)
[ -n "$stamp" ] || fail "no id of this run in: $(tail -3 "$T/err")"
log_ops >"$T/ops"
grep -q "^PutObject 403 AccessDenied" "$T/ops" && ok "the sidecar PUT was refused" ||
    fail "no refused PUT: $(cat "$T/ops")"
state '"\n".join(sorted(d["buckets"]["backups"]["objects"]))' >"$T/keys"
grep -q "/rand/output/$stamp/data.bin\$" "$T/keys" && ok "the data object was stored" ||
    fail "no data object of $stamp: $(cat "$T/keys")"
grep -q "/rand/output/$stamp/manifest.json" "$T/keys" &&
    fail "a manifest was written without its sidecar" ||
    ok "no manifest without a sidecar"
[ -f "$T/near/rand/output/$stamp/manifest.json" ] &&
    [ -f "$T/near/rand/output/$stamp/data.bin.sha256" ] &&
    ok "the local copy of this run was committed" || fail "no local copy of $stamp"
grep -q "rand/output@$stamp: .* on 1 of 2 sinks" "$T/err" &&
    ok "the run counts one copy of two" || fail "copies: $(grep 'of 2 sinks' "$T/err")"
check "list --sink s3" Z list --sink s3 --json
grep -q "\"rand/output@$stamp\"" "$T/out" && fail "s3 lists the copy without a sidecar" ||
    ok "s3 does not list the copy without a sidecar"
check "list --sink near" Z list --sink near --json
grep -q "\"rand/output@$stamp\"" "$T/out" && ok "near lists this run's copy" ||
    fail "near does not list $stamp"

# ---- Object Lock: Content-MD5 and retention --------------------------------------
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
check "run to a lock bucket" Z run locked
log_ops >"$T/ops"
awk '$1 == "PutObject" { n++; if ($4 == "-") bad++ } END { exit !(n >= 3 && !bad) }' \
    "$T/ops" && ok "every PUT carries Content-MD5" ||
    fail "PUTs: $(grep PutObject "$T/ops")"
[ "$(state 'sorted(set(o["lock_mode"] for o in d["buckets"]["vault"]["objects"].values()))')" = "['GOVERNANCE']" ] &&
    ok "objects locked in GOVERNANCE mode" || fail "lock mode"

# ---- bad credentials --------------------------------------------------------------
check_fails 1 "wrong secret key fails" Z run badkey
grep_err "names the sink and SignatureDoesNotMatch" 'sink:badkey: PUT .*SignatureDoesNotMatch'

# ---- prune: orphans through DeleteObjects, stale uploads --------------------------
# A manifest PUT refused: data and sidecar stay without a manifest.
s3fake_post "/__fault?reset"
s3fake_post "/__fault?op=PutObject&match=manifest.json&status=403&code=AccessDenied"
check_fails 1 "run whose manifest is refused" Z run small
s3fake_post "/__fault?reset"
check "prune --dry-run" Z prune --sink s3 --grace 0 --dry-run
grep -q "would remove sink:s3 small/output/.*/data.out " "$T/out" &&
    ok "dry run names the orphan" || fail "dry run: $(cat "$T/out")"
n_before=$(state 'len(d["buckets"]["backups"]["objects"])')
[ "$n_before" -gt 0 ] || fail "no objects"
# A client killed mid-upload leaves a multipart upload behind.
s3fake_post "/__fault?op=UploadPart&nth=2&stall_ms=8000"
"$CTL" -c "$T/zb.ini" -q run fanout >/dev/null 2>&1 &
RUN=$!
for i in $(seq 1 80); do
	[ "$(state 'len(d["uploads"])')" = 1 ] && break
	sleep 0.1
done
sleep 0.5
kill -KILL $RUN 2>/dev/null
wait $RUN 2>/dev/null
[ "$(state 'len(d["uploads"])')" = 1 ] && ok "killed client left an upload" ||
    fail "expected one open upload"
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
check "prune removes orphans and the stale upload" Z prune --sink s3 --grace 0
log_ops >"$T/ops"
grep -q "^DeleteObjects 200 - [A-Za-z0-9+/=]\{24\}" "$T/ops" &&
    ok "orphans deleted in a DeleteObjects batch with Content-MD5" ||
    fail "no DeleteObjects: $(cat "$T/ops")"
[ "$(grep -c '^DeleteObject ' "$T/ops")" = 0 ] &&
    [ "$(grep -c '^DeleteObjects ' "$T/ops")" = 1 ] &&
    ok "data and sidecar in one batch, no single deletes" ||
    fail "deletes: $(grep '^Delete' "$T/ops")"
[ "$(state 'len(d["uploads"])')" = 0 ] && ok "no multipart upload left" ||
    fail "uploads left after prune"
orphans=$(state 'len([k for k in d["buckets"]["backups"]["objects"] if not any(m.startswith(k.rsplit("/",1)[0]+"/manifest.json") for m in d["buckets"]["backups"]["objects"])])')
[ "$orphans" = 0 ] && ok "no object without a manifest left" || fail "$orphans orphans left"
check "everything still verifies" Z verify --latest --sink s3
finish
