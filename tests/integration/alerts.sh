#!/bin/bash
# alerts.sh - the alert rules (etc/prometheus/zentoria-backupd.rules.yml)
# pass `promtool check rules` and the unit tests of tests/prometheus/
# (`promtool test rules`: each alert firing and not firing); the rules and
# the Grafana dashboard (etc/grafana/zentoria-backupd.json) pass
# tests/prometheus/lint.py (valid JSON, unique panel ids, a target on each
# panel, only metric names and labels the daemon exports).  Then broken
# copies of both must be refused, each for its own reason, so that none of
# these checks passes whatever the files say.  promtool (Debian package
# prometheus) and python3 with yaml (python3-yaml) are required: without
# them the test FAILS, it does not skip.
. "$(dirname "$0")/lib.sh"

RULES=$ZB_SRCDIR/etc/prometheus/zentoria-backupd.rules.yml
DASH=$ZB_SRCDIR/etc/grafana/zentoria-backupd.json
LINT=$ZB_SRCDIR/tests/prometheus/lint.py

if ! command -v promtool >/dev/null 2>&1; then
	fail "promtool not found in PATH (Debian package prometheus," \
	    "scripts/debian-deps.txt)"
	finish
	exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	fail "python3 cannot import yaml (Debian package python3-yaml)"
	finish
	exit 1
fi

# grep_out "what" PATTERN: the last command's stdout has the pattern
grep_out() {
	if grep -q -- "$2" "$T/out"; then
		ok "$1"
	else
		fail "$1: stdout lacks '$2': $(tail -5 "$T/out")"
	fi
}

