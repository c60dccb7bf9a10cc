#!/usr/bin/python3
"""vault_fake.py - a HashiCorp Vault / OpenBao stand-in for the tests.

Python standard library only. Implements the contract written down in
shared/docs/apis/vault-snapshots.md:

  * token auth: `X-Vault-Token: T` (or `Authorization: Bearer T`); a
    missing, unknown or out-of-policy token gets 403
    {"errors":["permission denied"]};
  * AppRole login: POST/PUT /v1/auth/approle/login {role_id, secret_id}
    -> 200 with auth.client_token (400 "invalid role or secret ID",
    "missing role_id", "missing secret_id");
  * KV v2 read: GET /v1/<mount>/data/<path> -> {"data":{"data":{...},
    "metadata":{...}}}; 404 {"errors":[]} for a missing path; a
    soft-deleted secret (null in the seed) -> 404 with data.data null;
    KV v2 write: POST/PUT /v1/<mount>/data/<path> {"data":{...}};
  * GET/HEAD /v1/sys/health with Vault's status codes (200 active,
    429 standby, 501 uninitialized, 503 sealed) and the query overrides
    (standbyok, activecode, standbycode, sealedcode, uninitcode, ...);
  * sealed (--sealed): every other /v1/ route answers 503.

Routes live in one table, ROUTES: a list of Route(method, regex, handler,
auth).  Another test helper adds endpoints with @route(...) in this file
(or by importing it and calling add_route() before main()).  A handler
gets (req, match) and answers with req.send_json()/req.send_error()/
req.send_raw().  Shared state is STATE (a VaultState), guarded by
STATE.lock.

Seed (--seed FILE, JSON; every key optional):
  {"tokens": ["root"] | {"tok": {"paths": ["secret/data/zentoria/"]}},
   "approle": [{"role_id": "r", "secret_id": "s",
                "paths": ["secret/data/"], "token": "optional-fixed"}],
   "kv": {"secret": {"zentoria/backup/postgresql": {"password": "pw"},
                     "gone": null}}}
A token's "paths" are request-path prefixes (below /v1/) it may use; no
"paths" means every path.  --token T adds an all-paths token.

Control endpoints (no auth, not under /v1/, not logged as Vault requests):
  GET  /__log             the request log [{"method","path","status",
                          "token": true|false}]  (token values never logged)
  POST /__log/clear
  POST /__state           {"sealed":b,"standby":b,"initialized":b}
  POST /__kv              {"mount":"secret","path":"a/b","data":{..}|null}
                          (data null: soft-deleted; "delete": true removes)
  POST /__revoke          {"token": "T"}
  POST /__fault           {"status": 500, "count": N, "path_prefix": "/v1/x",
                           "delay_ms": 0}
                          the next N matching /v1/ requests wait delay_ms,
                          then get STATUS (status 0: answered as usual)

Usage:
  vault_fake.py --port 0 --port-file F [--seed FILE] [--token T]...
                [--sealed] [--standby] [--uninitialized]
                [--version 1.17.2] [--verbose]
                [--tls-cert PEM --tls-key PEM]
Listens on 127.0.0.1 only (HTTPS with --tls-cert); the port is written
to --port-file atomically (rename) once listening.  Stop it with SIGTERM
to its PID.
"""
import argparse
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


# ---------------------------------------------------------------- state


class VaultState:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}        # token -> {"paths": [...] | None}
        self.approles = []      # [{"role_id","secret_id","paths","token"}]
        self.kv = {}            # mount -> {path -> {"data": d|None,
                                #                   "version": n, "ctime"}}
        self.initialized = True
        self.sealed = False
        self.standby = False
        self.version = "1.17.2"
        self.log = []
        self.faults = []        # [{"status","count","path_prefix"}]

    def add_token(self, tok, paths=None):
        self.tokens[tok] = {"paths": paths}

    def kv_put(self, mount, path, data):
        m = self.kv.setdefault(mount, {})
        old = m.get(path)
        ver = old["version"] + 1 if old else 1
        m[path] = {"data": data, "version": ver, "ctime": now_rfc3339()}
        return m[path]

    def seed(self, doc):
        toks = doc.get("tokens", [])
        if isinstance(toks, list):
            for t in toks:
                self.add_token(t)
        else:
            for t, spec in toks.items():
                self.add_token(t, (spec or {}).get("paths"))
        for a in doc.get("approle", []):
            self.approles.append({"role_id": a["role_id"],
                                  "secret_id": a.get("secret_id"),
                                  "paths": a.get("paths"),
                                  "token": a.get("token")})
        for mount, tree in doc.get("kv", {}).items():
            self.kv.setdefault(mount, {})
            for path, data in tree.items():
                self.kv_put(mount, path.strip("/"), data)


