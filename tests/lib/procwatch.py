#!/usr/bin/env python3
# procwatch.py - sample the argv and environment of every process under a
# zentoria-backupctl/-backupd while the tests run, and report each one
# that holds a secret.  Started and read by procwatch.sh.
#
#   procwatch.py --secrets FILE --out FILE [--env-ok COMM,...]
#                [--root-comm PREFIX] [--root-dir DIR] [--parent PID]
#                [--interval-ms N]
#
# --secrets: one secret a line (read from a file, so that no argv of ours
# holds one).  Every --interval-ms (default 5) it reads /proc: the roots
# are the processes whose comm starts with --root-comm (default
# "zentoria-backup") and, with --root-dir, whose executable is below DIR
# (this build's, not another checkout's); the watched ones are the roots
# and their descendants.
# A secret in a watched process's /proc/PID/cmdline is a leak, and so is
# one in its /proc/PID/environ unless its comm, or an ancestor's below the
# root, is listed in --env-ok (pg_dump gets PGPASSWORD by design).  On SIGTERM it writes to --out:
#   LEAK argv|environ PID COMM SECRET#N: ARGV (secrets replaced)
# for each leak (once per process and kind), "seen COMM N" for each comm
# watched and how many samples saw it, and "samples N".
import argparse
import os
import signal
import sys
import time


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def is_ours(pid, root_dir):
    if not root_dir:
        return True
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return False
    return exe.startswith(root_dir.rstrip("/") + "/")


def exec_since(pid, old, env_ok):
    """The process exec'd an --env-ok tool since its comm was read (its
    environment is then that tool's)."""
    st = read("/proc/%d/stat" % pid)
    if st is None:
        return True
    c = st[st.find(b"(") + 1:st.rfind(b")")]
    return c != old and c.decode(errors="replace") in env_ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrets", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--env-ok", default="")
    ap.add_argument("--root-comm", default="zentoria-backup")
    ap.add_argument("--root-dir", default="")
    ap.add_argument("--parent", type=int, default=0,
                    help="stop (writing nothing) when this PID is gone")
    ap.add_argument("--interval-ms", type=int, default=5)
    a = ap.parse_args()
    secrets = [s for s in read(a.secrets).split(b"\n") if s]
    env_ok = set(x for x in a.env_ok.split(",") if x)
    root = a.root_comm.encode()
    me = os.getpid()
    leaks = {}
    seen = {}
    samples = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    while not stop:
        if a.parent and not os.path.exists("/proc/%d" % a.parent):
            return 1
        samples += 1
        parent, comm = {}, {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            st = read("/proc/%s/stat" % d)
            if st is None:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parens
            r = st.rfind(b")")
            comm[int(d)] = st[st.find(b"(") + 1:r]
            parent[int(d)] = int(st[r + 2:].split()[1])
        children = {}
        for pid, pp in parent.items():
            children.setdefault(pp, []).append(pid)
        todo = [p for p in comm if comm[p].startswith(root) and
                is_ours(p, a.root_dir)]
        # pid -> whether it or an ancestor is an --env-ok tool (pg_dumpall
        # runs "sh -c 'pg_dump -V'", which inherits its PGPASSWORD)
        watched = {}
        todo = [(p, False) for p in todo]
        while todo:
            p, inherited = todo.pop()
            if p in watched:
                continue
            c = comm[p].decode(errors="replace")
            watched[p] = inherited or c in env_ok
            todo.extend((k, watched[p]) for k in children.get(p, []))
        for pid, env_allowed in watched.items():
            if pid == me:
                continue
            c = comm[pid].decode(errors="replace")
            seen[c] = seen.get(c, 0) + 1
            kinds = [("argv", "cmdline")]
            if not env_allowed:
                kinds.append(("environ", "environ"))
            for kind, f in kinds:
                data = read("/proc/%d/%s" % (pid, f))
                if data is None:
                    continue
                if kind == "environ" and exec_since(pid, comm[pid], env_ok):
                    continue
                for i, s in enumerate(secrets):
                    if s in data and (pid, kind) not in leaks:
                        argv = read("/proc/%d/cmdline" % pid) or b""
                        for j, t in enumerate(secrets):
                            argv = argv.replace(t, b"<SECRET#%d>" % (j + 1))
                        leaks[(pid, kind)] = "LEAK %s %d %s SECRET#%d: %s" % (
                            kind, pid, c, i + 1,
                            argv.replace(b"\0", b" ").decode(
                                errors="replace")[:300])
        time.sleep(a.interval_ms / 1000.0)

    with open(a.out, "w") as f:
        for line in leaks.values():
            f.write(line + "\n")
        for c, n in sorted(seen.items()):
            f.write("seen %s %d\n" % (c, n))
        f.write("samples %d\n" % samples)


if __name__ == "__main__":
    sys.exit(main())
