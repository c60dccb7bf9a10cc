#!/usr/bin/python3
"""qdrant_fake.py - a single-node Qdrant stand-in for the qdrant source's tests.

Python standard library only.  Implements the contract written down in
shared/docs/apis/qdrant-snapshots.md:

  * auth: header `api-key: K` (or `Authorization: Bearer K`) when --api-key
    is given; missing -> 401 text/plain "Must provide an API key or an
    Authorization bearer token", wrong -> 401 "Invalid API key or JWT".
    `/`, `/healthz`, `/readyz*`, `/livez*` skip auth.  An upload is refused
    before its body is read (no 100 Continue).
  * the JSON envelope {"result": R, "status": "ok", "time": t}; errors
    {"status": {"error": "Not found: ..."}, "time": t} with Qdrant's codes.
  * collections: GET /collections, GET/PUT/DELETE /collections/NAME,
    PUT /collections/NAME/points (upsert), POST /collections/NAME/points/count.
  * collection snapshots: POST (wait=true: SnapshotDescription with
    name/creation_time/size/checksum; wait=false: 202 accepted), GET list,
    GET NAME (raw tar, application/octet-stream, Range, ETag,
    Last-Modified; a missing one: 404 *plain text* "Not found: Snapshot
    ..."), DELETE NAME (result true), POST upload (multipart/form-data
    with one file part "snapshot", chunked or sized body; ?priority=
    no_sync|snapshot|replica; ?checksum= 64 hex, else 400; a SHA-256
    mismatch 400) which recovers the collection (created, or replaced).
  * full-storage snapshots: POST/GET /snapshots, GET/DELETE
    /snapshots/NAME (no REST recovery, as in Qdrant).

A snapshot is a real tar: "collection.json" (config and points) plus
"segments/blob.bin" of --pad random bytes (to make downloads long); a full
snapshot is a tar of one collection snapshot per collection plus
"aliases.json".  Files live under --data-dir (or a temporary directory),
with NAME.checksum beside each, as in Qdrant.

Seed: --collection NAME=POINTS[:DIM] (repeatable): POINTS points with
vectors of DIM (4) floats, distance Dot, payload {"n": i}.

Control endpoints (no auth, not logged):
  GET  /__log               [{"method","path","status","auth"}]
  POST /__log/clear
  GET  /__state             {"collections": {NAME: {"points": N,
                            "digest": sha256 of the sorted points}},
                            "snapshots": {NAME or "": [file names]}}
  POST /__fault             {"mode": M, "count": N}  (count -1: forever)
      M = truncate        a download sends half its body, then closes
          wrong_checksum  create reports a checksum that is not the file's
          die             a download sends half its body, then the process
                          exits (os._exit)
          unauthorized    every API request gets 401 (plain text)
          unavailable     every API request gets 503 (JSON envelope)
          clear           no fault

Usage:
  qdrant_fake.py --port 0 --port-file F [--api-key K] [--version 1.13.2]
                 [--collection NAME=POINTS[:DIM]]... [--pad BYTES]
                 [--data-dir DIR] [--verbose]
Listens on 127.0.0.1 only; the port is written to --port-file atomically
(rename) once listening.  Stop it with SIGTERM to its PID.
"""
import argparse
import datetime
import email.utils
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import sys
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PEER_ID = 3766212330831337
NAME_RE = re.compile(r'^[^/\\\x00-\x1f]{1,255}$')


class State:
    def __init__(self, data_dir, pad, version, api_key):
        self.lock = threading.Lock()
        self.dir = data_dir
        self.pad = pad
        self.version = version
        self.api_key = api_key
        self.collections = {}   # name -> {"vectors": {...}, "points": {id: p}}
        self.log = []
        self.fault = None
        self.fault_count = 0

    def snapdir(self, coll):
        d = os.path.join(self.dir, 'collections', coll) if coll else \
            os.path.join(self.dir, 'full')
        os.makedirs(d, exist_ok=True)
        return d

    def take_fault(self, modes):
        """The current fault if it is one of modes (and uses it up)."""
        with self.lock:
            if self.fault not in modes or self.fault_count == 0:
                return None
            if self.fault_count > 0:
                self.fault_count -= 1
            return self.fault


STATE = None


