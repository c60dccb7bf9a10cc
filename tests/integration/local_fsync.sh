#!/bin/bash
# local_fsync.sh - the local sink makes every directory it creates
# durable: under strace, each successful mkdir below the store (the store
# itself and its parent included, both new here) is followed by an fsync
# of the directory that holds it, before the manifest, the commit marker,
# is renamed into place.  Needs strace (and ptrace): SKIP (77) otherwise.
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

[sink:disk]
plugin = local
path = $T/new/store

[source:tree]
plugin = files
path = $T/src/tree

[job:tree]
source = tree
sinks = disk
INI

# One trace file per thread (-ff): no call is split across lines.
# LeakSanitizer cannot run under ptrace: no leak check for this run.
check "run under strace" env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    strace -ff -ttt -y -o "$T/tr" \
    -e trace=mkdir,mkdirat,fsync,rename,renameat,renameat2 \
    "$CTL" -c "$T/zb.ini" run tree
ls "$T"/new/store/tree/files/*/manifest.json >/dev/null 2>&1 &&
    ok "the artifact is committed" || fail "no manifest"

if python3 - "$T/new" "$T"/tr.* >"$T/check" 2>&1 <<'PY'
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
made, fsyncs, commit = [], [], None
for t, name, args, rv in calls:
    if name in ("mkdir", "mkdirat") and rv == 0:
        path = re.search(r'"([^"]*)"', args).group(1)
        if path == top or path.startswith(top + "/"):
            made.append((t, path))
    elif name == "fsync" and rv == 0:
        m = re.match(r'\d+<(.*)>$', args)
        if m:
            fsyncs.append((t, m.group(1)))
    elif name.startswith("rename") and rv == 0 and \
            re.search(r'"[^"]*/manifest\.json"', args):
        commit = t
if commit is None:
    sys.exit("no rename of manifest.json in the trace")
if len(made) < 5:
    sys.exit("expected at least 5 new directories, saw %r" % made)
bad = [p for t, p in made
       if not any(t < ft < commit and fp == os.path.dirname(p)
                  for ft, fp in fsyncs)]
if bad:
    sys.exit("no fsync of the parent before the commit for: %s" %
             ", ".join(bad))
print("%d new directories, each parent fsync'd" % len(made))
PY
then
	ok "$(cat "$T/check")"
else
	fail "$(cat "$T/check")"
fi

finish
