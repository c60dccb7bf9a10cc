#!/bin/bash
# vault_secrets.sh - vault:MOUNT/PATH#KEY secrets through [vault], against
# tests/fakes/vault_fake.py and a real PostgreSQL 15 whose role has a
# password: the postgresql source's password (and password_file) read
# from KV v2 at load, backup and restore work; a token file and an
# AppRole login; one login and one read per distinct path per load;
# --check-config resolves too; missing key, path, section, refused token,
# unreachable Vault, bad AppRole, loose token file: config errors naming
# file:line and the vault path or the [vault] address and status; the
# daemon re-reads the secrets on SIGHUP (a rotated password works after
# the reload); the value never reaches a log, an argv or an environment
# other than pg_dump's/pg_restore's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$ZB_SRCDIR/tests/lib/pg.sh"
. "$ZB_SRCDIR/tests/lib/procwatch.sh"

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
export -n PG_PASSWORD
pg_seed_sample app || exit 1
rnd() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }
BPW=vk-$(rnd)		# the backup role's password: only Vault has it
BPW2=vk2-$(rnd)		# after the rotation
TOK=tok-$(rnd)
RID=rid-$(rnd)
SID=sid-$(rnd)
pg_psql -c "CREATE ROLE backup LOGIN SUPERUSER PASSWORD '$BPW'" >/dev/null ||
    exit 1

ZI() {	# ZI INI ARGS...: the CLI without any of the harness's PG* settings
	local ini=$1
	shift
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT -u PG_PASSWORD \
	    "$CTL" -c "$ini" "$@"
}
Z() { ZI "$T/zb.ini" "$@"; }
D_CHECK() {	# zentoria-backupd --check-config INI
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT -u PG_PASSWORD \
	    "$DAEMON" -c "$1" --check-config
}

# ---- the fake --------------------------------------------------------------
(umask 077; cat >"$T/seed.json" <<JSON
{"tokens": {"$TOK": {}, "narrow": {"paths": ["secret/data/zentoria/backup/redis"]}},
 "approle": [{"role_id": "$RID", "secret_id": "$SID",
              "paths": ["secret/data/zentoria/backup/"]}],
 "kv": {"secret": {
   "zentoria/backup/postgresql": {"user": "backup", "password": "$BPW"},
   "zentoria/backup/redis": {"password": "redis-$(rnd)"},
   "zentoria/backup/minio": {"access_key": "minio", "secret_key": "m-$(rnd)"},
   "zentoria/backup/old": null}}}
JSON
)
python3 "$ZB_SRCDIR/tests/fakes/vault_fake.py" --port 0 \
    --port-file "$T/vault.port" --seed "$T/seed.json" 2>"$T/vault.err" &
VPID=$!
BGPIDS+=("$VPID")
wait_until 10 test -s "$T/vault.port" || { fail "vault_fake did not start"; finish; exit 1; }
VADDR=http://127.0.0.1:$(cat "$T/vault.port")
vlog() { curl -s "$VADDR/__log"; }
vclear() { curl -s -X POST "$VADDR/__log/clear" >/dev/null; }
# vcount METHOD PATH: requests of the fake's log with that method and path
vcount() {
	vlog | python3 -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin)
    if r["method"] == sys.argv[1] and r["path"] == sys.argv[2]))' "$1" "$2"
}
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

(umask 077
printf '%s\n' "$TOK" >"$T/vault.token"
printf '%s\n' "$RID" >"$T/role_id"
printf '%s\n' "$SID" >"$T/secret_id"
printf 'sid-wrong\n' >"$T/secret_id.bad"
printf 'not-a-token\n' >"$T/bad.token"
printf 'narrow\n' >"$T/narrow.token")
cp "$T/vault.token" "$T/loose.token"
chmod 644 "$T/loose.token"
SECRET_FILES="$T/seed.json $T/vault.token $T/role_id $T/secret_id $T/loose.token"

