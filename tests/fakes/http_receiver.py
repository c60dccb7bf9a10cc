#!/usr/bin/python3
"""http_receiver.py - a local HTTP receiver for the notification tests.

Listens on 127.0.0.1 (port 0: any free port, written to --port-file),
answers POSTs with 200 and appends one JSON line per request to --out:
{"path": ..., "authorization": ..., "content_type": ..., "body": ...}.
--fail-first N answers the first N requests with 503 (recorded with
"status": 503) to exercise the sender's retries.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"seen": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            with lock:
                state["seen"] += 1
                status = 503 if state["seen"] <= args.fail_first else 200
                rec = {"path": self.path, "status": status,
                       "authorization": self.headers.get("Authorization"),
                       "content_type": self.headers.get("Content-Type"),
                       "body": body}
                with open(args.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, fmt, *a):
            sys.stderr.write("http_receiver: " + (fmt % a) + "\n")

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
