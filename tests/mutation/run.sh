#!/bin/bash
# run.sh - make mutation-check: apply each mutation of mutations.txt to a
# scratch copy of the tree, rebuild, run only the tests it names, and
# fail if any mutation survives (the tests still pass) or no longer
# applies.  See tests/mutation/README.md.
#
# usage: run.sh [--only ID]... [--keep] [--list]
#   --only ID  this mutation only (repeatable)
#   --keep     keep the scratch directory (its path is printed)
#   --list     print the ids and exit
# environment: MUTATION_JOBS (make -j, default 2), MUTATION_TIMEOUT
# (seconds per mutation's tests, default 900), MUTATION_CONFIGURE_FLAGS
# (added to ../configure -q --enable-werror), MUTATION_LOGDIR (where the
# per-mutation logs go, default ./mutation-logs), TMPDIR.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
list="$here/mutations.txt"
mutate() { python3 "$here/mutate.py" "$@"; }
jobs=${MUTATION_JOBS:-2}
limit=${MUTATION_TIMEOUT:-900}
logdir=${MUTATION_LOGDIR:-$PWD/mutation-logs}
only=()
keep=0

while [ $# -gt 0 ]; do
	case $1 in
	--only) [ $# -ge 2 ] || { echo "run.sh: --only needs an id" >&2; exit 2; }
		only+=("$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	--list) mutate ids "$list"; exit ;;
	*) sed -n '7,14s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

command -v python3 >/dev/null || { echo "run.sh: needs python3" >&2; exit 2; }
# A stale mutation is an error before anything is built.
mutate check "$list" "$srcdir" >/dev/null || exit 1
ids=$(mutate ids "$list" ${only[@]+"${only[@]}"}) || exit 2

scratch=$(mktemp -d "${TMPDIR:-/tmp}/zbmutation.XXXXXX") || exit 2
if [ $keep = 1 ]; then
	echo "scratch directory: $scratch"
else
	trap 'rm -rf "$scratch"' EXIT
fi
mkdir -p "$logdir" || exit 2
rm -f "$logdir"/*.log
t0=$(date +%s)

# ---- the scratch tree: tracked and new (not ignored) files ----------------
echo "copying $srcdir to $scratch/src"
mkdir "$scratch/src"
if git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$srcdir" ls-files -z --cached --others --exclude-standard |
	    (cd "$srcdir" && while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"; done) |
	    tar -C "$srcdir" --null -T - -cf - | tar -C "$scratch/src" -xf - ||
	    exit 2
else
	# A release tarball: everything but build directories.
	tar -C "$srcdir" --exclude='./_build*' --exclude='*.o' \
	    --exclude='*.lo' -cf - . | tar -C "$scratch/src" -xf - || exit 2
fi
# The shared test vectors live next to the tree.
if [ -z "${ZB_SHARED:-}" ] && [ -d "$srcdir/../shared" ]; then
	ZB_SHARED=$(cd "$srcdir/../shared" && pwd)
	export ZB_SHARED
fi

# build NAME FLAGS...: configure and build $scratch/src/NAME once
build() {
	local dir="$scratch/src/$1"
	shift
	[ -f "$dir/Makefile" ] && return 0
	echo "building $dir ($*)"
	if [ ! -x "$scratch/src/configure" ]; then
		(cd "$scratch/src" && autoreconf -fi) >"$logdir/autoreconf.log" 2>&1 ||
		    { echo "autoreconf failed: $logdir/autoreconf.log" >&2; return 1; }
	fi
	mkdir -p "$dir"
	(cd "$dir" && ../configure -q --enable-werror "$@" \
	    ${MUTATION_CONFIGURE_FLAGS:-} && make -j"$jobs") \
	    >"$logdir/build-$(basename "$dir").log" 2>&1 ||
	    { echo "build failed: $logdir/build-$(basename "$dir").log" >&2; return 1; }
}

builddir_of() {
	case $(mutate get "$list" "$1" build) in
	sanitizers) echo _build-san ;;
	*) echo _build ;;
	esac
}

# check DIR LOG TESTS...: make check of only these tests; its status
check() {
	local dir=$1 log=$2
	shift 2
	(cd "$scratch/src/$dir" &&
	    timeout -k 10 "$limit" make -j"$jobs" check TESTS="$*") >"$log" 2>&1
}

# results DIR TESTS...: "name:RESULT" of each test, from the .trs files
results() {
	local dir=$1 t trs r out=
	shift
	for t in "$@"; do
		trs="$scratch/src/$dir/${t%.sh}"
		trs="${trs%.py}.trs"
		r=$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | sort -u |
		    tr '\n' ',' | sed 's/,$//')
		out="$out ${t##*/}:${r:-none}"
	done
	echo "${out# }"
}

