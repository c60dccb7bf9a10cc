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
. "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"

# flip_byte FILE OFFSET: invert every bit of one byte in place (the size
# stays); a negative OFFSET counts from the end.  Writing a fixed value
# instead leaves the file unchanged once in 256 runs where the byte was
# already that value (compressed or random data).
flip_byte() {
	python3 - "$1" "$2" <<'PY'
import sys
off = int(sys.argv[2])
with open(sys.argv[1], "r+b") as f:
    f.seek(off, 0 if off >= 0 else 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0xFF]))
PY
}
