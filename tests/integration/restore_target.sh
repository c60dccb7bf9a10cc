#!/bin/bash
# restore_target.sh - `restore --to' never writes into a sink's storage
# nor replaces a directory that holds it, with or without --force, and
# whichever way the target is spelled (relative, through a symlink, with
# `..', not existing yet); the message names the sink.  A sibling whose
# name merely starts with the store's is fine.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/src/tree"
printf 'data\n' >"$T/src/tree/file"
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state

[sink:disk]
plugin = local
path = $T/top/store

[sink:later]
plugin = local
path = $T/not-yet/store

[source:tree]
plugin = files
path = $T/src/tree

[job:tree]
source = tree
sinks = disk
INI
Z="$CTL -c $T/zb.ini"

check "run the files job" $Z run tree
id="tree/files@$(ls "$T/top/store/tree/files")"
manifest=$(ls "$T"/top/store/tree/files/*/manifest.json)
ln -s "$T/top/store" "$T/top/alias"

# refused WHAT PATTERN ARGS...: restore ARGS must fail with PATTERN.
refused() {
	local what=$1 pat=$2
	shift 2
	check_fails 1 "$what is refused" "$@"
	grep_err "$what: the message names the sink" "$pat"
	[ -f "$manifest" ] && ok "$what: the store is intact" ||
	    fail "$what: the store was touched"
}

inside="is inside the storage of \[sink:disk\] (path = $T/top/store)"
refused "--force into the sink's source directory" "$inside" \
    $Z restore "$id" --force --to "$T/top/store/tree"
refused "a new directory inside the store" "$inside" \
    $Z restore "$id" --to "$T/top/store/new"
refused "the store itself" "$inside" \
    $Z restore "$id" --force --to "$T/top/store"
refused "through a symlink to the store" "$inside" \
    $Z restore "$id" --force --to "$T/top/alias/tree"
refused "with .. through a missing directory" "$inside" \
    $Z restore "$id" --to "$T/top/missing/../store/x"
refused "relative, from inside the store" "$inside" \
    sh -c "cd '$T/top/store' && exec $Z restore '$id' --to new"
refused "--force over a directory holding the store" \
    "--to $T/top: $T/top holds the storage of \[sink:disk\]" \
    $Z restore "$id" --force --to "$T/top"
refused "a directory holding a store not made yet" \
    "holds the storage of \[sink:later\] (path = $T/not-yet/store)" \
    $Z restore "$id" --to "$T/not-yet"
[ ! -e "$T/top/store/new" ] && [ ! -e "$T/top/store/x" ] && [ ! -e "$T/not-yet" ] &&
    ok "nothing was created in or around the stores" ||
    fail "a refused restore created something"

check "a sibling named like the store is fine" $Z restore "$id" \
    --to "$T/top/store2"
[ "$(cat "$T/top/store2/tree/file")" = data ] && ok "restored to the sibling" ||
    fail "the sibling restore"

finish