STATE = VaultState()


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%06dZ" % int((t % 1) * 1e6)


def envelope(data=None, auth=None):
    return {"request_id": str(uuid.uuid4()), "lease_id": "",
            "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": None, "warnings": None, "auth": auth,
            "mount_type": ""}


# ---------------------------------------------------------------- routes


class Route:
    def __init__(self, methods, pattern, handler, auth):
        self.methods = methods
        self.regex = re.compile(pattern)
        self.handler = handler
        self.auth = auth


ROUTES = []


def add_route(methods, pattern, handler, auth=True):
    """Register HANDLER(req, match) for METHODS (a string or a list) on
    paths matching PATTERN (a regex on the path without the query).
    auth=True: a valid token allowed for the path is required first.
    Routes are tried in order; the first match wins."""
    if isinstance(methods, str):
        methods = [methods]
    ROUTES.append(Route(methods, pattern, handler, auth))


def route(methods, pattern, auth=True):
    def deco(fn):
        add_route(methods, pattern, fn, auth)
        return fn
    return deco


@route(["GET", "HEAD"], r"^/v1/sys/health$", auth=False)
def h_health(req, m):
    q = req.query
    with STATE.lock:
        init, sealed, standby = STATE.initialized, STATE.sealed, \
            STATE.standby
        version = STATE.version

    def code(name, default):
        if name not in q:
            return default
        try:
            return int(q[name][0])
        except ValueError:
            return None

    if not init:
        status = code("uninitcode", 501)
    elif sealed:
        status = code("sealedcode", 503)
    elif standby:
        status = code("standbycode", 429)
        if q.get("standbyok", ["false"])[0] in ("true", "1", ""):
            status = code("activecode", 200)
    else:
        status = code("activecode", 200)
    if status is None:
        return req.send_error(400, ["could not parse status code"])
    body = {"initialized": init, "sealed": sealed, "standby": standby,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()), "version": version,
            "cluster_name": "vault-cluster-fake",
            "cluster_id": "00000000-fake-0000-0000-000000000000"}
    req.send_json(status, body)


@route(["POST", "PUT"], r"^/v1/auth/approle/login$", auth=False)
def h_approle_login(req, m):
    body = req.json_body()
    if body is None:
        return req.send_error(400, ["failed to parse JSON input"])
    rid, sid = body.get("role_id"), body.get("secret_id")
    if not rid:
        return req.send_error(400, ["missing role_id"])
    with STATE.lock:
        role = None
        for a in STATE.approles:
            if a["role_id"] == rid:
                role = a
        if role is not None and role["secret_id"] is not None and not sid:
            return req.send_error(400, ["missing secret_id"])
        if role is None or (role["secret_id"] is not None and
                            role["secret_id"] != sid):
            return req.send_error(400, ["invalid role or secret ID"])
        tok = role["token"] or "hvs." + secrets.token_urlsafe(24)
        STATE.add_token(tok, role["paths"])
    auth = {"client_token": tok, "accessor": secrets.token_hex(12),
            "policies": ["default", "backup"],
            "token_policies": ["default", "backup"],
            "metadata": {"role_name": "backup"}, "lease_duration": 1200,
            "renewable": True, "entity_id": str(uuid.uuid4()),
            "token_type": "service", "orphan": True,
            "mfa_requirement": None, "num_uses": 0}
    req.send_json(200, envelope(None, auth))


def kv_metadata(ent):
    return {"created_time": ent["ctime"], "custom_metadata": None,
            "deletion_time": "" if ent["data"] is not None
            else ent["ctime"],
            "destroyed": False, "version": ent["version"]}


