#!/bin/bash
# daemon_journal.sh - log lines for the journal: without --foreground, or
# with stderr being the stream $JOURNAL_STREAM names (dev:ino), each line
# starts with its sd-daemon priority (<6> info, <3> error) and carries no
# "zentoria-backupd: info:" (journald adds the name and the time); with
# --foreground and stderr elsewhere, today's human lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[source:quick]
plugin = command
command = echo hi

[sink:d1]
plugin = local
path = $T/d1

[job:j]
source = quick
sinks = d1
schedule = @every 1h
INI

# journald-like: no --foreground
"$DAEMON" -c "$T/zb.ini" >"$T/a.out" 2>"$T/a.log" &
DPID=$!
BGPIDS+=("$DPID")
wait_until 5 grep -q "started with" "$T/a.log" || fail "no start: $(cat "$T/a.log")"
stop_daemon "$DPID" TERM 10
check_rc "no --foreground: SIGTERM, exit 0" "$rc" 0 "$T/a.log"
grep -q "^<6>started with $T/zb.ini$" "$T/a.log" &&
    ok "no --foreground: info lines start with <6>" ||
    fail "no --foreground: $(cat "$T/a.log")"
grep -q "zentoria-backupd: info:" "$T/a.log" &&
    fail "no --foreground: a human line: $(cat "$T/a.log")" ||
    ok "no --foreground: no \"zentoria-backupd: info:\" prefix"
grep -vq '^<[3467]>' "$T/a.log" &&
    fail "a line without a priority: $(grep -v '^<[3467]>' "$T/a.log")" ||
    ok "every line has a priority"

# --foreground, but stderr is the journal stream
: >"$T/b.log"
js=$(stat -L -c '%d:%i' "$T/b.log")
start_daemon b "$T/zb.ini" JOURNAL_STREAM="$js"
wait_until 5 grep -q "started with" "$T/b.log" || fail "no start: $(cat "$T/b.log")"
stop_daemon "$DPID" TERM 10
check_rc "JOURNAL_STREAM: SIGTERM, exit 0" "$rc" 0 "$T/b.log"
grep -q "^<6>started with" "$T/b.log" &&
    ok "--foreground with stderr = \$JOURNAL_STREAM ($js): <6> lines" ||
    fail "JOURNAL_STREAM=$js: $(cat "$T/b.log")"

# --foreground, JOURNAL_STREAM naming another file: human lines
start_daemon c "$T/zb.ini" JOURNAL_STREAM="$js"
wait_until 5 grep -q "started with" "$T/c.log" || fail "no start: $(cat "$T/c.log")"
stop_daemon "$DPID" TERM 10
check_rc "--foreground: SIGTERM, exit 0" "$rc" 0 "$T/c.log"
grep -q "^zentoria-backupd: info: started with" "$T/c.log" &&
    ! grep -q '^<[0-9]>' "$T/c.log" &&
    ok "--foreground, stderr not the journal: human lines" ||
    fail "--foreground: $(cat "$T/c.log")"

# an error: <3>, also from --check-config when stderr is the journal
printf '[daemon]\nbogus = 1\n' >"$T/bad.ini"
: >"$T/d.log"
js=$(stat -L -c '%d:%i' "$T/d.log")
JOURNAL_STREAM=$js "$DAEMON" -c "$T/bad.ini" --check-config 2>"$T/d.log"
rc=$?
check_rc "bad config: exit 1" "$rc" 1 "$T/d.log"
grep -q "^<3>$T/bad.ini:2:" "$T/d.log" &&
    ok "an error line starts with <3> and names file:line" ||
    fail "error line: $(cat "$T/d.log")"
"$DAEMON" -c "$T/bad.ini" --check-config 2>"$T/e.log"
grep -q "^zentoria-backupd: error: $T/bad.ini:2:" "$T/e.log" &&
    ok "--check-config by hand: human lines" ||
    fail "--check-config: $(cat "$T/e.log")"
finish
