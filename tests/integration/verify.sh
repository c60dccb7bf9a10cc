#!/bin/bash
# verify.sh - each of verify's checks on its own: a committed copy on a
# local sink verifies, then one property of it is broken (a stored byte,
# the stored size, the .sha256 sidecar, the manifest's stored or
# plaintext hash, an encrypted copy's bytes) and verify must fail with
# the message of the check that owns that property.  Every case starts
# again from the pristine copy, so each breaks exactly one property.
. "$(dirname "$0")/lib.sh"

# Uncompressed, so that a changed stored byte reaches the hash checks
# instead of failing decompression first (the plaintext check would
# then still see it, with its own message).
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:disk]
plugin = local
path = $T/store

[source:num]
plugin = command
command = seq 1 200000
extension = txt

[job:num]
source = num
sinks = disk
INI
Z="$CTL -c $T/zb.ini"

check "backup" $Z run num
check "list --json" $Z list --json
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
dir=$(dirname "$(ls "$T"/store/num/output/*/manifest.json)")
rel=${dir#"$T/store/"}
data="$rel/data.txt"
[ -f "$T/store/$data" ] && ok "stored as $data" || fail "no $data: $(ls "$dir")"
cp -a "$T/store" "$T/pristine"

# fresh "what": put the pristine copy back and check that it verifies,
# so a failure after the change is the change's doing.
fresh() {
	rm -rf "$T/store"
	cp -a "$T/pristine" "$T/store"
	check "$1: the pristine copy verifies" $Z verify "$id"
}

# manifest_set KEY FIELD VALUE: one field of the manifest, nothing else
manifest_set() {
	python3 - "$dir/manifest.json" "$1" "$2" "$3" <<'PY'
import json, sys
p, key, field, value = sys.argv[1:5]
m = json.load(open(p))
m[key][field] = int(value) if field == "size" else value
json.dump(m, open(p, "w"), indent=2)
PY
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
stored_sha=$(sha "$T/store/$data")
size=$(stat -c %s "$T/store/$data")
zeros=0000000000000000000000000000000000000000000000000000000000000000

# 1. a stored byte changed, same size: the stored-bytes SHA-256 check.
#    The sidecar still matches the manifest.
fresh "flipped byte"
flip_byte "$T/store/$data" $((size / 2))
[ "$(stat -c %s "$T/store/$data")" = "$size" ] && ok "same size" || fail "size changed"
check_fails 1 "verify fails on a flipped stored byte" $Z verify "$id"
grep_err "... on the stored-bytes check" "$id (from sink:disk): stored data does not match the manifest: $size bytes with SHA-256 $(sha "$T/store/$data")"
grep -q "^FAILED $id on sink:disk" "$T/out" && ok "reported FAILED" || fail "stdout: $(cat "$T/out")"

# 2. truncated and extended: the stored size.
fresh "truncated"
truncate -s $((size - 1)) "$T/store/$data"
check_fails 1 "verify fails on a truncated copy" $Z verify "$id"
grep_err "... on the stored size" "$id (from sink:disk): stored data does not match the manifest: $((size - 1)) bytes"
fresh "extended"
printf 'x' >>"$T/store/$data"
check_fails 1 "verify fails on an extended copy" $Z verify "$id"
grep_err "... on the stored size" "$id (from sink:disk): stored data does not match the manifest: $((size + 1)) bytes"

# 3. the sidecar alone differs from the manifest (data and manifest
#    intact): the sidecar-vs-manifest comparison.
fresh "sidecar edited"
printf '%s  data.txt\n' "$zeros" >"$T/store/$data.sha256"
check_fails 1 "verify fails on a sidecar that differs" $Z verify "$id"
grep_err "... on the sidecar check" "$id: checksum sidecar $data.sha256 does not match the manifest"
fresh "sidecar names another file"
printf '%s  other.txt\n' "$stored_sha" >"$T/store/$data.sha256"
check_fails 1 "verify fails on a sidecar naming another file" $Z verify "$id"
grep_err "... on the sidecar check" "checksum sidecar $data.sha256 does not match the manifest"

# 4. the sidecar is missing.
fresh "sidecar missing"
rm "$T/store/$data.sha256"
check_fails 1 "verify fails without the sidecar" $Z verify "$id"
grep_err "... on the sidecar read" "$id: cannot read the checksum sidecar"

# 5. the manifest's stored hash changed: the sidecar no longer matches;
#    with the sidecar changed alike, the stored bytes no longer do.
fresh "manifest stored sha"
manifest_set stored sha256 "$zeros"
check_fails 1 "verify fails on the manifest's stored hash" $Z verify "$id"
grep_err "... on the sidecar check" "checksum sidecar $data.sha256 does not match the manifest"
fresh "manifest and sidecar stored sha"
manifest_set stored sha256 "$zeros"
printf '%s  data.txt\n' "$zeros" >"$T/store/$data.sha256"
check_fails 1 "verify fails on the stored hash" $Z verify "$id"
grep_err "... on the stored-bytes check" "$id (from sink:disk): stored data does not match the manifest: $size bytes with SHA-256 $stored_sha, expected $size bytes with $zeros"
fresh "manifest stored size"
manifest_set stored size $((size + 7))
check_fails 1 "verify fails on the manifest's stored size" $Z verify "$id"
grep_err "... on the stored size" "$id (from sink:disk): stored data does not match the manifest: $size bytes with SHA-256 $stored_sha, expected $((size + 7)) bytes with $stored_sha"

# 6. the plaintext's hash and size (checked by default for unencrypted
#    copies, and with --deep): the stored bytes are intact.
fresh "manifest plain sha"
plain_size=$(seq 1 200000 | wc -c)
plain_sha=$(seq 1 200000 | sha256sum | cut -d' ' -f1)
manifest_set plaintext sha256 "$zeros"
check_fails 1 "verify fails on the plaintext hash" $Z verify "$id"
grep_err "... on the plaintext check" "$id (from sink:disk): restored data does not match the manifest: $plain_size bytes with SHA-256 $plain_sha, expected $plain_size bytes with $zeros"
check_fails 1 "verify --deep fails on the plaintext hash" $Z verify --deep "$id"
grep_err "... on the plaintext check" "$id (from sink:disk): restored data does not match the manifest"
fresh "manifest plain size"
manifest_set plaintext size $((plain_size - 1))
check_fails 1 "verify fails on the plaintext size" $Z verify "$id"
grep_err "... on the plaintext size" "$id (from sink:disk): restored data does not match the manifest: $plain_size bytes with SHA-256 $plain_sha, expected $((plain_size - 1)) bytes"

# 7. an encrypted copy: without an identity only the stored bytes can
#    be checked, so a flipped byte must fail there; with the identity,
#    age's authentication fails too.
$CTL keygen -o "$T/id.key" 2>/dev/null || fail "keygen"
sed -n 's/^# public key: //p' "$T/id.key" >"$T/recipients.txt"
cat >"$T/age.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:vault]
plugin = local
path = $T/vault

[source:num]
plugin = command
command = seq 1 200000
extension = txt

[job:num]
source = num
sinks = vault
INI
A="$CTL -c $T/age.ini"
check "encrypted backup" $A run num
check "list the vault" $A list --json
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
adata=$(ls "$T"/vault/num/output/*/data.txt.zst.age)
asize=$(stat -c %s "$adata")
check "the encrypted copy verifies without an identity" $A verify "$aid"
grep_err "... on the stored bytes only" "checking the stored bytes only"
check "and with it" $A verify --deep --identity "$T/id.key" "$aid"
flip_byte "$adata" $((asize / 2))
check_fails 1 "verify without an identity fails on a flipped byte" $A verify "$aid"
grep_err "... on the stored-bytes check" "$aid (from sink:vault): stored data does not match the manifest: $asize bytes with SHA-256 $(sha "$adata")"
check_fails 1 "verify --deep with the identity fails too" $A verify --deep --identity "$T/id.key" "$aid"
grep_err "... on age's authentication" "failed authentication"

# 8. compressed copies record no SHA-256 of the plaintext: the codec's own
#    checksum covers it (zstd's frame checksum, gzip's CRC-32).  Break
#    that checksum and make the stored hash, sidecar and manifest agree
#    with the broken bytes: only the codec's check can see it.
for c in zstd:3 gzip:6; do
	name=${c%%:*}
	sed -e "s/^compression = none/compression = $c/" \
	    -e "s#^state_dir = .*#state_dir = $T/state-$name#" \
	    -e "s#path = $T/store#path = $T/$name#" "$T/zb.ini" >"$T/$name.ini"
	C="$CTL -c $T/$name.ini"
	check "$c backup" $C run num
	cdir=$(dirname "$(ls "$T/$name"/num/output/*/manifest.json)")
	cdata=$(ls "$cdir"/data.txt.*[tz])
	cid="num/output@$(basename "$cdir")"
	python3 - "$cdir/manifest.json" "$name" "$plain_size" <<'PY' &&
import json, sys
m = json.load(open(sys.argv[1]))
assert m["format_version"] == 2, m
assert m["plaintext"] == {"size": int(sys.argv[3]), "check": sys.argv[2]}, m
PY
	    ok "$c: the manifest names the $name check, not a plaintext SHA-256" ||
	    fail "$c: manifest: $(cat "$cdir/manifest.json")"
	check "$c: the copy verifies" $C verify "$cid"
	csize=$(stat -c %s "$cdata")
	# zstd: the frame's last 4 bytes; gzip: the trailer's CRC-32.
	if [ "$name" = zstd ]; then flip_byte "$cdata" $((csize - 1)); else flip_byte "$cdata" $((csize - 8)); fi
	csha=$(sha "$cdata")
	dir=$cdir manifest_set stored sha256 "$csha"
	printf '%s  %s\n' "$csha" "$(basename "$cdata")" >"$cdata.sha256"
	check_fails 1 "$c: verify fails on the $name checksum" $C verify "$cid"
	grep_err "... as corrupt stored data" "$cid (from sink:disk): stored data is corrupt"
	# Without a SHA-256 the plaintext's size is still checked.
	rm -rf "$T/$name" "$T/state-$name"
	check "$c backup again" $C run num
	cdir=$(dirname "$(ls "$T/$name"/num/output/*/manifest.json)")
	cid="num/output@$(basename "$cdir")"
	dir=$cdir manifest_set plaintext size $((plain_size + 1))
	check_fails 1 "$c: verify fails on the plaintext size" $C verify "$cid"
	grep_err "... naming both sizes" "$cid (from sink:disk): restored data does not match the manifest: $plain_size bytes, expected $((plain_size + 1)) bytes"
done

finish
