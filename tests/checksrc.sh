#!/bin/sh
# checksrc.sh - STYLE.md's source rules that a grep can check: none of
# curl's banned functions, no assignment inside if/while conditions.
# Fails listing every offending line.
cd "${ZB_SRCDIR:-.}" || exit 99
files=$(find core plugins tests/fixtures tests/fuzz docs/plugin-example -name '*.[ch]' | sort)
bad=0
banned='\<(sprintf|vsprintf|strcpy|strcat|strncat|strtok|atoi|atol|atoll|gets|strerror_r|tmpnam|mktemp)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "checksrc: banned function (STYLE.md section 4)" >&2
	bad=1
fi
if grep -nE '^[[:space:]]*(if|while)[[:space:]]*\(\(?[a-z_>.-]+[[:space:]]*=[^=]' $files; then
	echo "checksrc: assignment in a condition (STYLE.md section 4)" >&2
	bad=1
fi
n=$(echo "$files" | wc -l)
[ $bad -eq 0 ] && echo "checksrc: $n files clean"
exit $bad
