#!/bin/bash
# status_page.sh - the status page (GET /, core/daemon/statuspage.html) in
# headless Chromium: the page as the daemon serves it (statuspage_dump),
# with a /v1/status of known content from tests/fakes/status_server.py on
# 127.0.0.1, renders a cell per source/stream x sink coloured against the
# job's RPO (cell-ok < rpo, cell-late < 2 x rpo, cell-missing otherwise
# or none), the jobs, copies, running streams and checks; it sends the
# token from #token= as a bearer token and asks for one when refused; the
# screenshot is a PNG. Needs Debian's chromium: missing, the test FAILS.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
PY=${PYTHON3:-python3}
if [ -z "$CHROMIUM" ]; then
	fail "chromium is not installed (Debian package chromium)"
	finish
	exit 1
fi

# The page as GET / serves it.
check "statuspage_dump GET" sh -c \
    "'$ZB_BUILDDIR/tests/tools/statuspage_dump' GET >'$T/page.html' \
    2>'$T/page.hdr'"
check "GET / is 200 text/html" grep -qx "200 text/html; charset=utf-8" \
    "$T/page.hdr"
check "the compiled-in page is the source file" cmp "$T/page.html" \
    "$ZB_SRCDIR/core/daemon/statuspage.html"
check_fails 1 "POST / is refused" sh -c \
    "'$ZB_BUILDDIR/tests/tools/statuspage_dump' POST 2>&1 >/dev/null | \
    grep -q '^200'"
# Self-contained: no URL to another origin in src/href/url()/import.
if grep -Eiq '(src|href)=["'"'"']?(https?:)?//|url\(|@import' \
    "$T/page.html"; then
	fail "the page loads something external"
else
	ok
fi
check "the page forbids external loads (CSP)" grep -q \
    "Content-Security-Policy\" content=\"default-src 'none'" "$T/page.html"

NOW=$(date +%s)
TOKEN="tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# pg: rpo 26 h, sinks local, s3, offsite; etc: rpo 1 h, sink local only.
cat >"$T/status.json" <<JSON
{"version": "0.1.0", "now": $NOW,
 "jobs": [
  {"name": "pg", "source": "pg", "running": true,
   "next_run": $((NOW + 3600)), "rpo_s": 93600,
   "last": {"start": $((NOW - 1000)), "end": $((NOW - 900)),
            "outcome": "ok"},
   "sinks": [{"sink": "local", "last_outcome": "ok"},
             {"sink": "s3", "last_outcome": "failed"},
             {"sink": "offsite", "last_outcome": null}],
   "streams": [
    {"stream": "db1", "sink": "local", "newest_ok": $((NOW - 900)),
     "age_s": 900, "size": 123456, "duration_s": 12.5},
    {"stream": "db1", "sink": "s3", "newest_ok": $((NOW - 108000)),
     "age_s": 108000, "size": 123000, "duration_s": 40},
    {"stream": "db2", "sink": "local", "newest_ok": $((NOW - 200000)),
     "age_s": 200000, "size": 5000000, "duration_s": 3.25},
    {"stream": "db2", "sink": "s3", "newest_ok": null, "age_s": null,
     "size": null, "duration_s": null}]},
  {"name": "etc", "source": "etc", "running": false, "next_run": null,
   "rpo_s": 3600,
   "last": {"start": $((NOW - 200)), "end": $((NOW - 100)),
            "outcome": "ok"},
   "sinks": [{"sink": "local", "last_outcome": "ok"}],
   "streams": [
    {"stream": "root", "sink": "local", "newest_ok": $((NOW - 100)),
     "age_s": 100, "size": 2048, "duration_s": 1.5}]}],
 "running": [{"job": "pg", "stream": "db1", "sink": "local",
              "bytes": 1048576, "backpressure_s": 0.5}],
 "checks": [
  {"name": "weekly", "kind": "test-restore", "next_run": $((NOW + 86400)),
   "last": {"ok": true, "time": $((NOW - 5000)), "duration_s": 30.1,
            "restore_s": 12.0}},
  {"name": "nightly", "kind": "verify", "next_run": null,
   "last": {"ok": false, "time": $((NOW - 7000)), "duration_s": 2.0,
            "restore_s": null}}]}
JSON

"$PY" "$ZB_SRCDIR/tests/fakes/status_server.py" "$T/page.html" \
    "$T/status.json" "$TOKEN" "$T/port" "$T/requests.log" \
    2>"$T/server.err" &
SRV=$!
trap 'kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do
	[ -s "$T/port" ] && break
	sleep 0.1
done
PORT=$(cat "$T/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	fail "status_server.py did not start: $(cat "$T/server.err")"
	finish
	exit 1
fi
URL="http://127.0.0.1:$PORT/"

# Chromium with a private profile and nothing but 127.0.0.1 to talk to.
chrome() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$T/profile" --no-first-run \
	    --disable-extensions --disable-sync \
	    --disable-background-networking --disable-component-update \
	    --disable-default-apps --host-resolver-rules="MAP * ~NOTFOUND, \
EXCLUDE 127.0.0.1" --virtual-time-budget=10000 "$@" 2>>"$T/chrome.err"
}

