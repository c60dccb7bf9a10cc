#!/bin/bash
# runs_pg.sh - test-restore JOB with a real source (PostgreSQL: streams
# db1, db2, globals) takes the newest complete run: after the second run
# lost its db2 copy on the sink, the first run's three artifacts are
# restored into scratch databases and compared with their manifests.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/pg.sh"

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
pg_seed_sample db1 || exit 1
pg_seed_sample db2 || exit 1

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:1

[sink:disk]
plugin = local
path = $T/disk

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = db1, db2

[job:pg]
source = pg
sinks = disk
INI
Z() {
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT "$CTL" -c "$T/zb.ini" "$@"
}

check "first run" Z run pg
sleep 1.1
check "second run" Z run pg
r1=$(ls "$T/disk/pg/db2" | sort | head -1)
r2=$(ls "$T/disk/pg/db2" | sort | tail -1)
[ -n "$r1" ] && [ "$r1" != "$r2" ] && ok "two runs: $r1 $r2" ||
    fail "two runs expected: $(ls "$T/disk/pg/db2")"
rm "$T/disk/pg/db2/$r2/manifest.json"

check "test-restore JOB" Z test-restore pg --json
python3 - "$T/out" "$r1" <<'PY' &&
import json, sys
l = json.load(open(sys.argv[1]))
got = sorted((c["id"], c["ok"]) for c in l)
want = sorted(("pg/%s@%s" % (s, sys.argv[2]), True)
    for s in ("db1", "db2", "globals"))
assert got == want, got
PY
    ok "test-restore JOB restored the complete first run" ||
    fail "test-restore JOB: $(cat "$T/out")"
grep_err "test-restore JOB says it skipped the incomplete run" \
    "sink:disk: run $r2 of \[job:pg\] (source:pg) is incomplete, 2 of 3 streams (missing: db2)"

finish
