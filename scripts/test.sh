#!/bin/bash
# test.sh - the whole test suite, as CI runs it (README's test command).
#
# Phases, each in its own build directory under $ZB_TEST_WORKDIR (default
# ./_test): a plain --enable-werror build with `make check` and an install
# into a throwaway prefix; an out-of-tree plugin built against that
# install's header and pkg-config file; `make check` under AddressSanitizer
# and UBSan; the stream round trips under ThreadSanitizer; `make
# distcheck`; the libFuzzer targets for FUZZ_SECONDS each.
# Ends with one line "N passed, N failed, N skipped" over all test
# programs.  A skipped vector suite (a log with "VECTOR SUITE SKIPPED":
# the age testkit from ../shared, the botocore SigV4 crosscheck) fails
# the run, unless ZB_ALLOW_VECTOR_SKIP=yes (never in CI).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=${ZB_TEST_WORKDIR:-$top/_test}
fuzz_seconds=${FUZZ_SECONDS:-60}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
skipped=0
vector_skips=

say() { printf '\n=== %s\n' "$*"; }
totals() { echo "$passed passed, $failed failed, $skipped skipped"; }
die() { echo "test.sh: $*" >&2; failed=$((failed + 1)); totals; exit 1; }

# Add a build's test-suite.log counts to the totals, and note the vector
# suites that skipped (their logs say so).
count() {
	local log=$1 p f s v
	[ -f "$log" ] || return 0
	p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
	f=$(sed -n 's/^# FAIL: *//p;s/^# ERROR: *//p;s/^# XPASS: *//p' "$log" |
	    paste -sd+ | bc)
	s=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	v=$(grep -rh --include='*.log' '^VECTOR SUITE SKIPPED: ' \
	    "$(dirname "$log")/tests" 2>/dev/null | sed 's/^[^:]*: //' |
	    sort -u | paste -sd' ')
	[ -z "$v" ] || vector_skips="$vector_skips $v"
}

# A skipped vector suite fails the run (CI must run them all).
vectors_ran() {
	[ -n "$vector_skips" ] || return 0
	echo "test.sh: vector suites skipped:$vector_skips" >&2
	[ "${ZB_ALLOW_VECTOR_SKIP:-}" = yes ] && return 0
	die "a vector suite skipped (ZB_ALLOW_VECTOR_SKIP=yes allows it locally)"
}

scripts/install-deps.sh || die "cannot install the build dependencies"
say "bootstrap"
autoreconf -fi >"$work.autoreconf.log" 2>&1 || { cat "$work.autoreconf.log"; die "autoreconf failed"; }
rm -f "$work.autoreconf.log"
rm -rf "$work"
mkdir -p "$work"

say "plain build, make check, install"
mkdir "$work/plain"
(cd "$work/plain" && "$top/configure" -q --enable-werror --prefix="$work/prefix" &&
    make -s -j"$jobs") || die "plain build failed"
(cd "$work/plain" && make -j"$jobs" check)
rc=$?
count "$work/plain/test-suite.log"
[ $rc -eq 0 ] || { cat "$work/plain/test-suite.log"; die "make check failed"; }
vectors_ran
(cd "$work/plain" && make -s install >/dev/null) || die "make install failed"

