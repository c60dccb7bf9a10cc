#!/bin/bash
# rclone_uploads.sh - max_uploads bounds the rcat children of one rclone
# sink: two jobs whose streams overlap for seconds run together, through
# an `rclone =' wrapper that counts the rcat processes alive at once.
# With max_uploads = 1 the second put waits for the first (at most one
# rcat at a time) and both copies complete and verify; with
# max_uploads = 2 the same run has two rcat at once, so the count can see
# an overlap when there is one.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/rclone.sh"

REAL=$(command -v rclone)
(umask 077; printf '[loc]\ntype = local\n' >"$T/rclone.conf")
echo 0 >"$T/alive"
echo 0 >"$T/most"
# The wrapper: one line per rcat start and end, under a lock, and the
# largest number alive at once in $T/most.  Everything else is rclone.
cat >"$T/rclone-wrap" <<SH
#!/bin/sh
case " \$* " in
*" rcat "*) ;;
*) exec "$REAL" "\$@" ;;
esac
(
	flock 9
	n=\$((\$(cat "$T/alive") + 1))
	echo \$n >"$T/alive"
	[ \$n -gt \$(cat "$T/most") ] && echo \$n >"$T/most"
	echo "start \$\$ alive \$n" >>"$T/rcat.log"
) 9>"$T/lock"
"$REAL" "\$@"
rc=\$?
(
	flock 9
	echo \$((\$(cat "$T/alive") - 1)) >"$T/alive"
	echo "end \$\$ rc \$rc" >>"$T/rcat.log"
) 9>"$T/lock"
exit \$rc
SH
chmod 755 "$T/rclone-wrap"

# Each stream: 3 MiB over about 1.5 s (more than a small put's 1 MiB,
# so each goes through rcat), and both jobs start together.
slow='sh -c "for i in 1 2 3 4 5 6; do head -c 524288 /dev/urandom; sleep 0.25; done"'
write_ini() {	# FILE MAX_UPLOADS
	cat >"$1" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:off]
plugin = rclone
remote = loc:$T/remote
rclone_config = $T/rclone.conf
rclone = $T/rclone-wrap
max_uploads = $2
timeout = 30s

[source:a]
plugin = command
command = $slow
extension = bin

[source:b]
plugin = command
command = $slow
extension = bin

[job:a]
source = a
sinks = off

[job:b]
source = b
sinks = off
INI
	chmod 600 "$1"
}

write_ini "$T/one.ini" 1
check "two overlapping jobs with max_uploads = 1" $CTL -c "$T/one.ini" run a b
most=$(cat "$T/most")
starts=$(grep -c '^start ' "$T/rcat.log" 2>/dev/null)
[ "$starts" = 2 ] && ok "two rcat uploads ran" || fail "rcat starts: $starts ($(cat "$T/rcat.log" 2>/dev/null))"
[ "$most" = 1 ] && ok "at most one rcat at a time" ||
    fail "max_uploads = 1, yet $most rcat ran at once: $(cat "$T/rcat.log")"
n=$(find "$T/remote" -name manifest.json | wc -l)
[ "$n" = 2 ] && ok "both copies committed" || fail "manifests: $n"
check "both verify" $CTL -c "$T/one.ini" verify --latest
[ -z "$(find "$T/remote" -name '.*')" ] && ok "no temporary left" || fail "temporaries left"

# The same with two slots: the count sees the overlap, so the line above
# would have seen one.
echo 0 >"$T/most"
: >"$T/rcat.log"
sleep 1		# a new stamp for the next run
write_ini "$T/two.ini" 2
check "two overlapping jobs with max_uploads = 2" $CTL -c "$T/two.ini" run a b
most=$(cat "$T/most")
[ "$most" = 2 ] && ok "two rcat at once with two slots" ||
    fail "max_uploads = 2: $most at once: $(cat "$T/rcat.log")"
n=$(find "$T/remote" -name manifest.json | wc -l)
[ "$n" = 4 ] && ok "four copies committed in all" || fail "manifests: $n"

finish
