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
