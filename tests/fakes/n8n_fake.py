#!/usr/bin/python3
"""n8n_fake.py - an n8n public REST API v1 stand-in for the tests.

Python standard library only.  Implements the contract written down in
shared/docs/apis/n8n-api.md (section numbers there):

  * auth: `X-N8N-API-KEY: KEY` on every /api/v1 route; missing or wrong
    gives 401 {"message": ...};
  * GET /api/v1/workflows with limit (default 100, 1..250, else 400) and
    cursor paging: nextCursor is base64 of {"limit":L,"offset":O}, set
    only while total > offset + limit; a malformed cursor gives 400
    {"message":"An invalid cursor was provided"}.  The list is in
    insertion order (as SQLite's rowid), NOT sorted by id;
  * GET/PUT/DELETE /api/v1/workflows/{id}, POST /api/v1/workflows; create
    and update bodies are checked as express-openapi-validator checks
    them: read-only keys (id, active, tags, ...) give 400
    "request/body/KEY is read-only", unknown keys 400 "request/body must
    NOT have additional properties" (the offending key is in
    errors[].path), also inside settings and inside each node
    (additionalProperties: false); name, nodes, connections and settings
    are required; bad JSON gives 400 "Invalid JSON in request body".
    A create forces active=false and gives a new 16-character id and a
    new versionId;
  * POST /api/v1/workflows/{id}/activate (400 without a trigger node:
    a node whose type ends in "Trigger" or is a webhook) and /deactivate;
  * GET/PUT /api/v1/workflows/{id}/tags ([{"id": ...}]);
  * GET/POST /api/v1/tags (paged like workflows; 409 on a duplicate name);
  * GET /api/v1/credentials (paged; metadata only, never `data`), unless
    --no-credentials-list (an older n8n: 404).

Seed: --seed FILE (JSON {"workflows": [...], "tags": [...],
"credentials": [...]}, each optional; workflows as GET returns them) or
--generate N (N workflows; about a third active, with tags, pinData,
staticData, settings holding a key the create schema does not accept,
names with quotes and non-ASCII text).

Control endpoints (no auth, not under /api/):
  GET  /__state            {"workflows": [...], "tags": [...]}
  GET  /__log              [{"method","path","status","time"}] (keys never
                           logged)
  POST /__log/clear
  POST /__fault            {"die_on_cursor": true}: the process exits
                           (os._exit) when a workflows list request with a
                           cursor arrives (server death mid-listing);
                           {"always": 503, "retry_after": N}: every
                           /api/ request gets that status;
                           {"refuse_create": [NAME, ...]}: creating a
                           workflow of such a name gets 400; {} clears.

Usage:
  n8n_fake.py --port 0 --port-file F --api-key KEY
              [--seed FILE | --generate N] [--no-credentials-list]
Listens on 127.0.0.1 only; the port is written to --port-file
atomically (rename) once listening.  Stop it with SIGTERM to its PID.
"""
import argparse
import base64
import json
import os
import random
import re
import signal
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

READ_ONLY = ("id", "active", "createdAt", "updatedAt", "isArchived",
             "versionId", "triggerCount", "meta", "tags", "activeVersion")
BODY_KEYS = ("name", "nodes", "connections", "settings", "staticData",
             "pinData", "description", "externalId", "nodeGroups")
CREATE_ONLY = ("projectId",)
REQUIRED = ("name", "nodes", "connections", "settings")
SETTINGS_KEYS = ("saveExecutionProgress", "saveManualExecutions",
                 "saveDataErrorExecution", "saveDataSuccessExecution",
                 "executionTimeout", "errorWorkflow", "timezone",
                 "executionOrder", "callerPolicy", "callerIds",
                 "timeSavedPerExecution", "availableInMCP",
                 "redactionPolicy")
NODE_KEYS = ("id", "name", "webhookId", "disabled", "notesInFlow", "notes",
             "type", "typeVersion", "executeOnce", "alwaysOutputData",
             "retryOnFail", "maxTries", "waitBetweenTries",
             "continueOnFail", "onError", "position", "parameters",
             "credentials")
ALNUM = string.ascii_letters + string.digits


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def new_id(rng=random):
    return "".join(rng.choice(ALNUM) for _ in range(16))


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.workflows = []     # insertion order
        self.tags = []
        self.credentials = []
        self.log = []
        self.fault = {}

    def wf(self, wid):
        for w in self.workflows:
            if w["id"] == wid:
                return w
        return None

    def tag(self, tid):
        for t in self.tags:
            if t["id"] == tid:
                return t
        return None


STATE = State()
CONF = {"key": None, "credentials_list": True}


