#!/usr/bin/env python3
# s3_fake_selftest.py - start s3_fake.py on a free port and drive it with
# botocore clients (and the aws CLI when installed), raw signed HTTP
# requests, and the fault switches.  Prints "N passed, M failed"; exit 0
# when all pass, 1 on failure, 77 (SKIP) when botocore is missing.
#
#   /usr/bin/python3 tests/fakes/s3_fake_selftest.py [-v]
#
# Environment: S3_FAKE_AWS=/path/to/aws picks the CLI (default /usr/bin/aws,
# else `aws` on PATH); S3_FAKE_AWS=none skips the CLI part.
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

try:
    import botocore
    import botocore.auth
    import botocore.exceptions
    import botocore.session
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError:
    print('SKIP: botocore not importable (apt-get install python3-botocore)')
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import s3_fake  # noqa: E402  (for the offline SigV4 vectors)

AK, SK, REGION = 'AKFAKE', 'sk/fake+secret', 'us-east-1'
MIB = 1024 * 1024
VERBOSE = '-v' in sys.argv
PASSED = 0
FAILED = []
BASE = None


def check(name, cond, detail=''):
    global PASSED
    if cond:
        PASSED += 1
        if VERBOSE:
            print('ok   ' + name)
    else:
        FAILED.append(name)
        print('FAIL ' + name + (': ' + str(detail) if detail != '' else ''))
    return cond


def group(fn):
    """Run a test group; an exception counts as one failure."""
    try:
        fn()
    except Exception as e:
        FAILED.append(fn.__name__ + ' (exception)')
        print('FAIL %s raised %r' % (fn.__name__, e))
        traceback.print_exc()


def client(secret=SK, access=AK, attempts=3, read_timeout=30, mode='standard'):
    s = botocore.session.Session()
    s.set_config_variable('credentials_file', '/nonexistent')
    s.set_config_variable('config_file', '/nonexistent')
    return s.create_client(
        's3', endpoint_url=BASE, region_name=REGION,
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=Config(s3={'addressing_style': 'path'}, read_timeout=read_timeout,
                      connect_timeout=5,
                      retries={'total_max_attempts': attempts, 'mode': mode}))


def err_code(e):
    if isinstance(e, botocore.exceptions.ClientError):
        return e.response.get('Error', {}).get('Code'), \
            e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')
    return type(e).__name__, None


def expect_error(name, fn, code, status=None):
    try:
        fn()
    except Exception as e:
        c, s = err_code(e)
        ok = c == code and (status is None or s == status)
        return check(name, ok, 'got %s %s, want %s %s' % (c, s, code, status))
    return check(name, False, 'no error, want %s' % code)


