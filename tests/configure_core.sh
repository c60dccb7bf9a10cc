#!/bin/sh
# configure_core.sh - configure never runs "rm -f core" over our core/
# directory (m4/zb_macros.m4, ZB_RM_CORE_DIR_SAFE): autoconf's and
# automake's clean-up of core dumps would print "rm: cannot remove 'core':
# Is a directory" after every test in a source-tree build, and make the
# exit trap skip removing conftest* and confdefs.h.
conf="${ZB_SRCDIR:-.}/configure"
[ -f "$conf" ] || { echo "no $conf: skipped"; exit 77; }
bad=0
if grep -nE '(^|[^[:alnum:]_-])rm -f (-r )?core([[:space:]]|$)' "$conf"; then
	echo "configure_core: unguarded 'rm -f core' in $conf" >&2
	bad=1
fi
# The exit trap's command, as configure has it, run where core is a
# directory (kept, quietly) and where it is a file (a dump: removed).
cmd=$(sed -n 's/^[[:space:]]*\(rm -f .* \*\.core core\.conftest\.\*\) &&$/\1/p' "$conf")
[ -n "$cmd" ] || { echo "configure_core: exit trap not found" >&2; exit 1; }
t=$(mktemp -d /tmp/zbcore.XXXXXX) || exit 99
trap 'rm -rf "$t"' EXIT
mkdir "$t/dir" "$t/dir/core" "$t/file"
: >"$t/file/core"
if ! (cd "$t/dir" && eval "$cmd") >"$t/out" 2>&1 || [ -s "$t/out" ] ||
    [ ! -d "$t/dir/core" ]; then
	echo "configure_core: '$cmd' with a core/ directory: $(cat "$t/out")" >&2
	bad=1
fi
if ! (cd "$t/file" && eval "$cmd") || [ -e "$t/file/core" ]; then
	echo "configure_core: '$cmd' leaves a core file" >&2
	bad=1
fi
[ $bad -eq 0 ] && echo "configure_core: ok"
exit $bad
