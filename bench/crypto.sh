#!/bin/bash
# crypto.sh - encryption throughput of the stream core against
# `openssl speed -evp chacha20-poly1305` (64 KiB blocks, the age chunk
# size), measured in the same invocation.  Target (issue #5): age + SHA-256
# in the core >= 0.8 x openssl's ChaCha20-Poly1305 alone.
#
# The core hashes the plaintext and the stored bytes (DESIGN.md section 3
# records both), so one core does SHA-256 twice and ChaCha20-Poly1305 once
# per byte; the script also prints that serial bound from `openssl speed
# -evp sha256`, and the core's ratio against it.
#
#   bench/crypto.sh [MiB]     uses the build in $ZB_BUILD (default ./_build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ZB_BUILD:-$PWD/_build}
mib=${1:-2048}
make -s -C "$build" bench/crypto_core
ossl=$(openssl speed -evp chacha20-poly1305 -bytes 65536 -seconds 3 2>/dev/null |
    awk '/^ChaCha20-Poly1305|^chacha20-poly1305/ { v=$NF; sub(/k$/, "", v); print v * 1000 / 1e6 }')
sha=$(openssl speed -evp sha256 -bytes 262144 -seconds 3 2>/dev/null |
    awk '/^sha256/ { v=$NF; sub(/k$/, "", v); print v * 1000 / 1e6 }')
core=$("$build/bench/crypto_core" "$mib")
echo "$core"
enc=$(echo "$core" | sed -n 's/.*age + sha256 \([0-9]*\) MB\/s.*/\1/p')
echo "openssl speed -evp chacha20-poly1305 (64 KiB): $ossl MB/s"
bound=$(echo "scale=9; b = 1 / (1 / $ossl + 2 / $sha); scale=1; b / 1" | bc -l)
echo "openssl speed -evp sha256 (256 KiB): $sha MB/s"
echo "serial bound, chacha20-poly1305 + 2 x sha256 on one core: $bound MB/s"
echo "ratio (core age+sha256 / openssl chacha20-poly1305): $(echo "scale=3; $enc / $ossl" | bc)"
echo "ratio (core age+sha256 / serial bound): $(echo "scale=3; $enc / $bound" | bc)"
