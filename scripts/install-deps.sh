#!/bin/sh
# install-deps.sh - install the Debian packages in scripts/debian-deps.txt
# (as root; with sudo otherwise).  Does nothing when all are present.
set -eu
here=$(dirname "$0")
pkgs=$(grep -v '^#' "$here/debian-deps.txt" | tr '\n' ' ')
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
