# s3fake.sh - the strict S3 fake (tests/fakes/s3_fake.py) for the shell
# tests (sourced, bash, after lib.sh: uses $T).
#
#   s3fake_start [s3_fake.py options]   # sets S3_PORT, S3_PID, S3_URL
#   s3fake_get PATH                     # GET an admin endpoint (/__state)
#   s3fake_post PATH                    # POST one (/__fault?..., /__log?reset)
#   s3fake_stop                         # SIGTERM by PID, SIGKILL if needed
#
# Keys: S3_AK / S3_SK, also in $T/s3.ak and $T/s3.sk (mode 0600). Exits 77
# (skip) when botocore is missing.

S3_AK=AKIAZBTEST0000000001
S3_SK=zbtest/secret+key/0123456789abcdefghij
S3_PID=
S3_PORT=
S3_URL=

/usr/bin/python3 -c 'import botocore' 2>/dev/null || {
	echo "python3-botocore missing: skipped"
	exit 77
}
(umask 077; printf '%s\n' "$S3_AK" >"$T/s3.ak"; printf '%s\n' "$S3_SK" >"$T/s3.sk")

s3fake_start() {
	local i
	rm -f "$T/s3.port"
	/usr/bin/python3 "$ZB_SRCDIR/tests/fakes/s3_fake.py" --port 0 \
	    --access-key "$S3_AK" --secret-key "$S3_SK" \
	    --port-file "$T/s3.port" "$@" >>"$T/s3fake.log" 2>&1 &
	S3_PID=$!
	for i in $(seq 1 100); do
		[ -s "$T/s3.port" ] && break
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$T/s3.port" ] || { echo "s3 fake did not start:" >&2;
	    tail -5 "$T/s3fake.log" >&2; return 1; }
	S3_PORT=$(cat "$T/s3.port")
	S3_URL=http://127.0.0.1:$S3_PORT
}

s3fake_get() { curl -sf "$S3_URL$1"; }
s3fake_post() { curl -sf -X POST "$S3_URL$1" >/dev/null; }

s3fake_stop() {
	local i
	[ -n "$S3_PID" ] || return 0
	kill -TERM "$S3_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$S3_PID" 2>/dev/null
	wait "$S3_PID" 2>/dev/null
	S3_PID=
}
