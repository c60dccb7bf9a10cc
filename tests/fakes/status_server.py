#!/usr/bin/env python3
"""status_server.py - a stand-in for the daemon's HTTP server in the
status page test (tests/integration/status_page.sh): serves PAGE at GET /
and STATUS_JSON at GET /v1/status to `Authorization: Bearer TOKEN' only
(401 otherwise), on 127.0.0.1 at a free port written to PORT_FILE.
Each request is logged as `METHOD PATH AUTH-OK|AUTH-NO' to LOG.

Usage: status_server.py PAGE STATUS_JSON TOKEN PORT_FILE LOG
"""
import http.server
import os
import sys

PAGE, STATUS, TOKEN, PORT_FILE, LOG = sys.argv[1:6]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization") == "Bearer " + TOKEN
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path,
                                    "AUTH-OK" if auth else "AUTH-NO"))
        if self.path == "/" or self.path.startswith("/?"):
            with open(PAGE, "rb") as f:
                self.reply(200, "text/html; charset=utf-8", f.read())
        elif self.path == "/v1/status":
            if not auth:
                self.reply(401, "application/json",
                           b'{"error": "unauthorized"}')
                return
            with open(STATUS, "rb") as f:
                self.reply(200, "application/json", f.read())
        else:
            self.reply(404, "text/plain", b"not found\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".t", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(PORT_FILE + ".t", PORT_FILE)
srv.serve_forever()
