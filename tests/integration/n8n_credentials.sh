#!/bin/bash
# n8n_credentials.sh - a source key `require_encryption = yes' (core, any
# plugin), used for the n8n credentials export (`n8n export:credentials
# --all --decrypted' through the command source, plugins/n8n/README.md):
# refused at config load, naming file:line, when [daemon] encryption is
# none; with encryption = age the run works and no secret is stored in
# the clear.
. "$(dirname "$0")/lib.sh"

SECRET=zb-n8n-cred-s3cr3t-qx7
# Stands in for `n8n export:credentials --all --decrypted` on the n8n
# host: a JSON array whose "data" holds the decrypted secrets.
printf '[{"id":"c1","name":"SMTP","type":"smtp","data":{"password":"%s"}}]\n' \
    "$SECRET" >"$T/export.json"
$CTL keygen -o "$T/op.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/op.key" >"$T/recipients.txt"

write_ini() {	# write_ini FILE ENCRYPTION
	cat >"$1" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
encryption = $2
$( [ "$2" = age ] && echo "age_recipients_file = $T/recipients.txt" )

[sink:store]
plugin = local
path = $T/store

[source:n8ncreds]
plugin = command
command = cat $T/export.json
stream = credentials
extension = json
require_encryption = yes

[job:n8ncreds]
source = n8ncreds
sinks = store
INI
	chmod 600 "$1"
}

write_ini "$T/plain.ini" none
line=$(grep -n '^require_encryption' "$T/plain.ini" | cut -d: -f1)
check_fails 1 "--check-config refuses require_encryption without encryption" \
    $DAEMON -c "$T/plain.ini" --check-config
grep_err "names file:line, section and key" \
    "plain.ini:$line: \[source:n8ncreds\] require_encryption: this source's data must be encrypted"
check_fails 1 "a run refuses it too" $CTL -c "$T/plain.ini" run n8ncreds
grep_err "the run names the reason" "must be encrypted"
[ ! -e "$T/store" ] || [ -z "$(find "$T/store" -type f)" ] &&
    ok "nothing stored in the clear" || fail "something was stored"

write_ini "$T/age.ini" age
check "--check-config accepts it with encryption = age" \
    $DAEMON -c "$T/age.ini" --check-config
check "the run works encrypted" $CTL -c "$T/age.ini" run n8ncreds
if [ -n "$(find "$T/store" -name manifest.json)" ] &&
    ! grep -rqa "$SECRET" "$T/store"; then
	ok "stored, and the secret is nowhere in the clear"
else
	fail "no copy, or the secret is readable in $T/store"
fi

# require_encryption = no (the default) changes nothing.
sed 's/^require_encryption = yes/require_encryption = no/' "$T/plain.ini" \
    >"$T/off.ini"
chmod 600 "$T/off.ini"
check "require_encryption = no is accepted" \
    $DAEMON -c "$T/off.ini" --check-config

finish
