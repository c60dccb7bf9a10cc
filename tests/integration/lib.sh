# lib.sh - helpers for the integration tests (sourced, bash).
# Each test gets a private temporary directory, removed on exit.

set -u
: "${ZB_BUILDDIR:?run through make check}"
: "${ZB_TEST_PLUGIN_DIR:?run through make check}"
CTL="$ZB_BUILDDIR/zentoria-backupctl"
DAEMON="$ZB_BUILDDIR/zentoria-backupd"
T=$(mktemp -d /tmp/zbit.XXXXXX)
chmod 700 "$T"
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

ok() {
	echo "ok: $*"
	passed=$((passed + 1))
}

# check "what" command...: the command must succeed
check() {
	local what=$1
	shift
	if "$@" >"$T/out" 2>"$T/err"; then
		ok "$what"
	else
		fail "$what (exit $?): $(tail -5 "$T/err")"
	fi
}

# check_fails "what" command...: the command must fail (not crash)
check_fails() {
	local what=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -lt 128 ]; then
		ok "$what"
	else
		fail "$what: exit $rc"
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

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
