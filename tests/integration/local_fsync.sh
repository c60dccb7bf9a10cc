#!/bin/bash
# local_fsync.sh - the local sink makes every directory it creates
# durable: under strace, each successful mkdir below the store (the store
# itself and its parent included, both new here) is followed by an fsync
# of the directory that holds it, before a manifest (the commit marker)
# below it is renamed into place; also when three streams of a source
# share the directories.  Needs strace (and ptrace): SKIP (77) otherwise.
. "$(dirname "$0")/lib.sh"

if ! command -v strace >/dev/null 2>&1 ||
    ! strace -f -o /dev/null true >/dev/null 2>&1; then
	echo "local_fsync.sh: strace missing or not permitted: skipped"
	exit 77
fi

mkdir -p "$T/src/tree"
printf 'data\n' >"$T/src/tree/file"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state

[sink:disk]
plugin = local
path = $T/new/store

[source:tree]
plugin = files
path = $T/src/tree

[job:tree]
source = tree
sinks = disk

[sink:disk2]
plugin = local
path = $T/new2/store

[source:gen]
plugin = src_gen
streams = 3
size = 100K

[job:gen]
source = gen
sinks = disk2
INI

# check_trace WHAT TOP: the traces $T/tr.* of a run that stored under
# TOP (new): every manifest rename comes after an fsync of the parent of
# each new directory above it, made after that directory was.
check_trace() {
	if python3 - "$2" "$T"/tr.* >"$T/check" 2>&1 <<'PY'
import os, re, sys
top = sys.argv[1]
calls = []
for f in sys.argv[2:]:
    for line in open(f):
        m = re.match(r'(\d+\.\d+) (\w+)\((.*)\)\s+= (-?\d+)', line)
        if m:
            calls.append((float(m.group(1)), m.group(2), m.group(3),
                          int(m.group(4))))
calls.sort()
made, fsyncs, commits = [], [], []
for t, name, args, rv in calls:
    if rv != 0:
        continue
    if name in ("mkdir", "mkdirat"):
        path = re.search(r'"([^"]*)"', args).group(1)
        if path == top or path.startswith(top + "/"):
            made.append((t, path))
    elif name == "fsync":
        m = re.match(r'\d+<(.*)>$', args)
        if m:
            fsyncs.append((t, m.group(1)))
    elif name.startswith("rename"):
        m = re.search(r'"([^"]*/manifest\.json)"', args)
        if m:
            commits.append((t, m.group(1)))
if not commits:
    sys.exit("no rename of a manifest.json in the trace")
if len(made) < 4 + len(commits):
    sys.exit("too few new directories: %r" % made)
bad = set()
for tc, manifest in commits:
    for t, p in made:
        if not manifest.startswith(p + "/"):
            continue
        if not any(t < ft < tc and fp == os.path.dirname(p)
                   for ft, fp in fsyncs):
            bad.add(p)
if bad:
    sys.exit("no fsync of the parent before a commit below it for: %s" %
             ", ".join(sorted(bad)))
print("%d new directories, %d manifests, each parent fsync'd first" %
      (len(made), len(commits)))
PY
	then
		ok "$1: $(cat "$T/check")"
	else
		fail "$1: $(cat "$T/check")"
	fi
	rm -f "$T"/tr.*
}

# One trace file per thread (-ff): no call is split across lines.
# LeakSanitizer cannot run under ptrace: no leak check for these runs.
traced() {
	env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	    strace -ff -ttt -y -o "$T/tr" \
	    -e trace=mkdir,mkdirat,fsync,rename,renameat,renameat2 "$@"
}

check "run under strace" traced "$CTL" -c "$T/zb.ini" run tree
ls "$T"/new/store/tree/files/*/manifest.json >/dev/null 2>&1 &&
    ok "the artifact is committed" || fail "no manifest"
check_trace "one stream" "$T/new"

# Three streams of one source share its directory: no stream's manifest
# may land before the entries of the new directories above it are
# durable.  (The window in which one put finds a directory that another
# has made but not yet synced, l->unsynced in local.c, is not forced.)
check "run three streams under strace" traced "$CTL" -c "$T/zb.ini" run gen
[ "$(ls "$T"/new2/store/gen/*/*/manifest.json | wc -l)" -eq 3 ] &&
    ok "three artifacts are committed" || fail "not three manifests"
check_trace "three streams" "$T/new2"

finish
