#!/usr/bin/env python3
# sigv4_crosscheck.py - sign randomized S3 requests with our sigv4.c
# (through tests/tools/sigv4_sign) and with botocore's S3SigV4Auth, used
# as an independent oracle, and compare x-amz-date, x-amz-content-sha256
# and the Authorization value.  Exit 0 when all agree, 1 otherwise, 77
# (SKIP) when botocore cannot be imported.
#
# What botocore does not check here, and why:
#  - the canonical URI: botocore's S3 signer uses the URL path verbatim
#    (S3SigV4Auth does not normalise or re-encode it), so the URL is built
#    with urllib.parse.quote(path, safe='/'), which is the S3 rule (keep
#    A-Za-z0-9-_.~ and '/', %XX upper case for every other UTF-8 byte).
#    That rule is checked on its own by test_sigv4's vectors.
#  - the query string is checked independently: botocore encodes the
#    (name, value) list itself (quote(safe='-_.~')) and sorts it.
#  - botocore writes "Credential=..., SignedHeaders=..., Signature=..."
#    with a space after each comma; AWS's documents and sigv4.c omit it.
#    Both are accepted by S3; the comparison drops the spaces.
#  - headers botocore would not sign (Expect, Transfer-Encoding,
#    User-Agent, X-Amzn-Trace-Id) or rewrites (Date) are not generated;
#    sigv4.c refuses the first three.  Header values are printable ASCII
#    plus SP and HTAB: botocore's trim is str.split(), which also splits
#    on other control and Unicode space characters, while sigv4.c refuses
#    control bytes and passes bytes >= 0x80 through.
import datetime
import hashlib
import os
import random
import string
import subprocess
import sys
import types
import urllib.parse
from unittest import mock

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("SKIP: botocore is not importable (apt-get install "
          "python3-botocore)")
    print("VECTOR SUITE SKIPPED: sigv4-botocore-crosscheck")
    sys.exit(77)

N = int(os.environ.get("SIGV4_CROSSCHECK_N", "300"))
SEED = int(os.environ.get("SIGV4_CROSSCHECK_SEED", "20240519"))

PATH_CHARS = (string.ascii_letters + string.digits + "-_.~ +=&$!*'(),;:@%#?"
              + "\u00e9\u20ac\u00fc\u4e2d\U0001f600")
QUERY_CHARS = PATH_CHARS + "/"
NAME_CHARS = QUERY_CHARS.replace("=", "")
VALUE_CHARS = "".join(chr(c) for c in range(0x21, 0x7f)) + "  \t"
HEADER_NAMES = ["x-amz-meta-a", "X-Amz-Meta-Note", "Content-Type",
                "Content-MD5", "x-amz-storage-class", "Range", "If-Match",
                "x-amz-object-lock-mode", "X-AMZ-META-a", "Cache-Control",
                "x-amz-security-token", "Content-Encoding"]
HOSTS = ["examplebucket.s3.amazonaws.com", "s3.eu-central-1.amazonaws.com",
         "minio:9000", "127.0.0.1:9001", "s3.example.net:8443"]
REGIONS = ["us-east-1", "eu-central-1", "ap-southeast-2", "garage"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]


def tool_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.path.join(os.environ.get("ZB_BUILDDIR", "."), "tests",
                        "tools", "sigv4_sign")


def rand_str(rng, chars, lo, hi):
    return "".join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))


def rand_path(rng):
    segs = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.05:
            segs.append("")          # "//": S3 does not fold it
        elif r < 0.1:
            segs.append(rng.choice([".", ".."]))
        else:
            segs.append(rand_str(rng, PATH_CHARS, 1, 12))
    return "/" + "/".join(segs)


