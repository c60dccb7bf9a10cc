#!/bin/bash
# s3.sh - the s3 sink against the strict S3 fake (every request's SigV4
# checked by botocore): single PUT and multipart, fan-out with a local
# tier, verify and restore from the S3 tier alone, retries on injected
# 503s and "200 errors", a GET dropped mid-body resumed with a Range,
# retries exhausted (upload aborted, no manifest, this run's local copy
# committed), a refused sidecar PUT (no manifest without its sidecar: the
# copy does not count), Object Lock with
# Content-MD5, prune (DeleteObjects batch, stale multipart uploads after a
# killed client), bad credentials; no copy replaces an object of another
# copy (HEAD before each put, If-None-Match: * on PutObject and
# CompleteMultipartUpload, 412/409 fail the copy, 501 falls back).
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
req_log() {	# the request log: op status error key if-none-match
	s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]:
    print(e["op"], e["status"], e["error"] or "-", e["key"] or "-",
          e["if_none_match"] or "-")'
}
s3py() {	# botocore against the fake: s3py 'python using c' ARGS...
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	    /usr/bin/python3 -c "import sys, botocore.session, botocore.config
c = botocore.session.Session().create_client('s3', endpoint_url='$S3_URL',
    region_name='us-east-1', aws_access_key_id='$S3_AK',
    aws_secret_access_key='$S3_SK',
    config=botocore.config.Config(s3={'addressing_style': 'path'}))
$1" "${@:2}"
}
plant() {	# plant FILE KEY...: another copy's object at each key (plain PUT)
	s3py 'body = open(sys.argv[1], "rb").read()
for k in sys.argv[2:]:
    c.put_object(Bucket="backups", Key=k, Body=body)' "$@"
}
s3cat() {	# s3cat KEY: the object's bytes
	s3py 'sys.stdout.buffer.write(c.get_object(Bucket="backups",
    Key=sys.argv[1])["Body"].read())' "$1"
}
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
next_second() {	# two runs of a source in one second share a stamp
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do sleep 0.05; done
}
head -c 12000000 /dev/urandom >"$T/rand.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
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

[job:twin]
source = small
sinks = s3
[source:collide]
plugin = command
command = seq 1 5000

[source:collidemp]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:race]
plugin = command
command = seq 1 5000

[source:racemp]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:conflict]
plugin = command
command = seq 1 5000

[source:noinm]
plugin = command
command = seq 1 5000

[job:collide]
source = collide
sinks = near, s3

[job:collidemp]
source = collidemp
sinks = near, s3

[job:race]
source = race
sinks = near, s3

[job:racemp]
source = racemp
sinks = near, s3

[job:conflict]
source = conflict
sinks = near, s3