PGREF=vault:secret/zentoria/backup/postgresql
# ini FILE VAULT_SECTION [EXTRA SOURCE KEY LINE]: a configuration whose
# [source:pg] logs in as backup with $PGREF#password
ini() {
	cat >"$1" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

$2

[sink:near]
plugin = local
path = $T/near

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=backup dbname=postgres
password = $PGREF#password
databases = app
globals = no

[source:pg2]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=backup dbname=postgres
password_file = ${3:-$PGREF#password}
databases = app
globals = no

[job:pg]
source = pg
sinks = near

[job:pg2]
source = pg2
sinks = near
INI
	chmod 600 "$1"
}
TOKEN_VAULT="[vault]
address = $VADDR
token_file = $T/vault.token
timeout = 5s"
APPROLE_VAULT="[vault]
address = $VADDR/
approle_role_id_file = $T/role_id
approle_secret_id_file = $T/secret_id"

PROCWATCH_ENV_OK=pg_dump,pg_restore,psql procwatch_start "$BPW" "$BPW2" \
    "$TOK" "$SID"

# ---- token file: backup and restore ---------------------------------------
ini "$T/zb.ini" "$TOKEN_VAULT"
vclear
check "--check-config resolves the vault: secrets" D_CHECK "$T/zb.ini"
grep -q "configuration ok" "$T/out" && ok "--check-config: ok" ||
    fail "--check-config output: $(cat "$T/out")"
n=$(vcount GET /v1/secret/data/zentoria/backup/postgresql)
[ "$n" = 1 ] && ok "one read of the path shared by two sections" ||
    fail "$n reads of secret/zentoria/backup/postgresql: $(vlog)"

vclear
check "run pg (password = vault:...)" Z run pg
check "run pg2 (password_file = vault:...)" Z run pg2
[ "$(vcount GET /v1/secret/data/zentoria/backup/postgresql)" = 2 ] &&
    ok "each load reads the path once (two runs: two reads)" ||
    fail "reads: $(vlog)"
check "list" Z list --json
ID=$(grep -o '"pg/app@[^"]*"' "$T/out" | head -1 | tr -d '"')
[ -n "$ID" ] && ok "artifact pg/app" || fail "no pg/app in $(cat "$T/out")"
check "restore pg/app --to app_copy" Z restore "$ID" --to app_copy
a=$(pg_psql -d app -Atc "SELECT count(*), sum(abalance) FROM pgbench_accounts")
b=$(pg_psql -d app_copy -Atc "SELECT count(*), sum(abalance) FROM pgbench_accounts")
[ -n "$a" ] && [ "$a" = "$b" ] && ok "app_copy has the same accounts ($a)" ||
    fail "accounts: '$a' vs '$b'"

# a group-readable config may hold vault: references (they are no secret)
chmod 640 "$T/zb.ini"
check "a group-readable config with vault: values is accepted" \
    D_CHECK "$T/zb.ini"
chmod 600 "$T/zb.ini"

# ---- AppRole ----------------------------------------------------------------
ini "$T/ar.ini" "$APPROLE_VAULT"
vclear
check "run pg with an AppRole login" ZI "$T/ar.ini" run pg
[ "$(vcount POST /v1/auth/approle/login)" = 1 ] &&
    ok "one AppRole login per load" || fail "logins: $(vlog)"
vlog | python3 -c 'import json,sys
r = [x for x in json.load(sys.stdin) if x["path"].startswith("/v1/secret/")]
sys.exit(0 if r and all(x["token"] and x["status"] == 200 for x in r) else 1)' &&
    ok "the read carried the AppRole token" || fail "reads: $(vlog)"

# ---- errors: file:line and the vault path / the [vault] address ------------
# expect_error WHAT INI PATTERN: --check-config fails and says PATTERN
expect_error() {
	check_fails 1 "$1" D_CHECK "$2"
	grep -q -- "$3" "$T/err" && ok "$1: says '$3'" ||
	    fail "$1: no '$3' in: $(tail -5 "$T/err")"
}
line_of() { grep -n "^$2" "$1" | head -1 | cut -d: -f1; }

ini "$T/e.ini" "$TOKEN_VAULT" "$PGREF#nokey"
L=$(line_of "$T/e.ini" password_file)
expect_error "a missing key" "$T/e.ini" \
    "$T/e.ini:$L: \[source:pg2\] password_file: vault:secret/zentoria/backup/postgresql: the secret has no key 'nokey'"

# every problem at once: a section whose secret failed does not hide the
# init() error of another one
sed -i "s|^password = $PGREF#password\$|password_file = $T/nonexistent.pass|" "$T/e.ini"
check_fails 1 "a missing key and another section's init error" D_CHECK "$T/e.ini"
grep -q "no key 'nokey'" "$T/err" && grep -q "cannot read $T/nonexistent.pass" "$T/err" &&
    ok "both problems reported at once" || fail "reported: $(cat "$T/err")"
check_fails 1 "the same through the CLI" ZI "$T/e.ini" run pg2
grep -q "no key 'nokey'" "$T/err" && grep -q "cannot read $T/nonexistent.pass" "$T/err" &&
    ok "CLI: both problems reported at once" || fail "CLI reported: $(cat "$T/err")"

ini "$T/e.ini" "$TOKEN_VAULT" "vault:secret/zentoria/backup/nothere#password"
L=$(line_of "$T/e.ini" password_file)
expect_error "a missing path" "$T/e.ini" \
    "$T/e.ini:$L: \[source:pg2\] password_file: vault:secret/zentoria/backup/nothere: no such secret in Vault at $VADDR (HTTP 404"

ini "$T/e.ini" "$TOKEN_VAULT" "vault:secret/zentoria/backup/old#password"
expect_error "a deleted secret" "$T/e.ini" \
    "$T/e.ini:$L: .*vault:secret/zentoria/backup/old: the secret is deleted"

ini "$T/e.ini" "$TOKEN_VAULT" "vault:nomount/x#password"
expect_error "an unknown mount" "$T/e.ini" "$T/e.ini:$L: .*vault:nomount/x: no such secret"

ini "$T/e.ini" "$TOKEN_VAULT" "vault:secret#password"
expect_error "a malformed reference" "$T/e.ini" \
    "$T/e.ini:$L: \[source:pg2\] password_file: 'vault:secret#password' is not vault:MOUNT/PATH#KEY"

ini "$T/e.ini" "" 
L=$(line_of "$T/e.ini" password)
expect_error "no [vault] section" "$T/e.ini" \
    "$T/e.ini:$L: \[source:pg\] password: $PGREF#password needs a \[vault\] section"

ini "$T/e.ini" "${TOKEN_VAULT/vault.token/bad.token}"
L=$(line_of "$T/e.ini" password)
expect_error "a refused token (403)" "$T/e.ini" \
    "$T/e.ini:$L: \[source:pg\] password: $PGREF: Vault at $VADDR (\[vault\] address) answered HTTP 403: permission denied"

ini "$T/e.ini" "${TOKEN_VAULT/vault.token/narrow.token}"
expect_error "a token without the policy (403)" "$T/e.ini" "answered HTTP 403: permission denied"

ini "$T/e.ini" "${TOKEN_VAULT/$VADDR/http://127.0.0.1:$DEAD_PORT}"
L=$(line_of "$T/e.ini" address)
expect_error "an unreachable Vault" "$T/e.ini" \
    "$T/e.ini:$L: \[vault\] address: cannot reach Vault at http://127.0.0.1:$DEAD_PORT"
n=$(grep -c "cannot reach" "$T/err")
[ "$n" = 1 ] && ok "an unreachable Vault: said once" || fail "said $n times"

ini "$T/e.ini" "${APPROLE_VAULT%secret_id}secret_id.bad"
L=$(line_of "$T/e.ini" approle_secret_id_file)
expect_error "a refused AppRole login" "$T/e.ini" \
    "$T/e.ini:$L: \[vault\] approle_secret_id_file: AppRole login at $VADDR/v1/auth/approle/login refused: HTTP 400: invalid role or secret ID"

ini "$T/e.ini" "${TOKEN_VAULT/vault.token/loose.token}"
L=$(line_of "$T/e.ini" token_file)
expect_error "a token file readable by others" "$T/e.ini" \
    "$T/e.ini:$L: \[vault\] token_file: $T/loose.token is readable by group or others"

ini "$T/e.ini" "[vault]
address = $VADDR
approle_role_id_file = $T/role_id"
L=$(line_of "$T/e.ini" approle_role_id_file)
expect_error "an AppRole role_id without secret_id" "$T/e.ini" \
    "$T/e.ini:$L: \[vault\] approle_role_id_file and approle_secret_id_file go together"

ini "$T/e.ini" "[vault]
token_file = $T/vault.token"
expect_error "[vault] without address" "$T/e.ini" "missing required key 'address'"

ini "$T/e.ini" "[vault]
address = ftp://127.0.0.1
token_file = $T/vault.token"
expect_error "[vault] address not http(s)" "$T/e.ini" "is not an http:// or https:// URL"

# ---- https: ca_file ([vault], else [daemon]), a certificate refused ------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" 2>"$T/openssl.err" ||
    fail "openssl req -x509: $(cat "$T/openssl.err")"
python3 "$ZB_SRCDIR/tests/fakes/vault_fake.py" --port 0 \
    --port-file "$T/vaults.port" --seed "$T/seed.json" \
    --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" 2>"$T/vaults.err" &
SPID=$!
BGPIDS+=("$SPID")
wait_until 10 test -s "$T/vaults.port" || fail "the https fake did not start"
SADDR=https://127.0.0.1:$(cat "$T/vaults.port")
ini "$T/s.ini" "${TOKEN_VAULT/$VADDR/$SADDR}
ca_file = $T/tls.crt"
check "https with [vault] ca_file" D_CHECK "$T/s.ini"
sed -i "/^ca_file = /d; s|^\[daemon\]\$|[daemon]\nca_file = $T/tls.crt|" "$T/s.ini"
check "https with [daemon] ca_file" D_CHECK "$T/s.ini"
sed -i "/^ca_file = /d" "$T/s.ini"
L=$(line_of "$T/s.ini" address)
expect_error "https with a certificate the system does not trust" "$T/s.ini" \
    "$T/s.ini:$L: \[vault\] address: cannot reach Vault at $SADDR: .*[Cc]ertificate"

# the CLI refuses the same way, before anything runs
ini "$T/e.ini" "$TOKEN_VAULT" "$PGREF#nokey"
check_fails 1 "run with a missing key" ZI "$T/e.ini" run pg
grep -q "no key 'nokey'" "$T/err" && ok "run: names the missing key" ||
    fail "run: $(tail -3 "$T/err")"

# ---- the daemon: SIGHUP re-reads the secrets ------------------------------
ini "$T/d.ini" "$TOKEN_VAULT"
sed -i 's/^source = pg$/source = pg\nschedule = @every 1s/' "$T/d.ini"
start_daemon d "$T/d.ini" -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT
# since N PATTERN: a line of the daemon's log after its first N lines
since() { tail -n +"$(($1 + 1))" "$T/d.log" | grep -q -- "$2"; }
RUN_OK='\[job:pg\] run [0-9TZ-]*: ok ('
RUN_FAILED='\[job:pg\] run [0-9TZ-]*: failed ('
wait_until 20 since 0 "$RUN_OK" &&
    ok "daemon: pg runs with the vault: password" ||
    fail "daemon: $(tail -5 "$T/d.log")"
# rotate: PostgreSQL and Vault get the new password; the loaded one fails
pg_psql -c "ALTER ROLE backup PASSWORD '$BPW2'" >/dev/null
curl -s -X POST -d "{\"mount\":\"secret\",\"path\":\"zentoria/backup/postgresql\",\"data\":{\"password\":\"$BPW2\"}}" \
    "$VADDR/__kv" >/dev/null
N=$(wc -l <"$T/d.log")
wait_until 20 since "$N" "$RUN_FAILED" &&
    ok "daemon: the old password fails after the rotation" ||
    fail "daemon: $(tail -5 "$T/d.log")"
vclear
# Vault is slow (4 s) for this reload: the loop must go on meanwhile
curl -s -X POST -d '{"status": 0, "delay_ms": 4000, "count": 1, "path_prefix": "/v1/secret/"}' \
    "$VADDR/__fault" >/dev/null
N=$(wc -l <"$T/d.log")
kill -HUP "$DPID"
wait_until 15 since "$N" ": reloaded" && ok "daemon: reloaded" ||
    fail "daemon: no reload: $(tail -5 "$T/d.log")"
n=$(tail -n +"$((N + 1))" "$T/d.log" | awk '/SIGHUP: reloading/ { f = 1 }
    f && /: reloaded/ { exit }
    f && /\[job:pg\] run [0-9TZ-]*: (ok|failed) \(/ { c++ }
    END { print c + 0 }')
[ "$n" -ge 2 ] &&
    ok "daemon: $n runs ended while the reload waited for Vault (not blocked)" ||
    fail "daemon: $n runs ended while the reload waited for Vault"
[ "$(vcount GET /v1/secret/data/zentoria/backup/postgresql)" = 1 ] &&
    ok "daemon: the reload read the secret again" || fail "reads: $(vlog)"
N=$(grep -n ': reloaded' "$T/d.log" | tail -1 | cut -d: -f1)
wait_until 20 since "$N" "$RUN_OK" &&
    ok "daemon: the new password works after SIGHUP" ||
    fail "daemon: $(tail -5 "$T/d.log")"
# a reload whose secret is gone is refused; the daemon goes on
curl -s -X POST -d '{"mount":"secret","path":"zentoria/backup/postgresql","delete":true}' \
    "$VADDR/__kv" >/dev/null
N=$(wc -l <"$T/d.log")
kill -HUP "$DPID"
wait_until 15 since "$N" "reload refused" &&
    ok "daemon: a reload with a missing secret is refused" ||
    fail "daemon: $(tail -5 "$T/d.log")"
L=$(line_of "$T/d.ini" password)
grep -q "$T/d.ini:$L: \[source:pg\] password: $PGREF: no such secret" "$T/d.log" &&
    ok "daemon: the refusal names file:line and the path" ||
    fail "daemon: $(grep -i vault "$T/d.log" | tail -3)"
alive "$DPID" && ok "daemon: still running" || fail "daemon died"
stop_daemon "$DPID" TERM 20

# ---- the secrets never leave Vault, PostgreSQL and pg_dump -----------------
procwatch_check "the password and tokens" zentoria-backup pg_dump pg_restore
no_secret_in "no password, token or secret_id in any output, log or store" \
    "$T" "$PG_LOG"
kill "$VPID" "$SPID" 2>/dev/null
wait "$VPID" "$SPID" 2>/dev/null
finish
