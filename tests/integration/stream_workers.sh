#!/bin/bash
# stream_workers.sh - the stream core's unit tests (tests/unit/test_stream)
# again with 1, 2 and 4 worker threads (ZB_TEST_WORKERS): hashing, the
# codec and age then run on the pool, stages of one stream on different
# threads; the budget, backpressure, failure isolation and chunk order
# tests must hold as they do with every stage on the loop (make check's
# own run of test_stream, 0 workers).
. "$(dirname "$0")/lib.sh"

prog="$ZB_BUILDDIR/tests/unit/test_stream"
[ -x "$prog" ] || fail "$prog: not built (Criterion missing?)"
for n in 1 2 4; do
	if ZB_TEST_WORKERS=$n "$prog" >"$T/w$n.log" 2>&1; then
		ok "test_stream with $n worker thread(s): $(grep -o 'Tested: [0-9]*' "$T/w$n.log")"
	else
		fail "test_stream with $n worker thread(s):"
		grep -E '^\[(FAIL|----)\]' "$T/w$n.log" | head -20 >&2
	fi
done

finish