check "promtool check rules" promtool check rules "$RULES"
grep_out "8 rules found" "SUCCESS: 8 rules found"
check "promtool test rules" promtool test rules \
	"$ZB_SRCDIR"/tests/prometheus/*.test.yml
check "lint.py: the dashboard, the rules and docs/monitoring.md" \
	python3 "$LINT" "$ZB_SRCDIR"

# ---- broken copies ---------------------------------------------------------
# A scratch source tree holding what the checks read.
S=$T/src
mkdir -p "$S/etc/prometheus" "$S/etc/grafana" "$S/tests/prometheus" \
	"$S/docs"
fresh() {
	cp "$RULES" "$S/etc/prometheus/"
	cp "$DASH" "$S/etc/grafana/"
	cp "$ZB_SRCDIR"/tests/prometheus/*.test.yml "$S/tests/prometheus/"
	cp "$ZB_SRCDIR/docs/monitoring.md" "$S/docs/"
}
fresh
check "lint.py passes on the scratch copy" python3 "$LINT" "$S"

# The seed's threshold changed: its unit test sees it.
sed -i 's/backup_age_hours > 26$/backup_age_hours > 30/' \
	"$S/etc/prometheus/zentoria-backupd.rules.yml"
if cmp -s "$RULES" "$S/etc/prometheus/zentoria-backupd.rules.yml"; then
	fail "the sed did not change BackupAgeWarning's threshold"
fi
check_fails 1 "promtool test rules: BackupAgeWarning at 30 h" \
	promtool test rules "$S"/tests/prometheus/*.test.yml
grep_err "BackupAgeWarning's failure is named" \
	"alertname: BackupAgeWarning, time: 45m"
fresh

# The dead man ignores backup_running: the test where a running job is
# late sees it fire.
sed -i 's/unless on (instance, job) backup_running > 0/unless on (instance, job) backup_running > 1/' \
	"$S/etc/prometheus/zentoria-backupd.rules.yml"
check_fails 1 "promtool test rules: BackupScheduleMissed ignoring running" \
	promtool test rules "$S/tests/prometheus/rpo.test.yml"
grep_err "BackupScheduleMissed's failure is named" \
	"alertname: BackupScheduleMissed, time: 35m"
fresh

# Rules that do not parse.
sed -i 's/expr: backup_success == 0/expr: backup_success === 0/' \
	"$S/etc/prometheus/zentoria-backupd.rules.yml"
check_fails 1 "promtool check rules: a parse error" \
	promtool check rules "$S/etc/prometheus/zentoria-backupd.rules.yml"
grep_err "the parse error is reported" "FAILED"
fresh

# A misspelt metric in a rule, in a panel, in a variable.
sed -i 's/expr: backup_success == 0/expr: backup_sucess == 0/' \
	"$S/etc/prometheus/zentoria-backupd.rules.yml"
check_fails 1 "lint.py: an unknown metric in a rule" python3 "$LINT" "$S"
grep_err "the rule's metric is named" \
	"BackupFailure: backup_sucess is not a metric the daemon exports"
fresh
sed -i 's/sum by (sink) (backup_size_bytes{/sum by (sink) (backup_size_byte{/' \
	"$S/etc/grafana/zentoria-backupd.json"
check_fails 1 "lint.py: an unknown metric in a panel" python3 "$LINT" "$S"
grep_err "the panel and its metric are named" \
	"(Size by tier) target A: backup_size_byte is not a metric the daemon exports"
fresh
sed -i 's/label_values(backup_success, job)/label_values(backup_succes, job)/' \
	"$S/etc/grafana/zentoria-backupd.json"
check_fails 1 "lint.py: an unknown metric in a variable" python3 "$LINT" "$S"
grep_err "the variable is named" "variable job: backup_succes is not a metric"
fresh

# A label the metric does not have, in a matcher and in a legend.
sed -i 's/backup_retained_copies{sink=~/backup_retained_copies{tier=~/' \
	"$S/etc/grafana/zentoria-backupd.json"
check_fails 1 "lint.py: a label the metric lacks" python3 "$LINT" "$S"
grep_err "the label is named" "backup_retained_copies has no label tier"
fresh
sed -i 's/"legendFormat": "{{state}}"/"legendFormat": "{{kind}}"/' \
	"$S/etc/grafana/zentoria-backupd.json"
check_fails 1 "lint.py: a legend naming a label the metric lacks" \
	python3 "$LINT" "$S"
grep_err "the legend's label is named" "legend names label kind"
fresh

# Not JSON; a duplicate panel id; a panel without targets.
head -c 2000 "$DASH" >"$S/etc/grafana/zentoria-backupd.json"
check_fails 1 "lint.py: a dashboard cut short" python3 "$LINT" "$S"
grep_err "not JSON is named" "not valid JSON"
fresh
python3 - "$S/etc/grafana/zentoria-backupd.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][2]["id"] = d["panels"][1]["id"]
d["panels"][3]["targets"] = []
json.dump(d, open(sys.argv[1], "w"))
PY
check_fails 1 "lint.py: a duplicate panel id and a panel without targets" \
	python3 "$LINT" "$S"
grep_err "the duplicate id is named" "panel id 2: not a unique integer"
grep_err "the panel without targets is named" "no targets"
fresh

# An alert no test makes fire.
cat >>"$S/etc/prometheus/zentoria-backupd.rules.yml" <<'EOF'
      - alert: BackupUntested
        expr: backup_running > 1
        annotations:
          summary: "x {{ $labels.job }}"
          description: "y"
EOF
check "the extra alert still parses" \
	promtool check rules "$S/etc/prometheus/zentoria-backupd.rules.yml"
check_fails 1 "lint.py: an alert without tests" python3 "$LINT" "$S"
grep_err "the untested alert is named" \
	"alert BackupUntested: no test where it fires"
fresh

# docs/monitoring.md forgets a metric.
sed -i 's/`backup_test_restore_seconds/`backup_test_restore_secs/g' \
	"$S/docs/monitoring.md"
check_fails 1 "lint.py: a metric missing from docs/monitoring.md" \
	python3 "$LINT" "$S"
grep_err "the undocumented metric is named" \
	"does not document backup_test_restore_seconds"

finish