say "out-of-tree plugin against the installed header and .pc"
cp -r "$top/docs/plugin-example" "$work/example"
(cd "$work/example" &&
    PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" make -s) || die "plugin example does not build"
mkdir -p "$work/example-plugins"
cp "$work/example/hello.so" "$work/example-plugins/"
printf '[daemon]\nplugin_dir = %s\nstate_dir = %s\n[source:h]\nplugin = hello\n[sink:d]\nplugin = local\npath = %s\n[job:h]\nsource = h\nsinks = d\n' \
    "$work/example-plugins" "$work/example-state" "$work/example-store" \
    >"$work/example.ini"
cp "$work/prefix/lib/zentoria-backupd/plugins/local.so" "$work/example-plugins/"
if "$work/prefix/bin/zentoria-backupctl" -c "$work/example.ini" plugins | grep -q '^hello ' &&
    "$work/prefix/bin/zentoria-backupctl" -q -c "$work/example.ini" run h; then
	passed=$((passed + 1)); echo "PASS: example plugin loads and backs up"
else
	failed=$((failed + 1)); echo "FAIL: example plugin"
fi

say "make check under AddressSanitizer and UBSan"
mkdir "$work/asan"
(cd "$work/asan" && "$top/configure" -q --enable-werror --enable-sanitizers &&
    make -s -j"$jobs") || die "sanitizer build failed"
(cd "$work/asan" && make -j"$jobs" check)
rc=$?
count "$work/asan/test-suite.log"
[ $rc -eq 0 ] || { cat "$work/asan/test-suite.log"; die "make check under sanitizers failed"; }
vectors_ran

say "ThreadSanitizer: the stream's stages on the worker pool"
# Criterion's runner cannot start under TSan, so this build runs the
# command-line round trips with 4 worker threads (stream_race.sh), where
# a data race is a report on stderr that fails the check.
mkdir "$work/tsan"
(cd "$work/tsan" && "$top/configure" -q --enable-werror --enable-tsan &&
    make -s -j"$jobs") || die "ThreadSanitizer build failed"
(cd "$work/tsan" && make -j"$jobs" check \
    TESTS='tests/integration/stream_race.sh tests/integration/age.sh')
rc=$?
count "$work/tsan/test-suite.log"
[ $rc -eq 0 ] || { cat "$work/tsan/test-suite.log"; die "make check under ThreadSanitizer failed"; }

say "make distcheck"
(cd "$work/plain" && make -s -j"$jobs" distcheck >"$work/distcheck.log" 2>&1) ||
    { tail -60 "$work/distcheck.log"
      # distcheck leaves its tree behind when it fails: show why each
      # failing test failed, not only make's summary.
      for f in "$work"/plain/zentoria-backupd-*/_build/sub/test-suite.log; do
	      [ -f "$f" ] && cat "$f"
      done
      die "make distcheck failed"; }
grep -A3 "archives ready" "$work/distcheck.log" || true
passed=$((passed + 1))

if [ "$fuzz_seconds" -gt 0 ] && command -v clang >/dev/null; then
	say "fuzzers, $fuzz_seconds s each"
	mkdir "$work/fuzz"
	(cd "$work/fuzz" && CC=clang "$top/configure" -q --enable-fuzzers &&
	    make -s -j"$jobs" tests/fuzz/fuzz_config tests/fuzz/fuzz_json \
	    tests/fuzz/fuzz_cron tests/fuzz/fuzz_rdb tests/fuzz/fuzz_pgdump \
	    tests/fuzz/fuzz_s3xml tests/fuzz/fuzz_vaultsnap \
	    tests/fuzz/fuzz_qdrant tests/fuzz/fuzz_n8npage) ||
	    die "fuzzer build failed"
	for t in config json cron rdb pgdump s3xml vaultsnap qdrant n8npage; do
		mkdir -p "$work/fuzz/corpus-$t"
		cp "$top/tests/fuzz/corpus/$t/"* "$work/fuzz/corpus-$t/"
		if "$work/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" \
		    -max_len=4096 -artifact_prefix="$work/fuzz/" \
		    "$work/fuzz/corpus-$t" >"$work/fuzz/$t.log" 2>&1; then
			passed=$((passed + 1)); echo "PASS: fuzz_$t ($(grep -c . "$work/fuzz/$t.log") log lines)"
			tail -1 "$work/fuzz/$t.log"
		else
			failed=$((failed + 1)); echo "FAIL: fuzz_$t (input kept in $work/fuzz/)"
			grep -E "ERROR|SUMMARY|^    #[0-4] " "$work/fuzz/$t.log" | head -12
		fi
	done
fi

echo
totals
[ "$failed" -eq 0 ]
