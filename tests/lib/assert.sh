# assert.sh - pass/fail bookkeeping for the shell tests (sourced, bash).
# Expects $T, a private temporary directory: commands' output goes to
# $T/out and $T/err, and every command's stderr is also appended to
# $T/all.err, so that later checks (secrets, sanitizer reports) see all
# of it.  finish prints "N passed, N failed" and sets the exit status.
#
# A crash is never an expected failure: every helper fails on an exit
# status >= 128 (a signal: abort 134, segfault 139) and on a sanitizer
# report in the command's stderr.  The sanitizers exit 86
# (tests/local.mk), which no expected failure names.

passed=0
failed=0

# What AddressSanitizer, LeakSanitizer and UBSan print.
ZB_SAN_RE='ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer'

fail() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

ok() {
	echo "ok: $*"
	passed=$((passed + 1))
}

# san_report FILE...: true (and prints the first lines) when a file holds
# a sanitizer report
san_report() {
	grep -a -h -m3 -E -- "$ZB_SAN_RE" "$@" 2>/dev/null
}

# _run command...: run it with stdout in $T/out and stderr in $T/err;
# sets rc
_run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	{ printf '==== %s (exit %s)\n' "$*" "$rc"; cat "$T/err"; } \
	    >>"$T/all.err"
}

# check "what" command...: the command must exit 0 without a sanitizer
# report
check() {
	local what=$1 rc san
	shift
	_run "$@"
	san=$(san_report "$T/err")
	if [ -n "$san" ]; then
		fail "$what: sanitizer report (exit $rc): $san"
	elif [ $rc -eq 0 ]; then
		ok "$what"
	else
		fail "$what (exit $rc): $(tail -5 "$T/err")"
	fi
}

# check_fails CODE "what" command...: the command must exit with CODE
# (1: a failure, 2: a usage error, see core/cli/ctl.h), without a crash or a
# sanitizer report
check_fails() {
	local code=$1 what=$2 rc san
	shift 2
	case $code in
	[1-9] | [1-9][0-9] | 1[0-2][0-9]) ;;
	*) fail "$what: check_fails needs the expected exit code, not '$code'"
	   return ;;
	esac
	_run "$@"
	san=$(san_report "$T/err")
	if [ -n "$san" ]; then
		fail "$what: sanitizer report (exit $rc): $san"
	elif [ $rc -eq "$code" ]; then
		ok "$what"
	else
		fail "$what: exit $rc, expected $code: $(tail -3 "$T/err")"
	fi
}

# check_rc "what" RC CODE [ERRFILE]: for a command run by hand (in the
# background, say): its exit status RC must be CODE, and ERRFILE (its
# stderr) must hold no sanitizer report
check_rc() {
	local what=$1 rc=$2 code=$3 san=
	[ $# -ge 4 ] && san=$(san_report "$4")
	if [ -n "$san" ]; then
		fail "$what: sanitizer report (exit $rc): $san"
	elif [ "$rc" -eq "$code" ]; then
		ok "$what"
	else
		fail "$what: exit $rc, expected $code"
	fi
}

# grep_err "what" pattern: the last command's stderr has the pattern
grep_err() {
	if grep -q -- "$2" "$T/err"; then
		ok "$1"
	else
		fail "$1: stderr lacks '$2': $(tail -5 "$T/err")"
	fi
}

# finish: a last sweep for sanitizer reports in every file the test
# wrote below $T (stderr captured by hand, logs), then the totals
finish() {
	local f
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		while IFS= read -r f; do
			fail "sanitizer report in ${f#"$T"/}: $(san_report "$f")"
		done < <(grep -r -l -a -D skip -E -- "$ZB_SAN_RE" "$T" 2>/dev/null)
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