def admin(method, path):
    req = urllib.request.Request(BASE + path, method=method, data=b'' if method == 'POST'
                                 else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def log_since(seq):
    return admin('GET', '/__log?since=%d' % seq)['log']


def log_mark():
    return admin('GET', '/__log')['next_seq']


def fault(**kw):
    q = '&'.join('%s=%s' % (k, v) for k, v in kw.items())
    return admin('POST', '/__fault?' + q)


def fault_reset():
    admin('POST', '/__fault?reset')


class Signer(botocore.auth.S3SigV4Auth):
    payload_override = None

    def payload(self, request):
        if self.payload_override is not None:
            return self.payload_override
        return super().payload(request)


def signed_headers(method, target, body=b'', headers=None, secret=SK,
                   payload_hash=None):
    """Sign method+target (path?query, already encoded) with botocore."""
    req = AWSRequest(method=method, url=BASE + target, headers=dict(headers or {}),
                     data=body if isinstance(body, bytes) else b'')
    sg = Signer(Credentials(AK, secret), 's3', REGION)
    sg.payload_override = payload_hash
    sg.add_auth(req)
    return dict(req.headers.items())


def raw(method, target, body=b'', headers=None, secret=SK, payload_hash=None,
        send_headers=None, chunked=False):
    hs = signed_headers(method, target, body, headers, secret, payload_hash)
    if send_headers:
        hs.update(send_headers)
    host, port = BASE[len('http://'):].split(':')
    c = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        if chunked:
            def gen():
                for i in range(0, len(body), 7000):
                    yield body[i:i + 7000]
            c.request(method, target, body=gen(), headers=hs, encode_chunked=True)
        else:
            c.request(method, target, body=body, headers=hs)
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data
    finally:
        c.close()


def code_of(body):
    m = re.search(rb'<Code>([^<]*)</Code>', body)
    return m.group(1).decode() if m else None


# ------------------------------------------------------------------ groups

def t_vectors():
    """The AWS published SigV4 vectors, through the fake's botocore path."""
    sec = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
    akid = 'AKIAIOSFODNN7EXAMPLE'
    d = '20130524T000000Z'
    e = s3_fake.EMPTY_SHA256
    check('vector signing key', s3_fake.signing_key(sec, '20130524', 'us-east-1').hex() ==
          'dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378')
    h = {'host': 'examplebucket.s3.amazonaws.com', 'range': 'bytes=0-9',
         'x-amz-content-sha256': e, 'x-amz-date': d}
    sig = s3_fake.sigv4_expected('GET', '/test.txt', '', h, 'host;range;x-amz-content-sha256;'
                                 'x-amz-date', d, 'us-east-1', akid, sec)
    check('vector GET /test.txt', sig[0] == 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48'
          'dd91039c6036bdb41', sig[0])
    check('vector GET canonical request hash', hashlib.sha256(sig[1].encode()).hexdigest() ==
          '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972')
    body = b'Welcome to Amazon S3.'
    h = {'date': 'Fri, 24 May 2013 00:00:00 GMT', 'host': 'examplebucket.s3.amazonaws.com',
         'x-amz-content-sha256': hashlib.sha256(body).hexdigest(), 'x-amz-date': d,
         'x-amz-storage-class': 'REDUCED_REDUNDANCY'}
    sig = s3_fake.sigv4_expected('PUT', '/test%24file.text', '', h, 'date;host;x-amz-content-'
                                 'sha256;x-amz-date;x-amz-storage-class', d, 'us-east-1',
                                 akid, sec)
    check('vector PUT /test$file.text', sig[0] == '98ad721746da40c64f1a55b78f14c238d841ea13'
          '80cd77a1b5971af0ece108bd', sig[0])
    h = {'host': 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': e, 'x-amz-date': d}
    sig = s3_fake.sigv4_expected('GET', '/', 'lifecycle', h, 'host;x-amz-content-sha256;'
                                 'x-amz-date', d, 'us-east-1', akid, sec)
    check('vector GET ?lifecycle', sig[0] == 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91'
          'ac7a200a0136783543', sig[0])
    sig = s3_fake.sigv4_expected('GET', '/', 'max-keys=2&prefix=J', h, 'host;x-amz-content-'
                                 'sha256;x-amz-date', d, 'us-east-1', akid, sec)
    check('vector GET ?max-keys=2&prefix=J', sig[0] == '34b48302e7b5fa45bde8084f4b7868a86f0'
          'a534bc59db6670ed5711ef69dc6f7', sig[0])
    # streaming vector
    h = {'content-encoding': 'aws-chunked', 'content-length': '66824',
         'host': 's3.amazonaws.com', 'x-amz-content-sha256': s3_fake.STREAMING_SIGNED,
         'x-amz-date': d, 'x-amz-decoded-content-length': '66560',
         'x-amz-storage-class': 'REDUCED_REDUNDANCY'}
    seed = s3_fake.sigv4_expected('PUT', '/examplebucket/chunkObject.txt', '', h,
                                  ';'.join(sorted(h)), d, 'us-east-1', akid, sec)[0]
    check('vector streaming seed', seed == '4f232c4386841ef735655705268965c44a0e4690baa4adea'
          '153f7db9fa80a0a9', seed)
    key = s3_fake.signing_key(sec, '20130524', 'us-east-1')
    scope = '20130524/us-east-1/s3/aws4_request'
    c1 = s3_fake.chunk_signature(key, d, scope, seed, hashlib.sha256(b'a' * 65536).hexdigest())
    c2 = s3_fake.chunk_signature(key, d, scope, c1, hashlib.sha256(b'a' * 1024).hexdigest())
    c3 = s3_fake.chunk_signature(key, d, scope, c2, s3_fake.EMPTY_SHA256)
    check('vector chunk 1', c1 == 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a6548'
          '5a288648', c1)
    check('vector chunk 2', c2 == '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a5'
          '03ef5497', c2)
    check('vector final chunk', c3 == 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323'
          'e279d449df9', c3)


def t_buckets():
    c = client()
    c.create_bucket(Bucket='plain')
    c.create_bucket(Bucket='locked', ObjectLockEnabledForBucket=True)
    names = [b['Name'] for b in c.list_buckets()['Buckets']]
    check('ListBuckets has created buckets', {'plain', 'locked', 'pre'} <= set(names), names)
    c.head_bucket(Bucket='plain')
    check('HeadBucket ok', True)
    expect_error('HeadBucket missing -> 404', lambda: c.head_bucket(Bucket='nope'), '404', 404)
    expect_error('CreateBucket twice -> BucketAlreadyOwnedByYou',
                 lambda: c.create_bucket(Bucket='plain'), 'BucketAlreadyOwnedByYou', 409)
    expect_error('CreateBucket bad name -> InvalidBucketName',
                 lambda: c.create_bucket(Bucket='Bad_Name'), 'InvalidBucketName', 400)
    cfg = c.get_object_lock_configuration(Bucket='locked')['ObjectLockConfiguration']
    check('lock bucket reports ObjectLockEnabled', cfg.get('ObjectLockEnabled') == 'Enabled')


def t_objects():
    c = client()
    body = os.urandom(1000)
    key = 'dir one/obj+plus~tilde%pct=eq&amp;ü.bin'
    r = c.put_object(Bucket='plain', Key=key, Body=body, ContentType='application/x-zb',
                     Metadata={'zb-id': '42', 'mixed': 'Value 1'})
    md5 = hashlib.md5(body).hexdigest()
    check('PUT ETag is quoted md5', r['ETag'] == '"%s"' % md5, r['ETag'])
    g = c.get_object(Bucket='plain', Key=key)
    check('GET body', g['Body'].read() == body)
    check('GET ETag', g['ETag'] == '"%s"' % md5)
    check('GET Content-Type kept', g['ContentType'] == 'application/x-zb', g['ContentType'])
    check('GET metadata kept', g['Metadata'] == {'zb-id': '42', 'mixed': 'Value 1'},
          g['Metadata'])
    h = c.head_object(Bucket='plain', Key=key)
    check('HEAD size/etag/meta', h['ContentLength'] == 1000 and h['ETag'] == '"%s"' % md5
          and h['Metadata'].get('zb-id') == '42')
    g = c.get_object(Bucket='plain', Key=key, Range='bytes=0-9')
    check('Range 0-9', g['Body'].read() == body[:10] and g['ContentRange'] ==
          'bytes 0-9/1000' and g['ResponseMetadata']['HTTPStatusCode'] == 206)
    g = c.get_object(Bucket='plain', Key=key, Range='bytes=990-')
    check('Range 990-', g['Body'].read() == body[990:])
    g = c.get_object(Bucket='plain', Key=key, Range='bytes=-5')
    check('Range suffix -5', g['Body'].read() == body[-5:] and g['ContentRange'] ==
          'bytes 995-999/1000')
    g = c.get_object(Bucket='plain', Key=key, Range='bytes=900-5000')
    check('Range clamped', g['Body'].read() == body[900:])
    expect_error('Range 1000- -> 416 InvalidRange',
                 lambda: c.get_object(Bucket='plain', Key=key, Range='bytes=1000-'),
                 'InvalidRange', 416)
    expect_error('GET missing -> NoSuchKey', lambda: c.get_object(Bucket='plain', Key='nope'),
                 'NoSuchKey', 404)
    expect_error('HEAD missing -> 404', lambda: c.head_object(Bucket='plain', Key='nope'),
                 '404', 404)
    expect_error('PUT into missing bucket -> NoSuchBucket',
                 lambda: c.put_object(Bucket='nobucket', Key='k', Body=b'x'),
                 'NoSuchBucket', 404)
    c.put_object(Bucket='plain', Key='empty', Body=b'')
    check('empty object', c.get_object(Bucket='plain', Key='empty')['Body'].read() == b'')
    c.put_object(Bucket='plain', Key='md5', Body=b'abc',
                 ContentMD5=base64.b64encode(hashlib.md5(b'abc').digest()).decode())
    check('PUT with correct Content-MD5', True)
    expect_error('PUT with wrong Content-MD5 -> BadDigest',
                 lambda: c.put_object(Bucket='plain', Key='md5', Body=b'abd',
                                      ContentMD5=base64.b64encode(
                                          hashlib.md5(b'abc').digest()).decode()),
                 'BadDigest', 400)
    c.put_object(Bucket='plain', Key='cks', Body=b'abc', ChecksumAlgorithm='SHA256')
    check('PUT with x-amz-checksum-sha256', True)
    c.put_object(Bucket='plain', Key='cks', Body=b'abc', ChecksumAlgorithm='CRC32C')
    check('PUT with x-amz-checksum-crc32c', True)
    c.delete_object(Bucket='plain', Key=key)
    expect_error('GET after DELETE -> NoSuchKey', lambda: c.get_object(Bucket='plain', Key=key),
                 'NoSuchKey', 404)
    r = c.delete_object(Bucket='plain', Key='never-existed')
    check('DELETE missing key -> 204', r['ResponseMetadata']['HTTPStatusCode'] == 204)
    s = botocore.session.Session()
    pc = s.create_client('s3', endpoint_url=BASE, region_name=REGION,
                         aws_access_key_id=AK, aws_secret_access_key=SK,
                         config=Config(s3={'addressing_style': 'path'},
                                       signature_version='s3v4'))
    url = pc.generate_presigned_url('get_object', Params={'Bucket': 'plain', 'Key': 'md5'})
    with urllib.request.urlopen(url, timeout=10) as r:
        check('presigned GET', r.read() == b'abc')
    st = admin('GET', '/__state')
    check('/__state shows objects', st['buckets']['plain']['objects']['md5']['size'] == 3)


def t_auth():
    bad = client(secret='wrong-secret', attempts=1)
    expect_error('wrong secret -> SignatureDoesNotMatch 403',
                 lambda: bad.list_objects_v2(Bucket='plain'), 'SignatureDoesNotMatch', 403)
    expect_error('wrong secret PUT -> SignatureDoesNotMatch 403',
                 lambda: bad.put_object(Bucket='plain', Key='x', Body=b'1' * 100000),
                 'SignatureDoesNotMatch', 403)
    expect_error('unknown access key -> InvalidAccessKeyId',
                 lambda: client(access='NOPE', attempts=1).list_buckets(),
                 'InvalidAccessKeyId', 403)
    st, _, b = raw('GET', '/plain?list-type=2', secret='bad')
    check('raw bad signature -> 403 + CanonicalRequest in error', st == 403 and
          code_of(b) == 'SignatureDoesNotMatch' and b'<CanonicalRequest>' in b, b[:200])
    # anonymous
    host, port = BASE[7:].split(':')
    cn = http.client.HTTPConnection(host, int(port), timeout=10)
    cn.request('GET', '/plain/md5')
    r = cn.getresponse()
    b = r.read()
    cn.close()
    check('anonymous -> 403 AccessDenied', r.status == 403 and code_of(b) == 'AccessDenied',
          (r.status, b[:200]))
    # payload hash mismatch
    st, _, b = raw('PUT', '/plain/hm', body=b'hello', payload_hash=hashlib.sha256(b'other')
                   .hexdigest())
    check('x-amz-content-sha256 mismatch -> XAmzContentSHA256Mismatch', st == 400 and
          code_of(b) == 'XAmzContentSHA256Mismatch', (st, b[:200]))
    st, _, b = raw('PUT', '/plain/unsigned', body=b'hello', payload_hash='UNSIGNED-PAYLOAD')
    check('UNSIGNED-PAYLOAD PUT accepted', st == 200, (st, b[:200]))
    # header tampered after signing
    st, _, b = raw('PUT', '/plain/tamper', body=b'x', headers={'x-amz-meta-a': '1'},
                   send_headers={'x-amz-meta-a': '2'})
    check('tampered signed header -> SignatureDoesNotMatch', st == 403 and
          code_of(b) == 'SignatureDoesNotMatch', (st, b[:200]))
    # unsigned x-amz header added
    st, _, b = raw('PUT', '/plain/tamper', body=b'x', send_headers={'x-amz-meta-b': '2'})
    check('unsigned x-amz-* header -> AccessDenied', st == 403 and code_of(b) ==
          'AccessDenied' and b'HeadersNotSigned' in b, (st, b[:200]))
    # clock skew
    old = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(time.time() - 3600))
    hs = signed_headers('GET', '/plain?list-type=2')
    req = AWSRequest(method='GET', url=BASE + '/plain?list-type=2', headers={'X-Amz-Date': old})
    req.context['timestamp'] = old
    sg = botocore.auth.S3SigV4Auth(Credentials(AK, SK), 's3', REGION)
    req.headers['X-Amz-Content-SHA256'] = s3_fake.EMPTY_SHA256
    cr = sg.canonical_request(req)
    hs = {'X-Amz-Date': old, 'X-Amz-Content-SHA256': s3_fake.EMPTY_SHA256,
          'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s'
          % (AK, sg.credential_scope(req), sg.signed_headers(sg.headers_to_sign(req)),
             sg.signature(sg.string_to_sign(req, cr), req))}
    host, port = BASE[7:].split(':')
    cn = http.client.HTTPConnection(host, int(port), timeout=10)
    cn.request('GET', '/plain?list-type=2', headers=hs)
    r = cn.getresponse()
    b = r.read()
    cn.close()
    check('1 h old x-amz-date -> RequestTimeTooSkewed', r.status == 403 and
          code_of(b) == 'RequestTimeTooSkewed', (r.status, b[:200]))
    # wrong region: the fake answers AuthorizationHeaderMalformed with <Region>,
    # which botocore's S3RegionRedirector uses to re-sign for us-east-1.
    s = botocore.session.Session()
    wr = s.create_client('s3', endpoint_url=BASE, region_name='eu-west-1',
                         aws_access_key_id=AK, aws_secret_access_key=SK,
                         config=Config(s3={'addressing_style': 'path'},
                                       retries={'total_max_attempts': 1}))
    m = log_mark()
    wr.list_objects_v2(Bucket='plain')
    lg = [(e['status'], e['error']) for e in log_since(m) if e['op'] == 'ListObjectsV2']
    check('wrong region -> AuthorizationHeaderMalformed, botocore redirects', lg[:1] ==
          [(400, 'AuthorizationHeaderMalformed')] and lg[-1][0] == 200, lg)


def t_http_framing():
    body = os.urandom(50000)
    st, hs, b = raw('PUT', '/plain/chunked', body=body, chunked=True)
    check('Transfer-Encoding: chunked PUT', st == 200 and hs.get('ETag') ==
          '"%s"' % hashlib.md5(body).hexdigest(), (st, b[:200]))
    # Expect: 100-continue, accepted
    port = int(BASE.rsplit(':', 1)[1])

    def expect_put(secret):
        hs = signed_headers('PUT', '/plain/expect', body, {'Content-Length': str(len(body))},
                            secret=secret)
        hs['Expect'] = '100-continue'
        head = 'PUT /plain/expect HTTP/1.1\r\nHost: %s\r\n' % BASE[7:] + ''.join(
            '%s: %s\r\n' % kv for kv in hs.items()) + '\r\n'
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
        s.sendall(head.encode())
        first = b''
        while b'\r\n\r\n' not in first:
            more = s.recv(4096)
            if not more:
                break
            first += more
        if first.startswith(b'HTTP/1.1 100'):
            s.sendall(body)
            rest = b''
            while b'\r\n\r\n' not in rest:
                rest += s.recv(4096)
            s.close()
            return first, rest
        while True:
            more = s.recv(4096)
            if not more:
                break
            first += more
        s.close()
        return first, b''
    first, rest = expect_put(SK)
    check('Expect: 100-continue -> 100 then 200', first.startswith(b'HTTP/1.1 100') and
          rest.startswith(b'HTTP/1.1 200'), (first[:40], rest[:40]))
    first, rest = expect_put('bad')
    check('Expect: 100-continue + bad signature -> 403 before body',
          first.startswith(b'HTTP/1.1 403') and b'SignatureDoesNotMatch' in first, first[:80])
    # keep-alive: several requests on one connection
    host = BASE[7:].split(':')[0]
    cn = http.client.HTTPConnection(host, port, timeout=10)
    ok = True
    for i in range(3):
        hs = signed_headers('GET', '/plain/expect')
        cn.request('GET', '/plain/expect', headers=hs)
        r = cn.getresponse()
        rb = r.read()
        ok = ok and r.status == 200 and rb == body
    sock_reused = cn.sock is not None
    cn.close()
    check('keep-alive: 3 GETs on one connection', ok and sock_reused)
    # aws-chunked with chunk signatures
    data = os.urandom(8192 * 2 + 100)
    chunks = [data[0:8192], data[8192:16384], data[16384:]]
    enc_len = sum(len('%x' % len(ch)) + 17 + 64 + 2 + len(ch) + 2 for ch in chunks + [b''])

    def streaming(tamper):
        amzdate = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
        hdrs = {'Content-Encoding': 'aws-chunked', 'Content-Length': str(enc_len),
                'x-amz-decoded-content-length': str(len(data)), 'X-Amz-Date': amzdate}
        req = AWSRequest(method='PUT', url=BASE + '/plain/streamed', headers=hdrs)
        sg = Signer(Credentials(AK, SK), 's3', REGION)
        sg.payload_override = s3_fake.STREAMING_SIGNED
        req.context['timestamp'] = amzdate
        sg._modify_request_before_signing(req)
        cr = sg.canonical_request(req)
        seed = sg.signature(sg.string_to_sign(req, cr), req)
        auth = 'AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s' % (
            AK, sg.credential_scope(req), sg.signed_headers(sg.headers_to_sign(req)), seed)
        key = s3_fake.signing_key(SK, amzdate[:8], REGION)
        scope = sg.credential_scope(req)
        out = b''
        prev = seed
        for i, ch in enumerate(chunks + [b'']):
            sig = s3_fake.chunk_signature(key, amzdate, scope, prev,
                                          hashlib.sha256(ch).hexdigest())
            prev = sig
            payload = ch
            if tamper and i == 1:
                payload = bytes([ch[0] ^ 1]) + ch[1:]
            out += b'%x;chunk-signature=%s\r\n%s\r\n' % (len(ch), sig.encode(), payload)
        assert len(out) == enc_len
        hs = dict(req.headers.items())
        hs['Authorization'] = auth
        cn = http.client.HTTPConnection(host, port, timeout=10)
        cn.request('PUT', '/plain/streamed', body=out, headers=hs)
        r = cn.getresponse()
        b = r.read()
        cn.close()
        return r.status, b
    st, b = streaming(False)
    if st != 200:
        print(b.decode(errors='replace'))
    got = client().get_object(Bucket='plain', Key='streamed')['Body'].read()
    check('STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT', st == 200 and got == data, (st, b[:300]))
    st, b = streaming(True)
    check('aws-chunked with a bad chunk -> SignatureDoesNotMatch', st == 403 and
          code_of(b) == 'SignatureDoesNotMatch', (st, b[:300]))
    # STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer
    import zlib

    def trailer_put(crc):
        enc = b''.join(b'%x\r\n%s\r\n' % (len(ch), ch) for ch in chunks)
        enc += b'0\r\nx-amz-checksum-crc32:%s\r\n\r\n' % base64.b64encode(
            crc.to_bytes(4, 'big'))
        return raw('PUT', '/plain/trailer', body=enc, payload_hash=s3_fake.STREAMING_UNSIGNED_TRAILER,
                   headers={'Content-Encoding': 'aws-chunked',
                            'x-amz-decoded-content-length': str(len(data)),
                            'x-amz-trailer': 'x-amz-checksum-crc32'})
    st, _, b = trailer_put(zlib.crc32(data))
    got = client().get_object(Bucket='plain', Key='trailer')['Body'].read() if st == 200 else None
    check('STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT', st == 200 and got == data, (st, b[:300]))
    st, _, b = trailer_put(zlib.crc32(data) ^ 1)
    check('bad crc32 trailer -> BadDigest', st == 400 and code_of(b) == 'BadDigest',
          (st, b[:300]))


def t_listing():
    c = client()
    c.create_bucket(Bucket='list')
    keys = ['a/1', 'a/2', 'a/3', 'b/1', 'c', 'd', 'e/x/y']
    for k in keys:
        c.put_object(Bucket='list', Key=k, Body=k.encode())
    r = c.list_objects_v2(Bucket='list', MaxKeys=1000)
    check('max-keys capped by --page-size 2', r['KeyCount'] == 2 and r['IsTruncated'] and
          r['MaxKeys'] == 2 and 'NextContinuationToken' in r, r.get('KeyCount'))
    pages = list(c.get_paginator('list_objects_v2').paginate(Bucket='list'))
    got = [o['Key'] for p in pages for o in p.get('Contents', [])]
    check('ListObjectsV2 pagination returns all keys in order', got == keys, got)
    check('ListObjectsV2 pagination took 4 pages', len(pages) == 4, len(pages))
    pages = list(c.get_paginator('list_objects_v2').paginate(Bucket='list', Delimiter='/'))
    got = [o['Key'] for p in pages for o in p.get('Contents', [])]
    cps = [x['Prefix'] for p in pages for x in p.get('CommonPrefixes', [])]
    check('delimiter: keys', got == ['c', 'd'], got)
    check('delimiter: common prefixes', cps == ['a/', 'b/', 'e/'], cps)
    pages = list(c.get_paginator('list_objects_v2').paginate(Bucket='list', Prefix='a/'))
    got = [o['Key'] for p in pages for o in p.get('Contents', [])]
    check('prefix a/', got == ['a/1', 'a/2', 'a/3'], got)
    r = c.list_objects_v2(Bucket='list', StartAfter='b/1')
    check('start-after', [o['Key'] for o in r['Contents']] == ['c', 'd'], r.get('Contents'))
    r = c.list_objects_v2(Bucket='list', Prefix='zzz')
    check('empty listing', r['KeyCount'] == 0 and not r['IsTruncated'])
    expect_error('bad continuation token -> InvalidArgument',
                 lambda: c.list_objects_v2(Bucket='list', ContinuationToken='@@@'),
                 'InvalidArgument', 400)
    expect_error('list missing bucket -> NoSuchBucket',
                 lambda: c.list_objects_v2(Bucket='nolist'), 'NoSuchBucket', 404)
    pages = list(c.get_paginator('list_objects').paginate(Bucket='list'))
    got = [o['Key'] for p in pages for o in p.get('Contents', [])]
    check('ListObjects (v1) pagination', got == keys, got)
    # DeleteObjects
    r = c.delete_objects(Bucket='list', Delete={'Objects': [{'Key': 'a/1'}, {'Key': 'a/2'},
                                                            {'Key': 'ghost'}]})
    check('DeleteObjects reports deleted (incl. missing)',
          sorted(d['Key'] for d in r.get('Deleted', [])) == ['a/1', 'a/2', 'ghost'] and
          not r.get('Errors'), r)
    r = c.delete_objects(Bucket='list', Delete={'Objects': [{'Key': 'a/3'}], 'Quiet': True})
    check('DeleteObjects quiet', not r.get('Deleted') and not r.get('Errors'), r)
    st = admin('GET', '/__state')
    check('DeleteObjects removed keys', sorted(st['buckets']['list']['objects']) ==
          ['b/1', 'c', 'd', 'e/x/y'], sorted(st['buckets']['list']['objects']))
    xml = b'<Delete><Object><Key>c</Key></Object></Delete>'
    st_, _, b = raw('POST', '/list?delete=', body=xml)
    check('DeleteObjects without Content-MD5 -> InvalidRequest', st_ == 400 and
          code_of(b) == 'InvalidRequest', (st_, b[:200]))
    st_, _, b = raw('POST', '/list?delete=', body=xml, headers={
        'x-amz-checksum-sha256': base64.b64encode(hashlib.sha256(xml).digest()).decode()})
    check('DeleteObjects with x-amz-checksum-sha256 accepted', st_ == 200 and
          b'<Deleted>' in b, (st_, b[:200]))
    bad = b'<Delete><Object><Key>c</Key>'
    st_, _, b = raw('POST', '/list?delete=', body=bad, headers={
        'Content-MD5': base64.b64encode(hashlib.md5(bad).digest()).decode()})
    check('DeleteObjects bad XML -> MalformedXML', st_ == 400 and code_of(b) == 'MalformedXML',
          (st_, b[:200]))


def t_multipart():
    c = client()
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(5 * MIB)]
    u = c.create_multipart_upload(Bucket='plain', Key='mp/big', ContentType='application/x-mp',
                                  Metadata={'m': '1'})
    uid = u['UploadId']
    etags = []
    for i, d in enumerate(parts_data, 1):
        r = c.upload_part(Bucket='plain', Key='mp/big', UploadId=uid, PartNumber=i, Body=d)
        etags.append(r['ETag'])
        check('UploadPart %d ETag = quoted md5' % i, r['ETag'] == '"%s"' %
              hashlib.md5(d).hexdigest())
    lp = list(c.get_paginator('list_parts').paginate(Bucket='plain', Key='mp/big',
                                                     UploadId=uid))
    got = [p['PartNumber'] for pg in lp for p in pg.get('Parts', [])]
    check('ListParts paginated (page size 2)', got == [1, 2, 3] and len(lp) == 2, (got, len(lp)))
    lu = c.list_multipart_uploads(Bucket='plain')
    check('ListMultipartUploads shows the upload',
          [x['UploadId'] for x in lu.get('Uploads', [])] == [uid], lu.get('Uploads'))
    mp = {'Parts': [{'PartNumber': 2, 'ETag': etags[1]}, {'PartNumber': 1, 'ETag': etags[0]}]}
    expect_error('Complete unordered -> InvalidPartOrder',
                 lambda: c.complete_multipart_upload(Bucket='plain', Key='mp/big', UploadId=uid,
                                                     MultipartUpload=mp),
                 'InvalidPartOrder', 400)
    mp = {'Parts': [{'PartNumber': 1, 'ETag': etags[0]},
                    {'PartNumber': 2, 'ETag': '"%s"' % ('0' * 32)}]}
    expect_error('Complete bad ETag -> InvalidPart',
                 lambda: c.complete_multipart_upload(Bucket='plain', Key='mp/big', UploadId=uid,
                                                     MultipartUpload=mp), 'InvalidPart', 400)
    mp = {'Parts': [{'PartNumber': 1, 'ETag': etags[0]}, {'PartNumber': 4, 'ETag': etags[0]}]}
    expect_error('Complete missing part -> InvalidPart',
                 lambda: c.complete_multipart_upload(Bucket='plain', Key='mp/big', UploadId=uid,
                                                     MultipartUpload=mp), 'InvalidPart', 400)
    mp = {'Parts': [{'PartNumber': i, 'ETag': e} for i, e in enumerate(etags, 1)]}
    r = c.complete_multipart_upload(Bucket='plain', Key='mp/big', UploadId=uid,
                                    MultipartUpload=mp)
    want = '"%s-3"' % hashlib.md5(b''.join(hashlib.md5(d).digest()
                                           for d in parts_data)).hexdigest()
    check('Complete ETag = md5-of-md5s-3', r['ETag'] == want, (r['ETag'], want))
    g = c.get_object(Bucket='plain', Key='mp/big')
    check('multipart object content', g['Body'].read() == b''.join(parts_data))
    check('multipart keeps Content-Type/metadata', g['ContentType'] == 'application/x-mp' and
          g['Metadata'] == {'m': '1'})
    g = c.get_object(Bucket='plain', Key='mp/big', Range='bytes=%d-%d' % (5 * MIB - 2,
                                                                        5 * MIB + 1))
    check('Range across part boundary', g['Body'].read() ==
          (parts_data[0] + parts_data[1])[5 * MIB - 2:5 * MIB + 2])
    expect_error('Complete again -> NoSuchUpload',
                 lambda: c.complete_multipart_upload(Bucket='plain', Key='mp/big', UploadId=uid,
                                                     MultipartUpload=mp), 'NoSuchUpload', 404)
    # EntityTooSmall
    u = c.create_multipart_upload(Bucket='plain', Key='mp/small')['UploadId']
    e1 = c.upload_part(Bucket='plain', Key='mp/small', UploadId=u, PartNumber=1,
                       Body=b'x' * 1000)['ETag']
    e2 = c.upload_part(Bucket='plain', Key='mp/small', UploadId=u, PartNumber=2,
                       Body=b'y' * 10)['ETag']
    expect_error('non-last part < 5 MiB -> EntityTooSmall',
                 lambda: c.complete_multipart_upload(
                     Bucket='plain', Key='mp/small', UploadId=u, MultipartUpload={
                         'Parts': [{'PartNumber': 1, 'ETag': e1},
                                   {'PartNumber': 2, 'ETag': e2}]}), 'EntityTooSmall', 400)
    r = c.complete_multipart_upload(Bucket='plain', Key='mp/small', UploadId=u,
                                    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}]})
    check('single small (last) part completes', r['ETag'].endswith('-1"'))
    # abort + list-uploads pagination
    ids = [c.create_multipart_upload(Bucket='plain', Key='mp/ab%d' % i)['UploadId']
           for i in range(3)]
    pages = list(c.get_paginator('list_multipart_uploads').paginate(Bucket='plain'))
    got = [x['UploadId'] for p in pages for x in p.get('Uploads', [])]
    check('ListMultipartUploads paginated', sorted(got) == sorted(ids) and len(pages) == 2,
          (len(got), len(pages)))
    for i, uid in enumerate(ids):
        r = c.abort_multipart_upload(Bucket='plain', Key='mp/ab%d' % i, UploadId=uid)
        check('Abort %d -> 204' % i, r['ResponseMetadata']['HTTPStatusCode'] == 204)
    expect_error('UploadPart after abort -> NoSuchUpload',
                 lambda: c.upload_part(Bucket='plain', Key='mp/ab0', UploadId=ids[0],
                                       PartNumber=1, Body=b'x'), 'NoSuchUpload', 404)
    expect_error('Abort unknown -> NoSuchUpload',
                 lambda: c.abort_multipart_upload(Bucket='plain', Key='mp/ab0',
                                                  UploadId='nope'), 'NoSuchUpload', 404)
    check('no uploads left in /__state', admin('GET', '/__state')['uploads'] == [])