@route(["GET"], r"^/v1/(?P<mount>[^/]+)/data/(?P<path>.+)$")
def h_kv2_read(req, m):
    mount, path = m.group("mount"), m.group("path").strip("/")
    with STATE.lock:
        tree = STATE.kv.get(mount)
        if tree is None:
            return req.send_error(404, [
                'no handler for route "%s/data/%s". route entry not found.'
                % (mount, path)])
        ent = tree.get(path)
        if ent is None:
            return req.send_error(404, [])
        body = envelope({"data": ent["data"], "metadata": kv_metadata(ent)})
    # a soft-deleted version: 404 with a body (path_data.go)
    req.send_json(200 if ent["data"] is not None else 404, body)


@route(["POST", "PUT"], r"^/v1/(?P<mount>[^/]+)/data/(?P<path>.+)$")
def h_kv2_write(req, m):
    mount, path = m.group("mount"), m.group("path").strip("/")
    body = req.json_body()
    if body is None or not isinstance(body.get("data"), dict):
        return req.send_error(400, ["no data provided"])
    with STATE.lock:
        if mount not in STATE.kv:
            return req.send_error(404, ['no handler for route "%s"' % mount])
        ent = STATE.kv_put(mount, path, body["data"])
        meta = kv_metadata(ent)
    req.send_json(200, envelope(meta))


# ---------------------------------------------------------------- control


def ctl_log(req, m):
    with STATE.lock:
        log = list(STATE.log)
    req.send_json(200, log)


def ctl_log_clear(req, m):
    with STATE.lock:
        STATE.log.clear()
    req.send_json(200, {})


def ctl_state(req, m):
    b = req.json_body() or {}
    with STATE.lock:
        for k in ("sealed", "standby", "initialized"):
            if k in b:
                setattr(STATE, k, bool(b[k]))
    req.send_json(200, {})


def ctl_kv(req, m):
    b = req.json_body() or {}
    with STATE.lock:
        if b.get("delete"):
            STATE.kv.get(b["mount"], {}).pop(b["path"].strip("/"), None)
        else:
            STATE.kv.setdefault(b["mount"], {})
            STATE.kv_put(b["mount"], b["path"].strip("/"), b.get("data"))
    req.send_json(200, {})


def ctl_revoke(req, m):
    b = req.json_body() or {}
    with STATE.lock:
        STATE.tokens.pop(b.get("token"), None)
    req.send_json(200, {})


def ctl_fault(req, m):
    b = req.json_body() or {}
    with STATE.lock:
        STATE.faults.append({"status": int(b.get("status", 500)),
                             "count": int(b.get("count", 1)),
                             "path_prefix": b.get("path_prefix", "/v1/"),
                             "delay_ms": int(b.get("delay_ms", 0))})
    req.send_json(200, {})


CONTROL = [
    ("GET", "/__log", ctl_log),
    ("POST", "/__log/clear", ctl_log_clear),
    ("POST", "/__state", ctl_state),
    ("POST", "/__kv", ctl_kv),
    ("POST", "/__revoke", ctl_revoke),
    ("POST", "/__fault", ctl_fault),
]


# ---------------------------------------------------------------- server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "VaultFake/1"

    def log_message(self, fmt, *a):
        if VERBOSE:
            sys.stderr.write("vault_fake: " + (fmt % a) + "\n")

    # --- helpers for route handlers
    def json_body(self):
        if self._body is None:
            n = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(n) if n > 0 else b""
        try:
            v = json.loads(self._body or b"{}")
        except ValueError:
            return None
        return v if isinstance(v, dict) else None

    def send_raw(self, status, ctype, data, headers=None):
        self.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, "application/json",
                      (json.dumps(obj) + "\n").encode(), headers)

    def send_error(self, status, errors=None, explain=None):
        # also replaces BaseHTTPRequestHandler's HTML error page, so that
        # a malformed request gets Vault's {"errors": [...]} body too
        if errors is None:
            errors = []
        if isinstance(errors, str):
            errors = [errors]
        self.send_json(status, {"errors": errors})

    def token(self):
        t = self.headers.get("X-Vault-Token")
        if not t:
            a = self.headers.get("Authorization", "")
            if a.startswith("Bearer "):
                t = a[7:]
        return t or None

    # --- dispatch
    def dispatch(self):
        self._body = None
        self.status = 0
        u = urlsplit(self.path)
        self.query = parse_qs(u.query, keep_blank_values=True)
        path = u.path
        for meth, p, fn in CONTROL:
            if path == p and self.command == meth:
                return fn(self, None)
        tok = self.token()
        try:
            self.route(path, tok)
        finally:
            with STATE.lock:
                STATE.log.append({"method": self.command, "path": path,
                                  "status": self.status,
                                  "token": tok is not None})

    def route(self, path, tok):
        if not path.startswith("/v1/"):
            return self.send_error(404, [])
        st, delay = None, 0
        with STATE.lock:
            for f in STATE.faults:
                if f["count"] > 0 and path.startswith(f["path_prefix"]):
                    f["count"] -= 1
                    st, delay = f["status"] or None, f["delay_ms"]
                    break
            sealed = STATE.sealed and path != "/v1/sys/health"
        if delay > 0:
            time.sleep(delay / 1000.0)
        if st is not None:
            return self.send_error(st, ["injected fault"])
        if sealed:
            return self.send_error(503, ["Vault is sealed"])
        allowed = []
        for r in ROUTES:
            m = r.regex.match(path)
            if not m:
                continue
            allowed.extend(r.methods)
            if self.command not in r.methods:
                continue
            if r.auth and not self.authorized(tok, path):
                return self.send_error(403, ["permission denied"])
            return r.handler(self, m)
        if allowed:
            return self.send_error(405, [])
        if not self.authorized(tok, path):
            return self.send_error(403, ["permission denied"])
        return self.send_error(404, [])

    def authorized(self, tok, path):
        if tok is None:
            return False
        with STATE.lock:
            spec = STATE.tokens.get(tok)
        if spec is None:
            return False
        if spec["paths"] is None:
            return True
        rel = path[len("/v1/"):]
        return any(rel.startswith(p) for p in spec["paths"])

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = dispatch

    def do_LIST(self):
        self.dispatch()


