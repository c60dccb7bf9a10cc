#!/bin/bash
# command.sh - the command source on the host's fd adapters (ABI 1.5): a
# backup larger than any pipe, a restore_command that is slower than the
# stream (the writer waits for a full pipe), one that quits early (EPIPE,
# named), one that fails after reading everything (its exit status
# decides), and a corrupt copy: the restore_command is killed before it
# could see the end of its input.
. "$(dirname "$0")/lib.sh"

# write_ini RESTORE_COMMAND
write_ini() {
	cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:near]
plugin = local
path = $T/near

[source:numbers]
plugin = command
command = seq 1 3000000
restore_command = $1
extension = txt

[job:numbers]
source = numbers
sinks = near
INI
	chmod 600 "$T/zb.ini"
}
Z="$CTL -c $T/zb.ini"
seq 1 3000000 >"$T/expected.txt"
want=$(sha256sum <"$T/expected.txt" | cut -d' ' -f1)

write_ini "cat > $T/restored.txt"
check "back up 20 MB of command output" $Z run numbers
grep -q "job numbers: ok" "$T/out" || fail "the run is ok: $(cat "$T/out")"
check "list --json" $Z list --json
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
dir=$(ls -d "$T"/near/numbers/output/*/)
[ "$(sha256sum <"$dir/data.txt" | cut -d' ' -f1)" = "$want" ] &&
    ok "the stored bytes are the command's output" || fail "stored data differs"

# A restore command that starts reading late: the pipe fills, the writer
# waits (ZB_AGAIN) and goes on once it is writable again
write_ini "sleep 1; cat > $T/restored.txt"
check "restore through a slow restore_command" $Z restore "$id"
[ "$(sha256sum <"$T/restored.txt" | cut -d' ' -f1)" = "$want" ] &&
    ok "it got every byte" || fail "the restored output differs"

# A restore command that quits early: EPIPE, named, and a failure
write_ini "head -c 1000 > /dev/null"
check_fails 1 "a restore_command that stops reading fails the restore" $Z restore "$id"
grep_err "the error says the reader quit (EPIPE)" \
    "\[source:numbers\].*closed its end of the pipe after [0-9]* bytes (EPIPE)"

# One that reads everything and then fails: its exit status decides
write_ini "cat > /dev/null; echo 'no space left' >&2; exit 3"
check_fails 1 "a restore_command exiting 3 fails the restore" $Z restore "$id"
grep_err "with its status and last words" "command exited with status 3 (no space left)"

# A corrupt copy: the command gets bytes but is killed before end of file
write_ini "cat > $T/partial.txt && touch $T/saw-eof"
flip_byte "$dir/data.txt" 5000000
check_fails 1 "a restore from a corrupt copy fails" $Z restore "$id"
grep_err "on the hash" "does not match the manifest"
[ -s "$T/partial.txt" ] && ok "the restore_command had been given data" ||
    fail "the restore_command got nothing: the test proves nothing"
[ ! -e "$T/saw-eof" ] && ok "it was killed before it saw end of file" ||
    fail "the restore_command saw a clean end of a corrupt stream"

finish
