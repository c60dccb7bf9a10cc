#!/usr/bin/env python3
"""mutate.py - read, check and apply the mutations of mutations.txt.

Used by run.sh (make mutation-check) and lint.sh (make check); the format
is described in README.md next to this file.

  mutate.py check LIST SRCDIR      every mutation applies exactly once
  mutate.py ids LIST [ID...]       the ids, in list order (or those given)
  mutate.py get LIST ID FIELD      one field of one mutation
  mutate.py apply LIST ID SRCDIR   apply one mutation to the tree in place
"""

import os
import sys

FIELDS = ("id", "file", "after", "find", "replace", "tests", "build", "why")
REQUIRED = ("id", "file", "find", "replace", "tests", "why")
BUILDS = ("default", "sanitizers")


class ListError(Exception):
    pass


def parse(path):
    """The mutations as a list of dicts, in file order."""
    muts, cur, curline = [], None, 0
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, raw in enumerate(lines + [""], 1):
        if raw.startswith("#"):
            continue
        if raw.strip() == "":
            if cur is not None:
                muts.append(finish(path, curline, cur))
                cur = None
            continue
        if raw[0] in " \t":
            # continuation of the previous field (only why: may wrap)
            if cur is None or cur.get("_last") != "why":
                raise ListError("%s:%d: continuation line outside why:"
                                % (path, n))
            cur["why"] += " " + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if not sep or key not in FIELDS:
            raise ListError("%s:%d: expected one of %s followed by ':'"
                            % (path, n, ", ".join(FIELDS)))
        if cur is None:
            cur, curline = {}, n
        if key in cur:
            raise ListError("%s:%d: %s: given twice" % (path, n, key))
        cur[key] = value.strip(" \t")
        cur["_last"] = key
        cur.setdefault("_line", n)
    seen = set()
    for m in muts:
        if m["id"] in seen:
            raise ListError("%s:%d: id %s: given twice"
                            % (path, m["_line"], m["id"]))
        seen.add(m["id"])
    return muts


def finish(path, line, m):
    for key in REQUIRED:
        if not m.get(key):
            raise ListError("%s:%d: mutation %s: no %s:"
                            % (path, line, m.get("id", "?"), key))
    m.setdefault("build", "default")
    if m["build"] not in BUILDS:
        raise ListError("%s:%d: %s: build: is one of %s"
                        % (path, line, m["id"], ", ".join(BUILDS)))
    if m["find"] == m["replace"]:
        raise ListError("%s:%d: %s: replace: equals find:"
                        % (path, line, m["id"]))
    m["_line"] = line
    return m


def locate(m, text):
    """Offset of the text to replace, or raise ListError (stale)."""
    where = "%s (%s)" % (m["id"], m["file"])
    start = 0
    if m.get("after"):
        n = text.count(m["after"])
        if n != 1:
            raise ListError("%s: after: '%s' found %d times, not once"
                            % (where, m["after"], n))
        start = text.index(m["after"])
        start = text.index("\n", start) + 1 if "\n" in text[start:] \
            else len(text)
        off = text.find(m["find"], start)
        if off == -1:
            raise ListError("%s: find: '%s' not found after '%s'"
                            % (where, m["find"], m["after"]))
        return off
    n = text.count(m["find"])
    if n != 1:
        raise ListError("%s: find: '%s' found %d times, not once "
                        "(give after: to pick one)"
                        % (where, m["find"], n))
    return text.index(m["find"])


def check(muts, srcdir):
    errors = 0
    for m in muts:
        path = os.path.join(srcdir, m["file"])
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            locate(m, text)
        except (OSError, ListError) as e:
            print("stale mutation: %s" % e, file=sys.stderr)
            errors += 1
            continue
        for t in m["tests"].split():
            base = os.path.join(srcdir, t)
            if not (os.path.exists(base) or os.path.exists(base + ".c")):
                print("mutation %s: test %s: no %s or %s.c"
                      % (m["id"], t, base, base), file=sys.stderr)
                errors += 1
    return errors


def find(muts, mid):
    for m in muts:
        if m["id"] == mid:
            return m
    raise ListError("no mutation %s" % mid)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, lst = argv[1], argv[2]
    try:
        muts = parse(lst)
        if cmd == "check" and len(argv) == 4:
            n = check(muts, argv[3])
            if n == 0:
                print("%d mutations apply" % len(muts))
            return 1 if n else 0
        if cmd == "ids":
            want = argv[3:]
            for w in want:
                find(muts, w)
            for m in muts:
                if not want or m["id"] in want:
                    print(m["id"])
            return 0
        if cmd == "get" and len(argv) == 5:
            m = find(muts, argv[3])
            print(m.get(argv[4], ""))
            return 0
        if cmd == "apply" and len(argv) == 5:
            m = find(muts, argv[3])
            path = os.path.join(argv[4], m["file"])
            with open(path, encoding="utf-8") as f:
                text = f.read()
            off = locate(m, text)
            text = text[:off] + m["replace"] + text[off + len(m["find"]):]
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
    except (OSError, ListError) as e:
        print("mutate.py: %s" % e, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
