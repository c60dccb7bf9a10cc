#!/bin/sh
# vaultsnap_seeds.sh - the verdict of the vault plugin's snapshot check
# (plugins/vault/snapcheck.c) on each seed of tests/fuzz/corpus/vaultsnap,
# fed in 112-byte slices as stored and again one byte at a time: the good
# archives pass, each broken one fails saying why.
set -u
R="$ZB_BUILDDIR/tests/fuzz/replay_vaultsnap"
C="$ZB_SRCDIR/tests/fuzz/corpus/vaultsnap"
T=$(mktemp -d /tmp/zbvs.XXXXXX)
trap 'rm -rf "$T"' EXIT
bad=0
for s in "none.bin:ok" "pax.bin:ok" "tar-none.bin:ok" \
    "truncate.bin:truncated: the gzip stream ends early" \
    "badsums.bin:SHA256SUMS: state.bin does not match its sum" \
    "tar-badsums.bin:SHA256SUMS: state.bin does not match its sum" \
    "nometa.bin:no meta.json in the snapshot" \
    "extra.bin:unexpected file 'notes.txt' in the snapshot" \
    "tar-extra.bin:unexpected file 'notes.txt' in the snapshot"; do
	f=${s%%:*} want=${s#*:}
	# the same input with the first byte's slice size 1 (high bit kept)
	first=$(od -An -N1 -tu1 "$C/$f" | tr -d ' ')
	printf "\\$(printf '%03o' $((first & 128)))" >"$T/one"
	tail -c +2 "$C/$f" >>"$T/one"
	for input in "$C/$f" "$T/one"; do
		got=$(ZB_FUZZ_VERBOSE=1 "$R" "$input" 2>&1 >/dev/null)
		case $want in
		ok) [ "$got" = ok ] ;;
		*) case $got in *"$want"*) true ;; *) false ;; esac ;;
		esac
		if [ $? -eq 0 ]; then
			echo "ok: $f ($(basename "$input")): $got"
		else
			echo "FAIL: $f ($(basename "$input")): got '$got', want '$want'"
			bad=$((bad + 1))
		fi
	done
done
[ $bad -eq 0 ]
