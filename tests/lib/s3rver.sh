# s3rver.sh - s3rver (npm), an independent S3 server, for the interop
# tests (sourced, bash, after lib.sh: uses $T).
#
#   s3rver_start [BUCKET...]   # data in $T/s3rver; sets S3R_PORT S3R_PID S3R_URL
#   s3rver_stop                # SIGKILL by PID (as a crash would), reaped
#   s3rver_restart             # the same data directory and port
#   s3r_aws ARGS...            # awscli against it (credentials set)
#
# s3rver is found as $ZB_S3RVER, else in the npm prefix that
# scripts/install-deps.sh fills (/var/cache/zentoria-test-npm), else on
# PATH; without it, or without awscli, the test is skipped (77).

S3R_BIN=${ZB_S3RVER:-}
for _c in /var/cache/zentoria-test-npm/node_modules/.bin/s3rver \
    "$(command -v s3rver 2>/dev/null)"; do
	[ -z "$S3R_BIN" ] && [ -n "$_c" ] && [ -x "$_c" ] && S3R_BIN=$_c
done
unset _c
if [ -z "$S3R_BIN" ] || ! command -v aws >/dev/null; then
	echo "s3rver (npm) or awscli not installed: skipped"
	exit 77
fi
S3R_AK=S3RVER	# s3rver's fixed credentials
S3R_SK=S3RVER
S3R_PID=
S3R_PORT=0
S3R_URL=
S3R_BUCKETS=
(umask 077; printf '%s\n' "$S3R_AK" >"$T/s3r.ak"; printf '%s\n' "$S3R_SK" >"$T/s3r.sk")

_s3r_launch() {
	local i b args=()
	for b in $S3R_BUCKETS; do
		args+=(--configure-bucket "$b")
	done
	mkdir -p "$T/s3rver"
	: >"$T/s3rver.log"
	"$S3R_BIN" -d "$T/s3rver" -a 127.0.0.1 -p "$S3R_PORT" \
	    --no-vhost-buckets "${args[@]}" >"$T/s3rver.log" 2>&1 &
	S3R_PID=$!
	for i in $(seq 1 150); do
		grep -q 'listening on' "$T/s3rver.log" && break
		kill -0 "$S3R_PID" 2>/dev/null || break
		sleep 0.1
	done
	S3R_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
	    "$T/s3rver.log" | head -1)
	[ -n "$S3R_PORT" ] || { echo "s3rver did not start:" >&2;
	    tail -5 "$T/s3rver.log" >&2; return 1; }
	S3R_URL=http://127.0.0.1:$S3R_PORT
}

s3rver_start() {
	S3R_BUCKETS="$*"
	_s3r_launch
}

s3rver_restart() {
	_s3r_launch
}

s3rver_stop() {
	[ -n "$S3R_PID" ] || return 0
	kill -KILL "$S3R_PID" 2>/dev/null || true
	wait "$S3R_PID" 2>/dev/null || true	# 137: killed, as asked
	S3R_PID=
}

s3r_aws() {
	AWS_ACCESS_KEY_ID=$S3R_AK AWS_SECRET_ACCESS_KEY=$S3R_SK \
	    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
	    AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	    aws --endpoint-url "$S3R_URL" "$@"
}