def generate(n, seed=11):
    rng = random.Random(seed)
    ts = now()
    tags = [{"id": new_id(rng), "name": nm, "createdAt": ts,
             "updatedAt": ts}
            for nm in ("prod", "billing", "ops", "nightly", "émoji ✓")]
    STATE.tags = tags
    STATE.credentials = [{"id": new_id(rng), "name": "SMTP account",
                          "type": "smtp", "createdAt": ts, "updatedAt": ts},
                         {"id": new_id(rng), "name": "Postgres prod",
                          "type": "postgres", "createdAt": ts,
                          "updatedAt": ts}]
    for i in range(n):
        active = i % 3 == 0
        first = {"id": str(uuid.UUID(int=rng.getrandbits(128))),
                 "name": "Schedule" if active else "Manual",
                 "type": ("n8n-nodes-base.scheduleTrigger" if active
                          else "n8n-nodes-base.manualTrigger"),
                 "typeVersion": 1.2, "position": [0, 0],
                 "parameters": ({"rule": {"interval": [{"field": "hours"}]}}
                                if active else {})}
        nodes = [first]
        for j in range(1 + i % 3):
            nodes.append({"id": str(uuid.UUID(int=rng.getrandbits(128))),
                          "name": "Step %d \"q\" ü" % j,
                          "type": "n8n-nodes-base.set", "typeVersion": 3.4,
                          "position": [200 * (j + 1), 0],
                          "parameters": {"values": {"string": [
                              {"name": "k%d" % j,
                               "value": "v%d-%d\n\\" % (i, j)}]}},
                          "notesInFlow": False})
        if i % 7 == 0:
            nodes[-1]["credentials"] = {"smtp": {
                "id": STATE.credentials[0]["id"], "name": "SMTP account"}}
        conns = {}
        for a, b in zip(nodes, nodes[1:]):
            conns[a["name"]] = {"main": [[{"node": b["name"], "type": "main",
                                           "index": 0}]]}
        settings = {"executionOrder": "v1"}
        if i % 4 == 0:
            settings["saveManualExecutions"] = True
            settings["binaryMode"] = "separate"     # not in the schema
        if i % 5 == 0:
            settings["timezone"] = "Europe/Amsterdam"
        w = {"id": new_id(rng),
             "name": "Workflow %04d %s" % (i, ["plain", "with \"quotes\"",
                                               "Ünïcødé ✓", "tab\there"][i % 4]),
             "active": False, "isArchived": False,
             "createdAt": ts, "updatedAt": ts, "nodes": nodes,
             "connections": conns, "settings": settings,
             "staticData": ({"node:Schedule": {"recurrenceRules": []}}
                            if i % 6 == 0 else None),
             "meta": {"templateCredsSetupCompleted": True},
             "pinData": ({"Manual": [{"json": {"x": i}}]} if i % 8 == 1
                         else {}),
             "versionId": str(uuid.UUID(int=rng.getrandbits(128))),
             "triggerCount": 1 if active else 0,
             "shared": [{"role": "workflow:owner", "projectId": "p1",
                         "project": {"id": "p1", "name": "Owner",
                                     "type": "personal"}}],
             "tags": [t for k, t in enumerate(tags) if (i >> k) & 1 and k < 3]
             + ([tags[4]] if i % 10 == 3 else [])}
        w["active"] = active
        STATE.workflows.append(w)


def has_trigger(w):
    for n in w.get("nodes", []):
        t = n.get("type", "")
        if t.endswith("Trigger") and t != "n8n-nodes-base.manualTrigger":
            return True
        if t.endswith(".webhook") or t.endswith(".cron"):
            return True
    return False


def check_body(body, create):
    """None, or the 400 message express-openapi-validator would give."""
    if not isinstance(body, dict):
        return "request/body must be object", None
    for k in body:
        if k in READ_ONLY:
            return "request/body/%s is read-only" % k, None
    for k in body:
        if k not in BODY_KEYS and not (create and k in CREATE_ONLY):
            return ("request/body must NOT have additional properties",
                    "/body/" + k)
    for k in REQUIRED:
        if k not in body:
            return "request/body must have required property '%s'" % k, None
    if not isinstance(body["name"], str):
        return "request/body/name must be string", None
    if not isinstance(body["nodes"], list):
        return "request/body/nodes must be array", None
    if not isinstance(body["connections"], dict):
        return "request/body/connections must be object", None
    if not isinstance(body["settings"], dict):
        return "request/body/settings must be object", None
    for k in body["settings"]:
        if k not in SETTINGS_KEYS:
            return ("request/body/settings must NOT have additional "
                    "properties", "/body/settings/" + k)
    for i, n in enumerate(body["nodes"]):
        if not isinstance(n, dict):
            return "request/body/nodes/%d must be object" % i, None
        for k in n:
            if k not in NODE_KEYS:
                return ("request/body/nodes/%d must NOT have additional "
                        "properties" % i, "/body/nodes/%d/%s" % (i, k))
    sd = body.get("staticData")
    if sd is not None and not isinstance(sd, (dict, str)):
        return "request/body/staticData must be object,string,null", None
    return None, None


