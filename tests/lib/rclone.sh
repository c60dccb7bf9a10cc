# rclone.sh - rclone servers on the loopback for the rclone sink's tests
# (sourced, bash, after tests/integration/lib.sh).  Exits 77 (skip) when
# rclone is not installed.
#
#   rclone_serve webdav|sftp DIR [FLAG...]: `rclone serve KIND` of DIR on
#       127.0.0.1, a free port (or $RCS_WANT_PORT, to restart a server where
#       a config expects it), user `zb' with a random password (or
#       $RCS_WANT_PASS); sets
#       RCS_PID, RCS_PORT and RCS_REMOTE (a [section] for rclone.conf, the
#       password obscured, the file written by the caller with mode 0600).
#   rclone_stop PID: stops a server this file started (SIGTERM, then
#       SIGKILL after 5 s), by its PID.
#   Every server still running is stopped on exit.
command -v rclone >/dev/null || { echo "rclone not installed: skipped"; exit 77; }

_RCS_PIDS=()

_rclone_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rclone_serve() {
	local kind=$1 dir=$2 pass i
	shift 2
	RCS_PORT=${RCS_WANT_PORT:-$(_rclone_free_port)}
	pass=${RCS_WANT_PASS:-zb-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
	RCS_PASS=$pass
	mkdir -p "$dir"
	# The password on our own command line is the test server's only.
	rclone serve "$kind" --addr "127.0.0.1:$RCS_PORT" --user zb \
	    --pass "$pass" "$@" "$dir" >>"$T/rclone-serve-$RCS_PORT.log" 2>&1 &
	RCS_PID=$!
	_RCS_PIDS+=("$RCS_PID")
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$RCS_PORT") 2>/dev/null; then
			break
		fi
		kill -0 "$RCS_PID" 2>/dev/null || {
			cat "$T/rclone-serve-$RCS_PORT.log" >&2; return 1; }
		sleep 0.1
	done
	case $kind in
	webdav)
		RCS_REMOTE="type = webdav
url = http://127.0.0.1:$RCS_PORT
vendor = other
user = zb
pass = $(rclone obscure "$pass")" ;;
	sftp)
		RCS_REMOTE="type = sftp
host = 127.0.0.1
port = $RCS_PORT
user = zb
pass = $(rclone obscure "$pass")
shell_type = none" ;;
	esac
}

rclone_stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

_rclone_cleanup() {
	local p
	for p in "${_RCS_PIDS[@]}"; do
		rclone_stop "$p"
	done
	_RCS_PIDS=()
}
trap '_rclone_cleanup; rm -rf "$T"' EXIT
