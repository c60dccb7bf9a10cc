#!/bin/bash
# man_pages.sh - the man pages in man/ render without a single warning
# (`man --warnings -l` at 80 columns, and `groff -man -ww -z`: both only
# print warnings, so any output on stderr fails), have their NAME section,
# and zentoria-backupctl(1) documents every command that
# `zentoria-backupctl --help` lists, with its options (from each
# command's --help), and the exit codes.  A missing man or groff fails
# the test (man-db and groff-base are in scripts/debian-deps.txt).
. "$(dirname "$0")/lib.sh"

MAN="$ZB_SRCDIR/man"
PAGES="zentoria-backupd.8 zentoria-backupctl.1 zentoria-backupd.ini.5"
export LC_ALL=C.UTF-8 MANWIDTH=80

for tool in man groff; do
	command -v $tool >/dev/null ||
	    fail "$tool missing (Debian packages man-db, groff-base)"
done

# render PAGE: man's and groff's stderr are empty and the text is there
for p in $PAGES; do
	f="$MAN/$p"
	if [ ! -f "$f" ]; then
		fail "$f: missing"
		continue
	fi
	_run man --warnings=all -l "$f"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ]; then
		ok "man -l $p: no warning"
	else
		fail "man --warnings -l $p (exit $rc): $(head -5 "$T/err")"
	fi
	cp "$T/out" "$T/$p.txt"
	name=${p%.*}
	if grep -q "^NAME" "$T/$p.txt" &&
	    grep -qE "^ +$name +- " "$T/$p.txt"; then
		ok "$p: NAME says $name"
	else
		fail "$p: no NAME line for $name"
	fi
	# lines longer than MANWIDTH: a table or an example that overflows
	if ! grep -nE '^.{81,}' "$T/$p.txt" >"$T/long"; then
		ok "$p: no line over 80 columns"
	else
		fail "$p: lines over 80 columns: $(head -3 "$T/long")"
	fi
	_run groff -man -ww -z -Tutf8 "$f"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ]; then
		ok "groff -man -ww $p: no warning"
	else
		fail "groff -man -ww $p (exit $rc): $(head -5 "$T/err")"
	fi
done

# Every command of `zentoria-backupctl --help` has its own subsection in
# zentoria-backupctl(1), and every option of its --help is in the page.
ctl_txt="$T/zentoria-backupctl.1.txt"
check "zentoria-backupctl --help" "$CTL" --help
cmds=$(sed -n '/^commands:/,/^$/p' "$T/out" | awk 'NR > 1 && NF { print $1 }')
if [ "$(echo "$cmds" | wc -w)" -ge 9 ]; then
	ok "--help lists $(echo $cmds)"
else
	fail "could not read the commands from --help: '$cmds'"
fi
# the subsection titles: the lines indented by 3 in COMMANDS
sed -n '/^COMMANDS/,/^[A-Z]/p' "$ctl_txt" | sed -n 's/^   \([a-z-]*\).*/\1/p' \
    >"$T/sections"
for c in $cmds status; do
	if grep -qxF "$c" "$T/sections"; then
		ok "zentoria-backupctl(1) has a section for '$c'"
	else
		fail "zentoria-backupctl(1) has no section for '$c'"
	fi
	[ "$c" = status ] && continue
	# the options of the command's own --help
	"$CTL" "$c" --help >"$T/chelp" 2>&1
	# options: on the usage line and at the start of indented lines
	for o in $( { sed -n 's/^usage: //p' "$T/chelp" |
	    grep -oE -- '--[a-z][a-z-]*|(^|[ [])-o ';
	    grep -oE -- '^ +--[a-z][a-z-]*' "$T/chelp"; } |
	    tr -d ' [' | sort -u); do
		[ "$o" = --help ] && continue
		sect=$(awk -v c="$c" '
		    /^   [a-z]/ { on = ($1 == c) }
		    /^[A-Z]/ { on = 0 }
		    on' "$ctl_txt")
		if printf '%s\n' "$sect" | grep -qF -- "$o"; then
			ok "'$c $o' documented"
		else
			fail "zentoria-backupctl(1): '$c' lacks the option $o"
		fi
	done
done
grep -qF -- '--daemon' "$ctl_txt" && ok "run --daemon documented" ||
    fail "zentoria-backupctl(1) lacks run --daemon"

# the exit codes of --help's "Exit status" paragraph
for code in 0 1 2 130 143; do
	if sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$ctl_txt" | grep -qw "$code"; then
		ok "exit status $code documented"
	else
		fail "zentoria-backupctl(1) EXIT STATUS lacks $code"
	fi
done

# zentoria-backupd(8) documents every option of its --help
"$DAEMON" --help >"$T/dhelp" 2>&1
for o in $(grep -oE -- '--[a-z][a-z-]*' "$T/dhelp" | sort -u); do
	if grep -qF -- "$o" "$T/zentoria-backupd.8.txt"; then
		ok "zentoria-backupd(8) has $o"
	else
		fail "zentoria-backupd(8) lacks $o"
	fi
done

# zentoria-backupd.ini(5) names every section kind and [daemon] key of
# docs/configuration.md's [daemon] table
for s in '[daemon]' '[source:NAME]' '[sink:NAME]' '[job:NAME]' \
    '[check:NAME]' '[notify:NAME]'; do
	if grep -qF -- "$s" "$T/zentoria-backupd.ini.5.txt"; then
		ok "zentoria-backupd.ini(5) has $s"
	else
		fail "zentoria-backupd.ini(5) lacks $s"
	fi
done
for k in $(sed -n '/^### `\[daemon\]`/,/^### /p' \
    "$ZB_SRCDIR/docs/configuration.md" | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p')
do
	if grep -qw -- "$k" "$T/zentoria-backupd.ini.5.txt"; then
		ok "zentoria-backupd.ini(5) has [daemon] $k"
	else
		fail "zentoria-backupd.ini(5) lacks [daemon] $k"
	fi
done

finish