def page(items, q):
    """(data, nextCursor) or raises ValueError(message)."""
    cur = q.get("cursor", [None])[0]
    if cur is not None:
        try:
            c = json.loads(base64.b64decode(cur, validate=True))
            limit, offset = int(c["limit"]), int(c["offset"])
            if limit < 1 or offset < 0:
                raise ValueError
        except Exception:
            raise ValueError("An invalid cursor was provided")
    else:
        offset = 0
        lim = q.get("limit", ["100"])[0]
        if not re.fullmatch(r"[0-9]+", lim):
            raise ValueError("request/query/limit must be number")
        limit = int(lim)
        if limit > 250:
            raise ValueError("request/query/limit must be <= 250")
        if limit < 1:
            raise ValueError("request/query/limit must be >= 1")
    data = items[offset:offset + limit]
    nxt = None
    if len(items) > offset + limit:
        nxt = base64.b64encode(json.dumps(
            {"limit": limit, "offset": offset + limit},
            separators=(",", ":")).encode()).decode()
    return data, nxt


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "n8n-fake"
    # Headers and body go out in two writes: without TCP_NODELAY the
    # second waits for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if os.environ.get("N8N_FAKE_VERBOSE"):
            sys.stderr.write("n8n_fake: " + fmt % args + "\n")

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        if self.path.startswith("/api/"):
            with STATE.lock:
                STATE.log.append({"method": self.command,
                                  "path": self.path, "status": status,
                                  "time": round(time.time(), 3)})

    def msg(self, status, text, extra=None, errors=None):
        o = {"message": text}
        if errors is not None:
            o["errors"] = errors
        self.send_json(status, o, extra)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if n == 0 and self.headers.get("Transfer-Encoding") == "chunked":
            raw = b""
            while True:
                ln = int(self.rfile.readline().strip(), 16)
                if ln == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(ln)
                self.rfile.readline()
        return raw

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    # ---------------------------------------------------------- control

    def control(self, method, path):
        if method == "GET" and path == "/__state":
            with STATE.lock:
                return self.send_json(200, {"workflows": STATE.workflows,
                                            "tags": STATE.tags})
        if method == "GET" and path == "/__log":
            with STATE.lock:
                return self.send_json(200, list(STATE.log))
        if method == "POST" and path == "/__log/clear":
            self.read_body()
            with STATE.lock:
                STATE.log = []
            return self.send_json(200, {})
        if method == "POST" and path == "/__fault":
            try:
                f = json.loads(self.read_body() or b"{}")
            except ValueError:
                return self.msg(400, "bad fault")
            with STATE.lock:
                STATE.fault = f
            return self.send_json(200, f)
        return self.msg(404, "no such control endpoint")

    # -------------------------------------------------------------- api

    def dispatch(self, method):
        u = urlsplit(self.path)
        path, q = u.path, parse_qs(u.query)
        if path.startswith("/__"):
            return self.control(method, path)
        if not path.startswith("/api/v1/"):
            return self.msg(404, "Cannot %s %s" % (method, path))
        body = self.read_body()
        with STATE.lock:
            fault = dict(STATE.fault)
        if fault.get("always"):
            extra = {}
            if fault.get("retry_after") is not None:
                extra["Retry-After"] = str(fault["retry_after"])
            return self.msg(int(fault["always"]), "Service Unavailable",
                            extra)
        key = self.headers.get("X-N8N-API-KEY")
        if key is None:
            return self.msg(401, "'X-N8N-API-KEY' header required")
        if key != CONF["key"]:
            return self.msg(401, "Unauthorized")
        if (fault.get("die_on_cursor") and method == "GET" and
                path == "/api/v1/workflows" and "cursor" in q):
            sys.stderr.flush()
            os._exit(3)
        doc = None
        if method in ("POST", "PUT", "PATCH") and body:
            try:
                doc = json.loads(body)
            except ValueError:
                return self.msg(400, "Invalid JSON in request body")
        parts = path[len("/api/v1/"):].strip("/").split("/")
        with STATE.lock:
            return self.route(method, parts, q, doc)

    def route(self, method, parts, q, doc):
        if parts == ["workflows"] and method == "GET":
            items = STATE.workflows
            if "active" in q:
                want = q["active"][0] == "true"
                items = [w for w in items if w["active"] == want]
            try:
                data, nxt = page(items, q)
            except ValueError as e:
                return self.msg(400, str(e))
            if q.get("excludePinnedData", ["false"])[0] == "true":
                data = [{k: v for k, v in w.items() if k != "pinData"}
                        for w in data]
            return self.send_json(200, {"data": data, "nextCursor": nxt})
        if parts == ["workflows"] and method == "POST":
            err, where = check_body(doc, True)
            if err:
                return self.msg(400, err, errors=(
                    [{"path": where, "message": err}] if where else None))
            if doc["name"] in STATE.fault.get("refuse_create", []):
                return self.msg(400, "refused by the test (fault "
                                "refuse_create)")
            ts = now()
            w = {"id": new_id(), "name": doc["name"], "active": False,
                 "isArchived": False, "createdAt": ts, "updatedAt": ts,
                 "nodes": doc["nodes"], "connections": doc["connections"],
                 "settings": doc["settings"],
                 "staticData": doc.get("staticData"), "meta": None,
                 "pinData": doc.get("pinData") or {},
                 "versionId": str(uuid.uuid4()), "triggerCount": 0,
                 "shared": [], "tags": []}
            STATE.workflows.append(w)
            return self.send_json(200, w)
        if len(parts) >= 2 and parts[0] == "workflows":
            w = STATE.wf(parts[1])
            if w is None:
                return self.msg(404, "Not Found")
            rest = parts[2:]
            if rest == [] and method == "GET":
                return self.send_json(200, w)
            if rest == [] and method == "PUT":
                err, where = check_body(doc, False)
                if err:
                    return self.msg(400, err, errors=(
                        [{"path": where, "message": err}] if where
                        else None))
                for k in ("name", "nodes", "connections", "settings"):
                    w[k] = doc[k]
                w["staticData"] = doc.get("staticData")
                w["versionId"] = str(uuid.uuid4())
                w["updatedAt"] = now()
                return self.send_json(200, w)
            if rest == [] and method == "DELETE":
                STATE.workflows.remove(w)
                return self.send_json(200, w)
            if rest == ["activate"] and method == "POST":
                if not has_trigger(w):
                    return self.msg(400, "Workflow has no node to start "
                                    "the workflow - at least one trigger, "
                                    "poller or webhook node is required")
                w["active"] = True
                return self.send_json(200, w)
            if rest == ["deactivate"] and method == "POST":
                w["active"] = False
                return self.send_json(200, w)
            if rest == ["tags"] and method == "GET":
                return self.send_json(200, w["tags"])
            if rest == ["tags"] and method == "PUT":
                if not isinstance(doc, list) or not all(
                        isinstance(t, dict) and set(t) == {"id"}
                        for t in doc):
                    return self.msg(400, "request/body must be array of "
                                    "{id}")
                new = []
                for t in doc:
                    tag = STATE.tag(t["id"])
                    if tag is None:
                        return self.msg(404, "Some tags not found")
                    if tag not in new:
                        new.append(tag)
                w["tags"] = new
                return self.send_json(200, new)
            return self.msg(404, "not found")
        if parts == ["tags"] and method == "GET":
            try:
                data, nxt = page(STATE.tags, q)
            except ValueError as e:
                return self.msg(400, str(e))
            return self.send_json(200, {"data": data, "nextCursor": nxt})
        if parts == ["tags"] and method == "POST":
            if (not isinstance(doc, dict) or set(doc) != {"name"} or
                    not isinstance(doc["name"], str)):
                return self.msg(400, "request/body must have only "
                                "property 'name'")
            if any(t["name"] == doc["name"] for t in STATE.tags):
                return self.msg(409, "Tag already exists")
            ts = now()
            t = {"id": new_id(), "name": doc["name"], "createdAt": ts,
                 "updatedAt": ts}
            STATE.tags.append(t)
            return self.send_json(201, t)
        if parts == ["credentials"] and method == "GET":
            if not CONF["credentials_list"]:
                return self.msg(404, "not found")
            try:
                data, nxt = page(STATE.credentials, q)
            except ValueError as e:
                return self.msg(400, str(e))
            return self.send_json(200, {"data": data, "nextCursor": nxt})
        return self.msg(404, "not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--seed")
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--no-credentials-list", action="store_true")
    a = ap.parse_args()
    CONF["key"] = a.api_key
    CONF["credentials_list"] = not a.no_credentials_list
    if a.seed:
        with open(a.seed) as f:
            d = json.load(f)
        STATE.workflows = d.get("workflows", [])
        STATE.tags = d.get("tags", [])
        STATE.credentials = d.get("credentials", [])
    elif a.generate:
        generate(a.generate)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