def now_name():
    return datetime.datetime.utcnow().strftime('%Y-%m-%d-%H-%M-%S')


def coll_json(name, c):
    return json.dumps({"name": name, "vectors": c["vectors"],
                       "points": [c["points"][k] for k in
                                  sorted(c["points"], key=str)]}).encode()


def add_file(tar, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = int(time.time())
    tar.addfile(ti, io.BytesIO(data))


def coll_tar(name, c):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w') as tar:
        add_file(tar, 'collection.json', coll_json(name, c))
        if STATE.pad:
            add_file(tar, 'segments/blob.bin', os.urandom(STATE.pad))
    return b.getvalue()


def write_snapshot(coll, name, data):
    d = STATE.snapdir(coll)
    path = os.path.join(d, name)
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    os.rename(path + '.tmp', path)
    digest = hashlib.sha256(data).hexdigest()
    with open(path + '.checksum', 'w') as f:
        f.write(digest)
    return describe(coll, name)


def describe(coll, name):
    path = os.path.join(STATE.snapdir(coll), name)
    st = os.stat(path)
    d = {"name": name,
         "creation_time": datetime.datetime.utcfromtimestamp(
             int(st.st_mtime)).strftime('%Y-%m-%dT%H:%M:%S'),
         "size": st.st_size}
    try:
        with open(path + '.checksum') as f:
            d["checksum"] = f.read().strip()
    except OSError:
        pass
    return d


def list_snapshots(coll):
    d = STATE.snapdir(coll)
    return sorted(n for n in os.listdir(d) if n.endswith('.snapshot'))


def points_digest(c):
    return hashlib.sha256(coll_json('', c)).hexdigest()


def parse_points(data):
    doc = json.loads(data)
    return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'qdrant-fake'

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write('qdrant_fake: ' + (fmt % args) + '\n')

    # ------------------------------------------------------------ answers

    def _status(self, code):
        self._code = code
        self.send_response(code)

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self._status(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def ok(self, result, code=200):
        self.send_json(code, {"result": result, "status": "ok",
                              "time": 0.000123})

    def err(self, code, msg):
        self.send_json(code, {"status": {"error": msg}, "time": 0.000045})

    def text(self, code, msg, close=False):
        body = msg.encode()
        self._status(code)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        if close:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    # ------------------------------------------------------------ requests

    def auth_error(self):
        """None when the request may go on, else the 401 text."""
        path = self._path
        if path in ('/', '/healthz') or path.startswith('/readyz') or \
                path.startswith('/livez'):
            return None
        if STATE.take_fault(('unauthorized',)):
            return 'Invalid API key or JWT'
        if STATE.api_key is None:
            return None
        key = self.headers.get('api-key')
        if key is None:
            a = self.headers.get('Authorization', '')
            if a.startswith('Bearer '):
                key = a[7:]
        if key is None:
            return 'Must provide an API key or an Authorization bearer token'
        if key != STATE.api_key:
            return 'Invalid API key or JWT'
        return None

    def handle_expect_100(self):
        # Qdrant checks the key before it reads a body.
        self._prepare()
        if self._path.startswith('/__'):
            return super().handle_expect_100()
        e = self.auth_error()
        if e is not None:
            self._denied = e
            self.text(401, e, close=True)
            self._record()
            return False
        self._denied = None
        self._checked = True
        return super().handle_expect_100()

    def _prepare(self):
        u = urlsplit(self.path)
        self._path = u.path
        self._query = parse_qs(u.query, keep_blank_values=True)
        self._code = 0

    def _record(self):
        if self._path.startswith('/__'):
            return
        with STATE.lock:
            STATE.log.append({"method": self.command, "path": self.path,
                              "status": self._code,
                              "auth": 'api-key' in self.headers})

    def read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError('body ended early')
                n = int(line.split(b';')[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n',
                                                              b''):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline(3)
        n = int(self.headers.get('Content-Length') or 0)
        data = self.rfile.read(n) if n else b''
        if len(data) != n:
            raise ConnectionError('body ended early')
        return data

    def dispatch(self):
        if not getattr(self, '_checked', False):
            self._prepare()
        checked = getattr(self, '_checked', False)
        self._checked = False
        path = self._path
        try:
            if path.startswith('/__'):
                return self.control()
            if not checked:
                e = self.auth_error()
                if e is not None:
                    # A body is never read: close, as actix does.
                    self.text(401, e, close=self.command in ('POST', 'PUT'))
                    return
            if STATE.take_fault(('unavailable',)):
                self.err(503, 'Service internal error: fake is unavailable')
                return
            self.route()
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        finally:
            self._record()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = dispatch

    # ------------------------------------------------------------ control

    def control(self):
        p = self._path
        if p == '/__log' and self.command == 'GET':
            with STATE.lock:
                return self.send_json(200, {"log": list(STATE.log)})
        if p == '/__log/clear':
            with STATE.lock:
                STATE.log = []
            return self.send_json(200, {})
        if p == '/__state':
            with STATE.lock:
                cs = {n: {"points": len(c["points"]),
                          "digest": points_digest(c),
                          "vectors": c["vectors"]}
                      for n, c in STATE.collections.items()}
                snaps = {}
                base = os.path.join(STATE.dir, 'collections')
                if os.path.isdir(base):
                    for n in os.listdir(base):
                        snaps[n] = list_snapshots(n)
                snaps[""] = list_snapshots(None)
            return self.send_json(200, {"collections": cs,
                                        "snapshots": snaps})
        if p == '/__fault':
            body = json.loads(self.read_body() or b'{}')
            with STATE.lock:
                m = body.get('mode', 'clear')
                STATE.fault = None if m == 'clear' else m
                STATE.fault_count = int(body.get('count', -1))
            return self.send_json(200, {})
        self.send_json(404, {"error": "no such control endpoint"})

    # ------------------------------------------------------------ API

    def route(self):
        parts = [unquote(x) for x in self._path.split('/')[1:]]
        m = self.command
        if parts == [''] and m == 'GET':
            return self.send_json(200, {
                "title": "qdrant - vector search engine",
                "version": STATE.version, "commit": "0" * 40})
        if parts == ['healthz'] and m == 'GET':
            return self.text(200, 'healthz check passed')
        if parts == ['collections'] and m == 'GET':
            with STATE.lock:
                names = sorted(STATE.collections)
            return self.ok({"collections": [{"name": n} for n in names]})
        if parts == ['snapshots']:
            return self.snap_create_list(None)
        if len(parts) == 2 and parts[0] == 'snapshots':
            return self.snap_one(None, parts[1])
        if len(parts) >= 2 and parts[0] == 'collections':
            name = parts[1]
            rest = parts[2:]
            if rest == []:
                return self.collection(name)
            if rest == ['points'] and m == 'PUT':
                return self.upsert(name)
            if rest == ['points', 'count'] and m == 'POST':
                self.read_body()
                c = self.get_coll(name)
                if c is not None:
                    self.ok({"count": len(c["points"])})
                return
            if rest == ['snapshots']:
                if self.get_coll(name) is None:
                    return
                return self.snap_create_list(name)
            if rest == ['snapshots', 'upload'] and m == 'POST':
                return self.upload(name)
            if len(rest) == 2 and rest[0] == 'snapshots':
                return self.snap_one(name, rest[1])
        self.text(404, 'Not Found')

    def get_coll(self, name):
        with STATE.lock:
            c = STATE.collections.get(name)
        if c is None:
            self.err(404, "Not found: Collection `%s` doesn't exist!" % name)
        return c

    def collection(self, name):
        m = self.command
        if m == 'GET':
            c = self.get_coll(name)
            if c is None:
                return
            with STATE.lock:
                n = len(c["points"])
                vec = c["vectors"]
            return self.ok({
                "status": "green", "optimizer_status": "ok",
                "indexed_vectors_count": 0, "points_count": n,
                "segments_count": 2,
                "config": {"params": {"vectors": vec, "shard_number": 1,
                                      "replication_factor": 1,
                                      "on_disk_payload": True},
                           "hnsw_config": {"m": 16, "ef_construct": 100,
                                           "full_scan_threshold": 10000},
                           "optimizer_config": {"deleted_threshold": 0.2},
                           "wal_config": {"wal_capacity_mb": 32}},
                "payload_schema": {}})
        if m == 'PUT':
            try:
                body = json.loads(self.read_body())
                vec = body["vectors"]
            except (ValueError, KeyError, TypeError):
                return self.err(400, 'Bad request: missing field `vectors`')
            if not NAME_RE.match(name):
                return self.err(400, 'Bad request: bad collection name')
            with STATE.lock:
                if name in STATE.collections:
                    return self.err(409, 'Wrong input: Collection `%s` '
                                    'already exists!' % name)
                STATE.collections[name] = {"vectors": vec, "points": {}}
            return self.ok(True)
        if m == 'DELETE':
            with STATE.lock:
                existed = STATE.collections.pop(name, None) is not None
            shutil.rmtree(os.path.join(STATE.dir, 'collections', name),
                          ignore_errors=True)
            return self.ok(existed)
        self.text(405, 'Method Not Allowed')

    def upsert(self, name):
        body = json.loads(self.read_body())
        c = self.get_coll(name)
        if c is None:
            return
        with STATE.lock:
            for p in body.get("points", []):
                c["points"][p["id"]] = p
        self.ok({"operation_id": 1, "status": "completed"})

    def snap_create_list(self, coll):
        m = self.command
        if m == 'GET':
            return self.ok([describe(coll, n) for n in list_snapshots(coll)])
        if m != 'POST':
            return self.text(405, 'Method Not Allowed')
        self.read_body()
        wait = self._query.get('wait', ['true'])[0] != 'false'
        with STATE.lock:
            if coll is not None:
                data = coll_tar(coll, STATE.collections[coll])
                name = '%s-%d-%s.snapshot' % (coll, PEER_ID, now_name())
            else:
                b = io.BytesIO()
                with tarfile.open(fileobj=b, mode='w') as tar:
                    for n in sorted(STATE.collections):
                        add_file(tar, '%s.snapshot' % n,
                                 coll_tar(n, STATE.collections[n]))
                    add_file(tar, 'aliases.json', b'{}')
                data = b.getvalue()
                name = 'full-snapshot-%s.snapshot' % now_name()
        d = write_snapshot(coll, name, data)
        if STATE.take_fault(('wrong_checksum',)):
            d["checksum"] = hashlib.sha256(b'not ' + data).hexdigest()
        if not wait:
            return self.send_json(202, {"status": "accepted",
                                        "time": 0.0001})
        self.ok(d)

    def snap_one(self, coll, name):
        m = self.command
        path = os.path.join(STATE.snapdir(coll), name)
        if not name.endswith('.snapshot') or '/' in name or \
                not os.path.isfile(path):
            if m in ('GET', 'HEAD'):
                # the download's HttpError: plain text, not the envelope
                return self.text(404, 'Not found: Snapshot %s does not '
                                 'exist' % name)
            return self.err(404, 'Not found: Snapshot %s does not exist'
                            % name)
        if m == 'DELETE':
            for p in (path, path + '.checksum'):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            return self.ok(True)
        if m not in ('GET', 'HEAD'):
            return self.text(405, 'Method Not Allowed')
        self.download(path)

    def download(self, path):
        st = os.stat(path)
        size = st.st_size
        etag = '"%x:%x"' % (int(st.st_mtime * 1000), size)
        lm = email.utils.formatdate(st.st_mtime, usegmt=True)
        start, end = 0, size - 1
        partial = False
        rng = self.headers.get('Range')
        ir = self.headers.get('If-Range')
        if rng and (ir is None or ir in (etag, lm)):
            mm = re.match(r'^bytes=(\d*)-(\d*)$', rng.strip())
            if mm and (mm.group(1) or mm.group(2)):
                if mm.group(1):
                    start = int(mm.group(1))
                    if mm.group(2):
                        end = min(int(mm.group(2)), size - 1)
                else:
                    start = max(0, size - int(mm.group(2)))
                if start >= size or start > end:
                    self._status(416)
                    self.send_header('Content-Range', 'bytes */%d' % size)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                partial = True
        n = end - start + 1
        fault = None
        if self.command == 'GET':
            fault = STATE.take_fault(('truncate', 'die'))
        self._status(206 if partial else 200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(n))
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('ETag', etag)
        self.send_header('Last-Modified', lm)
        if partial:
            self.send_header('Content-Range', 'bytes %d-%d/%d' %
                             (start, end, size))
        if fault:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        if self.command == 'HEAD':
            return
        with open(path, 'rb') as f:
            f.seek(start)
            left = n // 2 if fault else n
            while left > 0:
                b = f.read(min(left, 65536))
                if not b:
                    break
                self.wfile.write(b)
                left -= len(b)
        self.wfile.flush()
        if fault == 'die':
            sys.stderr.write('qdrant_fake: dying mid-body (fault)\n')
            os._exit(3)
        if fault == 'truncate':
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def upload(self, coll):
        q = self._query
        prio = q.get('priority', [None])[0]
        if prio is not None and prio not in ('no_sync', 'snapshot',
                                             'replica'):
            self.read_body()
            return self.err(400, 'Bad request: unknown variant `%s`, '
                            'expected one of `no_sync`, `snapshot`, '
                            '`replica`' % prio)
        want = q.get('checksum', [None])[0]
        if want is not None:
            w = ''.join(want.split()).lower()
            if len(w) != 64 or not re.match(r'^[0-9a-f]{64}$', w):
                self.read_body()
                return self.err(400, 'Bad request: checksum: must be a '
                                '64 character hex string')
            want = w
        ctype = self.headers.get('Content-Type', '')
        mm = re.search(r'boundary="?([^";]+)"?', ctype)
        body = self.read_body()
        if not ctype.startswith('multipart/form-data') or not mm:
            return self.err(400, 'Bad request: expected multipart/form-data')
        data = multipart_file(body, mm.group(1).encode(), 'snapshot')
        if data is None:
            return self.err(400, 'Bad request: no file part `snapshot`')
        got = hashlib.sha256(data).hexdigest()
        if want is not None and got != want:
            return self.err(400, 'Bad request: Snapshot checksum mismatch: '
                            'expected %s, got %s' % (want, got))
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode='r') as tar:
                doc = json.loads(tar.extractfile('collection.json').read())
        except (tarfile.TarError, KeyError, ValueError, AttributeError):
            return self.err(400, 'Bad request: not a collection snapshot')
        with STATE.lock:
            STATE.collections[coll] = {
                "vectors": doc["vectors"],
                "points": {p["id"]: p for p in doc["points"]}}
        self.ok(True)


def multipart_file(body, boundary, field):
    """The bytes of the part named field, or None."""
    delim = b'--' + boundary
    for part in body.split(delim)[1:]:
        if part.startswith(b'--'):
            break
        if part.startswith(b'\r\n'):
            part = part[2:]
        head, sep, content = part.partition(b'\r\n\r\n')
        if not sep:
            continue
        if content.endswith(b'\r\n'):
            content = content[:-2]
        disp = [h for h in head.split(b'\r\n')
                if h.lower().startswith(b'content-disposition:')]
        if disp and re.search(rb'name="%s"' % field.encode(), disp[0]):
            return content
    return None


def seed(spec):
    name, _, rest = spec.partition('=')
    n, _, dim = rest.partition(':')
    n = int(n)
    dim = int(dim or 4)
    pts = {}
    for i in range(1, n + 1):
        pts[i] = {"id": i, "vector": [round((i * 7 + j) % 97 / 97.0, 4)
                                      for j in range(dim)],
                  "payload": {"n": i}}
    STATE.collections[name] = {"vectors": {"size": dim, "distance": "Dot"},
                               "points": pts}


VERBOSE = False


def main():
    global STATE, VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--api-key')
    ap.add_argument('--version', default='1.13.2')
    ap.add_argument('--collection', action='append', default=[])
    ap.add_argument('--pad', type=int, default=0)
    ap.add_argument('--data-dir')
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()
    VERBOSE = a.verbose
    tmp = None
    d = a.data_dir
    if d is None:
        tmp = d = tempfile.mkdtemp(prefix='qdrant_fake.')
    STATE = State(d, a.pad, a.version, a.api_key)
    for s in a.collection:
        seed(s)
    srv = ThreadingHTTPServer(('127.0.0.1', a.port), Handler)
    srv.daemon_threads = True

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.port_file:
        with open(a.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % srv.server_address[1])
        os.rename(a.port_file + '.tmp', a.port_file)
    try:
        srv.serve_forever()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
