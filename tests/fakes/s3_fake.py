#!/usr/bin/env python3
# s3_fake.py - a strict, single-file S3 test server for zentoria-backupd's
# S3 plugin tests.  Python standard library plus botocore (Debian package
# python3-botocore), which is used as the reference SigV4 implementation:
# the signature of every S3 request is recomputed with
# botocore.auth.S3SigV4Auth from what was received and compared.
#
# Listens on 127.0.0.1 only, path-style addressing (/bucket/key).  Object
# data lives in files under a data directory (a fresh temporary directory
# unless --data-dir is given), metadata in memory.
#
#   python3 s3_fake.py --port 0 --access-key AK --secret-key SK \
#       [--region us-east-1] [--page-size 2] [--data-dir DIR] \
#       [--buckets a,b,locked:lock] [--port-file FILE] \
#       [--min-part-size BYTES] [--verbose]
#
# Admin endpoints (no signature, never counted as S3 requests):
#   POST /__fault?nth=N&status=500|503|200[&count=K][&stall_ms=MS][&drop=1]
#                 [&where=before|mid][&method=PUT][&op=UploadPart][&match=SUBSTR]
#   POST /__fault?reset   (or DELETE /__fault)      GET /__fault
#   GET /__log[?since=SEQ]   POST /__log?reset (or DELETE /__log)
#   GET /__state             POST /__clock?offset_s=SECONDS
#   POST /__lock?bucket=B[&prefix=P][&match=S][&mode=M&days=D][&legal_hold=1]
# See README.md next to this file.

import argparse
import base64
import binascii
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, HTTPServer
from xml.sax.saxutils import escape as xml_escape

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    sys.stderr.write('s3_fake: botocore is required (apt-get install python3-botocore)\n')
    sys.exit(77)

S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()
UNSIGNED = 'UNSIGNED-PAYLOAD'
STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
MAX_SKEW = 15 * 60
BLOCK = 1 << 20


# ---------------------------------------------------------------- helpers

