#!/bin/bash
# stream_race.sh - backups and restores with the stages on 4 worker
# threads ([daemon] workers = 4) and on none (workers = 0): zstd + age to
# two sinks, uncompressed (the one-hash path), and a restore of each, all
# byte-identical to the source.  This is the program the ThreadSanitizer
# build runs (configure --enable-tsan; scripts/test.sh): a data race
# there is a report on stderr, which fails the check.
. "$(dirname "$0")/lib.sh"
command -v age >/dev/null || fail "age(1) missing (Debian package age)"

$CTL keygen -o "$T/id.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/id.key" >"$T/recipients.txt"
head -c 3000000 /dev/urandom >"$T/random.bin"
{ seq 1 300000; cat "$T/random.bin"; } >"$T/source.bin"

for workers in 4 0; do
	for comp in zstd:1 none; do
		enc=age
		[ "$comp" = none ] && enc=none
		d="$T/w$workers-${comp%%:*}"
		mkdir -p "$d"
		cat >"$d/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $d/state
workers = $workers
chunk_kb = 64
max_buffer_mb = 2
compression = $comp
encryption = $enc
age_recipients_file = $T/recipients.txt

[sink:a]
plugin = local
path = $d/a

[sink:b]
plugin = local
path = $d/b

[source:blob]
plugin = command
command = cat $T/source.bin
extension = bin

[job:blob]
source = blob
sinks = a, b
INI
		Z="$CTL -c $d/zb.ini"
		what="workers=$workers $comp/$enc"
		check "$what: backup to two sinks" $Z run blob
		check "$what: verify" $Z verify --latest --sink b
		id=$($Z list --json 2>/dev/null | python3 -c \
		    'import json,sys; print(json.load(sys.stdin)[0]["id"])')
		check "$what: restore" $Z restore "$id" --sink a \
		    --to "$d/restored.bin" --identity "$T/id.key"
		cmp -s "$d/restored.bin" "$T/source.bin" &&
		    ok "$what: restored bytes are the source's" ||
		    fail "$what: restored bytes differ"
	done
done

finish