def t_conditional():
    """If-None-Match: * on PutObject and CompleteMultipartUpload, as AWS."""
    c = client()
    c.create_bucket(Bucket='cond')
    first = os.urandom(2000)
    r = c.put_object(Bucket='cond', Key='k', Body=first, IfNoneMatch='*')
    check('conditional PUT of a new key -> 200',
          r['ResponseMetadata']['HTTPStatusCode'] == 200)
    expect_error('conditional PUT of an existing key -> 412 PreconditionFailed',
                 lambda: c.put_object(Bucket='cond', Key='k', Body=b'other',
                                      IfNoneMatch='*'), 'PreconditionFailed', 412)
    check('the 412 left the object as it was',
          c.get_object(Bucket='cond', Key='k')['Body'].read() == first)
    st, _, body = raw('PUT', '/cond/k', b'raw', headers={'If-None-Match': '*'})
    check('412 body: <Error> PreconditionFailed, Condition If-None-Match',
          st == 412 and code_of(body) == 'PreconditionFailed' and
          b'<Condition>If-None-Match</Condition>' in body, (st, body[:300]))
    expect_error('If-None-Match with an ETag on PUT -> 501 NotImplemented',
                 lambda: c.put_object(Bucket='cond', Key='k2', Body=b'x',
                                      IfNoneMatch='"%s"' % hashlib.md5(first).hexdigest()),
                 'NotImplemented', 501)
    check('the 501 stored nothing', 'k2' not in
          admin('GET', '/__state')['buckets']['cond']['objects'])
    c.put_object(Bucket='cond', Key='k', Body=b'plain overwrite')
    check('a PUT without the header still replaces',
          c.get_object(Bucket='cond', Key='k')['Body'].read() == b'plain overwrite')
    # multipart: the condition is evaluated at completion
    uid = c.create_multipart_upload(Bucket='cond', Key='mp')['UploadId']
    e1 = c.upload_part(Bucket='cond', Key='mp', UploadId=uid, PartNumber=1,
                       Body=b'p' * 1000)['ETag']
    c.put_object(Bucket='cond', Key='mp', Body=b'planted while the upload ran')
    mp = {'Parts': [{'PartNumber': 1, 'ETag': e1}]}
    expect_error('conditional Complete over a key made meanwhile -> 412',
                 lambda: c.complete_multipart_upload(Bucket='cond', Key='mp', UploadId=uid,
                                                     MultipartUpload=mp, IfNoneMatch='*'),
                 'PreconditionFailed', 412)
    check('the planted object is intact',
          c.get_object(Bucket='cond', Key='mp')['Body'].read() ==
          b'planted while the upload ran')
    ups = [u['upload_id'] for u in admin('GET', '/__state')['uploads'] if u['bucket'] == 'cond']
    check('the upload survives a 412 (to be aborted)', ups == [uid], ups)
    r = c.abort_multipart_upload(Bucket='cond', Key='mp', UploadId=uid)
    check('and aborts -> 204', r['ResponseMetadata']['HTTPStatusCode'] == 204)
    uid = c.create_multipart_upload(Bucket='cond', Key='mp2')['UploadId']
    e1 = c.upload_part(Bucket='cond', Key='mp2', UploadId=uid, PartNumber=1,
                       Body=b'q' * 1000)['ETag']
    expect_error('If-None-Match with an ETag on Complete -> 501',
                 lambda: c.complete_multipart_upload(
                     Bucket='cond', Key='mp2', UploadId=uid, IfNoneMatch='"abc"',
                     MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}]}),
                 'NotImplemented', 501)
    r = c.complete_multipart_upload(Bucket='cond', Key='mp2', UploadId=uid, IfNoneMatch='*',
                                    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}]})
    check('conditional Complete of a new key -> 200',
          c.get_object(Bucket='cond', Key='mp2')['Body'].read() == b'q' * 1000)
    m = log_mark()
    expect_error('a second conditional Complete -> NoSuchUpload (upload gone)',
                 lambda: c.complete_multipart_upload(
                     Bucket='cond', Key='mp2', UploadId=uid, IfNoneMatch='*',
                     MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}]}),
                 'NoSuchUpload', 404)
    check('the request log names the error', [e['error'] for e in log_since(m - 1)
                                              if e['op'] == 'CompleteMultipartUpload'][-1:] ==
          ['NoSuchUpload'])