[job:noinm]
source = noinm
sinks = near, s3
INI
chmod 600 "$T/zb.ini"
export ZB_TEST_AK=$S3_AK ZB_TEST_SK=$S3_SK ZB_TEST_WRONG=not-the-secret
Z() { "$CTL" -c "$T/zb.ini" "$@"; }
# artifact_stamp SOURCE/STREAM: the stamp of that stream's artifact in the
# last command's log (the run's own id)
artifact_stamp() {
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
next_second	# not the stamp of the run before
before=$(state 'len([k for k in d["buckets"]["backups"]["objects"] if k.endswith("manifest.json")])')
check_fails 1 "retries exhausted: the run fails" Z run fanout
grep_err "the error names the part and the code" 'part [0-9]*: .*HTTP 500 InternalError'
log_ops >"$T/ops"
grep -q "^AbortMultipartUpload 204" "$T/ops" && ok "upload aborted" || fail "no abort: $(cat "$T/ops")"
[ "$(state 'len(d["uploads"])')" = 0 ] && ok "no upload left" || fail "uploads left"
after=$(state 'len([k for k in d["buckets"]["backups"]["objects"] if k.endswith("manifest.json")])')
[ "$before" = "$after" ] && ok "no manifest for the failed copy" || fail "manifest written"
# This run's local copy, not one of an earlier run.
stamp=$(artifact_stamp rand/output)
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
stamp=$(artifact_stamp rand/output)
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
grep_err "names the sink, the HEAD's 403 and the likely cause" \
    'sink:badkey.* HEAD s3://backups/small/.*HTTP 403: .*wrong credentials'

# ---- prune: orphans through DeleteObjects, stale uploads --------------------------
# A manifest PUT refused: data and sidecar stay without a manifest.
s3fake_post "/__fault?reset"
s3fake_post "/__fault?op=PutObject&match=manifest.json&status=403&code=AccessDenied"
check_fails 1 "run whose manifest is refused" Z run small
s3fake_post "/__fault?reset"
check "prune --dry-run" Z prune --sink s3 --grace 0 --dry-run
grep -q "would remove sink:s3 object small/output/.*/data.out " "$T/out" &&
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
# The killed run's upload is listed by a dry run, and counted.
check "prune --dry-run after the kill" Z prune --sink s3 --grace 0 --dry-run
grep -q "^would remove sink:s3 pending put rand/output/.*/data\.[a-z.]* (a put that was never committed)" "$T/out" &&
    ok "dry run lists the killed run's multipart upload" ||
    fail "dry run misses the upload: $(cat "$T/out")"
[ "$(state 'len(d["uploads"])')" = 1 ] && ok "the dry run aborted nothing" ||
    fail "the dry run aborted the upload"
# A marker that cannot be read keeps its directory (not judged by age).
s3fake_post "/__fault?op=GetObject&match=in-progress.json&status=500&count=50"
check "prune --dry-run while the marker cannot be read" Z prune --sink s3 --grace 0 --dry-run
grep -q "^keep sink:s3 rand/output/[^ ]* (its in-progress marker could not be read" "$T/out" &&
    ok "an unreadable marker keeps its directory" || fail "prune: $(cat "$T/out")"
kept=$(sed -n 's/^keep sink:s3 \(rand\/output\/[^ ]*\) (its in-progress marker could not be read.*/\1/p' "$T/out")
[ -n "$kept" ] && grep -q "^would remove sink:s3 [a-z ]*$kept/" "$T/out" &&
    fail "it would remove part of $kept: $(cat "$T/out")"
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
check "prune removes orphans and the stale upload" Z prune --sink s3 --grace 0
grep -q "^removed sink:s3 pending put rand/output/" "$T/out" &&
    ok "the abort is reported" || fail "abort not reported: $(cat "$T/out")"
n_removed=$(sed -n 's/^removed \([0-9]*\) objects\? on 1 sink.*/\1/p' "$T/out")
n_lines=$(grep -c "^removed sink:s3 " "$T/out")
[ -n "$n_removed" ] && [ "$n_removed" = "$n_lines" ] && [ "$n_removed" -ge 3 ] &&
    ok "the count includes the abort ($n_removed)" ||
    fail "count $n_removed vs $n_lines lines: $(cat "$T/out")"
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
# ---- two runs of one source in one second: two copies, none replaced ---------
check "run small twin (one source, one second)" Z run small twin
stamps=$(sed -n 's/.*\[job:[a-z]*\] run \([^ ]*\) started.*/\1/p' "$T/err" | sort -u)
[ "$(echo "$stamps" | wc -l)" = 2 ] && ok "two distinct ids:" $stamps ||
    fail "stamps: $stamps"
for s in $stamps; do
	check "small/output@$s verifies on s3" Z verify "small/output@$s" --sink s3
done

# ---- prune while a run is held between its data and its manifest ---------------
s3fake_post "/__fault?reset"
s3fake_post "/__fault?op=PutObject&match=manifest.json&stall_ms=8000"
"$CTL" -c "$T/zb.ini" run small >"$T/held.out" 2>"$T/held.err" &
HELD=$!
for i in $(seq 1 100); do
	s3fake_get /__fault | grep -q '"seen": 1' && break
	sleep 0.1
done
sleep 2		# the run started seconds ago: --grace 0 alone would not save it
held=$(sed -n 's/.*\(small\/output@[^ :]*\): started.*/\1/p' "$T/held.err" | head -1)
held_dir=$(echo "$held" | sed 's/@/\//')
check "prune --grace 0 while the manifest PUT hangs" Z prune --sink s3 --grace 0
grep -q "^keep sink:s3 $held_dir (a run in progress (job small, pid $HELD" "$T/out" &&
    ok "prune keeps the held run's directory" || fail "prune: $(cat "$T/out")"
grep -q "^removed sink:s3 [a-z ]*$held_dir/" "$T/out" &&
    fail "prune removed part of the held run"
wait $HELD && ok "the held run ends ok" || fail "held run: $(tail -3 "$T/held.err")"
s3fake_post "/__fault?reset"
check "the held run's copy verifies ($held)" Z verify "$held" --sink s3

# ---- no copy replaces an object of another copy ---------------------------------
# (last: the objects planted here would confuse the checks above)
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
next_second
check "a clean run" Z run small
req_log >"$T/req"
awk '$1 == "PutObject" || $1 == "CompleteMultipartUpload" { n++; if ($5 != "*") bad++ }
    END { exit !(n == 4 && !bad) }' "$T/req" &&
    ok "every PutObject (marker, data, sidecar, manifest) carries If-None-Match: *" || fail "puts: $(cat "$T/req")"
awk '$1 == "HeadObject" && $2 == 404 { seen[$4] = 1 }
    $1 == "PutObject" { n++; if (!seen[$4]) bad++ }
    END { exit !(n == 4 && !bad) }' "$T/req" &&
    ok "every PutObject after a HEAD of its key answered 404" ||
    fail "heads: $(cat "$T/req")"

# Another copy's data at every key the run can use: the HEAD refuses it.
printf 'the data of another copy\n' >"$T/planted"
keys=()
for s in $(stamps); do
	keys+=("zb/tier2/collide/output/$s/data.out")
done
plant "$T/planted" "${keys[@]}" || fail "planting"
s3fake_post "/__log?reset"
check_fails 1 "a copy whose data key exists fails" Z run collide
grep_err "the run is partial" '\[job:collide\] run .*: partial'
grep_err "the error names the sink and the key" \
    'sink:s3.* s3://backups/zb/tier2/collide/output/[0-9TZ-]*/data.out already exists: refusing to replace another copy'
st=$(run_stamp collide)
[ -n "$st" ] && s3cat "zb/tier2/collide/output/$st/data.out" | cmp -s - "$T/planted" &&
    ok "the planted object is unchanged" || fail "planted object at '$st' changed"
req_log | grep -v "/in-progress.json" | grep -q "^PutObject .* zb/tier2/collide/" &&
    fail "a PutObject went out: $(req_log)" || ok "nothing but the in-progress marker was uploaded"
[ "$(state "'zb/tier2/collide/output/$st/manifest.json' in d['buckets']['backups']['objects']")" = False ] &&
    ok "no manifest of the run on the S3 sink" || fail "a manifest at $st"
[ -f "$T/near/collide/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"

# Another copy's manifest: data (multipart) and sidecar go, the manifest not.
printf '{"another": "copy"}\n' >"$T/planted.json"
keys=()
for s in $(stamps); do
	keys+=("zb/tier2/collidemp/output/$s/manifest.json")
done
plant "$T/planted.json" "${keys[@]}" || fail "planting"
s3fake_post "/__log?reset"
check_fails 1 "a copy whose manifest key exists fails" Z run collidemp
grep_err "the run is partial" '\[job:collidemp\] run .*: partial'
# (the HEAD may answer before the manifest's bytes are offered: then the
# sink says it when the write comes, as "[sink:s3] s3://...")
grep_err "the error names the manifest" \
    'sink:s3[]:] s3://backups/zb/tier2/collidemp/output/[0-9TZ-]*/manifest.json already exists: refusing to replace another copy'
st=$(run_stamp collidemp)
req_log >"$T/req"
grep -q "^CompleteMultipartUpload 200 - zb/tier2/collidemp/output/$st/data.bin \*$" \
    "$T/req" && ok "the data went up as a conditional multipart upload" ||
    fail "no multipart: $(cat "$T/req")"
grep -q "^PutObject .*/manifest.json" "$T/req" &&
    fail "the manifest was PUT: $(cat "$T/req")" || ok "the manifest was not PUT"
[ -n "$st" ] && s3cat "zb/tier2/collidemp/output/$st/manifest.json" |
    cmp -s - "$T/planted.json" && ok "the planted manifest is unchanged" ||
    fail "planted manifest at '$st' changed"
[ -f "$T/near/collidemp/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"

# The key appears after the HEAD: If-None-Match makes the PUT fail (412).
race_plant() {	# race_plant OP SOURCE FILE: plant at the key of the stalled OP
	local i key=
	for i in $(seq 1 100); do
		key=$(s3fake_get /__log | python3 -c 'import json,sys
for e in json.load(sys.stdin)["log"]:
    if e["op"] == sys.argv[1] and "/%s/" % sys.argv[2] in e["key"]:
        print(e["key"])' "$1" "$2" | head -1)
		[ -n "$key" ] && break
		sleep 0.05
	done
	[ -n "$key" ] && plant "$3" "$key" && echo "$key"
}
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=PutObject&match=/race/output/&stall_ms=5000"
Z run race >"$T/out" 2>"$T/err" &
RUN=$!
key=$(race_plant PutObject race "$T/planted")
wait $RUN
rc=$?
[ -n "$key" ] || fail "the PUT to plant at was not seen"
[ $rc -ne 0 ] && [ $rc -lt 128 ] && ok "a PUT over a key made after the HEAD fails" ||
    fail "run race: exit $rc"
grep_err "the run is partial" '\[job:race\] run .*: partial'
grep_err "the 412 is named, with the sink and the key" \
    "sink:s3: s3://backups/$key already exists: refusing to replace another copy (HTTP 412 PreconditionFailed)"
[ "$(req_log | grep -c "^PutObject 412 PreconditionFailed $key \*$")" = 1 ] &&
    ok "412 on the conditional PUT, not retried" || fail "requests: $(req_log)"
s3cat "$key" | cmp -s - "$T/planted" && ok "the planted object is unchanged" ||
    fail "the planted object changed"
st=$(run_stamp race)
[ "$(state "'zb/tier2/race/output/$st/manifest.json' in d['buckets']['backups']['objects']")" = False ] &&
    ok "no manifest of the run on the S3 sink" || fail "a manifest at $st"
[ -f "$T/near/race/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"

# The same for a multipart upload: 412 on complete, the upload aborted.
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=CompleteMultipartUpload&match=/racemp/output/&stall_ms=5000"
Z run racemp >"$T/out" 2>"$T/err" &
RUN=$!
key=$(race_plant CompleteMultipartUpload racemp "$T/planted")
wait $RUN
rc=$?
[ -n "$key" ] || fail "the complete to plant at was not seen"
[ $rc -ne 0 ] && [ $rc -lt 128 ] &&
    ok "a multipart upload over a key made meanwhile fails" || fail "run racemp: exit $rc"
grep_err "the 412 on complete is named" \
    "s3://backups/$key already exists: refusing to replace another copy (HTTP 412 PreconditionFailed)"
req_log >"$T/req"
grep -A5 "^CompleteMultipartUpload 412 PreconditionFailed $key \*$" "$T/req" |
    grep -q "^AbortMultipartUpload 204 - $key" && ok "the upload was aborted" ||
    fail "no abort after the 412: $(cat "$T/req")"
[ "$(state 'len(d["uploads"])')" = 0 ] && ok "no parts left behind" || fail "uploads left"
s3cat "$key" | cmp -s - "$T/planted" && ok "the planted object is unchanged" ||
    fail "the planted object changed"
st=$(run_stamp racemp)
[ -f "$T/near/racemp/output/$st/manifest.json" ] &&
    ok "the local copy is committed" || fail "no local copy at $st"

# 409 ConditionalRequestConflict (a concurrent conditional write): no retry.
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
# (the second PutObject: the first is the run's in-progress marker)
s3fake_post "/__fault?op=PutObject&match=/conflict/output/&nth=2&status=409&code=ConditionalRequestConflict"
check_fails 1 "409 on a conditional PUT fails the copy" Z run conflict
grep_err "the conflict is named" \
    'sink:s3: s3://backups/zb/tier2/conflict/output/[0-9TZ-]*/data.out is being written by another request: refusing to replace another copy (HTTP 409 ConditionalRequestConflict)'
[ "$(req_log | grep -c '^PutObject .*/conflict/.*/data.out')" = 1 ] &&
    ok "the 409 is not retried" || fail "requests: $(req_log)"

# A server that answers 501 to If-None-Match: asked again without it.
s3fake_post "/__fault?reset"
s3fake_post "/__log?reset"
s3fake_post "/__fault?op=PutObject&match=/noinm/output/&status=501&code=NotImplemented"
check "a 501 to If-None-Match: the put is made again without it" Z run noinm
grep_err "the fallback is logged" 'does not implement If-None-Match on writes'
req_log >"$T/req"
awk '$1 == "PutObject" { print $2, $5 }' "$T/req" | tr '\n' ' ' >"$T/puts"
[ "$(cat "$T/puts")" = "501 * 200 - 200 - 200 - 200 - " ] &&
    ok "501, then every put without the header" || fail "puts: $(cat "$T/puts")"
[ "$(grep -c '^HeadObject 404' "$T/req")" = 4 ] &&
    ok "the HEAD still checks every key" || fail "heads: $(cat "$T/req")"
finish
