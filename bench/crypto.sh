#!/bin/bash
# crypto.sh - age encryption and hashing in the stream core against the
# slowest single stage as `openssl speed' measures it in the same run.
#
#   bench/crypto.sh [MiB]     (default 2048; uses the build in $ZB_BUILD,
#                             default ./_build; ROUNDS, default 3, best of)
#
# bench/crypto_core pushes MiB from memory through the core to a
# discarding writer, so this measures the core, not a pipe or a disk:
# with age, ChaCha20-Poly1305 in 64 KiB chunks and SHA-256 of the stored
# bytes, as stages on the worker pool (one stage per core at best; age's
# tags check the plaintext, so it is not hashed: docs/layout.md, section
# 4); without a transform, one SHA-256 pass.  The baseline
# is the slowest of `openssl speed -evp chacha20-poly1305' (64 KiB blocks,
# the age chunk) and `openssl speed -evp sha256' (16 KiB blocks):
#   age + sha256, workers = auto      target >= 0.8 x that (issue 13)
# and, for the pool's effect, the same with workers = 0 (all on the loop
# thread, where the bound is serial: 1 / (1/chacha + 1/sha256)).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
build=${ZB_BUILD:-$PWD/_build}
mib=${1:-2048}
rounds=${ROUNDS:-3}
make -s -C "$build" bench/crypto_core

speed() {	# algorithm block-bytes: MB/s
	openssl speed -elapsed -evp "$1" -bytes "$2" -seconds 3 2>/dev/null |
	    awk -v a="$1" 'tolower($1) == a { v = $NF; sub(/k$/, "", v);
		printf "%.0f", v * 1000 / 1e6 }'
}
core() {	# workers: prints "plain enc" in MB/s
	"$build/bench/crypto_core" "$mib" "$1" 2>/dev/null |
	    sed -n 's/.*(one sha256) \([0-9]*\) MB\/s, age + sha256 \([0-9]*\) MB\/s.*/\1 \2/p'
}

bench_machine
cha=0; sha=0; pa=0; ea=0; p0=0; e0=0
for r in $(seq 1 "$rounds"); do
	c=$(speed chacha20-poly1305 65536)
	s=$(speed sha256 16384)
	read -r p e <<<"$(core auto)"
	read -r q f <<<"$(core 0)"
	printf '  round %d: openssl chacha20-poly1305 %s MB/s, sha256 %s MB/s; core workers=auto: none %s MB/s, age %s MB/s; workers=0: none %s MB/s, age %s MB/s\n' \
	    "$r" "$c" "$s" "$p" "$e" "$q" "$f"
	cha=$(bench_max "$cha" "$c"); sha=$(bench_max "$sha" "$s")
	pa=$(bench_max "$pa" "$p"); ea=$(bench_max "$ea" "$e")
	p0=$(bench_max "$p0" "$q"); e0=$(bench_max "$e0" "$f")
done
slow=$(bench_min "$cha" "$sha")
serial=$(echo "scale=9; b = 1 / (1 / $cha + 1 / $sha); scale=0; b / 1" | bc -l)
# the pool's bound: no stage faster than alone, all of them on nproc CPUs
pool=$(echo "scale=9; b = $(nproc) / (1 / $cha + 1 / $sha);
    if (b > $slow) b = $slow; scale=0; b / 1" | bc -l)

echo
echo "results (best of $rounds, $mib MiB):"
echo "openssl speed: chacha20-poly1305 (64 KiB) $cha MB/s, sha256 (16 KiB) $sha MB/s; slowest stage $slow MB/s"
echo "core, workers=auto: age + sha256 $ea MB/s, no transform (one sha256) $pa MB/s"
echo "core, workers=0:    age + sha256 $e0 MB/s, no transform (one sha256) $p0 MB/s"
bench_row "age + sha256, workers=auto / slowest stage" \
    "$(bench_ratio "$ea" "$slow")" ge 0.8 \
    "(bound on $(nproc) CPUs: $pool MB/s, $(bench_ratio "$pool" "$slow"))"
bench_info "age + sha256, workers=0 / slowest stage" \
    "$(bench_ratio "$e0" "$slow")" \
    "(serial bound chacha + sha256: $serial MB/s)"
bench_info "no transform, workers=auto / openssl sha256" \
    "$(bench_ratio "$pa" "$sha")"