def cond_client(value):
    """A client whose PutObject and CompleteMultipartUpload carry a signed
    If-None-Match: value (Debian's botocore may not know the parameter)."""
    c = client(attempts=1)

    def add(request, **kwargs):
        request.headers['If-None-Match'] = value
    for op in ('PutObject', 'CompleteMultipartUpload'):
        c.meta.events.register('before-sign.s3.' + op, add)
    return c


def t_conditional():
    """If-None-Match: * on PutObject and CompleteMultipartUpload, as AWS."""
    c = client()
    cc = cond_client('*')
    ce = cond_client('"0123456789abcdef0123456789abcdef"')
    c.create_bucket(Bucket='cond')
    first = os.urandom(2000)
    r = cc.put_object(Bucket='cond', Key='k', Body=first)
    check('conditional PUT of a new key -> 200',
          r['ResponseMetadata']['HTTPStatusCode'] == 200)
    expect_error('conditional PUT of an existing key -> 412 PreconditionFailed',
                 lambda: cc.put_object(Bucket='cond', Key='k', Body=b'other'),
                 'PreconditionFailed', 412)
    check('the 412 left the object as it was',
          c.get_object(Bucket='cond', Key='k')['Body'].read() == first)
    st, _, body = raw('PUT', '/cond/k', b'raw', headers={'If-None-Match': '*'})
    check('412 body: <Error> PreconditionFailed, Condition If-None-Match',
          st == 412 and code_of(body) == 'PreconditionFailed' and
          b'<Condition>If-None-Match</Condition>' in body, (st, body[:300]))
    expect_error('If-None-Match with an ETag on PUT -> 501 NotImplemented',
                 lambda: ce.put_object(Bucket='cond', Key='k2', Body=b'x'),
                 'NotImplemented', 501)
    check('the 501 stored nothing',
          'k2' not in admin('GET', '/__state')['buckets']['cond']['objects'])
    c.put_object(Bucket='cond', Key='k', Body=b'plain overwrite')
    check('a PUT without the header still replaces',
          c.get_object(Bucket='cond', Key='k')['Body'].read() == b'plain overwrite')
    # multipart: the condition is evaluated at completion
    uid = c.create_multipart_upload(Bucket='cond', Key='mp')['UploadId']
    e1 = c.upload_part(Bucket='cond', Key='mp', UploadId=uid, PartNumber=1,
                       Body=b'p' * 1000)['ETag']
    c.put_object(Bucket='cond', Key='mp', Body=b'planted while the upload ran')
    mp = {'Parts': [{'PartNumber': 1, 'ETag': e1}]}
    m = log_mark()
    expect_error('conditional Complete over a key made meanwhile -> 412',
                 lambda: cc.complete_multipart_upload(Bucket='cond', Key='mp', UploadId=uid,
                                                      MultipartUpload=mp),
                 'PreconditionFailed', 412)
    got = [(e['status'], e['error']) for e in log_since(m)]
    check('the request log has the 412 and its code', got == [(412, 'PreconditionFailed')],
          got)
    check('the planted object is intact',
          c.get_object(Bucket='cond', Key='mp')['Body'].read() ==
          b'planted while the upload ran')
    ups = [u['upload_id'] for u in admin('GET', '/__state')['uploads']
           if u['bucket'] == 'cond']
    check('the upload survives a 412 (to be aborted)', ups == [uid], ups)
    r = c.abort_multipart_upload(Bucket='cond', Key='mp', UploadId=uid)
    check('and aborts -> 204', r['ResponseMetadata']['HTTPStatusCode'] == 204)
    uid = c.create_multipart_upload(Bucket='cond', Key='mp2')['UploadId']
    e1 = c.upload_part(Bucket='cond', Key='mp2', UploadId=uid, PartNumber=1,
                       Body=b'q' * 1000)['ETag']
    mp = {'Parts': [{'PartNumber': 1, 'ETag': e1}]}
    expect_error('If-None-Match with an ETag on Complete -> 501',
                 lambda: ce.complete_multipart_upload(Bucket='cond', Key='mp2',
                                                      UploadId=uid, MultipartUpload=mp),
                 'NotImplemented', 501)
    cc.complete_multipart_upload(Bucket='cond', Key='mp2', UploadId=uid, MultipartUpload=mp)
    check('conditional Complete of a new key -> 200',
          c.get_object(Bucket='cond', Key='mp2')['Body'].read() == b'q' * 1000)


