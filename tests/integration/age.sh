#!/bin/bash
# age.sh - encryption at rest end to end: backups to two age recipients
# open with the stock `age -d`, reveal no file name in the stored data or
# the manifest, restore with either identity or a passphrase, refuse a
# wrong identity, and never complete a target from tampered data.
. "$(dirname "$0")/lib.sh"
command -v age >/dev/null || { echo "age(1) not installed: skipped"; exit 77; }

Z0="$CTL"
check "keygen writes an identity file" $Z0 keygen -o "$T/operator.key"
[ "$(stat -c %a "$T/operator.key")" = 600 ] && ok "identity file is 0600" || fail "identity mode"
grep -q '^Public key: age1' "$T/err" && ok "keygen prints the recipient" || fail "keygen stderr"
check_fails 1 "keygen never overwrites" $Z0 keygen -o "$T/operator.key"
$Z0 keygen -o "$T/escrow.key" 2>/dev/null
$Z0 keygen -o "$T/stranger.key" 2>/dev/null
{ echo "# operator"; sed -n 's/^# public key: //p' "$T/operator.key"
  echo "# offline escrow"; sed -n 's/^# public key: //p' "$T/escrow.key"; } >"$T/recipients.txt"

mkdir -p "$T/tree/docs"
echo "the plans" >"$T/tree/docs/secret-plans-zzqx.txt"
head -c 200000 /dev/urandom >"$T/tree/docs/blob.bin"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:disk]
plugin = local
path = $T/store

[source:numbers]
plugin = command
command = seq 1 200000
extension = txt

[source:tree]
plugin = files
path = $T/tree

[job:numbers]
source = numbers
sinks = disk

[job:tree]
source = tree
sinks = disk
INI
Z="$CTL -c $T/zb.ini"
seq 1 200000 >"$T/expected.txt"

check "encrypted backups run" $Z run numbers tree
data=$(ls "$T"/store/numbers/output/*/data.txt.zst.age)
tdata=$(ls "$T"/store/tree/files/*/data.tar.zst.age)
[ -n "$data" ] && [ -n "$tdata" ] && ok "stored as .age" || fail "no .age files"
head -c 22 "$data" | grep -q '^age-encryption.org/v1' && ok "an age v1 file" || fail "not age"
age -d -i "$T/operator.key" "$data" | zstd -dc | cmp -s - "$T/expected.txt" &&
    ok "stock age -d opens it with the operator key" || fail "age -d operator"
age -d -i "$T/escrow.key" "$data" | zstd -dc | cmp -s - "$T/expected.txt" &&
    ok "and with the escrow key" || fail "age -d escrow"
grep -a -q "secret-plans-zzqx" "$tdata" && fail "a file name is in clear in the stored data" ||
    ok "no file name in clear in the stored data"
