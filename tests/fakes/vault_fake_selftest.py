#!/usr/bin/python3
"""vault_fake_selftest.py - checks vault_fake.py against the contract in
shared/docs/apis/vault-snapshots.md (auth, AppRole, KV v2, sys/health,
sealed, faults), with plain urllib requests.  Prints "N passed, M failed";
exits 0 when none failed.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (what, detail))


def req(base, method, path, token=None, body=None, bearer=False):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if token is not None:
        if bearer:
            r.add_header("Authorization", "Bearer " + token)
        else:
            r.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw
    return status, doc


def main():
    tmp = tempfile.mkdtemp(prefix="vaultfake.")
    seed = os.path.join(tmp, "seed.json")
    with open(seed, "w") as f:
        json.dump({"tokens": {"root": {}, "narrow": {"paths": ["secret/data/a"]}},
                   "approle": [{"role_id": "r1", "secret_id": "s1",
                                "paths": ["secret/data/"]}],
                   "kv": {"secret": {"a": {"k": "v", "n": 5}, "gone": None}}},
                  f)
    pf = os.path.join(tmp, "port")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "vault_fake.py"),
                          "--port", "0", "--port-file", pf, "--seed", seed])
    try:
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        base = "http://127.0.0.1:%s" % open(pf).read().strip()
        run(base)
    finally:
        p.terminate()
        p.wait()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def run(b):
    # auth
    st, doc = req(b, "GET", "/v1/secret/data/a")
    check("no token: 403 permission denied",
          st == 403 and doc == {"errors": ["permission denied"]}, (st, doc))
    st, doc = req(b, "GET", "/v1/secret/data/a", "nope")
    check("unknown token: 403", st == 403, st)
    st, doc = req(b, "GET", "/v1/secret/data/a", "root")
    check("kv2 read: .data.data", st == 200 and
          doc["data"]["data"] == {"k": "v", "n": 5}, (st, doc))
    check("kv2 read: metadata.version",
          st == 200 and doc["data"]["metadata"]["version"] == 1, doc)
    check("kv2 read: envelope", st == 200 and doc["auth"] is None and
          "request_id" in doc and doc["lease_duration"] == 0, doc)
    st, doc = req(b, "GET", "/v1/secret/data/a", "root", bearer=True)
    check("Authorization: Bearer accepted", st == 200, st)
    st, doc = req(b, "GET", "/v1/secret/data/missing", "root")
    check("missing secret: 404 {errors: []}",
          st == 404 and doc == {"errors": []}, (st, doc))
    st, doc = req(b, "GET", "/v1/secret/data/gone", "root")
    check("soft-deleted: 404 with data.data null", st == 404 and
          doc["data"]["data"] is None and
          doc["data"]["metadata"]["deletion_time"] != "", (st, doc))
    st, doc = req(b, "GET", "/v1/secret/data/a", "narrow")
    check("token paths: allowed prefix", st == 200, st)
    st, doc = req(b, "GET", "/v1/secret/data/gone", "narrow")
    check("token paths: elsewhere 403", st == 403, st)
    st, doc = req(b, "POST", "/v1/secret/data/a", "root",
                  {"data": {"k": "v2"}})
    check("kv2 write: new version", st == 200 and doc["data"]["version"] == 2,
          (st, doc))
    st, doc = req(b, "GET", "/v1/secret/data/a", "root")
    check("kv2 write: read back", doc["data"]["data"] == {"k": "v2"}, doc)
    st, doc = req(b, "DELETE", "/v1/sys/health", "root")
    check("wrong method: 405", st == 405, st)

    # AppRole
    st, doc = req(b, "POST", "/v1/auth/approle/login",
                  body={"role_id": "r1", "secret_id": "s1"})
    tok = doc["auth"]["client_token"] if st == 200 else None
    check("approle login: auth.client_token", st == 200 and tok and
          doc["auth"]["lease_duration"] == 1200 and doc["data"] is None,
          (st, doc))
    st, doc = req(b, "GET", "/v1/secret/data/a", tok)
    check("approle token reads", st == 200, st)
    for body, msg in (({"role_id": "r1", "secret_id": "x"},
                       "invalid role or secret ID"),
                      ({"role_id": "zz", "secret_id": "s1"},
                       "invalid role or secret ID"),
                      ({"role_id": "r1"}, "missing secret_id"),
                      ({"secret_id": "s1"}, "missing role_id")):
        st, doc = req(b, "POST", "/v1/auth/approle/login", body=body)
        check("approle 400 %s" % msg,
              st == 400 and doc == {"errors": [msg]}, (st, doc))

    # health
    def health(q=""):
        return req(b, "GET", "/v1/sys/health" + q)
    st, doc = health()
    check("health active 200", st == 200 and doc["sealed"] is False and
          doc["standby"] is False and doc["initialized"] is True, (st, doc))
    req(b, "POST", "/__state", body={"standby": True})
    check("health standby 429", health()[0] == 429)
    check("health standbyok", health("?standbyok=true")[0] == 200)
    check("health standbycode", health("?standbycode=299")[0] == 299)
    check("health bad code 400", health("?standbycode=x")[0] == 400)
    req(b, "POST", "/__state", body={"standby": False, "sealed": True})
    st, doc = health()
    check("health sealed 503", st == 503 and doc["sealed"] is True, st)
    check("health sealedcode", health("?sealedcode=200")[0] == 200)
    st, doc = req(b, "GET", "/v1/secret/data/a", "root")
    check("sealed: kv 503", st == 503, st)
    r = urllib.request.Request(b + "/v1/sys/health", method="HEAD")
    try:
        urllib.request.urlopen(r, timeout=10)
        hst, hbody = 200, b""
    except urllib.error.HTTPError as e:
        hst, hbody = e.code, e.read()
    check("HEAD health: status, no body", hst == 503 and hbody == b"", hst)
    req(b, "POST", "/__state", body={"sealed": False, "initialized": False})
    check("health uninitialized 501", health()[0] == 501)
    check("health uninitcode", health("?uninitcode=200")[0] == 200)
    req(b, "POST", "/__state", body={"initialized": True})

    # faults, log
    req(b, "POST", "/__fault", body={"status": 500, "count": 1,
                                     "path_prefix": "/v1/secret/"})
    check("fault: next request 500",
          req(b, "GET", "/v1/secret/data/a", "root")[0] == 500)
    check("fault: then served",
          req(b, "GET", "/v1/secret/data/a", "root")[0] == 200)
    req(b, "POST", "/__fault", body={"status": 0, "delay_ms": 600,
                                     "count": 1})
    t0 = time.time()
    st = req(b, "GET", "/v1/secret/data/a", "root")[0]
    check("fault: delay then served",
          st == 200 and time.time() - t0 >= 0.5, (st, time.time() - t0))
    req(b, "POST", "/__revoke", body={"token": "narrow"})
    check("revoked token: 403",
          req(b, "GET", "/v1/secret/data/a", "narrow")[0] == 403)
    st, log = req(b, "GET", "/__log")
    check("log: requests with a token flag, never its value",
          st == 200 and any(x["token"] for x in log) and
          "root" not in json.dumps(log), log[:2])


if __name__ == "__main__":
    sys.exit(main())
