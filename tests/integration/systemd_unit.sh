#!/bin/bash
# systemd_unit.sh - etc/systemd/zentoria-backupd.service as make generated
# it: the hardening the packaging promises is there, its paths agree with
# the built daemon's defaults and the sample configuration, and
# `systemd-analyze verify` accepts it without a single message (unknown
# keys and bad values are only warnings to systemd: any output fails).
# verify checks that ExecStart's binary exists, so a copy points at the
# built daemon; it does not need the unit's User= to exist (verified on
# systemd 252), so the real User= line is verified.  --man=yes (the
# default) runs man(1) for Documentation=: MANPATH points at our pages.
# The sysusers.d file is checked with `systemd-sysusers --dry-run` under
# a scratch root.  A missing tool fails the test (systemd is in
# scripts/debian-deps.txt).
. "$(dirname "$0")/lib.sh"

UNIT="$ZB_BUILDDIR/etc/systemd/zentoria-backupd.service"
SYSUSERS="$ZB_SRCDIR/etc/systemd/zentoria-backupd.sysusers"
SAMPLE="$ZB_SRCDIR/etc/zentoria-backupd.ini.sample"

if [ ! -f "$UNIT" ]; then
	fail "$UNIT: missing (make builds it)"
	finish
	exit
fi

# make substituted every placeholder
if grep -n '@[a-z_]*@' "$UNIT" >"$T/left"; then
	fail "placeholders left in the unit: $(cat "$T/left")"
else
	ok "no placeholder left"
fi

# has_line LINE: the unit holds exactly this line
has_line() {
	if grep -qxF -- "$1" "$UNIT"; then
		ok "unit has '$1'"
	else
		fail "unit lacks the line '$1'"
	fi
}
has_line 'Type=notify'
has_line 'ExecReload=/bin/kill -HUP $MAINPID'
has_line 'User=zentoria-backupd'
has_line 'ProtectSystem=strict'
has_line 'ProtectHome=yes'
has_line 'PrivateTmp=yes'
has_line 'NoNewPrivileges=yes'
has_line 'CapabilityBoundingSet='
has_line 'Restart=on-failure'
has_line 'StateDirectory=zentoria-backupd'
# No capability comes back through another key.
if grep -E '^(AmbientCapabilities|CapabilityBoundingSet)=.' "$UNIT"; then
	fail "a capability is granted"
else
	ok "no capability granted"
fi

# ExecStart runs the installed daemon on the installed configuration.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
case $exec_start in
/*/zentoria-backupd\ -c\ /*/zentoria-backupd/zentoria-backupd.ini)
	ok "ExecStart=$exec_start" ;;
*)	fail "ExecStart is '$exec_start'" ;;
esac
bin=${exec_start%% *}

# ReadWritePaths: the daemon's compiled-in default state_dir (a string
# in the binary) and the sample's local tier.
rw=$(sed -n 's/^ReadWritePaths=-\{0,1\}//p' "$UNIT" | tr ' ' '\n')
state=$(printf '%s\n' "$rw" | grep '/lib/zentoria-backupd$')
if [ -n "$state" ] && grep -aqF "$state" "$DAEMON"; then
	ok "ReadWritePaths has the daemon's state_dir $state"
else
	fail "no ReadWritePaths= is the daemon's default state_dir" \
	    "(ReadWritePaths: $(echo $rw))"
fi
tier=$(awk '/^\[sink:local\]/ { s = 1; next } /^\[/ { s = 0 }
    s && $1 == "path" { print $3 }' "$SAMPLE")
if [ -n "$tier" ] && printf '%s\n' "$rw" | grep -qxF "$tier"; then
	ok "ReadWritePaths has the sample's local tier $tier"
else
	fail "the sample's [sink:local] path '$tier' is not in" \
	    "ReadWritePaths ($(echo $rw))"
fi

# TimeoutStopSec above the daemon's own hard deadline: shutdown_timeout
# (the sample's, which is the default) + 10 s.
sd=$(sed -n 's/^shutdown_timeout *= *\([0-9]*\)s.*/\1/p' "$SAMPLE")
ts=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$UNIT")
if [ -n "$sd" ] && [ -n "$ts" ] && [ "$ts" -gt $((sd + 10)) ]; then
	ok "TimeoutStopSec=$ts > shutdown_timeout $sd s + 10 s"
else
	fail "TimeoutStopSec='$ts' is not above shutdown_timeout '$sd' + 10 s"
fi

# systemd-analyze verify, on a copy that runs the built daemon
if ! command -v systemd-analyze >/dev/null; then
	fail "systemd-analyze missing (Debian package systemd)"
else
	mkdir -p "$T/unit" "$T/man/man8" "$T/man/man5" "$T/man/man1"
	cp "$ZB_SRCDIR/man/zentoria-backupd.8" "$T/man/man8/"
	cp "$ZB_SRCDIR/man/zentoria-backupd.ini.5" "$T/man/man5/"
	cp "$ZB_SRCDIR/man/zentoria-backupctl.1" "$T/man/man1/"
	sed "s#^ExecStart=$bin #ExecStart=$DAEMON #" "$UNIT" \
	    >"$T/unit/zentoria-backupd.service"
	if grep -qF "ExecStart=$DAEMON -c" "$T/unit/zentoria-backupd.service"
	then
		ok "test copy runs $DAEMON"
	else
		fail "could not point the test copy at $DAEMON"
	fi
	_run env MANPATH="$T/man" LC_ALL=C.UTF-8 SYSTEMD_LOG_COLOR=0 \
	    systemd-analyze verify "$T/unit/zentoria-backupd.service"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ]; then
		ok "systemd-analyze verify: no message"
	else
		fail "systemd-analyze verify (exit $rc):" \
		    "$(cat "$T/out" "$T/err")"
	fi
fi

# sysusers.d: makes the user the unit runs as
if ! command -v systemd-sysusers >/dev/null; then
	fail "systemd-sysusers missing (Debian package systemd)"
else
	mkdir -p "$T/root"
	_run systemd-sysusers --root="$T/root" --dry-run "$SYSUSERS"
	if [ "$rc" -eq 0 ] &&
	    grep -q "Creating user 'zentoria-backupd'" "$T/out" "$T/err" &&
	    ! grep -qiE 'fail|invalid|error|ignor' "$T/out" "$T/err"; then
		ok "systemd-sysusers --dry-run creates zentoria-backupd"
	else
		fail "systemd-sysusers --dry-run (exit $rc):" \
		    "$(cat "$T/out" "$T/err")"
	fi
fi

finish