man=$(ls "$T"/store/tree/files/*/manifest.json)
if python3 - "$man" "$T/recipients.txt" <<'PY'; then
import json, sys
text = open(sys.argv[1]).read()
m = json.loads(text)
assert m["transforms"]["encryption"] == "age"
assert len(m["transforms"]["recipients"]) == 2
assert all(r.startswith("X25519:") for r in m["transforms"]["recipients"])
assert "facts" not in m and "facts_age" in m
for line in open(sys.argv[2]):
    if line.startswith("age1"):
        assert line.strip() not in text, "a full recipient"
assert "AGE-SECRET" not in text and "secret-plans" not in text
PY
	ok "the manifest holds fingerprints and sealed facts only"
else
	fail "the manifest reveals too much"
fi

id=$($Z list --json 2>/dev/null | python3 -c 'import json,sys; print([o["id"] for o in json.load(sys.stdin) if o["source"]=="numbers"][0])')
tid=$($Z list --json 2>/dev/null | python3 -c 'import json,sys; print([o["id"] for o in json.load(sys.stdin) if o["source"]=="tree"][0])')
check "verify without a key checks the stored bytes" $Z verify "$id"
grep_err "says so" "checking the stored bytes only"
check_fails 1 "verify --deep needs a key" $Z verify --deep "$id"
check "verify --deep with the escrow identity" $Z verify --deep --identity "$T/escrow.key" "$id"
check_fails 1 "restore without a key is refused" $Z restore "$id" --to "$T/nokey.txt"
[ ! -e "$T/nokey.txt" ] && ok "and writes nothing" || fail "nokey target exists"
check "restore with the operator identity" $Z restore "$id" --identity "$T/operator.key" --to "$T/out.txt"
cmp -s "$T/out.txt" "$T/expected.txt" && ok "restored identical" || fail "restored differs"
check "restore a tree with the escrow identity" $Z restore "$tid" --identity "$T/escrow.key" --to "$T/tree-out"
diff -r "$T/tree" "$T/tree-out/tree" >/dev/null && ok "tree identical" || fail "tree differs"
check_fails 1 "a wrong identity fails" $Z restore "$id" --identity "$T/stranger.key" --to "$T/wrong.txt"
grep_err "and says why" "no identity matched"
[ ! -e "$T/wrong.txt" ] && ok "nothing written for a wrong identity" || fail "wrong.txt exists"

# --identity and --passphrase-file must be as private as the config's
cp "$T/operator.key" "$T/open.key"
chmod 644 "$T/open.key"
check_fails 1 "an --identity readable by others is refused" $Z restore "$id" --identity "$T/open.key" --to "$T/open.txt"
grep_err "and says why" "error: --identity: $T/open.key is readable by group or others; chmod 600 it"
[ ! -e "$T/open.txt" ] && ok "nothing written" || fail "open.txt exists"
chmod 640 "$T/open.key"
check_fails 1 "an --identity readable by its group is refused" $Z verify --deep --identity "$T/open.key" "$id"
grep_err "and says why" "--identity: $T/open.key is readable by group or others"
printf 'pw\n' >"$T/open.pass"
chmod 604 "$T/open.pass"
check_fails 1 "a --passphrase-file readable by others is refused" $Z restore "$id" --passphrase-file "$T/open.pass" --to "$T/open.txt"
grep_err "and says why" "--passphrase-file: $T/open.pass is readable by group or others"

# Tamper with one byte of the payload, and make the hashes agree with it:
# only the age authentication stands between the byte and the target.
dir=$(dirname "$data")
flip_byte "$data" -300
sha=$(sha256sum <"$data" | cut -d' ' -f1)
echo "$sha  $(basename "$data")" >"$data.sha256"
python3 - "$dir/manifest.json" "$sha" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["stored"]["sha256"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))
PY
check_fails 1 "a flipped byte fails the restore" $Z restore "$id" --identity "$T/operator.key" --to "$T/tampered.txt"
# The age tag must catch it, not zstd ("stored data is corrupt").
grep_err "as an authentication failure" "cannot decrypt: payload chunk [0-9]* failed authentication"
[ ! -e "$T/tampered.txt" ] && ! ls -A "$T" | grep -q '^\.tampered' &&
    ok "nothing written to the target" || fail "tampered restore left a file"

# Without compression only the age tag stands between a flipped byte and
# the target: no decompressor would notice.
sed -e "s|^compression = .*|compression = none|" -e "s|$T/store|$T/store4|" \
    "$T/zb.ini" >"$T/zb4.ini"
check "an uncompressed encrypted backup" $CTL -c "$T/zb4.ini" run numbers
data4=$(ls "$T"/store4/numbers/output/*/data.txt.age)
nid=$($CTL -c "$T/zb4.ini" list --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
flip_byte "$data4" -300
sha=$(sha256sum <"$data4" | cut -d' ' -f1)
echo "$sha  $(basename "$data4")" >"$data4.sha256"
python3 - "$(dirname "$data4")/manifest.json" "$sha" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["stored"]["sha256"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))
PY
check_fails 1 "a flipped byte in uncompressed data fails" $CTL -c "$T/zb4.ini" \
    restore "$nid" --identity "$T/operator.key" --to "$T/tampered4.txt"
grep_err "as an authentication failure" "cannot decrypt: payload chunk [0-9]* failed authentication"
[ ! -e "$T/tampered4.txt" ] && ok "nothing written for it either" ||
    fail "uncompressed tampered restore left a file"

# A passphrase instead of recipients
printf 'correct horse battery staple\n' >"$T/pass.txt"
chmod 600 "$T/pass.txt"
sed -e "s|^age_recipients_file = .*|age_passphrase_file = $T/pass.txt\nage_scrypt_work_factor = 10|" \
    -e "s|$T/store|$T/store2|" "$T/zb.ini" >"$T/zb2.ini"
Z2="$CTL -c $T/zb2.ini"
check "backup to a passphrase" $Z2 run numbers
pid=$($Z2 list --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "restore with --passphrase-file" $Z2 restore "$pid" --passphrase-file "$T/pass.txt" --to "$T/pass-out.txt"
cmp -s "$T/pass-out.txt" "$T/expected.txt" && ok "passphrase restore identical" || fail "passphrase restore differs"

# The identity on the host, only when allowed
printf 'age_identity_file = %s\nallow_identity_on_host = yes\n' "$T/operator.key" >"$T/idlines"
sed "/^age_recipients_file/r $T/idlines" "$T/zb.ini" | sed "s|$T/store|$T/store3|" >"$T/zb3.ini"
check "a host with its identity backs up" $CTL -c "$T/zb3.ini" run numbers
grep_err "and warns it can decrypt" "this host can decrypt its backups"
hid=$($CTL -c "$T/zb3.ini" list --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "and restores without --identity" $CTL -c "$T/zb3.ini" restore "$hid" --to "$T/host-out.txt"
cmp -s "$T/host-out.txt" "$T/expected.txt" && ok "host restore identical" || fail "host restore differs"

finish
