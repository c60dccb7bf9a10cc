#!/bin/bash
# sample_config.sh - etc/zentoria-backupd.ini.sample, with its paths moved
# into $T and plugin_dir pointing at the build tree, passes
# `zentoria-backupd --check-config` (plugins loaded, their keys checked,
# their init() run), and what it shows is what the core parses.
. "$(dirname "$0")/lib.sh"

SAMPLE="$ZB_SRCDIR/etc/zentoria-backupd.ini.sample"
mkdir -p "$T/etc" "$T/backups" "$T/config"
for f in offsite.key offsite.secret minio.key minio.secret pg.pass \
    redis.pass vault.token qdrant.key n8n.key; do
	echo "not-a-real-$f" >"$T/etc/$f"
	chmod 600 "$T/etc/$f"
done
# the OneDrive tier's rclone.conf (no token: --check-config reads it only)
printf '[zentoria-onedrive]\ntype = onedrive\ndrive_type = personal\n' \
    >"$T/etc/rclone.conf"
chmod 600 "$T/etc/rclone.conf"
sed -e "s#^; plugin_dir = .*#plugin_dir = $ZB_TEST_PLUGIN_DIR#" \
    -e "s#^; state_dir = .*#state_dir = $T/state#" \
    -e "s#/etc/zentoria-backupd#$T/etc#g" \
    -e "s#/var/backups/zentoria#$T/backups#g" \
    -e "s#/opt/zentoria/config#$T/config#g" \
    "$SAMPLE" >"$T/zb.ini"
chmod 600 "$T/zb.ini"

# The substitutions took: no active line names a path outside $T.
if grep -v '^;' "$T/zb.ini" | grep -E '(^|[ =,])/(etc|var|opt|run)/' \
    >"$T/left"; then
	fail "paths outside \$T left in the sample's copy: $(cat "$T/left")"
else
	ok
fi
grep -q "^plugin_dir = $ZB_TEST_PLUGIN_DIR\$" "$T/zb.ini" && ok ||
	fail "plugin_dir was not set (the sample's commented line changed?)"

check "--check-config passes on the sample" \
	"$DAEMON" -c "$T/zb.ini" --check-config
grep -q "zb.ini: configuration ok" "$T/out" && ok "configuration ok" ||
	fail "no 'configuration ok' on stdout: $(cat "$T/out")"

# The seed's schedule and tiers are there: three PostgreSQL lines, the
# tiers' retention, the checks.
for want in 'schedule = 0 3 \* \* sun tag=weekly' \
    'schedule = 0 2 \* \* \* tag=daily' 'schedule = 0 \* \* \* \* tag=hourly' \
    'schedule = 0 \*/6 \* \* \*' 'keep_hourly = 168' 'keep_weekly = 52' \
    'keep_last = unlimited' '^\[check:restore-weekly\]' \
    '^\[check:everything-quarterly\]' '^\[check:verify-daily\]' \
    '^\[source:vault\]' '^schedule = 0 1 \* \* \*' \
    '^\[source:qdrant\]' '^\[check:qdrant-monthly\]'; do
	grep -q "$want" "$T/zb.ini" && ok "$want" ||
		fail "the sample lacks: $want"
done
# The sections of issues 11 and 12 are there, commented out.
for want in '^\[source:n8n\]' '^; plugin = rclone'; do
	grep -q "$want" "$T/zb.ini" && ok "$want" ||
		fail "the sample lacks: $want"
done

# The same file with a check naming a job that does not exist is refused
# at its line, with the section and key.
cp "$T/zb.ini" "$T/bad.ini"
line=$(($(wc -l <"$T/bad.ini") + 5))
printf '\n[check:retired-monthly]\nschedule = 0 5 1 * *\nkind = test-restore\njobs = retired\n' \
	>>"$T/bad.ini"
check_fails 1 "a check naming a job that does not exist" \
	"$DAEMON" -c "$T/bad.ini" --check-config
grep_err "the refusal names the file, line, section and key" \
	"bad.ini:$line: \\[check:retired-monthly\\] jobs: no \\[job:retired\\] section"

finish