def rand_request(rng):
    q = []
    for _ in range(rng.randint(0, 5)):
        if q and rng.random() < 0.2:
            name = rng.choice(q)[0]  # a repeated parameter
        else:
            name = rand_str(rng, NAME_CHARS, 1, 8)
        r = rng.random()
        value = None if r < 0.15 else ("" if r < 0.25 else
                                        rand_str(rng, QUERY_CHARS, 1, 10))
        q.append((name, value))
    hdrs = []
    for _ in range(rng.randint(0, 4)):
        value = rand_str(rng, VALUE_CHARS, 0, 16)
        if rng.random() < 0.3:
            value = " " * rng.randint(0, 2) + value + "\t" * rng.randint(0, 2)
        hdrs.append((rng.choice(HEADER_NAMES), value))
    body = (bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
            if rng.random() < 0.7 else b"")
    return {
        "method": rng.choice(METHODS),
        "host": rng.choice(HOSTS),
        "path": rand_path(rng),
        "query": q,
        "headers": hdrs,
        "body": body,
        "signed": rng.random() < 0.8,
        "region": rng.choice(REGIONS),
        "access": "AKIA" + rand_str(rng, string.ascii_uppercase
                                    + string.digits, 16, 16),
        "secret": rand_str(rng, string.ascii_letters + string.digits + "/+",
                           40, 40),
        "time": rng.randint(946684800, 2147483647),
    }


def payload_hash(req):
    if req["signed"]:
        return hashlib.sha256(req["body"]).hexdigest()
    return "UNSIGNED-PAYLOAD"


def ours(tool, req):
    lines = ["method " + req["method"], "host " + req["host"],
             "path " + req["path"], "payload_sha256 " + payload_hash(req),
             "region " + req["region"], "access " + req["access"],
             "secret " + req["secret"], "time %d" % req["time"]]
    for name, value in req["query"]:
        lines.append("query " + name + ("" if value is None
                                        else "=" + value))
    for name, value in req["headers"]:
        lines.append("header %s:%s" % (name, value))
    p = subprocess.run([tool, "-v"], input=("\n".join(lines) + "\n")
                       .encode("utf-8"), capture_output=True, check=False)
    out = {}
    for line in p.stdout.decode().splitlines():
        k, _, v = line.partition(": ")
        out[k.lower()] = v
    out["_debug"] = p.stderr.decode("utf-8", "replace")
    out["_rc"] = p.returncode
    return out


class RecordingAuth(botocore.auth.S3SigV4Auth):
    canonical = None

    def canonical_request(self, request):
        self.canonical = super().canonical_request(request)
        return self.canonical


def theirs(req):
    url = "http://%s%s" % (req["host"],
                           urllib.parse.quote(req["path"], safe="/"))
    params = [(n, "" if v is None else v) for n, v in req["query"]]
    r = AWSRequest(method=req["method"], url=url, data=req["body"],
                   params=params)
    for name, value in req["headers"]:
        r.headers[name] = value      # HTTPHeaders appends repeats
    r.context["client_config"] = types.SimpleNamespace(
        s3={"payload_signing_enabled": req["signed"]})
    auth = RecordingAuth(Credentials(req["access"], req["secret"]), "s3",
                         req["region"])
    when = datetime.datetime.fromtimestamp(req["time"],
                                           datetime.timezone.utc)
    when = when.replace(tzinfo=None)
    if hasattr(botocore.auth, "get_current_datetime"):
        with mock.patch.object(botocore.auth, "get_current_datetime",
                               return_value=when):
            auth.add_auth(r)
    else:
        class Fixed(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when
        with mock.patch.object(botocore.auth.datetime, "datetime", Fixed):
            auth.add_auth(r)
    return {"x-amz-date": r.headers["X-Amz-Date"],
            "x-amz-content-sha256": r.headers["X-Amz-Content-SHA256"],
            "authorization": r.headers["Authorization"].replace(", ", ","),
            "_canonical": auth.canonical}


def main():
    tool = tool_path()
    if not os.access(tool, os.X_OK):
        print("sigv4_crosscheck: no tool at %s" % tool)
        return 1
    rng = random.Random(SEED)
    passed = failed = 0
    for i in range(N):
        req = rand_request(rng)
        a, b = ours(tool, req), theirs(req)
        keys = ("x-amz-date", "x-amz-content-sha256", "authorization")
        if a["_rc"] == 0 and all(a.get(k) == b[k] for k in keys):
            passed += 1
            continue
        failed += 1
        if failed <= 5:
            print("FAIL #%d: %r" % (i, req))
            for k in keys:
                print("  %s\n    ours:     %s\n    botocore: %s"
                      % (k, a.get(k), b[k]))
            print("  our canonical request / string to sign:\n%s"
                  % a["_debug"])
            print("  botocore canonical request:\n%s" % b["_canonical"])
    print("botocore %s, seed %d: %d passed, %d failed"
          % (botocore.__version__, SEED, passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
