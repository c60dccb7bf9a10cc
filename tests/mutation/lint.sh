#!/bin/bash
# lint.sh - part of make check: every mutation of tests/mutation/
# mutations.txt still applies to this tree exactly once and names tests
# that exist.  A line a mutation targets that was edited makes the
# mutation stale: update mutations.txt with the change (and run
# `make mutation-check --only ID' to see that it is still killed).
: "${ZB_SRCDIR:?run through make check}"
command -v python3 >/dev/null || { echo "python3 missing: skipped"; exit 77; }
exec python3 "$ZB_SRCDIR/tests/mutation/mutate.py" check \
    "$ZB_SRCDIR/tests/mutation/mutations.txt" "$ZB_SRCDIR"
