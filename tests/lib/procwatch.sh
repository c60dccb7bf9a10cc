# procwatch.sh - secrets must not show in argv, environments or logs
# (sourced, bash, after lib.sh: uses $T, ZB_BUILDDIR and assert.sh).
#
#   procwatch_start SECRET...     # sample processes until procwatch_stop
#   procwatch_stop
#   procwatch_check "what" COMM...
#   no_secret_in "what" PATH...
#
# procwatch_start writes the secrets to a 0600 file (no argv holds them)
# and starts tests/lib/procwatch.py, which samples every 5 ms the argv
# (/proc/PID/cmdline) and environment of every process of this build's
# zentoria-backupctl/-backupd and its descendants, as they run; PROCWATCH_ENV_OK
# lists the comms that get a secret in their environment by design
# (pg_dump's PGPASSWORD).  The watcher ends with the test's shell.  procwatch_check fails on each leak it saw, and
# when one of the COMMs was never sampled (a watcher that saw nothing
# proves nothing).  no_secret_in greps files and directories; the files
# listed in SECRET_FILES (password files) are meant to hold them.

PROCWATCH_PID=
PROCWATCH_DIR=$T/.procwatch
SECRET_FILES=${SECRET_FILES:-}

procwatch_start() {
	mkdir -p -m 700 "$PROCWATCH_DIR"
	(umask 077; printf '%s\n' "$@" >"$PROCWATCH_DIR/secrets")
	python3 "$ZB_SRCDIR/tests/lib/procwatch.py" \
	    --secrets "$PROCWATCH_DIR/secrets" --out "$PROCWATCH_DIR/out" \
	    --root-dir "$ZB_BUILDDIR" --env-ok "${PROCWATCH_ENV_OK:-}" \
	    --parent $$ &
	PROCWATCH_PID=$!
}

procwatch_stop() {
	[ -n "$PROCWATCH_PID" ] || return 0
	kill -TERM "$PROCWATCH_PID" 2>/dev/null
	wait "$PROCWATCH_PID" 2>/dev/null
	PROCWATCH_PID=
}

procwatch_check() {
	local what=$1 c n
	shift
	procwatch_stop
	if [ ! -s "$PROCWATCH_DIR/out" ]; then
		fail "$what: the process watcher wrote nothing"
		return
	fi
	if grep -q '^LEAK ' "$PROCWATCH_DIR/out"; then
		fail "$what: $(grep '^LEAK ' "$PROCWATCH_DIR/out" | head -5)"
	else
		ok "$what: no secret in any argv or environment" \
		    "($(sed -n 's/^samples //p' "$PROCWATCH_DIR/out") samples)"
	fi
	for c in "$@"; do
		n=$(sed -n "s/^seen $c //p" "$PROCWATCH_DIR/out")
		[ "${n:-0}" -gt 0 ] && ok "$what: $c was sampled ($n times)" ||
		    fail "$what: $c was never sampled: $(grep '^seen' "$PROCWATCH_DIR/out" | paste -sd' ')"
	done
}

no_secret_in() {
	local what=$1 f bad=
	shift
	while IFS= read -r f; do
		case " $SECRET_FILES " in *" $f "*) continue ;; esac
		bad="$bad $f"
	done < <(grep -r -l -a -F -D skip --exclude-dir=.procwatch \
	    -f "$PROCWATCH_DIR/secrets" "$@" 2>/dev/null)
	[ -z "$bad" ] && ok "$what" || fail "$what: a secret is in$bad"
}
