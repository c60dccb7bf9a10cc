#!/usr/bin/python3
"""http_faults.py - an HTTP server with fault modes, for the toolkit's
HTTP adapters (core/toolkit_http.c, tests/unit/test_toolkit_http.c).

Listens on 127.0.0.1 (--port 0: any free port, written to --port-file by
an atomic rename).  Every request is counted per path+query, so that a
fault can hit the first K requests of one URL only.  Routes:

  GET  /blob?size=N[&...]   N deterministic bytes (byte i = (i*7 + i/1000)
                            & 255), ETag "blob-N", Accept-Ranges: bytes,
                            Range: bytes=A- answered 206.  Fault options:
        fail=K              the first K requests answer 503
        status=C            ... with status C instead (with fail=K)
        retry_after=S       those 503s carry Retry-After: S (seconds)
        retry_date=S        ... as an HTTP date S seconds ahead
        drop=OFF            the first `drops' (default 1) requests send
                            the headers and OFF bytes, then close
        drops=K
        norange=1           Range is ignored: always 200 with the body
        etag_change=1       every request after the first has another
                            ETag
        short=1             Content-Length N but N-100 bytes, every time
        slow_ms=MS          sleep MS after each 64 KiB
  ANY  /status/C            answers C with a text body "line one\\nline two"
  ANY  /echo[?fail=K]       200, JSON: method, headers, body length and
                            sha256, the request number of this URL; the
                            first K requests answer 503
  ANY  /upload[?early=C]    reads the body (Content-Length or chunked)
                            and answers JSON: len, sha256,
                            transfer_encoding, content_type, and for a
                            multipart/form-data body the one part's field,
                            filename, type, len and sha256.  early=C:
                            answer C at once without reading the body.
  GET  /redirect?to=PATH    307 to PATH (same server)
  GET  /hang                sends nothing for 60 s
  GET  /count?path=P        how many requests P (path+query) got
  GET  /statuses?path=P     the statuses /blob answered P with: "200,206"
"""
import argparse
import email.utils
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

lock = threading.Lock()
counts = {}
statuses = {}


def blob(n, start=0):
    return bytes(((i * 7 + i // 1000) & 255) for i in range(start, n))


def count(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if os.environ.get("HTTP_FAULTS_VERBOSE"):
            sys.stderr.write("http_faults: " + (fmt % a) + "\n")

    def reply(self, code, body=b"", ctype="text/plain", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline().strip()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        nth = count(self.path)
        if u.path not in ("/upload", "/hang", "/echo"):
            self.read_body()    # keep the connection usable
        if u.path == "/count":
            with lock:
                c = counts.get(q.get("path", ""), 0)
            return self.reply(200, str(c).encode())
        if u.path == "/statuses":
            with lock:
                c = statuses.get(q.get("path", ""), [])
            return self.reply(200, ",".join(map(str, c)).encode())
        if u.path.startswith("/status/"):
            return self.reply(int(u.path[8:]), b"line one\nline two")
        if u.path == "/echo":
            body = self.read_body()
            if nth <= int(q.get("fail", "0")):
                return self.reply(503, b"busy")
            doc = {"method": self.command, "nth": nth,
                   "headers": {k.lower(): v for k, v in
                               self.headers.items()},
                   "len": len(body),
                   "sha256": hashlib.sha256(body).hexdigest()}
            return self.reply(200, json.dumps(doc).encode(),
                              "application/json")
        if u.path == "/redirect":
            return self.reply(307, b"", headers=[("Location", q["to"])])
        if u.path == "/hang":
            time.sleep(60)
            return
        if u.path == "/upload":
            return self.upload(q)
        if u.path == "/blob":
            return self.blob(q, nth)
        self.reply(404, b"no such route: " + u.path.encode())

    def upload(self, q):
        if "early" in q:
            # answer before reading, then drain what the client sends
            self.close_connection = True
            self.reply(int(q["early"]), b"refused early\n",
                       headers=[("Connection", "close")])
            self.wfile.flush()
            self.connection.settimeout(2)
            try:
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass
            return
        body = self.read_body()
        ctype = self.headers.get("Content-Type", "")
        doc = {"method": self.command, "len": len(body),
               "sha256": hashlib.sha256(body).hexdigest(),
               "transfer_encoding": self.headers.get("Transfer-Encoding"),
               "content_length": self.headers.get("Content-Length"),
               "content_type": ctype}
        if ctype.startswith("multipart/form-data"):
            b = ctype.split("boundary=", 1)[1].encode()
            parts = body.split(b"--" + b)
            # ['', part, '--\r\n']
            if len(parts) != 3 or parts[2] != b"--\r\n":
                return self.reply(400, b"bad multipart framing")
            head, _, data = parts[1].partition(b"\r\n\r\n")
            if not data.endswith(b"\r\n"):
                return self.reply(400, b"bad multipart part end")
            data = data[:-2]
            hd = {}
            for line in head.strip().split(b"\r\n"):
                k, _, v = line.decode().partition(":")
                hd[k.strip().lower()] = v.strip()
            disp = hd.get("content-disposition", "")
            fields = {}
            for item in disp.split(";")[1:]:
                k, _, v = item.strip().partition("=")
                fields[k] = v.strip('"')
            doc["part"] = {"field": fields.get("name"),
                           "filename": fields.get("filename"),
                           "type": hd.get("content-type"),
                           "len": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()}
        self.reply(200, json.dumps(doc).encode(), "application/json")

    def blob(self, q, nth):
        size = int(q.get("size", "1000"))
        fail = int(q.get("fail", "0"))
        if nth <= fail:
            hdrs = []
            if "retry_after" in q:
                hdrs.append(("Retry-After", q["retry_after"]))
            if "retry_date" in q:
                hdrs.append(("Retry-After", email.utils.formatdate(
                    time.time() + int(q["retry_date"]), usegmt=True)))
            return self.reply(int(q.get("status", "503")),
                              b"busy, try later\nsecond line", headers=hdrs)
        etag = '"blob-%d"' % size
        if q.get("etag_change") and nth > fail + 1:
            etag = '"blob-%d-v%d"' % (size, nth)
        start = 0
        rng = self.headers.get("Range")
        code = 200
        if rng and not q.get("norange"):
            ir = self.headers.get("If-Range")
            if ir is None or ir == etag:
                start = int(rng.split("=")[1].split("-")[0])
                code = 206
        data = blob(size, start)
        length = len(data)
        send = data
        drop = int(q.get("drop", "-1"))
        drops = int(q.get("drops", "1"))
        if drop >= 0 and nth <= fail + drops:
            send = data[:drop]
        if q.get("short"):
            send = data[:max(0, len(data) - 100)]
        with lock:
            statuses.setdefault(self.path, []).append(code)
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" %
                             (start, size - 1, size))
        self.end_headers()
        slow = int(q.get("slow_ms", "0"))
        for i in range(0, len(send), 65536):
            try:
                self.wfile.write(send[i:i + 65536])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            if slow:
                time.sleep(slow / 1000.0)
        if len(send) < length:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that went away (the tests close transfers midway)
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