VERBOSE = False


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--seed", help="JSON seed: tokens, approle, kv")
    ap.add_argument("--token", action="append", default=[],
                    help="an all-paths token (repeatable)")
    ap.add_argument("--sealed", action="store_true")
    ap.add_argument("--standby", action="store_true")
    ap.add_argument("--uninitialized", action="store_true")
    ap.add_argument("--version", default="1.17.2")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM chain")
    ap.add_argument("--tls-key", help="the key of --tls-cert (PEM)")
    args = ap.parse_args(argv)

    VERBOSE = args.verbose
    if args.seed:
        with open(args.seed) as f:
            STATE.seed(json.load(f))
    for t in args.token:
        STATE.add_token(t)
    STATE.sealed = args.sealed
    STATE.standby = args.standby
    STATE.initialized = not args.uninitialized
    STATE.version = args.version

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # the handshake runs in the request's thread, not in accept()
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    # a refused handshake (say) is one line, not a traceback
    srv.handle_error = lambda req, addr: sys.stderr.write(
        "vault_fake: %s:%d: %s\n" % (addr[0], addr[1], sys.exc_info()[1]))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0



# ------------------------------------------------ raft snapshots (vault branch)
#
# GET  /v1/sys/storage/raft/snapshot      a gzip'd tar: meta.json, state.bin,
#                                         SHA256SUMS, SHA256SUMS.sealed;
#                                         chunked, no Content-Length
# POST /v1/sys/storage/raft/snapshot      restore (seal checked) -> 204
# POST /v1/sys/storage/raft/snapshot-force  restore, seal not checked
# A standby (--standby or /__state) answers both with 307 to the active
# node's address set with POST /__raft {"active": URL} (Vault's
# alwaysRedirectPaths: before any token check).
# state.bin is this fake's whole state (tokens, AppRoles, KV, filler), so
# a restore makes the target answer with the source's data and tokens.
#
# Control: GET /__raft  {"term","index","snapshots","posts","restores",
#                        "state_sha256","fault","seal"}
#          POST /__raft {"active": URL, "fault": "" | "truncate" |
#                        "badsums" | "die" | "nometa" | "extra" | "busy",
#                        "seal": KEY, "filler": BYTES, "term": N,
#                        "retry_after": SECONDS}
# Faults apply to every snapshot GET until cleared: truncate (the gzip
# cut, the body ended cleanly), badsums (SHA256SUMS wrong for state.bin),
# die (half the body, then the connection is reset), nometa (no
# meta.json), extra (an unexpected file), busy (503 with Retry-After:
# retry_after seconds).  403 comes from a bad token,
# 503 from POST /__fault, sealed from --sealed.

import gzip as _gzip
import hashlib as _hashlib
import hmac as _hmac
import io as _io
import socket as _socket
import tarfile as _tarfile