def t_object_lock():
    c = client()
    future = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 86400))
    c.put_object(Bucket='locked', Key='gov', Body=b'g', ObjectLockMode='GOVERNANCE',
                 ObjectLockRetainUntilDate=future, ChecksumAlgorithm='SHA256')
    c.put_object(Bucket='locked', Key='comp', Body=b'c', ObjectLockMode='COMPLIANCE',
                 ObjectLockRetainUntilDate=future,
                 ContentMD5=base64.b64encode(hashlib.md5(b'c').digest()).decode())
    h = c.head_object(Bucket='locked', Key='gov')
    check('HEAD returns lock mode/date', h.get('ObjectLockMode') == 'GOVERNANCE' and
          'ObjectLockRetainUntilDate' in h, h.get('ObjectLockMode'))
    r = c.get_object_retention(Bucket='locked', Key='comp')['Retention']
    check('GetObjectRetention', r['Mode'] == 'COMPLIANCE')
    expect_error('DELETE GOVERNANCE before date -> AccessDenied',
                 lambda: c.delete_object(Bucket='locked', Key='gov'), 'AccessDenied', 403)
    expect_error('DELETE COMPLIANCE with bypass -> AccessDenied',
                 lambda: c.delete_object(Bucket='locked', Key='comp',
                                         BypassGovernanceRetention=True), 'AccessDenied', 403)
    r = c.delete_objects(Bucket='locked', Delete={'Objects': [{'Key': 'comp'}]})
    check('DeleteObjects on locked key -> per-key AccessDenied',
          [e['Code'] for e in r.get('Errors', [])] == ['AccessDenied'], r)
    # botocore 1.29 adds Content-MD5 to every PutObject by itself, so use a raw request
    st_, _, b = raw('PUT', '/locked/nomd5', body=b'x', headers={
        'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': future})
    check('lock headers without Content-MD5/checksum -> InvalidRequest',
          st_ == 400 and code_of(b) == 'InvalidRequest', (st_, b[:200]))
    expect_error('lock headers on non-lock bucket -> InvalidRequest',
                 lambda: c.put_object(Bucket='plain', Key='x', Body=b'x',
                                      ObjectLockMode='GOVERNANCE',
                                      ObjectLockRetainUntilDate=future,
                                      ChecksumAlgorithm='SHA256'), 'InvalidRequest', 400)
    past = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 60))
    expect_error('retain-until in the past -> InvalidArgument',
                 lambda: c.put_object(Bucket='locked', Key='past', Body=b'x',
                                      ObjectLockMode='GOVERNANCE',
                                      ObjectLockRetainUntilDate=past,
                                      ChecksumAlgorithm='SHA256'), 'InvalidArgument', 400)
    expect_error('shorten COMPLIANCE retention -> AccessDenied',
                 lambda: c.put_object_retention(Bucket='locked', Key='comp', Retention={
                     'Mode': 'COMPLIANCE', 'RetainUntilDate': time.strftime(
                         '%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3600))}),
                 'AccessDenied', 403)
    later = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 2 * 86400))
    c.put_object_retention(Bucket='locked', Key='comp', Retention={
        'Mode': 'COMPLIANCE', 'RetainUntilDate': later})
    check('extend COMPLIANCE retention', True)
    r = c.delete_object(Bucket='locked', Key='gov', BypassGovernanceRetention=True)
    check('DELETE GOVERNANCE with bypass -> 204', r['ResponseMetadata']['HTTPStatusCode'] == 204)
    # multipart with lock
    u = c.create_multipart_upload(Bucket='locked', Key='mpl', ObjectLockMode='COMPLIANCE',
                                  ObjectLockRetainUntilDate=future)['UploadId']
    e = c.upload_part(Bucket='locked', Key='mpl', UploadId=u, PartNumber=1, Body=b'z')['ETag']
    c.complete_multipart_upload(Bucket='locked', Key='mpl', UploadId=u,
                                MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e}]})
    expect_error('multipart-uploaded COMPLIANCE object DELETE -> AccessDenied',
                 lambda: c.delete_object(Bucket='locked', Key='mpl'), 'AccessDenied', 403)
    # move the lock clock past the date: deletes now succeed
    admin('POST', '/__clock?offset_s=%d' % (3 * 86400))
    try:
        c.delete_object(Bucket='locked', Key='comp')
        c.delete_object(Bucket='locked', Key='mpl')
        check('DELETE after retain-until date (clock offset) -> ok', 'comp' not in
              admin('GET', '/__state')['buckets']['locked']['objects'])
    finally:
        admin('POST', '/__clock?offset_s=0')
    # /__lock: tests lock objects without signed requests
    for k in ('adm/a', 'adm/b', 'other/c'):
        c.put_object(Bucket='locked', Key=k, Body=b'x', ChecksumAlgorithm='SHA256')
    r = admin('POST', '/__lock?bucket=locked&prefix=adm/&mode=GOVERNANCE&days=1')
    check('/__lock locks the keys under the prefix', r['locked'] == ['adm/a', 'adm/b'], r)
    h = c.head_object(Bucket='locked', Key='adm/a')
    check('/__lock: HEAD shows the mode and date', h.get('ObjectLockMode') == 'GOVERNANCE' and
          'ObjectLockRetainUntilDate' in h, h.get('ObjectLockMode'))
    admin('POST', '/__lock?bucket=locked&match=other&legal_hold=1')
    check('/__lock legal_hold=1', c.head_object(Bucket='locked', Key='other/c').get(
        'ObjectLockLegalHoldStatus') == 'ON')
    seq = log_mark()
    r = c.delete_objects(Bucket='locked', Delete={'Objects': [{'Key': 'adm/a'},
                                                              {'Key': 'other/c'}]})
    check('/__lock: DeleteObjects refuses both, per key',
          sorted(e['Key'] for e in r.get('Errors', [])) == ['adm/a', 'other/c'], r)
    check('the log names the keys of DeleteObjects',
          [e.get('delete_keys') for e in log_since(seq) if e['op'] == 'DeleteObjects'] ==
          [['adm/a', 'other/c']], log_since(seq))
    try:
        admin('POST', '/__lock?bucket=plain&prefix=x')
        check('/__lock on a bucket without Object Lock -> 400', False)
    except urllib.error.HTTPError as e:
        check('/__lock on a bucket without Object Lock -> 400', e.code == 400, e.code)