# cells.py: one line per status cell: SOURCE/STREAM SINK CLASS TEXT, and
# `state STATE', `row TABLE: cells...' for the other tables.
cat >"$T/cells.py" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cell = None; self.table = None; self.row = None
        self.text = ""
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            print("state", a.get("data-state"))
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr":
            self.row = []
        if tag in ("td", "th"):
            self.cell = a; self.text = ""
    def handle_data(self, d):
        if self.cell is not None:
            self.text += d
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            a = self.cell
            if "data-sink" in a:
                print("cell %s/%s %s %s %s" % (a["data-source"],
                    a["data-stream"], a["data-sink"], a.get("class"),
                    self.text))
            if self.row is not None:
                cls = a.get("class")
                self.row.append(self.text + ("[%s]" % cls if cls else ""))
            self.cell = None
        if tag == "tr" and self.row is not None:
            print("row %s: %s" % (self.table, " | ".join(self.row)))
            self.row = None
P().feed(sys.stdin.read())
PY

chrome --dump-dom "$URL#token=$TOKEN" >"$T/dom.html"
check "chromium --dump-dom" test -s "$T/dom.html"
"$PY" "$T/cells.py" <"$T/dom.html" >"$T/cells"
expect() {	# expect "what" LINE: $T/cells holds LINE exactly
	if grep -qxF -- "$2" "$T/cells"; then
		ok
	else
		fail "$1: no line '$2' in the rendered page:
$(cat "$T/cells")
$(tail -5 "$T/chrome.err")"
	fi
}
expect "the fetch completed" "state loaded"
expect "a fresh copy is green" "cell pg/db1 local cell-ok 15m 0s"
expect "30 h against 26 h is amber" "cell pg/db1 s3 cell-late 1d 6h"
expect "an old copy is red" "cell pg/db2 local cell-missing 2d 7h"
expect "no good copy is red" "cell pg/db2 s3 cell-missing none"
expect "a sink without copies is red" \
    "cell pg/db1 offsite cell-missing none"
expect "another job's RPO (1 h)" "cell etc/root local cell-ok 1m 40s"
expect "a sink the job does not use" "cell etc/root s3 cell-na -"
expect "the tiers are columns" \
    "row points: source / stream | local | s3 | offsite"
if [ "$(grep -c '^cell ' "$T/cells")" = 9 ]; then ok; else
	fail "expected 9 cells (3 rows x 3 sinks): $(grep '^cell ' "$T/cells")"
fi
if grep -q "^row jobs: pg | pg | 1d 2h | running | .* | 1m 40s | ok\[outcome-ok\] | .*(in 1h 0m)\$" \
    "$T/cells"; then ok; else
	fail "jobs row of pg: $(grep '^row jobs' "$T/cells")"
fi
expect "last copy with duration and size" \
    "row copies: pg | db2 | local | $(date -u -d @$((NOW - 200000)) \
'+%Y-%m-%d %H:%M:%S UTC') | 2d 7h | 3.3 s[num] | 4.8 MiB[num]"
expect "running stream" \
    "row running: pg | db1 | local | 1.0 MiB[num] | 0.5 s[num]"
if grep -q "^row checks: weekly | test-restore | ok\[check-ok\] | .* | 30.1 s | 12 s | .*(in 1d 0h)\$" "$T/cells" &&
    grep -q "^row checks: nightly | verify | failed\[check-failed\] | .* | 2 s | - | not scheduled\$" "$T/cells"; then
	ok
else
	fail "checks rows: $(grep '^row checks' "$T/cells")"
fi
check "/v1/status was fetched with the bearer token" \
    grep -qx "GET /v1/status AUTH-OK" "$T/requests.log"
if grep -qF -- "$TOKEN" "$T/requests.log"; then
	fail "the token reached the server outside the header"
else
	ok
fi

# The screenshot: a non-empty PNG of the window's size.
(cd "$T" && chrome --screenshot="$T/shot.png" --window-size=1200,900 \
    "$URL#token=$TOKEN" >/dev/null)
check "screenshot written" test -s "$T/shot.png"
check "screenshot is a PNG" "$PY" -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
w, h = struct.unpack('>II', d[16:24])
assert (w, h) == (1200, 900), (w, h)
assert len(d) > 10000, len(d)" "$T/shot.png"
[ -n "${ZB_KEEP_SCREENSHOT:-}" ] && cp "$T/shot.png" "$ZB_KEEP_SCREENSHOT"

# A wrong token: 401, and the page asks for one; no token: no request.
: >"$T/requests.log"
rm -rf "$T/profile"
chrome --dump-dom "$URL#token=wrong" >"$T/dom.html"
"$PY" "$T/cells.py" <"$T/dom.html" >"$T/cells"
expect "a refused token shows the login form" "state login"
check "the refusal is said" grep -q "token refused (HTTP 401)" "$T/dom.html"
check "it was refused by the server" grep -qx "GET /v1/status AUTH-NO" \
    "$T/requests.log"
: >"$T/requests.log"
rm -rf "$T/profile"
chrome --dump-dom "$URL" >"$T/dom.html"
"$PY" "$T/cells.py" <"$T/dom.html" >"$T/cells"
expect "no token: the login form" "state login"
if grep -q "/v1/status" "$T/requests.log"; then
	fail "the page asked for /v1/status without a token"
else
	ok
fi
finish
