#!/bin/sh
# install-deps.sh - install the Debian packages in scripts/debian-deps.txt
# (as root; with sudo otherwise), then the test-only npm server s3rver into
# /var/cache/zentoria-test-npm (ZB_NPM_PREFIX).  Does nothing when all are
# present.
set -eu
here=$(dirname "$0")
pkgs=$(grep -v '^#' "$here/debian-deps.txt" | tr '\n' ' ')
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
# npm: Debian's, unless a Node.js that brings its own is installed
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# s3rver: an independent S3 server for the interop tests and the quickstart
npm_prefix=${ZB_NPM_PREFIX:-/var/cache/zentoria-test-npm}
if [ ! -x "$npm_prefix/node_modules/.bin/s3rver" ]; then
	echo "installing s3rver (npm) into $npm_prefix"
	$sudo mkdir -p "$npm_prefix"
	$sudo npm install --silent --no-audit --no-fund --prefix "$npm_prefix" \
	    s3rver@3.7.1 >/dev/null
fi