def t_faults():
    c = client(attempts=3)
    c.put_object(Bucket='plain', Key='f', Body=b'fault')
    fault_reset()
    # 500 on the first PutObject, botocore retries
    m = log_mark()
    fault(nth=1, status=500, op='PutObject')
    c.put_object(Bucket='plain', Key='f500', Body=b'x' * 1000)
    lg = [e for e in log_since(m) if e['op'] == 'PutObject']
    check('500 then retry succeeds', [e['status'] for e in lg] == [500, 200],
          [(e['status'], e['attempt']) for e in lg])
    check('retry visible in /__log (amz-sdk-request attempt=2)',
          len(lg) == 2 and 'attempt=2' in (lg[1]['attempt'] or ''), [e['attempt'] for e in lg])
    check('retry keeps the invocation id', len(lg) == 2 and lg[0]['invocation_id'] ==
          lg[1]['invocation_id'])
    # 503 on the 3rd request (any op), no retries in that client
    nr = client(attempts=1)
    m = log_mark()
    fault(nth=3, status=503)
    res = []
    for i in range(4):
        try:
            nr.head_object(Bucket='plain', Key='f')
            res.append(200)
        except botocore.exceptions.ClientError as e:
            res.append(e.response['ResponseMetadata']['HTTPStatusCode'])
    check('nth=3 status=503 fails exactly the 3rd request', res == [200, 200, 503, 200], res)
    expect_error('503 SlowDown code on GET',
                 lambda: (fault(nth=1, status=503, op='GetObject'),
                          nr.get_object(Bucket='plain', Key='f')), 'SlowDown', 503)
    # persistent failure exhausts retries
    m = log_mark()
    fault(nth=1, status=500, count=10, op='GetObject')
    expect_error('500 x10 with 3 attempts -> InternalError',
                 lambda: c.get_object(Bucket='plain', Key='f'), 'InternalError', 500)
    lg = [e for e in log_since(m) if e['op'] == 'GetObject']
    check('3 attempts logged', len(lg) == 3 and all(e['status'] == 500 for e in lg), len(lg))
    fault_reset()
    # drop connection
    m = log_mark()
    fault(nth=1, drop=1, op='PutObject')
    c.put_object(Bucket='plain', Key='fdrop', Body=b'y' * 200000)
    lg = [e for e in log_since(m) if e['op'] == 'PutObject']
    check('drop then retry succeeds', [e['status'] for e in lg] == ['dropped', 200],
          [e['status'] for e in lg])
    fault(nth=1, drop=1, op='HeadObject')
    try:
        nr.head_object(Bucket='plain', Key='f')
        check('drop without retries raises a connection error', False)
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as e:
        check('drop without retries raises a connection error', True, e)
    # stall
    fault(nth=1, stall_ms=1500, op='HeadObject')
    slow = client(attempts=1, read_timeout=0.5)
    t0 = time.time()
    try:
        slow.head_object(Bucket='plain', Key='f')
        check('stall 1.5 s > read_timeout 0.5 s -> ReadTimeoutError', False)
    except botocore.exceptions.ReadTimeoutError:
        check('stall 1.5 s > read_timeout 0.5 s -> ReadTimeoutError', time.time() - t0 < 1.4)
    time.sleep(1.2)
    fault(nth=1, stall_ms=400, op='HeadObject')
    t0 = time.time()
    nr.head_object(Bucket='plain', Key='f')
    check('short stall delays but succeeds', time.time() - t0 >= 0.4)
    # mid-body drop on GET
    big = os.urandom(2 * MIB)
    c.put_object(Bucket='plain', Key='fbig', Body=big)
    fault(nth=1, drop=1, where='mid', op='GetObject')
    try:
        data = nr.get_object(Bucket='plain', Key='fbig')['Body'].read()
        check('mid-body drop -> short read error', False, len(data))
    except Exception as e:
        check('mid-body drop -> short read error', True, e)
    # 200 with <Error> on CompleteMultipartUpload (botocore retries it)
    u = c.create_multipart_upload(Bucket='plain', Key='f200')['UploadId']
    e = c.upload_part(Bucket='plain', Key='f200', UploadId=u, PartNumber=1, Body=b'q')['ETag']
    m = log_mark()
    fault(nth=1, status=200, op='CompleteMultipartUpload')
    c.complete_multipart_upload(Bucket='plain', Key='f200', UploadId=u,
                                MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e}]})
    lg = [e for e in log_since(m) if e['op'] == 'CompleteMultipartUpload']
    check('200-with-Error on Complete is retried', len(lg) == 2 and
          lg[0]['error'] == 'InternalError(200)' and lg[1]['status'] == 200,
          [(e['status'], e['error']) for e in lg])
    # 503 on the 2nd UploadPart, retried
    u = c.create_multipart_upload(Bucket='plain', Key='fmp')['UploadId']
    m = log_mark()
    fault(nth=2, status=503, op='UploadPart')
    es = [c.upload_part(Bucket='plain', Key='fmp', UploadId=u, PartNumber=i,
                        Body=b'p' * (5 * MIB if i < 3 else 10))['ETag'] for i in (1, 2, 3)]
    c.complete_multipart_upload(Bucket='plain', Key='fmp', UploadId=u, MultipartUpload={
        'Parts': [{'PartNumber': i, 'ETag': e} for i, e in zip((1, 2, 3), es)]})
    lg = [e['status'] for e in log_since(m) if e['op'] == 'UploadPart']
    check('503 on 2nd UploadPart retried', lg == [200, 503, 200, 200], lg)
    rules = admin('GET', '/__fault')['faults']
    check('/__fault lists rules with fired counts', all(r['fired'] >= 1 for r in rules))
    fault_reset()
    check('/__fault?reset clears', admin('GET', '/__fault')['faults'] == [])