RAFT = {"term": 2, "index_base": 1000, "active": None, "fault": "",
        "seal": "fake-seal-key", "filler": b"", "snapshots": 0,
        "posts": 0, "restores": 0, "retry_after": 1}


def _raft_state_bin():
    # with STATE.lock held
    doc = {"tokens": STATE.tokens, "approles": STATE.approles,
           "kv": STATE.kv}
    return json.dumps(doc, sort_keys=True).encode() + b"\n" + \
        RAFT["filler"]


def _raft_index():
    n = sum(e["version"] for t in STATE.kv.values() for e in t.values())
    return RAFT["index_base"] + n


def _raft_archive(fault):
    with STATE.lock:
        state = _raft_state_bin()
        index, term = _raft_index(), RAFT["term"]
        seal = RAFT["seal"]
    meta = json.dumps({
        "Version": 1, "ID": "%d-%d-%d" % (term, index,
                                          int(time.time() * 1000)),
        "Index": index, "Term": term, "Peers": "ka8xMjcuMC4wLjE6ODIwMQ==",
        "Configuration": {"Servers": [{"Suffrage": 0, "ID": "node1",
                                       "Address": "127.0.0.1:8201"}]},
        "ConfigurationIndex": 1, "Size": len(state)}).encode()
    sums = "%s  meta.json\n%s  state.bin\n" % (
        _hashlib.sha256(meta).hexdigest(),
        _hashlib.sha256(state if fault != "badsums"
                        else state + b"x").hexdigest())
    sealed = _hmac.new(seal.encode(), sums.encode(), "sha256").hexdigest()
    files = [("meta.json", meta), ("state.bin", state),
             ("SHA256SUMS", sums.encode()),
             ("SHA256SUMS.sealed", sealed.encode())]
    if fault == "nometa":
        files = files[1:]
    if fault == "extra":
        files.insert(2, ("notes.txt", b"not in a snapshot\n"))
    raw = _io.BytesIO()
    with _tarfile.open(fileobj=raw, mode="w",
                       format=_tarfile.USTAR_FORMAT) as tf:
        for name, data in files:
            ti = _tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o600
            ti.mtime = int(time.time())
            tf.addfile(ti, _io.BytesIO(data))
    gz = _gzip.compress(raw.getvalue(), mtime=0)
    if fault == "truncate":
        gz = gz[:len(gz) * 2 // 3]
    return gz


def _raft_standby(req, path):
    """A standby redirects the snapshot paths; True when it answered."""
    with STATE.lock:
        standby, active = STATE.standby, RAFT["active"]
    if not standby:
        return False
    if not active:
        req.send_error(500, ["local node not active but active cluster "
                             "node not found"])
        return True
    q = urlsplit(req.path).query
    req.status = 307
    req.send_response(307)
    req.send_header("Location", active.rstrip("/") + path +
                    ("?" + q if q else ""))
    req.send_header("Cache-Control", "no-store")
    req.send_header("Content-Length", "0")
    req.end_headers()
    return True


@route(["GET"], r"^/v1/sys/storage/raft/snapshot$", auth=False)
def h_raft_save(req, m):
    path = "/v1/sys/storage/raft/snapshot"
    if _raft_standby(req, path):
        return
    if not req.authorized(req.token(), path):
        return req.send_error(403, ["permission denied"])
    with STATE.lock:
        fault = RAFT["fault"]
        RAFT["snapshots"] += 1
        retry_after = RAFT["retry_after"]
    if fault == "busy":
        return req.send_json(503, {"errors": ["Vault is busy"]},
                             {"Retry-After": str(retry_after)})
    data = _raft_archive(fault)
    req.status = 200
    req.send_response(200)
    req.send_header("Content-Type", "application/gzip")
    req.send_header("Content-Disposition", "attachment")
    req.send_header("Cache-Control", "no-store")
    req.send_header("Transfer-Encoding", "chunked")
    req.end_headers()
    step = 65536
    stop = len(data) // 2 if fault == "die" else len(data)
    off = 0
    while off < stop:
        piece = data[off:min(off + step, stop)]
        req.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        off += len(piece)
    req.wfile.flush()
    if fault == "die":
        time.sleep(0.3)
        req.close_connection = True
        try:
            req.connection.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
            req.connection.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        return
    req.wfile.write(b"0\r\n\r\n")


def _read_body(req):
    if "chunked" in req.headers.get("Transfer-Encoding", "").lower():
        out = bytearray()
        while True:
            line = req.rfile.readline(1024)
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while req.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += req.rfile.read(n)
            req.rfile.readline(16)
    n = int(req.headers.get("Content-Length") or 0)
    return req.rfile.read(n) if n > 0 else b""


def _raft_check(body, force):
    """(status, message) for a bad snapshot, or (None, files)."""
    try:
        raw = _gzip.decompress(body)
    except (OSError, EOFError, ValueError) as e:
        return 500, "failed to decompress snapshot: %s" % e
    files = {}
    try:
        with _tarfile.open(fileobj=_io.BytesIO(raw), mode="r:") as tf:
            for ti in tf:
                if ti.name not in ("meta.json", "state.bin", "SHA256SUMS",
                                   "SHA256SUMS.sealed"):
                    return 500, "failed to read snapshot file: " \
                        "unexpected file %r in snapshot" % ti.name
                files[ti.name] = tf.extractfile(ti).read()
    except _tarfile.TarError as e:
        return 500, "failed to read snapshot file: %s" % e
    for need in ("meta.json", "state.bin", "SHA256SUMS"):
        if need not in files:
            return 500, "failed to read snapshot file: missing %s" % need
    want = {}
    for line in files["SHA256SUMS"].decode().splitlines():
        h, _, name = line.partition("  ")
        want[name] = h
    for name in ("meta.json", "state.bin"):
        if want.get(name) != _hashlib.sha256(files[name]).hexdigest():
            return 500, "failed to read snapshot file: sha256 hash " \
                "mismatch for %s" % name
    if not force:
        with STATE.lock:
            seal = RAFT["seal"]
        mac = _hmac.new(seal.encode(), files["SHA256SUMS"],
                        "sha256").hexdigest()
        if files.get("SHA256SUMS.sealed", b"").decode() != mac:
            return 400, "could not verify hash file, possibly the " \
                "snapshot is using a different set of unseal keys; use " \
                "the snapshot-force API to bypass this check"
    return None, files


@route(["POST", "PUT"], r"^/v1/sys/storage/raft/snapshot(?P<force>-force)?$",
       auth=False)
def h_raft_restore(req, m):
    path = "/v1/sys/storage/raft/snapshot" + (m.group("force") or "")
    if _raft_standby(req, path):
        return
    if not req.authorized(req.token(), path):
        return req.send_error(403, ["permission denied"])
    body = _read_body(req)
    with STATE.lock:
        RAFT["posts"] += 1
    st, res = _raft_check(body, bool(m.group("force")))
    if st is not None:
        return req.send_error(st, [res])
    meta = json.loads(res["meta.json"])
    doc, _, filler = res["state.bin"].partition(b"\n")
    doc = json.loads(doc)
    with STATE.lock:
        STATE.tokens = doc["tokens"]
        STATE.approles = doc["approles"]
        STATE.kv = doc["kv"]
        RAFT["filler"] = filler
        RAFT["term"] = meta["Term"]
        RAFT["index_base"] = meta["Index"] - sum(
            e["version"] for t in STATE.kv.values() for e in t.values())
        RAFT["restores"] += 1
    req.status = 204
    req.send_response(204)
    req.send_header("Cache-Control", "no-store")
    req.end_headers()


def ctl_raft(req, m):
    if req.command == "POST":
        b = req.json_body() or {}
        with STATE.lock:
            for k in ("active", "fault", "seal"):
                if k in b:
                    RAFT[k] = b[k]
            if "term" in b:
                RAFT["term"] = int(b["term"])
            if "retry_after" in b:
                RAFT["retry_after"] = int(b["retry_after"])
            if "filler" in b:
                RAFT["filler"] = os.urandom(int(b["filler"]))
        return req.send_json(200, {})
    with STATE.lock:
        out = {k: RAFT[k] for k in ("term", "snapshots", "posts",
                                    "restores", "fault", "seal")}
        out["index"] = _raft_index()
        out["state_sha256"] = _hashlib.sha256(
            _raft_state_bin()).hexdigest()
    req.send_json(200, out)


CONTROL.append(("GET", "/__raft", ctl_raft))
CONTROL.append(("POST", "/__raft", ctl_raft))


if __name__ == "__main__":
    sys.exit(main())
