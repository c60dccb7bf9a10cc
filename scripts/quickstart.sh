#!/bin/bash
# quickstart.sh - from a fresh Debian 12 to a verified, restored backup.
#
# Installs the build dependencies, builds zentoria-backupd, installs it
# into a throwaway prefix, then backs up a sample directory (files
# source) and a command's output (command source) to a local tier,
# lists, verifies and restores both and compares them with the
# originals.  Everything lives under $ZB_QUICKSTART_DIR (default
# /tmp/zentoria-quickstart); nothing is installed system-wide except the
# Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
qs=${ZB_QUICKSTART_DIR:-/tmp/zentoria-quickstart}
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "installing build dependencies (Debian packages)"
scripts/install-deps.sh

step "building zentoria-backupd"
rm -rf "$qs"
mkdir -p "$qs/build"
autoreconf -fi >/dev/null 2>&1
(cd "$qs/build" && "$top/configure" -q --prefix="$qs/prefix" &&
    make -s -j"$jobs" && make -s install) >"$qs/build.log" 2>&1 ||
    { tail -40 "$qs/build.log"; exit 1; }
ctl="$qs/prefix/bin/zentoria-backupctl"
echo "installed into $qs/prefix"

step "making sample data"
sample="$qs/sample"
mkdir -p "$sample/docs/empty dir" "$sample/app"
echo "hello from zentoria" >"$sample/docs/readme.txt"
printf 'name with spaces\n' >"$sample/docs/a file with spaces.txt"
printf 'grüße\n' >"$sample/docs/ünïcødé.txt"
head -c 2000000 /dev/urandom >"$sample/app/blob.bin"
chmod 0640 "$sample/app/blob.bin"
ln -s ../docs/readme.txt "$sample/app/link-to-readme"
find "$sample" | sed "s|^$qs/||"

cat >"$qs/zentoria-backupd.ini" <<INI
[daemon]
plugin_dir = $qs/prefix/lib/zentoria-backupd/plugins
compression = zstd:3
max_buffer_mb = 64

[sink:local]
plugin = local
path = $qs/backups

[source:sample]
plugin = files
path = $sample
exclude = *.tmp

[source:report]
plugin = command
command = ps -eo pid,comm --sort=pid; df -h /; uname -a
extension = txt

[job:sample]
source = sample
sinks = local

[job:report]
source = report
sinks = local
INI
chmod 600 "$qs/zentoria-backupd.ini"
z() { echo "\$ zentoria-backupctl $*"; "$ctl" -c "$qs/zentoria-backupd.ini" "$@"; }

step "checking the configuration"
"$qs/prefix/sbin/zentoria-backupd" -c "$qs/zentoria-backupd.ini" --check-config

step "backing up the sample directory and a command's output"
z run sample report

step "listing what the local tier holds"
z list

step "verifying every copy (re-read, SHA-256 against the manifest)"
z verify --latest

ids=$("$ctl" -c "$qs/zentoria-backupd.ini" list --json 2>/dev/null |
    python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)]')
files_id=$(echo "$ids" | grep '^sample/')
report_id=$(echo "$ids" | grep '^report/')

step "restoring both"
z restore "$files_id" --to "$qs/restored-sample"
z restore "$report_id" --to "$qs/restored-report.txt"

step "comparing with the originals"
diff -r --no-dereference "$sample" "$qs/restored-sample/$(basename "$sample")"
echo "sample directory: identical (contents, symlink, empty dir)"
stat -c '%a %n' "$qs/restored-sample/sample/app/blob.bin"
head -3 "$qs/restored-report.txt"
echo "..."
dir=$(ls -d "$qs"/backups/sample/files/*/)
(cd "$dir" && sha256sum -c data.tar.zst.sha256)

step "done"
cat <<DONE
Backups:    $qs/backups   (layout: SOURCE/STREAM/TIME/{data.*,data.*.sha256,manifest.json})
Config:     $qs/zentoria-backupd.ini
Try:        $ctl -c $qs/zentoria-backupd.ini --help
DONE