def t_awscli():
    aws = os.environ.get('S3_FAKE_AWS') or ('/usr/bin/aws' if os.path.exists('/usr/bin/aws')
                                            else shutil.which('aws'))
    if not aws or aws == 'none':
        print('note: aws CLI not found, CLI checks skipped')
        return
    if VERBOSE:
        print('aws CLI: ' + aws)
    tmp = tempfile.mkdtemp(prefix='s3fake-cli.')
    try:
        cfg = os.path.join(tmp, 'config')
        with open(cfg, 'w') as f:
            f.write('[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n')
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK,
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=cfg,
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, 'nocreds'),
                   AWS_EC2_METADATA_DISABLED='true', AWS_PAGER='')
        env.pop('AWS_PROFILE', None)

        def run(*args):
            p = subprocess.run([aws, '--endpoint-url', BASE] + list(args), env=env,
                               capture_output=True, text=True, timeout=120)
            if p.returncode and VERBOSE:
                print(p.stdout, p.stderr)
            return p
        big = os.path.join(tmp, 'big.bin')
        data = os.urandom(17 * MIB)
        with open(big, 'wb') as f:
            f.write(data)
        p = run('s3', 'mb', 's3://cli')
        check('aws s3 mb', p.returncode == 0, p.stderr[-300:])
        m = log_mark()
        p = run('s3', 'cp', big, 's3://cli/big.bin')
        check('aws s3 cp (multipart upload)', p.returncode == 0, p.stderr[-300:])
        ops = [e['op'] for e in log_since(m)]
        check('aws s3 cp used multipart', 'CompleteMultipartUpload' in ops and
              ops.count('UploadPart') >= 3, ops)
        for i in range(4):
            p = run('s3api', 'put-object', '--bucket', 'cli', '--key', 'small/%d' % i,
                    '--body', cfg)
        check('aws s3api put-object', p.returncode == 0, p.stderr[-300:])
        p = run('s3', 'ls', 's3://cli/small/')
        names = sorted(line.split()[-1] for line in p.stdout.splitlines() if line.strip())
        check('aws s3 ls (paginated)', p.returncode == 0 and names == ['0', '1', '2', '3'],
              (names, p.stderr[-300:]))
        p = run('s3api', 'list-objects-v2', '--bucket', 'cli')
        try:
            keys = [o['Key'] for o in json.loads(p.stdout)['Contents']]
        except Exception:
            keys = None
        check('aws s3api list-objects-v2 (auto-paginated)', keys == ['big.bin'] +
              ['small/%d' % i for i in range(4)], (keys, p.stderr[-300:]))
        out = os.path.join(tmp, 'out.bin')
        p = run('s3', 'cp', 's3://cli/big.bin', out)
        ok = p.returncode == 0 and open(out, 'rb').read() == data
        check('aws s3 cp download matches', ok, p.stderr[-300:])
        p = run('s3api', 'head-object', '--bucket', 'cli', '--key', 'big.bin')
        check('aws s3api head-object multipart ETag', p.returncode == 0 and
              re.search(r'-3\\?"', p.stdout) is not None, p.stdout[-300:])
        p = run('s3', 'rm', 's3://cli/', '--recursive')
        check('aws s3 rm --recursive', p.returncode == 0 and
              admin('GET', '/__state')['buckets']['cli']['objects'] == {}, p.stderr[-300:])
        p = run('s3api', 'get-object', '--bucket', 'cli', '--key', 'gone', os.path.join(tmp, 'g'))
        check('aws s3api get-object missing -> NoSuchKey', p.returncode != 0 and
              'NoSuchKey' in p.stderr, p.stderr[-300:])
        env2 = dict(env, AWS_SECRET_ACCESS_KEY='bad')
        p = subprocess.run([aws, '--endpoint-url', BASE, 's3', 'ls', 's3://cli'], env=env2,
                           capture_output=True, text=True, timeout=60)
        check('aws with wrong secret -> SignatureDoesNotMatch', p.returncode != 0 and
              'SignatureDoesNotMatch' in p.stderr, p.stderr[-300:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global BASE
    tmp = tempfile.mkdtemp(prefix='s3fake-selftest.')
    portfile = os.path.join(tmp, 'port')
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 's3_fake.py'), '--port', '0',
                             '--access-key', AK, '--secret-key', SK, '--page-size', '2',
                             '--data-dir', os.path.join(tmp, 'data'), '--buckets', 'pre',
                             '--port-file', portfile])
    try:
        for _ in range(100):
            if os.path.exists(portfile) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(portfile):
            print('FAIL: fake did not start')
            return 1
        BASE = 'http://127.0.0.1:%d' % int(open(portfile).read())
        for g in (t_vectors, t_buckets, t_objects, t_auth, t_http_framing, t_listing,
                  t_multipart, t_conditional, t_object_lock, t_faults, t_awscli):
            group(g)
        if proc.poll() is not None:
            FAILED.append('fake exited early rc=%s' % proc.returncode)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d passed, %d failed' % (PASSED, len(FAILED)))
    if FAILED:
        print('failed: ' + ', '.join(FAILED))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