class S3Error(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


class BadHTTP(Exception):
    """The request framing is broken; answer 400 and close."""


def iso8601(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc) \
        .strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % int((ts % 1) * 1000)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def parse_iso(value):
    v = value.strip()
    if v.endswith('Z'):
        v = v[:-1] + '+00:00'
    d = datetime.datetime.fromisoformat(v)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def x(tag, value):
    return '<%s>%s</%s>' % (tag, xml_escape(str(value)), tag)


def strip_ns(tag):
    return tag.split('}', 1)[-1]


def parse_xml(data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed '
                      'or did not validate against our published schema.')
    for el in root.iter():
        el.tag = strip_ns(el.tag)
    return root


_CRC32C_TABLE = None


def crc32c(data, crc=0):
    global _CRC32C_TABLE
    if _CRC32C_TABLE is None:
        tbl = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            tbl.append(c)
        _CRC32C_TABLE = tbl
    tbl = _CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = tbl[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Hasher:
    """Running digests of a body: sha256, md5 always; others on demand."""

    def __init__(self, want=()):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.want = set(want)
        self.sha1 = hashlib.sha1() if 'sha1' in self.want else None
        self.crc32 = 0
        self.crc32c = 0
        self.size = 0

    def update(self, b):
        self.size += len(b)
        self.sha256.update(b)
        self.md5.update(b)
        if self.sha1 is not None:
            self.sha1.update(b)
        if 'crc32' in self.want:
            self.crc32 = zlib.crc32(b, self.crc32)
        if 'crc32c' in self.want:
            self.crc32c = crc32c(b, self.crc32c)

    def checksum_b64(self, algo):
        if algo == 'sha256':
            return base64.b64encode(self.sha256.digest()).decode()
        if algo == 'sha1':
            return base64.b64encode(self.sha1.digest()).decode()
        if algo == 'crc32':
            return base64.b64encode(self.crc32.to_bytes(4, 'big')).decode()
        if algo == 'crc32c':
            return base64.b64encode(self.crc32c.to_bytes(4, 'big')).decode()
        return None


CHECKSUM_ALGOS = ('crc32', 'crc32c', 'sha1', 'sha256')


def signing_key(secret, date, region, service='s3'):
    k = hmac.new(('AWS4' + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b'aws4_request', hashlib.sha256).digest()


def chunk_signature(key, amzdate, scope, prev_sig, chunk_sha256_hex):
    sts = '\n'.join(['AWS4-HMAC-SHA256-PAYLOAD', amzdate, scope, prev_sig,
                     EMPTY_SHA256, chunk_sha256_hex])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def canonical_path(raw_path):
    """S3 canonical URI: the decoded path URI-encoded once (keep '/')."""
    return urllib.parse.quote(urllib.parse.unquote(raw_path, errors='strict'),
                              safe='/~')


def query_pairs(raw_query):
    pairs = []
    if raw_query:
        for item in raw_query.split('&'):
            if item == '':
                continue
            k, _, v = item.partition('=')
            pairs.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
    return pairs


def sigv4_expected(method, raw_path, raw_query, headers, signed_headers,
                   amzdate, region, access_key, secret_key, query_auth=False):
    """Recompute a SigV4 signature with botocore from what was received.

    headers: mapping lower-case name -> value (only the signed ones are
    used).  Returns (signature, canonical_request, string_to_sign,
    botocore_signed_headers)."""
    hdrs = {}
    for name in signed_headers.split(';'):
        if name not in headers:
            raise S3Error(403, 'SignatureDoesNotMatch',
                          'Header %r is listed in SignedHeaders but is not '
                          'present in the request' % name)
        hdrs[name] = headers[name]
    params = query_pairs(raw_query)
    if query_auth:
        params = [(k, v) for k, v in params if k != 'X-Amz-Signature']
        cls = botocore.auth.S3SigV4QueryAuth
    else:
        cls = botocore.auth.S3SigV4Auth
    url = 'http://' + hdrs.get('host', 'localhost') + canonical_path(raw_path)
    req = AWSRequest(method=method, url=url, headers=hdrs, params=params or None)
    req.context['timestamp'] = amzdate
    signer = cls(Credentials(access_key, secret_key), 's3', region)
    cr = signer.canonical_request(req)
    sts = signer.string_to_sign(req, cr)
    sig = signer.signature(sts, req)
    return sig, cr, sts, signer.signed_headers(signer.headers_to_sign(req))


# ------------------------------------------------------------------ state

class Obj:
    __slots__ = ('path', 'size', 'etag', 'content_type', 'meta', 'mtime',
                 'lock_mode', 'retain_until', 'legal_hold', 'version_id',
                 'checksums', 'parts_count')

    def to_json(self):
        return {
            'size': self.size, 'etag': self.etag,
            'content_type': self.content_type, 'meta': self.meta,
            'last_modified': iso8601(self.mtime),
            'lock_mode': self.lock_mode,
            'retain_until': iso8601(self.retain_until) if self.retain_until else None,
            'legal_hold': self.legal_hold, 'version_id': self.version_id,
            'parts_count': self.parts_count,
        }


class Bucket:
    def __init__(self, name, lock=False):
        self.name = name
        self.created = time.time()
        self.lock = lock
        self.objects = {}
        self.default_retention = None   # (mode, seconds)


class Upload:
    def __init__(self, bucket, key, attrs):
        self.id = base64.urlsafe_b64encode(uuid.uuid4().bytes + os.urandom(8)) \
            .decode().rstrip('=')
        self.bucket = bucket
        self.key = key
        self.attrs = attrs
        self.initiated = time.time()
        self.parts = {}   # n -> (path, size, md5hex, mtime)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.buckets = {}
        self.uploads = {}
        self.faults = []
        self.fault_seq = 0
        self.log = []
        self.req_seq = 0
        self.clock_offset = 0.0
        self.data_dir = args.data_dir
        for sub in ('objects', 'uploads', 'tmp'):
            os.makedirs(os.path.join(self.data_dir, sub), exist_ok=True)

    def now_lock(self):
        return time.time() + self.clock_offset

    def tmpfile(self):
        fd, path = tempfile.mkstemp(dir=os.path.join(self.data_dir, 'tmp'))
        return os.fdopen(fd, 'wb'), path

    def new_obj_path(self):
        return os.path.join(self.data_dir, 'objects', uuid.uuid4().hex)


def rm(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ----------------------------------------------------------------- routes

def classify(method, path, q):
    """Name the S3 operation (for the log and fault filters)."""
    parts = path.lstrip('/').split('/', 1)
    bucket = parts[0] if parts[0] else None
    key = parts[1] if len(parts) > 1 and parts[1] != '' else None
    if bucket is None:
        return 'ListBuckets' if method in ('GET', 'HEAD') else 'Unknown', None, None
    if key is None:
        if method == 'PUT':
            if 'object-lock' in q:
                return 'PutObjectLockConfiguration', bucket, None
            return 'CreateBucket', bucket, None
        if method == 'HEAD':
            return 'HeadBucket', bucket, None
        if method == 'DELETE':
            return 'DeleteBucket', bucket, None
        if method == 'POST' and 'delete' in q:
            return 'DeleteObjects', bucket, None
        if method == 'GET':
            if 'uploads' in q:
                return 'ListMultipartUploads', bucket, None
            if 'location' in q:
                return 'GetBucketLocation', bucket, None
            if 'object-lock' in q:
                return 'GetObjectLockConfiguration', bucket, None
            if 'versioning' in q:
                return 'GetBucketVersioning', bucket, None
            if q.get('list-type') == '2':
                return 'ListObjectsV2', bucket, None
            return 'ListObjects', bucket, None
        return 'Unknown', bucket, None
    if method == 'PUT':
        if 'partNumber' in q or 'uploadId' in q:
            return 'UploadPart', bucket, key
        if 'retention' in q:
            return 'PutObjectRetention', bucket, key
        if 'legal-hold' in q:
            return 'PutObjectLegalHold', bucket, key
        return 'PutObject', bucket, key
    if method == 'GET':
        if 'uploadId' in q:
            return 'ListParts', bucket, key
        if 'retention' in q:
            return 'GetObjectRetention', bucket, key
        if 'legal-hold' in q:
            return 'GetObjectLegalHold', bucket, key
        return 'GetObject', bucket, key
    if method == 'HEAD':
        return 'HeadObject', bucket, key
    if method == 'DELETE':
        if 'uploadId' in q:
            return 'AbortMultipartUpload', bucket, key
        return 'DeleteObject', bucket, key
    if method == 'POST':
        if 'uploads' in q:
            return 'CreateMultipartUpload', bucket, key
        if 'uploadId' in q:
            return 'CompleteMultipartUpload', bucket, key
    return 'Unknown', bucket, key


BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'AmazonS3'
    sys_version = ''
    timeout = 120

    # -- framework overrides
    def handle_expect_100(self):
        # Defer "100 Continue" until the body is actually wanted, so that
        # a refused request (auth, fault) is answered before any body.
        self._expect = True
        return True

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write('s3_fake: %s - %s\n' % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    # -- body handling
    def _raw_blocks(self):
        if self._body_consumed:
            return
        self._body_consumed = True
        if self._expect and not self._continue_sent:
            self._continue_sent = True
            self.wfile.write(b'HTTP/1.1 100 Continue\r\n\r\n')
            self.wfile.flush()
        te = self.headers.get('Transfer-Encoding', '').lower()
        if 'chunked' in te:
            while True:
                line = self.rfile.readline(65537)
                if not line.endswith(b'\n'):
                    raise BadHTTP('bad chunk header')
                try:
                    size = int(line.split(b';', 1)[0].strip(), 16)
                except ValueError:
                    raise BadHTTP('bad chunk size')
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b'\r\n', b'\n', b''):
                            break
                    return
                left = size
                while left:
                    b = self.rfile.read(min(left, BLOCK))
                    if not b:
                        raise BadHTTP('short chunk')
                    left -= len(b)
                    yield b
                if self.rfile.read(2) not in (b'\r\n',):
                    raise BadHTTP('missing CRLF after chunk')
        else:
            left = self._content_length or 0
            while left:
                b = self.rfile.read(min(left, BLOCK))
                if not b:
                    raise BadHTTP('short body')
                left -= len(b)
                yield b

    def drain(self):
        for _ in self._raw_blocks():
            pass

    def read_body(self, want_checksums=()):
        """Read (and de-chunk) the body into a temp file.  Returns
        (path, Hasher of the decoded data).  Checks aws-chunked signatures,
        x-amz-content-sha256, Content-MD5 and x-amz-checksum-* headers."""
        st = self.server.state
        want = set(want_checksums)
        for a in CHECKSUM_ALGOS:
            if self.headers.get('x-amz-checksum-' + a):
                want.add(a)
        trailer = self.headers.get('x-amz-trailer', '').strip().lower()
        if trailer.startswith('x-amz-checksum-'):
            want.add(trailer[len('x-amz-checksum-'):])
        mode = self._payload_mode
        f, path = st.tmpfile()
        h = Hasher(want)
        try:
            if mode in (STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER):
                trailers = self._decode_aws_chunked(f, h, mode == STREAMING_SIGNED)
                dec = self.headers.get('x-amz-decoded-content-length')
                if dec is not None and int(dec) != h.size:
                    raise S3Error(400, 'IncompleteBody',
                                  'x-amz-decoded-content-length %s but %d bytes decoded'
                                  % (dec, h.size))
                for name, value in trailers.items():
                    if name.startswith('x-amz-checksum-'):
                        algo = name[len('x-amz-checksum-'):]
                        if algo in want and h.checksum_b64(algo) != value:
                            raise S3Error(400, 'BadDigest', 'The %s you specified did '
                                          'not match the calculated checksum.' % name)
            else:
                for b in self._raw_blocks():
                    h.update(b)
                    f.write(b)
            f.close()
        except BaseException:
            f.close()
            rm(path)
            raise
        try:
            self._check_body_digests(h, mode)
        except S3Error:
            rm(path)
            raise
        return path, h

    def read_small_body(self, limit=4 << 20):
        path, h = self.read_body()
        try:
            if h.size > limit:
                raise S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.')
            with open(path, 'rb') as fh:
                return fh.read(), h
        finally:
            rm(path)

    def _decode_aws_chunked(self, out, h, signed):
        """aws-chunked decoding on top of the HTTP framing."""
        blocks = self._raw_blocks()
        buf = bytearray()

        def need(n):
            while len(buf) < n:
                try:
                    buf.extend(next(blocks))
                except StopIteration:
                    raise S3Error(400, 'IncompleteBody', 'aws-chunked body ended early')

        def readline():
            while True:
                i = buf.find(b'\r\n')
                if i >= 0:
                    line = bytes(buf[:i])
                    del buf[:i + 2]
                    return line
                if len(buf) > 4096:
                    raise S3Error(400, 'InvalidRequest', 'aws-chunked header too long')
                need(len(buf) + 1)

        prev = self._seed_signature
        sizes = []
        trailers = {}
        while True:
            line = readline().decode('latin-1')
            size_s, _, ext = line.partition(';')
            try:
                size = int(size_s, 16)
            except ValueError:
                raise S3Error(400, 'InvalidRequest', 'bad aws-chunked size %r' % line)
            need(size)
            data = bytes(buf[:size])
            del buf[:size]
            if signed:
                m = re.match(r'^chunk-signature=([0-9a-f]{64})$', ext.strip())
                if not m:
                    raise S3Error(403, 'SignatureDoesNotMatch',
                                  'aws-chunked chunk without chunk-signature')
                exp = chunk_signature(self._signing_key, self._amzdate, self._scope, prev,
                                      hashlib.sha256(data).hexdigest())
                if not hmac.compare_digest(exp, m.group(1)):
                    raise S3Error(403, 'SignatureDoesNotMatch',
                                  'The chunk signature of chunk %d does not match'
                                  % len(sizes), ChunkStringToSign=exp)
                prev = exp
            if size == 0:
                break
            sizes.append(size)
            h.update(data)
            out.write(data)
            need(2)
            if bytes(buf[:2]) != b'\r\n':
                raise S3Error(400, 'InvalidRequest', 'aws-chunked data not followed by CRLF')
            del buf[:2]
        # trailers (unsigned-trailer mode) then the final CRLF
        while True:
            try:
                line = readline()
            except S3Error:
                break
            if line == b'':
                break
            n, _, v = line.decode('latin-1').partition(':')
            trailers[n.strip().lower()] = v.strip()
        for b in blocks:   # anything after the final chunk is an error
            if b:
                raise S3Error(400, 'InvalidRequest', 'data after final aws-chunked chunk')
        if signed:
            for s in sizes[:-1]:
                if s < 8192:
                    raise S3Error(403, 'InvalidChunkSizeError',
                                  'Only the last chunk is allowed to have a size less '
                                  'than 8192 bytes')
        return trailers

    def _check_body_digests(self, h, mode):
        if mode not in (UNSIGNED, STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, None):
            got = h.sha256.hexdigest()
            if got != mode:
                raise S3Error(400, 'XAmzContentSHA256Mismatch',
                              "The provided 'x-amz-content-sha256' header does not "
                              "match what was computed.",
                              ClientComputedContentSHA256=mode,
                              S3ComputedContentSHA256=got)
        cmd5 = self.headers.get('Content-MD5')
        if cmd5 is not None:
            try:
                want = base64.b64decode(cmd5.strip(), validate=True)
            except (binascii.Error, ValueError):
                want = b''
            if len(want) != 16:
                raise S3Error(400, 'InvalidDigest',
                              'The Content-MD5 you specified was invalid.')
            if want != h.md5.digest():
                raise S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not '
                              'match what we received.')
        for a in CHECKSUM_ALGOS:
            v = self.headers.get('x-amz-checksum-' + a)
            if v is not None and h.checksum_b64(a) != v.strip():
                raise S3Error(400, 'BadDigest', 'The %s you specified did not match the '
                              'calculated checksum.' % a.upper())

    def has_integrity_header(self):
        if self.headers.get('Content-MD5'):
            return True
        if any(self.headers.get('x-amz-checksum-' + a) for a in CHECKSUM_ALGOS):
            return True
        return self.headers.get('x-amz-trailer', '').lower().startswith('x-amz-checksum-')

    # -- responses
    def _std_headers(self):
        self.send_header('x-amz-request-id', self._reqid)
        self.send_header('x-amz-id-2', base64.b64encode(self._reqid.encode()).decode())
        self.send_header('Server', 'AmazonS3')

    def send(self, status, body=b'', headers=(), ctype='application/xml'):
        if isinstance(body, str):
            body = body.encode()
        if not self._body_consumed:
            if self._expect and not self._continue_sent:
                self.close_connection = True   # never read the body
            else:
                try:
                    self.drain()
                except (BadHTTP, OSError):
                    self.close_connection = True
        self._entry['status'] = status
        self.send_response(status)
        self._std_headers()
        for k, v in headers:
            self.send_header(k, v)
        if body or self.command != 'HEAD':
            if ctype and body:
                self.send_header('Content-Type', ctype)
        if not any(k.lower() == 'content-length' for k, _ in headers):
            self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD' and body:
            self.wfile.write(body)

    def send_xml(self, status, inner, headers=()):
        body = '<?xml version="1.0" encoding="UTF-8"?>\n' + inner
        self.send(status, body, headers)

    def send_s3_error(self, e):
        self._entry['error'] = e.code
        extra = ''.join(x(k, v) for k, v in e.extra.items())
        res = self._resource
        body = ('<Error>' + x('Code', e.code) + x('Message', e.message) + extra +
                (x('Resource', res) if res else '') + x('RequestId', self._reqid) +
                x('HostId', base64.b64encode(self._reqid.encode()).decode()) + '</Error>')
        self.send_xml(e.status, body)

    # -- main dispatch
    def dispatch(self):
        st = self.server.state
        self._reqid = uuid.uuid4().hex[:16].upper()
        self._body_consumed = False
        self._continue_sent = False
        self._expect = getattr(self, '_expect', False) and \
            self.headers.get('Expect', '').lower() == '100-continue'
        raw_path, _, raw_query = self.path.partition('?')
        self._raw_path, self._raw_query = raw_path, raw_query
        cl = self.headers.get('Content-Length')
        try:
            self._content_length = int(cl) if cl is not None else None
            if self._content_length is not None and self._content_length < 0:
                raise ValueError
        except ValueError:
            self._content_length = None
            self.close_connection = True
        try:
            q = dict(query_pairs(raw_query))
            path = urllib.parse.unquote(raw_path, errors='strict')
        except UnicodeDecodeError:
            q, path = {}, raw_path
        self._resource = path
        if path.startswith('/__'):
            self._entry = {}
            self._body_consumed = False
            try:
                return self.admin(path, q)
            except BadHTTP:
                self.close_connection = True
                return
        op, bucket, key = classify(self.command, path, q)
        with st.lock:
            st.req_seq += 1
            seq = st.req_seq
            self._entry = {
                'seq': seq, 'time': time.time(), 'method': self.command,
                'path': raw_path, 'query': raw_query, 'op': op,
                'bucket': bucket, 'key': key, 'status': None, 'error': None,
                'fault': None, 'client_port': self.client_address[1],
                'attempt': self.headers.get('amz-sdk-request'),
                'invocation_id': self.headers.get('amz-sdk-invocation-id'),
                'user_agent': self.headers.get('User-Agent'),
                'content_length': self._content_length,
                'transfer_encoding': self.headers.get('Transfer-Encoding'),
                'expect': self.headers.get('Expect'),
                'payload_hash': self.headers.get('x-amz-content-sha256'),
                'content_md5': self.headers.get('Content-MD5'),
                'if_none_match': self.headers.get('If-None-Match'),
                'checksum_headers': sorted(h.lower() for h in self.headers.keys()
                                           if h.lower().startswith('x-amz-checksum-')),
            }
            st.log.append(self._entry)
            fault = self.pick_fault(op, path, raw_query)
        try:
            if fault and self.apply_fault(fault, 'before'):
                return
            self._fault = fault
            self.authenticate()
            if self._content_length is None and 'chunked' not in \
                    self.headers.get('Transfer-Encoding', '').lower() and \
                    self.command in ('PUT', 'POST') and self.headers.get('Content-Length') is None:
                raise S3Error(411, 'MissingContentLength',
                              'You must provide the Content-Length HTTP header.')
            getattr(self, 'op_' + op, self.op_Unknown)(bucket, key, q)
        except S3Error as e:
            self.send_s3_error(e)
        except BadHTTP as e:
            self.close_connection = True
            try:
                self.send_s3_error(S3Error(400, 'BadRequest', str(e)))
            except OSError:
                pass
        except (ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True
            self._entry['status'] = self._entry['status'] or 'client-gone'
        except Exception as e:  # a bug in the fake: say so loudly
            import traceback
            traceback.print_exc()
            self.close_connection = True
            try:
                self.send_s3_error(S3Error(500, 'InternalError', 'fake bug: %r' % e))
            except OSError:
                pass

    # -- fault injection
    def pick_fault(self, op, path, raw_query):
        st = self.server.state
        for r in st.faults:
            if r['remaining'] <= 0:
                continue
            if r.get('method') and r['method'] != self.command:
                continue
            if r.get('op') and r['op'] != op:
                continue
            if r.get('match') and r['match'] not in path + '?' + raw_query:
                continue
            r['seen'] += 1
            if r['seen'] < r['nth']:
                continue
            r['remaining'] -= 1
            r['fired'] += 1
            return dict(r)
        return None

    def apply_fault(self, f, where):
        """Returns True when the request has been fully handled."""
        if f.get('where', 'before') != where:
            return False
        self._entry['fault'] = {k: f[k] for k in ('id', 'status', 'stall_ms', 'drop', 'where')
                                if k in f}
        if f.get('stall_ms'):
            time.sleep(f['stall_ms'] / 1000.0)
        if f.get('drop'):
            self._entry['status'] = 'dropped'
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        status = f.get('status')
        if status:
            if where == 'mid':
                return False
            if status == 200:
                self.send_xml(200, '<Error><Code>InternalError</Code><Message>We encountered '
                              'an internal error. Please try again.</Message>'
                              + x('RequestId', self._reqid) + '</Error>')
                self._entry['error'] = 'InternalError(200)'
            elif status == 503:
                self.send_s3_error(S3Error(503, f.get('code') or 'SlowDown',
                                           'Please reduce your request rate.'))
            elif status == 500:
                self.send_s3_error(S3Error(500, f.get('code') or 'InternalError',
                                           'We encountered an internal error. '
                                           'Please try again.'))
            else:
                self.send_s3_error(S3Error(status, f.get('code') or 'InjectedFault',
                                           'fault injected by s3_fake'))
            return True
        return False

    # -- SigV4
    def authenticate(self):
        st = self.server.state
        a = st.args
        hdrs = {}
        for k in set(n.lower() for n in self.headers.keys()):
            vals = self.headers.get_all(k)
            hdrs[k] = ','.join(vals)
        self._payload_mode = None
        auth = self.headers.get('Authorization')
        if auth is None:
            q = dict(query_pairs(self._raw_query))
            if 'X-Amz-Algorithm' in q:
                return self.authenticate_presigned(q, hdrs)
            if 'AWSAccessKeyId' in q or 'Signature' in q:
                raise S3Error(400, 'InvalidRequest', 'Signature Version 2 presigned URLs are '
                              'not supported by this fake; use SigV4 (X-Amz-Algorithm).')
            raise S3Error(403, 'AccessDenied', 'Access Denied (anonymous request)')
        if not auth.startswith('AWS4-HMAC-SHA256 '):
            if auth.startswith('AWS '):
                raise S3Error(400, 'InvalidRequest', 'Signature Version 2 is not supported '
                              'by this fake; use AWS4-HMAC-SHA256.')
            raise S3Error(400, 'AuthorizationHeaderMalformed',
                          'The authorization header is malformed; unsupported algorithm.')
        fields = {}
        for p in auth[len('AWS4-HMAC-SHA256 '):].split(','):
            k, eq, v = p.strip().partition('=')
            if not eq:
                raise S3Error(400, 'AuthorizationHeaderMalformed',
                              'The authorization header is malformed; %r' % p)
            fields[k] = v
        for need in ('Credential', 'SignedHeaders', 'Signature'):
            if need not in fields:
                raise S3Error(400, 'AuthorizationHeaderMalformed',
                              'The authorization header is malformed; missing %s.' % need)
        amzdate = self.headers.get('x-amz-date')
        self._check_credential_and_date(fields['Credential'], amzdate)
        signed = fields['SignedHeaders']
        signed_list = signed.split(';')
        if 'host' not in signed_list:
            raise S3Error(403, 'AccessDenied', "The 'host' header must be signed.")
        for bad in botocore.auth.SIGNED_HEADERS_BLACKLIST:
            if bad in signed_list:
                raise S3Error(403, 'SignatureDoesNotMatch',
                              'Header %r is signed; botocore (the reference signer) never '
                              'signs it and clients must not (proxies/libcurl alter it).'
                              % bad)
        unsigned = sorted(h for h in hdrs if h.startswith('x-amz-') and h not in signed_list)
        if unsigned:
            raise S3Error(403, 'AccessDenied', 'There were headers present in the request '
                          'which were not signed', HeadersNotSigned=', '.join(unsigned))
        sha = self.headers.get('x-amz-content-sha256')
        if sha is None:
            raise S3Error(400, 'InvalidRequest', 'Missing required header for this request: '
                          'x-amz-content-sha256')
        sha = sha.strip()
        if sha == STREAMING_SIGNED_TRAILER:
            raise S3Error(501, 'NotImplemented', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER '
                          'is not supported by this fake.')
        if not (re.match(r'^[0-9a-f]{64}$', sha) or sha in (
                UNSIGNED, STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER)):
            raise S3Error(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, '
                          'STREAMING-... or a valid sha256 value.')
        if sha in (STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER):
            if self.headers.get('x-amz-decoded-content-length') is None:
                raise S3Error(411, 'MissingContentLength', 'aws-chunked upload needs '
                              'x-amz-decoded-content-length')
        try:
            exp, cr, sts, bsigned = sigv4_expected(
                self.command, self._raw_path, self._raw_query, hdrs, signed, amzdate,
                self._region, a.access_key, a.secret_key)
        except UnicodeDecodeError:
            raise S3Error(400, 'InvalidURI', 'Could not parse the specified URI.')
        if bsigned != signed:
            raise S3Error(403, 'SignatureDoesNotMatch',
                          'SignedHeaders %r is not in canonical form (expected %r: lower '
                          'case, sorted, unique)' % (signed, bsigned))
        if not hmac.compare_digest(exp, fields['Signature']):
            raise S3Error(403, 'SignatureDoesNotMatch',
                          'The request signature we calculated does not match the '
                          'signature you provided. Check your key and signing method.',
                          AWSAccessKeyId=a.access_key, StringToSign=sts,
                          SignatureProvided=fields['Signature'], CanonicalRequest=cr)
        self._payload_mode = sha
        self._amzdate = amzdate
        self._scope = '/'.join([amzdate[:8], self._region, 's3', 'aws4_request'])
        self._signing_key = signing_key(a.secret_key, amzdate[:8], self._region)
        self._seed_signature = exp

    def _check_credential_and_date(self, credential, amzdate, presigned=False):
        a = self.server.state.args
        cred = credential.split('/')
        if len(cred) != 5:
            raise S3Error(400, 'AuthorizationHeaderMalformed',
                          'The authorization header is malformed; the Credential is '
                          'mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
                          'aws4_request".')
        ak, date, region, service, term = cred
        if ak != a.access_key:
            raise S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided '
                          'does not exist in our records.', AWSAccessKeyId=ak)
        if service != 's3' or term != 'aws4_request':
            raise S3Error(400, 'AuthorizationHeaderMalformed',
                          'The authorization header is malformed; incorrect service or '
                          'terminator in the credential scope.')
        if region != a.region:
            raise S3Error(400, 'AuthorizationHeaderMalformed',
                          "The authorization header is malformed; the region '%s' is wrong;"
                          " expecting '%s'" % (region, a.region), Region=a.region)
        if amzdate is None:
            raise S3Error(403, 'AccessDenied', 'AWS authentication requires a valid Date '
                          'or x-amz-date header (this fake requires x-amz-date)')
        try:
            t = datetime.datetime.strptime(amzdate, '%Y%m%dT%H%M%SZ') \
                .replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise S3Error(403, 'AccessDenied', 'x-amz-date is not YYYYMMDDTHHMMSSZ')
        if not presigned and abs(time.time() - t) > MAX_SKEW:
            raise S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request '
                          'time and the current time is too large.',
                          RequestTime=amzdate, ServerTime=iso8601(time.time()),
                          MaxAllowedSkewMilliseconds=MAX_SKEW * 1000)
        if date != amzdate[:8]:
            raise S3Error(400, 'AuthorizationHeaderMalformed',
                          'Invalid credential date. Date is not the same as X-Amz-Date.')
        self._region = region
        self._amz_time = t
        return t

    def authenticate_presigned(self, q, hdrs):
        a = self.server.state.args
        if q.get('X-Amz-Algorithm') != 'AWS4-HMAC-SHA256':
            raise S3Error(400, 'AuthorizationQueryParametersError',
                          'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
        for need in ('X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders',
                     'X-Amz-Signature', 'X-Amz-Expires'):
            if need not in q:
                raise S3Error(400, 'AuthorizationQueryParametersError',
                              'Query-string authentication requires %s' % need)
        amzdate = q['X-Amz-Date']
        t = self._check_credential_and_date(q['X-Amz-Credential'], amzdate, presigned=True)
        if time.time() > t + int(q['X-Amz-Expires']):
            raise S3Error(403, 'AccessDenied', 'Request has expired')
        signed = q['X-Amz-SignedHeaders']
        exp, cr, sts, bsigned = sigv4_expected(
            self.command, self._raw_path, self._raw_query, hdrs, signed, amzdate,
            self._region, a.access_key, a.secret_key, query_auth=True)
        if not hmac.compare_digest(exp, q['X-Amz-Signature']):
            raise S3Error(403, 'SignatureDoesNotMatch',
                          'The request signature we calculated does not match the '
                          'signature you provided.', StringToSign=sts,
                          CanonicalRequest=cr, SignatureProvided=q['X-Amz-Signature'])
        self._payload_mode = UNSIGNED
        self._amzdate = amzdate

    # -- admin
    def admin(self, path, q):
        st = self.server.state

        def reply(obj, status=200):
            body = json.dumps(obj, indent=1, default=str).encode()
            self._body_consumed = True
            self.drain_admin()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

        if path == '/__fault':
            with st.lock:
                if self.command == 'DELETE' or 'reset' in q:
                    st.faults = []
                    return reply({'faults': []})
                if self.command == 'POST':
                    try:
                        r = {'nth': int(q.get('nth', '1')),
                             'count': int(q.get('count', '1')),
                             'status': int(q['status']) if 'status' in q else None,
                             'stall_ms': int(q.get('stall_ms', '0')),
                             'drop': q.get('drop', '0') not in ('0', '', 'false'),
                             'where': q.get('where', 'before'),
                             'method': q.get('method'), 'op': q.get('op'),
                             'match': q.get('match'), 'code': q.get('code')}
                    except ValueError as e:
                        return reply({'error': str(e)}, 400)
                    if r['where'] not in ('before', 'mid'):
                        return reply({'error': 'where must be before or mid'}, 400)
                    if not (r['status'] or r['stall_ms'] or r['drop']):
                        return reply({'error': 'need status, stall_ms or drop'}, 400)
                    st.fault_seq += 1
                    r.update(id=st.fault_seq, seen=0, fired=0, remaining=r['count'])
                    st.faults.append(r)
                    return reply(r)
                return reply({'faults': st.faults})
        if path == '/__log':
            with st.lock:
                if self.command == 'DELETE' or 'reset' in q:
                    st.log = []
                    return reply({'log': []})
                since = int(q.get('since', '0'))
                return reply({'log': [e for e in st.log if e['seq'] > since],
                              'next_seq': st.req_seq})
        if path == '/__state':
            with st.lock:
                return reply({
                    'buckets': {b.name: {
                        'object_lock': b.lock, 'created': iso8601(b.created),
                        'objects': {k: o.to_json() for k, o in sorted(b.objects.items())}}
                        for b in st.buckets.values()},
                    'uploads': [{'bucket': u.bucket, 'key': u.key, 'upload_id': u.id,
                                 'initiated': iso8601(u.initiated),
                                 'parts': {n: {'size': p[1], 'etag': p[2]}
                                           for n, p in sorted(u.parts.items())}}
                                for u in st.uploads.values()],
                    'requests': st.req_seq, 'clock_offset': st.clock_offset,
                    'page_size': st.args.page_size})
        if path == '/__lock' and self.command == 'POST':
            # mark objects as locked, as PutObjectRetention/LegalHold would
            with st.lock:
                b = st.buckets.get(q.get('bucket', ''))
                if b is None:
                    return reply({'error': 'no such bucket'}, 404)
                if not b.lock:
                    return reply({'error': 'bucket without Object Lock'}, 400)
                mode = q.get('mode', 'COMPLIANCE').upper()
                hold = q.get('legal_hold', '0') not in ('0', '', 'false')
                try:
                    days = float(q.get('days', '0' if hold else '1'))
                except ValueError as e:
                    return reply({'error': str(e)}, 400)
                if mode not in ('GOVERNANCE', 'COMPLIANCE') or days < 0 or \
                        (days == 0 and not hold):
                    return reply({'error': 'need mode GOVERNANCE|COMPLIANCE and '
                                  'days > 0, or legal_hold=1'}, 400)
                prefix, match = q.get('prefix', ''), q.get('match')
                done = []
                for k, o in sorted(b.objects.items()):
                    if not k.startswith(prefix) or (match and match not in k):
                        continue
                    if days > 0:
                        o.lock_mode = mode
                        o.retain_until = st.now_lock() + days * 86400
                    if hold:
                        o.legal_hold = True
                    done.append(k)
                return reply({'locked': done})
        if path == '/__clock':
            with st.lock:
                if 'offset_s' in q:
                    st.clock_offset = float(q['offset_s'])
                return reply({'clock_offset': st.clock_offset})
        return reply({'error': 'unknown admin endpoint'}, 404)

    def drain_admin(self):
        self._body_consumed = False
        self._expect = False
        self.drain()

    # ---------------------------------------------------------- operations
    def bucket(self, name):
        b = self.server.state.buckets.get(name)
        if b is None:
            raise S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist',
                          BucketName=name)
        return b

    def op_Unknown(self, bucket, key, q):
        raise S3Error(501, 'NotImplemented', 'A header or query you provided implies '
                      'functionality that is not implemented (by this fake).')

    def op_ListBuckets(self, bucket, key, q):
        st = self.server.state
        with st.lock:
            items = ''.join('<Bucket>%s%s</Bucket>' % (x('Name', b.name),
                                                       x('CreationDate', iso8601(b.created)))
                            for b in sorted(st.buckets.values(), key=lambda b: b.name))
        self.send_xml(200, '<ListAllMyBucketsResult xmlns="%s"><Owner>%s%s</Owner>'
                      '<Buckets>%s</Buckets></ListAllMyBucketsResult>'
                      % (S3_NS, x('ID', 'fakeowner'), x('DisplayName', 'fake'), items))

    def op_CreateBucket(self, bucket, key, q):
        st = self.server.state
        body, _ = self.read_small_body()
        if body.strip():
            parse_xml(body)
        if not BUCKET_RE.match(bucket) or '..' in bucket:
            raise S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.',
                          BucketName=bucket)
        lock = self.headers.get('x-amz-bucket-object-lock-enabled', '').lower() == 'true'
        with st.lock:
            if bucket in st.buckets:
                raise S3Error(409, 'BucketAlreadyOwnedByYou', 'Your previous request to '
                              'create the named bucket succeeded and you already own it.',
                              BucketName=bucket)
            st.buckets[bucket] = Bucket(bucket, lock)
        self.send(200, headers=[('Location', '/' + bucket)])

    def op_HeadBucket(self, bucket, key, q):
        with self.server.state.lock:
            self.bucket(bucket)
        self.send(200, headers=[('x-amz-bucket-region', self.server.state.args.region)])

    def op_DeleteBucket(self, bucket, key, q):
        st = self.server.state
        with st.lock:
            b = self.bucket(bucket)
            if b.objects or any(u.bucket == bucket for u in st.uploads.values()):
                raise S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is '
                              'not empty', BucketName=bucket)
            del st.buckets[bucket]
        self.send(204)

    def op_GetBucketLocation(self, bucket, key, q):
        with self.server.state.lock:
            self.bucket(bucket)
        r = self.server.state.args.region
        self.send_xml(200, '<LocationConstraint xmlns="%s">%s</LocationConstraint>'
                      % (S3_NS, '' if r == 'us-east-1' else xml_escape(r)))

    def op_GetBucketVersioning(self, bucket, key, q):
        with self.server.state.lock:
            b = self.bucket(bucket)
        self.send_xml(200, '<VersioningConfiguration xmlns="%s">%s</VersioningConfiguration>'
                      % (S3_NS, x('Status', 'Enabled') if b.lock else ''))

    def op_GetObjectLockConfiguration(self, bucket, key, q):
        with self.server.state.lock:
            b = self.bucket(bucket)
        if not b.lock:
            raise S3Error(404, 'ObjectLockConfigurationNotFoundError',
                          'Object Lock configuration does not exist for this bucket',
                          BucketName=bucket)
        rule = ''
        if b.default_retention:
            mode, unit, n = b.default_retention
            rule = '<Rule><DefaultRetention>%s%s</DefaultRetention></Rule>' % (
                x('Mode', mode), x(unit, n))
        self.send_xml(200, '<ObjectLockConfiguration xmlns="%s">%s%s</ObjectLockConfiguration>'
                      % (S3_NS, x('ObjectLockEnabled', 'Enabled'), rule))

    def op_PutObjectLockConfiguration(self, bucket, key, q):
        body, _ = self.read_small_body()
        if not self.has_integrity_header():
            raise S3Error(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header '
                          'is required for Put Object Lock Configuration requests')
        root = parse_xml(body)
        with self.server.state.lock:
            b = self.bucket(bucket)
            if not b.lock:
                raise S3Error(409, 'InvalidBucketState', 'Object Lock configuration cannot '
                              'be enabled on existing buckets')
            dr = root.find('Rule/DefaultRetention')
            if dr is None:
                b.default_retention = None
            else:
                mode = dr.findtext('Mode')
                if mode not in ('GOVERNANCE', 'COMPLIANCE'):
                    raise S3Error(400, 'MalformedXML', 'bad Mode')
                unit = 'Days' if dr.find('Days') is not None else 'Years'
                try:
                    n = int(dr.findtext(unit))
                except (TypeError, ValueError):
                    raise S3Error(400, 'MalformedXML', 'need Days or Years')
                b.default_retention = (mode, unit, n)
        self.send(200)

    # ListObjects(V2) core
    def _list(self, b, prefix, delimiter, marker, max_keys):
        """Returns (items, truncated, last) where items are ('key', obj) or
        ('prefix', str)."""
        out = []
        last = None
        seen_cp = None
        truncated = False
        for k in sorted(b.objects):
            if not k.startswith(prefix):
                continue
            if marker is not None and k <= marker:
                continue
            if marker is not None and delimiter and marker.endswith(delimiter) and \
                    k.startswith(marker):
                continue   # inside a common prefix already returned
            item = ('key', k)
            if delimiter:
                i = k.find(delimiter, len(prefix))
                if i >= 0:
                    cp = k[:i + len(delimiter)]
                    if cp == seen_cp:
                        continue
                    item = ('prefix', cp)
            if len(out) >= max_keys:
                truncated = bool(out)
                break
            if item[0] == 'prefix':
                seen_cp = item[1]
            out.append(item)
            last = item[1]
        return out, truncated, last

    def _max_keys(self, q, name='max-keys'):
        try:
            mk = int(q.get(name, '1000'))
            if mk < 0:
                raise ValueError
        except ValueError:
            raise S3Error(400, 'InvalidArgument', 'Provided %s not an integer or within '
                          'integer range' % name, ArgumentName=name)
        return min(mk, 1000, self.server.state.args.page_size)

    def op_ListObjectsV2(self, bucket, key, q):
        st = self.server.state
        prefix = q.get('prefix', '')
        delim = q.get('delimiter', '')
        enc = q.get('encoding-type')
        if enc not in (None, 'url'):
            raise S3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in '
                          'Request', ArgumentName='encoding-type')
        mk = self._max_keys(q)
        marker = q.get('start-after') or None
        token = q.get('continuation-token')
        if token is not None:
            try:
                marker = base64.urlsafe_b64decode(token.encode() + b'==').decode()
                if not marker.startswith('t:'):
                    raise ValueError
                marker = marker[2:]
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise S3Error(400, 'InvalidArgument', 'The continuation token provided is '
                              'incorrect', ArgumentName='continuation-token')
        with st.lock:
            b = self.bucket(bucket)
            items, trunc, last = self._list(b, prefix, delim, marker, mk)
            objs = {k: b.objects[k] for t, k in items if t == 'key'}

        def e(s):
            return urllib.parse.quote_plus(s, safe='/') if enc == 'url' else s
        parts = ['<ListBucketResult xmlns="%s">' % S3_NS, x('Name', bucket),
                 x('Prefix', e(prefix)), x('KeyCount', len(items)), x('MaxKeys', mk)]
        if delim:
            parts.append(x('Delimiter', e(delim)))
        if enc:
            parts.append(x('EncodingType', enc))
        parts.append(x('IsTruncated', 'true' if trunc else 'false'))
        if token is not None:
            parts.append(x('ContinuationToken', token))
        if q.get('start-after'):
            parts.append(x('StartAfter', e(q['start-after'])))
        if trunc:
            parts.append(x('NextContinuationToken',
                           base64.urlsafe_b64encode(('t:' + last).encode()).decode()
                           .rstrip('=')))
        for t, k in items:
            if t == 'key':
                o = objs[k]
                parts.append('<Contents>%s%s%s%s%s</Contents>' % (
                    x('Key', e(k)), x('LastModified', iso8601(o.mtime)),
                    x('ETag', o.etag), x('Size', o.size), x('StorageClass', 'STANDARD')))
            else:
                parts.append('<CommonPrefixes>%s</CommonPrefixes>' % x('Prefix', e(k)))
        parts.append('</ListBucketResult>')
        self.send_xml(200, ''.join(parts))

    def op_ListObjects(self, bucket, key, q):
        st = self.server.state
        prefix = q.get('prefix', '')
        delim = q.get('delimiter', '')
        enc = q.get('encoding-type')
        mk = self._max_keys(q)
        marker = q.get('marker') or None
        with st.lock:
            b = self.bucket(bucket)
            items, trunc, last = self._list(b, prefix, delim, marker, mk)
            objs = {k: b.objects[k] for t, k in items if t == 'key'}

        def e(s):
            return urllib.parse.quote_plus(s, safe='/') if enc == 'url' else s
        parts = ['<ListBucketResult xmlns="%s">' % S3_NS, x('Name', bucket),
                 x('Prefix', e(prefix)), x('Marker', e(marker or '')), x('MaxKeys', mk),
                 x('IsTruncated', 'true' if trunc else 'false')]
        if delim:
            parts.append(x('Delimiter', e(delim)))
        if enc:
            parts.append(x('EncodingType', enc))
        if trunc and delim:
            parts.append(x('NextMarker', e(last)))
        for t, k in items:
            if t == 'key':
                o = objs[k]
                parts.append('<Contents>%s%s%s%s%s</Contents>' % (
                    x('Key', e(k)), x('LastModified', iso8601(o.mtime)),
                    x('ETag', o.etag), x('Size', o.size), x('StorageClass', 'STANDARD')))
            else:
                parts.append('<CommonPrefixes>%s</CommonPrefixes>' % x('Prefix', e(k)))
        parts.append('</ListBucketResult>')
        self.send_xml(200, ''.join(parts))

    # object attributes from request headers (PutObject, CreateMultipartUpload)
    def _object_attrs(self, b, need_integrity):
        h = self.headers
        meta = {}
        for name in set(n.lower() for n in h.keys()):
            if name.startswith('x-amz-meta-'):
                meta[name[len('x-amz-meta-'):]] = ','.join(h.get_all(name))
        mode = h.get('x-amz-object-lock-mode')
        until = h.get('x-amz-object-lock-retain-until-date')
        hold = h.get('x-amz-object-lock-legal-hold')
        attrs = {'content_type': h.get('Content-Type') or 'binary/octet-stream',
                 'meta': meta, 'lock_mode': None, 'retain_until': None,
                 'legal_hold': False}
        if mode or until or hold:
            if not b.lock:
                raise S3Error(400, 'InvalidRequest', 'Bucket is missing Object Lock '
                              'Configuration')
            if need_integrity and not self.has_integrity_header():
                raise S3Error(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP '
                              'header is required for Put Object requests with Object '
                              'Lock parameters')
        if bool(mode) != bool(until):
            raise S3Error(400, 'InvalidArgument', 'x-amz-object-lock-retain-until-date and '
                          'x-amz-object-lock-mode must both be supplied')
        if mode:
            if mode not in ('GOVERNANCE', 'COMPLIANCE'):
                raise S3Error(400, 'InvalidArgument', 'Unknown wormMode directive.',
                              ArgumentName='x-amz-object-lock-mode', ArgumentValue=mode)
            try:
                t = parse_iso(until)
            except ValueError:
                raise S3Error(400, 'InvalidArgument', 'The retain until date must be '
                              'provided in ISO 8601 format')
            if t <= self.server.state.now_lock():
                raise S3Error(400, 'InvalidArgument', 'The retain until date must be in '
                              'the future!')
            attrs['lock_mode'], attrs['retain_until'] = mode, t
        elif b.lock and b.default_retention:
            m, unit, n = b.default_retention
            attrs['lock_mode'] = m
            attrs['retain_until'] = self.server.state.now_lock() + n * 86400 * (
                365 if unit == 'Years' else 1)
        if hold:
            if hold not in ('ON', 'OFF'):
                raise S3Error(400, 'InvalidArgument', 'Legal Hold must be ON or OFF')
            attrs['legal_hold'] = hold == 'ON'
        return attrs

    def _obj_headers(self, o):
        hs = [('ETag', o.etag), ('Last-Modified', http_date(o.mtime)),
              ('Content-Type', o.content_type), ('Accept-Ranges', 'bytes')]
        for k, v in sorted(o.meta.items()):
            hs.append(('x-amz-meta-' + k, v))
        if o.version_id:
            hs.append(('x-amz-version-id', o.version_id))
        if o.lock_mode:
            hs.append(('x-amz-object-lock-mode', o.lock_mode))
            hs.append(('x-amz-object-lock-retain-until-date', iso8601(o.retain_until)))
        if o.legal_hold:
            hs.append(('x-amz-object-lock-legal-hold', 'ON'))
        if o.parts_count:
            hs.append(('x-amz-mp-parts-count', str(o.parts_count)))
        return hs

    def _if_none_match(self):
        """A conditional write (PutObject, CompleteMultipartUpload): True
        for If-None-Match: *.  As AWS: any other value, or If-Match with
        it, is 501 NotImplemented."""
        v = self.headers.get('If-None-Match')
        if v is None:
            return False
        if v.strip() != '*' or self.headers.get('If-Match') is not None:
            raise S3Error(501, 'NotImplemented', 'A header you provided implies '
                          'functionality that is not implemented', Header='If-None-Match')
        return True

    def _store(self, b, key, path, size, etag, attrs, parts_count=None,
               if_none_match=False):
        if if_none_match and key in b.objects:
            raise S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions '
                          'you specified did not hold', Condition='If-None-Match')
        o = Obj()
        o.path, o.size, o.etag = path, size, etag
        o.content_type, o.meta = attrs['content_type'], attrs['meta']
        o.lock_mode, o.retain_until = attrs['lock_mode'], attrs['retain_until']
        o.legal_hold = attrs['legal_hold']
        o.mtime = time.time()
        o.version_id = uuid.uuid4().hex if b.lock else None
        o.checksums = {}
        o.parts_count = parts_count
        old = b.objects.get(key)
        if old is not None:
            self._check_delete_allowed(old, key)
        b.objects[key] = o
        if old is not None:
            rm(old.path)
        return o

    def _check_delete_allowed(self, o, key):
        if o.legal_hold:
            raise S3Error(403, 'AccessDenied', 'Access Denied because object protected by '
                          'object lock (legal hold).', Key=key)
        if o.lock_mode and o.retain_until and o.retain_until > self.server.state.now_lock():
            bypass = self.headers.get('x-amz-bypass-governance-retention', '').lower() == 'true'
            if o.lock_mode == 'GOVERNANCE' and bypass:
                return
            raise S3Error(403, 'AccessDenied', 'Access Denied because object protected by '
                          'object lock.', Key=key)

    def op_PutObject(self, bucket, key, q):
        st = self.server.state
        if self.headers.get('x-amz-copy-source'):
            return self.op_Unknown(bucket, key, q)
        inm = self._if_none_match()
        with st.lock:
            b = self.bucket(bucket)
            attrs = self._object_attrs(b, need_integrity=True)
        path, h = self.read_body()
        dest = st.new_obj_path()
        os.rename(path, dest)
        etag = '"%s"' % h.md5.hexdigest()
        try:
            with st.lock:
                b = self.bucket(bucket)
                # the condition holds when the object would be stored
                o = self._store(b, key, dest, h.size, etag, attrs, if_none_match=inm)
        except S3Error:
            rm(dest)
            raise
        hs = [('ETag', etag)]
        if o.version_id:
            hs.append(('x-amz-version-id', o.version_id))
        for a in CHECKSUM_ALGOS:
            if self.headers.get('x-amz-checksum-' + a):
                hs.append(('x-amz-checksum-' + a, h.checksum_b64(a)))
        self.send(200, headers=hs)

    def _get_obj(self, bucket, key):
        with self.server.state.lock:
            b = self.bucket(bucket)
            o = b.objects.get(key)
            if o is None:
                raise S3Error(404, 'NoSuchKey', 'The specified key does not exist.', Key=key)
            return o

    def _range(self, o):
        rng = self.headers.get('Range')
        if not rng:
            return None
        m = re.match(r'^bytes=(\d*)-(\d*)$', rng.strip())
        if not m or (m.group(1) == '' and m.group(2) == ''):
            return None   # multiple or malformed ranges: ignored, whole object
        size = o.size
        if m.group(1) == '':
            n = int(m.group(2))
            if n == 0 or size == 0:
                raise S3Error(416, 'InvalidRange', 'The requested range is not satisfiable',
                              RangeRequested=rng, ActualObjectSize=size)
            return max(0, size - n), size - 1
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if start >= size or end < start:
            raise S3Error(416, 'InvalidRange', 'The requested range is not satisfiable',
                          RangeRequested=rng, ActualObjectSize=size)
        return start, min(end, size - 1)

    def _conditional(self, o):
        inm = self.headers.get('If-None-Match')
        im = self.headers.get('If-Match')
        if im is not None and im.strip() not in (o.etag, '*'):
            raise S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions '
                          'you specified did not hold', Condition='If-Match')
        if inm is not None and inm.strip() in (o.etag, '*'):
            return 304
        return None

    def op_HeadObject(self, bucket, key, q):
        o = self._get_obj(bucket, key)
        if self._conditional(o):
            return self.send(304, headers=[('ETag', o.etag)])
        r = self._range(o)
        hs = self._obj_headers(o)
        if r:
            hs += [('Content-Range', 'bytes %d-%d/%d' % (r[0], r[1], o.size)),
                   ('Content-Length', str(r[1] - r[0] + 1))]
            return self.send(206, headers=hs, ctype=None)
        hs.append(('Content-Length', str(o.size)))
        self.send(200, headers=hs, ctype=None)

    def op_GetObject(self, bucket, key, q):
        o = self._get_obj(bucket, key)
        if self._conditional(o):
            return self.send(304, headers=[('ETag', o.etag)])
        r = self._range(o)
        hs = self._obj_headers(o)
        status = 200
        start, length = 0, o.size
        if r:
            status = 206
            start, length = r[0], r[1] - r[0] + 1
            hs.append(('Content-Range', 'bytes %d-%d/%d' % (r[0], r[1], o.size)))
        try:
            fh = open(o.path, 'rb')
        except FileNotFoundError:   # replaced meanwhile
            raise S3Error(404, 'NoSuchKey', 'The specified key does not exist.', Key=key)
        with fh:
            self.drain()
            self._entry['status'] = status
            self.send_response(status)
            self._std_headers()
            for k, v in hs:
                self.send_header(k, v)
            self.send_header('Content-Length', str(length))
            self.end_headers()
            fh.seek(start)
            left = length
            half = length // 2
            sent = 0
            f = self._fault
            while left:
                if f and f.get('where') == 'mid' and sent >= half:
                    if f.get('stall_ms'):
                        self._entry['fault'] = {'id': f['id'], 'stall_ms': f['stall_ms'],
                                                'where': 'mid'}
                        self.wfile.flush()
                        time.sleep(f['stall_ms'] / 1000.0)
                    if f.get('drop') or f.get('status'):
                        self._entry['fault'] = {'id': f['id'], 'drop': True, 'where': 'mid'}
                        self._entry['status'] = 'dropped-mid-body'
                        self.close_connection = True
                        self.wfile.flush()
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    f = None
                n = min(left, 256 * 1024, max(1, half - sent) if f else left)
                data = fh.read(n)
                if not data:
                    raise ConnectionError('object file truncated')
                self.wfile.write(data)
                sent += len(data)
                left -= len(data)

    def op_DeleteObject(self, bucket, key, q):
        st = self.server.state
        with st.lock:
            b = self.bucket(bucket)
            o = b.objects.get(key)
            if o is not None:
                vid = q.get('versionId')
                if vid is not None and vid != o.version_id:
                    return self.send(204)
                self._check_delete_allowed(o, key)
                del b.objects[key]
                rm(o.path)
        self.send(204)

    def op_DeleteObjects(self, bucket, key, q):
        st = self.server.state
        with st.lock:
            self.bucket(bucket)
        body, _ = self.read_small_body()
        if not self.has_integrity_header():
            raise S3Error(400, 'InvalidRequest', 'Missing required header for this request: '
                          'Content-MD5 (or x-amz-checksum-*)')
        root = parse_xml(body)
        if root.tag != 'Delete':
            raise S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or '
                          'did not validate against our published schema.')
        quiet = (root.findtext('Quiet') or '').strip().lower() == 'true'
        objs = root.findall('Object')
        if not objs or len(objs) > 1000:
            raise S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or '
                          'did not validate against our published schema (1-1000 Objects).')
        out = []
        self._entry['delete_keys'] = [ob.findtext('Key') for ob in objs]
        with st.lock:
            b = self.bucket(bucket)
            for ob in objs:
                k = ob.findtext('Key')
                if k is None:
                    raise S3Error(400, 'MalformedXML', 'Object without Key')
                vid = ob.findtext('VersionId')
                o = b.objects.get(k)
                try:
                    if o is not None and (vid is None or vid == o.version_id):
                        self._check_delete_allowed(o, k)
                        del b.objects[k]
                        rm(o.path)
                    if not quiet:
                        out.append('<Deleted>%s%s</Deleted>' % (
                            x('Key', k), x('VersionId', vid) if vid else ''))
                except S3Error as e:
                    out.append('<Error>%s%s%s</Error>' % (x('Key', k), x('Code', e.code),
                                                           x('Message', e.message)))
        self.send_xml(200, '<DeleteResult xmlns="%s">%s</DeleteResult>' % (S3_NS, ''.join(out)))

    def op_PutObjectRetention(self, bucket, key, q):
        body, _ = self.read_small_body()
        if not self.has_integrity_header():
            raise S3Error(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header '
                          'is required for Put Object Retention requests')
        root = parse_xml(body)
        mode = root.findtext('Mode')
        until = root.findtext('RetainUntilDate')
        st = self.server.state
        with st.lock:
            b = self.bucket(bucket)
            if not b.lock:
                raise S3Error(400, 'InvalidRequest', 'Bucket is missing Object Lock '
                              'Configuration')
            o = b.objects.get(key)
            if o is None:
                raise S3Error(404, 'NoSuchKey', 'The specified key does not exist.', Key=key)
            if (mode is None) != (until is None) or (mode and mode not in
                                                     ('GOVERNANCE', 'COMPLIANCE')):
                raise S3Error(400, 'MalformedXML', 'Retention needs Mode and RetainUntilDate')
            try:
                t = parse_iso(until) if until else None
            except ValueError:
                raise S3Error(400, 'MalformedXML', 'bad RetainUntilDate')
            now = st.now_lock()
            if t is not None and t <= now:
                raise S3Error(400, 'InvalidArgument', 'The retain until date must be in '
                              'the future!')
            active = o.lock_mode and o.retain_until and o.retain_until > now
            weaker = (t is None or t < (o.retain_until or 0) or
                      (o.lock_mode == 'COMPLIANCE' and mode != 'COMPLIANCE'))
            if active and weaker:
                bypass = self.headers.get('x-amz-bypass-governance-retention',
                                          '').lower() == 'true'
                if o.lock_mode == 'COMPLIANCE' or not bypass:
                    raise S3Error(403, 'AccessDenied', 'Access Denied because object '
                                  'protected by object lock.', Key=key)
            o.lock_mode, o.retain_until = mode, t
        self.send(200)

    def op_GetObjectRetention(self, bucket, key, q):
        o = self._get_obj(bucket, key)
        if not o.lock_mode:
            raise S3Error(404, 'NoSuchObjectLockConfiguration', 'The specified object does '
                          'not have a ObjectLock configuration')
        self.send_xml(200, '<Retention xmlns="%s">%s%s</Retention>' % (
            S3_NS, x('Mode', o.lock_mode), x('RetainUntilDate', iso8601(o.retain_until))))

    def op_PutObjectLegalHold(self, bucket, key, q):
        body, _ = self.read_small_body()
        if not self.has_integrity_header():
            raise S3Error(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header '
                          'is required for Put Object Legal Hold requests')
        status = parse_xml(body).findtext('Status')
        if status not in ('ON', 'OFF'):
            raise S3Error(400, 'MalformedXML', 'Status must be ON or OFF')
        with self.server.state.lock:
            b = self.bucket(bucket)
            if not b.lock:
                raise S3Error(400, 'InvalidRequest', 'Bucket is missing Object Lock '
                              'Configuration')
            o = self._get_obj(bucket, key)
            o.legal_hold = status == 'ON'
        self.send(200)

    def op_GetObjectLegalHold(self, bucket, key, q):
        o = self._get_obj(bucket, key)
        self.send_xml(200, '<LegalHold xmlns="%s">%s</LegalHold>' % (
            S3_NS, x('Status', 'ON' if o.legal_hold else 'OFF')))

    # -- multipart
    def _upload(self, bucket, key, q):
        st = self.server.state
        self.bucket(bucket)
        u = st.uploads.get(q.get('uploadId', ''))
        if u is None or u.bucket != bucket or u.key != key:
            raise S3Error(404, 'NoSuchUpload', 'The specified upload does not exist. The '
                          'upload ID may be invalid, or the upload may have been aborted or '
                          'completed.', UploadId=q.get('uploadId', ''))
        return u

    def op_CreateMultipartUpload(self, bucket, key, q):
        st = self.server.state
        self.read_small_body()
        with st.lock:
            b = self.bucket(bucket)
            attrs = self._object_attrs(b, need_integrity=False)
            u = Upload(bucket, key, attrs)
            os.makedirs(os.path.join(st.data_dir, 'uploads', u.id))
            st.uploads[u.id] = u
        self.send_xml(200, '<InitiateMultipartUploadResult xmlns="%s">%s%s%s'
                      '</InitiateMultipartUploadResult>' % (
                          S3_NS, x('Bucket', bucket), x('Key', key), x('UploadId', u.id)))

    def op_UploadPart(self, bucket, key, q):
        st = self.server.state
        if self.headers.get('x-amz-copy-source'):
            return self.op_Unknown(bucket, key, q)
        try:
            n = int(q.get('partNumber', ''))
            if not 1 <= n <= 10000:
                raise ValueError
        except ValueError:
            raise S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 '
                          'and 10000, inclusive', ArgumentName='partNumber')
        with st.lock:
            self._upload(bucket, key, q)
        path, h = self.read_body()
        md5 = h.md5.hexdigest()
        with st.lock:
            try:
                u = self._upload(bucket, key, q)
            except S3Error:
                rm(path)
                raise
            dest = os.path.join(st.data_dir, 'uploads', u.id, '%05d.%s' % (n, uuid.uuid4().hex))
            os.rename(path, dest)
            old = u.parts.get(n)
            u.parts[n] = (dest, h.size, md5, time.time())
            if old:
                rm(old[0])
        hs = [('ETag', '"%s"' % md5)]
        for a in CHECKSUM_ALGOS:
            if self.headers.get('x-amz-checksum-' + a):
                hs.append(('x-amz-checksum-' + a, h.checksum_b64(a)))
        self.send(200, headers=hs)

    def op_CompleteMultipartUpload(self, bucket, key, q):
        st = self.server.state
        inm = self._if_none_match()
        with st.lock:
            self._upload(bucket, key, q)
        body, _ = self.read_small_body()
        root = parse_xml(body)
        if root.tag != 'CompleteMultipartUpload':
            raise S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or '
                          'did not validate against our published schema.')
        req = []
        for p in root.findall('Part'):
            try:
                n = int(p.findtext('PartNumber'))
            except (TypeError, ValueError):
                raise S3Error(400, 'MalformedXML', 'Part without a valid PartNumber')
            et = p.findtext('ETag')
            if et is None:
                raise S3Error(400, 'MalformedXML', 'Part without ETag')
            req.append((n, et.strip()))
        if not req:
            raise S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or '
                          'did not validate against our published schema (no Part).')
        with st.lock:
            u = self._upload(bucket, key, q)
            b = self.bucket(bucket)
            if inm and key in b.objects:
                # evaluated at completion; the upload stays (abort it)
                raise S3Error(412, 'PreconditionFailed', 'At least one of the '
                              'pre-conditions you specified did not hold',
                              Condition='If-None-Match')
            prev = 0
            for n, _ in req:
                if n <= prev:
                    raise S3Error(400, 'InvalidPartOrder', 'The list of parts was not in '
                                  'ascending order. Parts must be ordered by part number.',
                                  UploadId=u.id)
                prev = n
            chosen = []
            for i, (n, et) in enumerate(req):
                p = u.parts.get(n)
                if p is None or et.strip('"').lower() != p[2]:
                    raise S3Error(400, 'InvalidPart', 'One or more of the specified parts '
                                  'could not be found. The part might not have been uploaded,'
                                  ' or the specified entity tag might not have matched the '
                                  "part's entity tag.", UploadId=u.id, PartNumber=n, ETag=et)
                if i < len(req) - 1 and p[1] < st.args.min_part_size:
                    raise S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller '
                                  'than the minimum allowed object size.', UploadId=u.id,
                                  PartNumber=n, ProposedSize=p[1],
                                  MinSizeAllowed=st.args.min_part_size)
                chosen.append(p)
            # take the upload out so that concurrent completes/aborts conflict
            del st.uploads[u.id]
        dest = st.new_obj_path()
        total = 0
        md5s = b''
        try:
            with open(dest, 'wb') as out:
                for p in chosen:
                    with open(p[0], 'rb') as fh:
                        shutil.copyfileobj(fh, out, BLOCK)
                    total += p[1]
                    md5s += bytes.fromhex(p[2])
            etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(chosen))
            with st.lock:
                b = self.bucket(bucket)
                o = self._store(b, key, dest, total, etag, u.attrs, parts_count=len(chosen),
                                if_none_match=inm)
        except BaseException:
            rm(dest)
            with st.lock:
                st.uploads[u.id] = u    # leave the upload as it was
            raise
        shutil.rmtree(os.path.join(st.data_dir, 'uploads', u.id), ignore_errors=True)
        hs = [('x-amz-version-id', o.version_id)] if o.version_id else []
        host = self.headers.get('Host', '127.0.0.1')
        self.send_xml(200, '<CompleteMultipartUploadResult xmlns="%s">%s%s%s%s'
                      '</CompleteMultipartUploadResult>' % (
                          S3_NS, x('Location', 'http://%s/%s/%s' % (
                              host, bucket, urllib.parse.quote(key))),
                          x('Bucket', bucket), x('Key', key), x('ETag', etag)), headers=hs)

    def op_AbortMultipartUpload(self, bucket, key, q):
        st = self.server.state
        with st.lock:
            u = self._upload(bucket, key, q)
            del st.uploads[u.id]
        shutil.rmtree(os.path.join(st.data_dir, 'uploads', u.id), ignore_errors=True)
        self.send(204)

    def op_ListParts(self, bucket, key, q):
        st = self.server.state
        mp = self._max_keys(q, 'max-parts')
        try:
            marker = int(q.get('part-number-marker', '0') or '0')
        except ValueError:
            raise S3Error(400, 'InvalidArgument', 'bad part-number-marker')
        with st.lock:
            u = self._upload(bucket, key, q)
            nums = [n for n in sorted(u.parts) if n > marker]
            page = nums[:mp]
            trunc = len(nums) > mp
            parts = ''.join('<Part>%s%s%s%s</Part>' % (
                x('PartNumber', n), x('LastModified', iso8601(u.parts[n][3])),
                x('ETag', '"%s"' % u.parts[n][2]), x('Size', u.parts[n][1])) for n in page)
        self.send_xml(200, '<ListPartsResult xmlns="%s">%s%s%s%s%s%s%s%s</ListPartsResult>' % (
            S3_NS, x('Bucket', bucket), x('Key', key), x('UploadId', u.id),
            x('PartNumberMarker', marker),
            x('NextPartNumberMarker', page[-1] if page else marker), x('MaxParts', mp),
            x('IsTruncated', 'true' if trunc else 'false'), parts))

    def op_ListMultipartUploads(self, bucket, key, q):
        st = self.server.state
        mu = self._max_keys(q, 'max-uploads')
        prefix = q.get('prefix', '')
        km = q.get('key-marker', '')
        um = q.get('upload-id-marker', '')
        with st.lock:
            self.bucket(bucket)
            ups = sorted((u for u in st.uploads.values()
                          if u.bucket == bucket and u.key.startswith(prefix)),
                         key=lambda u: (u.key, u.initiated, u.id))
            order = [(u.key, u.initiated, u.id) for u in ups]
            if km:
                if um:
                    # uploads of key-marker after upload-id-marker, then later keys
                    idx = next((i for i, o in enumerate(order) if o[0] == km and o[2] == um),
                               None)
                    ups = [u for i, u in enumerate(ups)
                           if u.key > km or (u.key == km and idx is not None and i > idx)]
                else:
                    ups = [u for u in ups if u.key > km]
            page = ups[:mu]
            trunc = len(ups) > mu
            items = ''.join('<Upload>%s%s%s%s</Upload>' % (
                x('Key', u.key), x('UploadId', u.id), x('StorageClass', 'STANDARD'),
                x('Initiated', iso8601(u.initiated))) for u in page)
        nxt = ''
        if page:
            nxt = x('NextKeyMarker', page[-1].key) + x('NextUploadIdMarker', page[-1].id)
        self.send_xml(200, '<ListMultipartUploadsResult xmlns="%s">%s%s%s%s%s%s%s%s'
                      '</ListMultipartUploadsResult>' % (
                          S3_NS, x('Bucket', bucket), x('KeyMarker', km),
                          x('UploadIdMarker', um), nxt, x('Prefix', prefix),
                          x('MaxUploads', mu), x('IsTruncated', 'true' if trunc else 'false'),
                          items))


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # clients going away (and the fake's own drops) are not errors
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    p = argparse.ArgumentParser(description='strict S3 fake for tests (127.0.0.1 only)')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--access-key', required=True)
    p.add_argument('--secret-key', required=True)
    p.add_argument('--region', default='us-east-1')
    p.add_argument('--page-size', type=int, default=1000,
                   help='cap for max-keys / max-parts / max-uploads')
    p.add_argument('--data-dir', help='where object data goes (default: a temp dir '
                   'removed at exit)')
    p.add_argument('--buckets', default='',
                   help='comma-separated buckets to create; NAME:lock enables Object Lock')
    p.add_argument('--port-file', help='write the listening port here')
    p.add_argument('--min-part-size', type=int, default=5 * 1024 * 1024,
                   help='minimum size of a non-last multipart part (default 5 MiB)')
    p.add_argument('--verbose', action='store_true')
    args = p.parse_args(argv)
    if args.page_size < 1:
        p.error('--page-size must be >= 1')
    tmp = None
    if not args.data_dir:
        tmp = args.data_dir = tempfile.mkdtemp(prefix='s3_fake.')
    state = State(args)
    for spec in filter(None, (s.strip() for s in args.buckets.split(','))):
        name, _, flag = spec.partition(':')
        state.buckets[name] = Bucket(name, lock=(flag == 'lock'))

    srv = Server(('127.0.0.1', args.port), Handler)
    srv.state = state
    port = srv.server_address[1]
    if args.port_file:
        tmpf = args.port_file + '.tmp'
        with open(tmpf, 'w') as f:
            f.write('%d\n' % port)
        os.replace(tmpf, args.port_file)
    sys.stderr.write('s3_fake: listening on 127.0.0.1:%d data in %s\n' % (port, args.data_dir))
    sys.stderr.flush()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(os.path.join(args.data_dir, 'tmp'), ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