# ---- the unmutated tree must pass the tests the mutations name -----------
for d in _build _build-san; do
	tests=
	for id in $ids; do
		[ "$(builddir_of "$id")" = $d ] || continue
		tests="$tests $(mutate get "$list" "$id" tests)"
	done
	[ -n "$tests" ] || continue
	tests=$(printf '%s\n' $tests | sort -u | tr '\n' ' ')
	if [ $d = _build-san ]; then
		build $d --enable-sanitizers || exit 2
	else
		build $d || exit 2
	fi
	echo "baseline ($d): $tests"
	if ! check $d "$logdir/baseline$d.log" $tests; then
		echo "the unmutated tree fails its tests: $(results $d $tests)" >&2
		echo "see $logdir/baseline$d.log" >&2
		exit 2
	fi
done

# ---- one mutation at a time ---------------------------------------------------
killed=0 survived=0 broken=0
table=
for id in $ids; do
	file=$(mutate get "$list" "$id" file)
	tests=$(mutate get "$list" "$id" tests)
	d=$(builddir_of "$id")
	log="$logdir/$id.log"
	f="$scratch/src/$file"
	start=$(date +%s)
	cp -p "$f" "$scratch/orig" || exit 2
	if ! mutate apply "$list" "$id" "$scratch/src" >"$log" 2>&1; then
		verdict=STALE
	elif ! (cd "$scratch/src/$d" && make -j"$jobs") >>"$log" 2>&1; then
		verdict=NOBUILD
	elif check $d "$log.check" $tests; then
		verdict=SURVIVED
	elif [ $? -eq 124 ]; then
		verdict=KILLED	# the tests hung: timed out
		echo "timed out after $limit s" >>"$log"
	else
		verdict=KILLED
	fi
	[ -f "$log.check" ] && cat "$log.check" >>"$log" && rm -f "$log.check"
	for t in $tests; do	# what each test said
		t="$scratch/src/$d/${t%.sh}"
		t="${t%.py}.log"
		[ -f "$t" ] && { echo "==== $t"; cat "$t"; } >>"$log"
	done
	detail=
	[ $verdict = KILLED ] || [ $verdict = SURVIVED ] &&
	    detail=$(results $d $tests)
	case $verdict in
	KILLED) killed=$((killed + 1)) ;;
	SURVIVED) survived=$((survived + 1)) ;;
	*) broken=$((broken + 1)) ;;
	esac
	# Back to the original: new mtime, so the next build recompiles it.
	cp "$scratch/orig" "$f" && touch "$f" || exit 2
	line=$(printf '%-36s %-8s %5ss  %s' "$id" "$verdict" \
	    $(($(date +%s) - start)) "$detail")
	echo "$line"
	table="$table$line"$'\n'
done

echo
echo "mutation                             result    time  tests (result)"
printf '%s' "$table"
echo "$killed killed, $survived survived, $broken stale or not building" \
    "($(($(date +%s) - t0)) s; logs in $logdir)"
[ $survived -eq 0 ] && [ $broken -eq 0 ]
