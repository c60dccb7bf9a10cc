#!/bin/sh
# replay.sh - feed each seed corpus to its fuzz target (plain build).
set -e
for t in config json cron rdb pgdump s3xml vaultsnap qdrant n8npage; do
	"$ZB_BUILDDIR/tests/fuzz/replay_$t" "$ZB_SRCDIR"/tests/fuzz/corpus/$t/*
done
