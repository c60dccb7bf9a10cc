# assert.sh - pass/fail bookkeeping for the shell tests (sourced, bash).
# Expects $T, a private temporary directory: commands' output goes to
# $T/out and $T/err.  finish prints "N passed, N failed" and sets the
# exit status.

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
