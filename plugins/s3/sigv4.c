/*
 * sigv4.c - AWS Signature Version 4 for S3: the canonical request, the
 * string to sign, the signing key and the Authorization header value,
 * plus the chain of chunk signatures of a streaming upload.  Owns struct
 * sigv4_out; a struct sigv4_req is borrowed for one call.
 *
 * Invariants:
 *  - every buffer grows under a cap (SIGV4_MAX_CANONICAL for the texts,
 *    SIGV4_MAX_FIELD for one encoded name or value), and the number of
 *    query parameters and headers is bounded;
 *  - anything holding the secret or a key derived from it ("AWS4"+secret,
 *    kDate, kRegion, kService, the signing key) is wiped with
 *    OPENSSL_cleanse before it is freed or goes out of scope;
 *  - a value that would change the meaning of a line (CR, LF, other
 *    control bytes in a header value; '/' or blanks in a scope part) is
 *    refused rather than encoded, so what is signed is what is sent;
 *  - the path is encoded exactly once for S3 and never normalised ("//"
 *    and "./" stay), as S3 requires.
 */

/* Absent in the standalone check build, which passes the same -D flags. */
#ifdef HAVE_CONFIG_H
#include "zb-build.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "s3_buf.h"
#include "sigv4.h"

struct hdr {
	char	*name;		/* lower case */
	char	*value;		/* trimmed, blank runs collapsed */
	size_t	 idx;		/* input order, for a stable sort */
};

struct qparam {
	char	*name;		/* URI-encoded */
	char	*value;		/* URI-encoded */
};

static const char *const reserved_headers[] = {
	"host", "x-amz-date", "x-amz-content-sha256", "authorization",
	"expect", "transfer-encoding", "user-agent"
};

static const char *const payload_literals[] = {
	SIGV4_UNSIGNED_PAYLOAD, SIGV4_STREAMING_PAYLOAD,
	"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
	"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
};

static void
tohex(const unsigned char *p, size_t n, char *out)
{
	static const char	 lower[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = lower[p[i] >> 4];
		out[2 * i + 1] = lower[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

/* An RFC 9110 token character (header names, methods). */
static int
tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Non-empty, printable ASCII, none of the bytes in `bad'. */
static int
plain(const char *s, const char *bad)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr(bad, *s) != NULL)
			return 0;
	return 1;
}

int
sigv4_uri_encode(struct zb_buf *b, const char *s, size_t n, int keep_slash)
{
	static const char	 upper[] = "0123456789ABCDEF";
	unsigned char		 c;
	char			 esc[3];
	size_t			 i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (s3_buf_add(b, &s[i], 1) == -1)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = upper[c >> 4];
		esc[2] = upper[c & 0xf];
		if (s3_buf_add(b, esc, 3) == -1)
			return -1;
	}
	return 0;
}

int
sigv4_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (p == NULL)
		p = "";
	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	tohex(md, 32, hex);
	return 0;
}

static int
hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[32])
{
	static char	 digest[] = "SHA256";
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	size_t		 outlen = 0;
	int		 rc = -1;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return -1;
	ctx = EVP_MAC_CTX_new(mac);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_init(ctx, key, klen, params) == 1 &&
	    EVP_MAC_update(ctx, msg, mlen) == 1 &&
	    EVP_MAC_final(ctx, out, &outlen, 32) == 1 && outlen == 32)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int
sigv4_signing_key(const char *secret, const char *yyyymmdd,
    const char *region, const char *service, unsigned char key[32])
{
	unsigned char	 a[32], b[32];
	char		*k;
	size_t		 klen;
	int		 rc = -1;

	klen = strlen(secret) + 4;
	k = xmalloc(klen + 1);
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, klen - 4);
	if (hmac256(k, klen, yyyymmdd, strlen(yyyymmdd), a) == 0 &&
	    hmac256(a, 32, region, strlen(region), b) == 0 &&
	    hmac256(b, 32, service, strlen(service), a) == 0 &&
	    hmac256(a, 32, "aws4_request", 12, key) == 0)
		rc = 0;
	OPENSSL_cleanse(k, klen);
	free(k);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

void
sigv4_out_init(struct sigv4_out *o)
{
	memset(o, 0, sizeof(*o));
	s3_buf_init(&o->canonical, SIGV4_MAX_CANONICAL);
	s3_buf_init(&o->string_to_sign, 1024);
	s3_buf_init(&o->signed_headers, SIGV4_MAX_CANONICAL);
	s3_buf_init(&o->authorization, SIGV4_MAX_CANONICAL + 1024);
}

void
sigv4_out_free(struct sigv4_out *o)
{
	s3_buf_free(&o->canonical);
	s3_buf_free(&o->string_to_sign);
	s3_buf_free(&o->signed_headers);
	s3_buf_free(&o->authorization);
	OPENSSL_cleanse(o->signing_key, sizeof(o->signing_key));
	memset(o, 0, sizeof(*o));
}

static int
payload_ok(const char *h)
{
	size_t	 i;

	if (h == NULL)
		return 0;
	if (is_hex_sha256(h))
		return 1;
	for (i = 0; i < ZB_NELEM(payload_literals); i++)
		if (strcmp(h, payload_literals[i]) == 0)
			return 1;
	return 0;
}

static const char *
check_req(const struct sigv4_req *r)
{
	const char	*p;

	if (r->method == NULL || *r->method == '\0')
		return "no method";
	for (p = r->method; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return "method is not upper-case letters";
	if (!plain(r->host, ""))
		return "host is empty or has blanks or control bytes";
	if (r->path == NULL || r->path[0] != '/')
		return "path does not start with '/'";
	if (!plain(r->region, "/"))
		return "bad region";
	if (r->service != NULL && !plain(r->service, "/"))
		return "bad service";
	if (!plain(r->access_key, "/,="))
		return "bad access key id";
	if (r->secret_key == NULL || *r->secret_key == '\0')
		return "no secret key";
	if (!payload_ok(r->payload_hash))
		return "payload hash is neither lowercase hex SHA-256 nor "
		    "a known literal";
	if (r->nquery > SIGV4_MAX_QUERY)
		return "too many query parameters";
	if (r->nheaders > SIGV4_MAX_HEADERS)
		return "too many headers";
	if (r->when < 0)
		return "time before 1970";
	return NULL;
}

static int
canon_uri(const struct sigv4_req *r, struct zb_buf *out)
{
	struct zb_buf	 once;
	int		 rc;

	switch (r->path_mode) {
	case SIGV4_PATH_S3:
		return sigv4_uri_encode(out, r->path, strlen(r->path), 1);
	case SIGV4_PATH_TWICE:
		s3_buf_init(&once, SIGV4_MAX_FIELD);
		rc = sigv4_uri_encode(&once, r->path, strlen(r->path), 1);
		if (rc == 0)
			rc = sigv4_uri_encode(out, once.data, once.len, 1);
		s3_buf_free(&once);
		return rc;
	case SIGV4_PATH_VERBATIM:
		return s3_buf_puts(out, r->path);
	}
	return -1;
}

static char *
encode_take(const char *s)
{
	struct zb_buf	 b;

	s3_buf_init(&b, SIGV4_MAX_FIELD);
	if (s3_buf_add(&b, "", 0) == -1 ||
	    sigv4_uri_encode(&b, s, strlen(s), 0) == -1) {
		s3_buf_free(&b);
		return NULL;
	}
	return s3_buf_take(&b);
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam	*x = a, *y = b;
	int			 c;

	c = strcmp(x->name, y->name);
	return c != 0 ? c : strcmp(x->value, y->value);
}

/* name=value pairs, encoded, sorted by name then value, '&'-joined. */
static int
canon_query(const struct sigv4_req *r, struct zb_buf *out)
{
	struct qparam	*q;
	size_t		 i, n = 0;
	int		 rc = -1;

	if (r->nquery == 0)
		return 0;
	q = xcalloc(r->nquery, sizeof(*q));
	for (n = 0; n < r->nquery; n++) {
		if (r->query[n].name == NULL)
			goto done;
		q[n].name = encode_take(r->query[n].name);
		q[n].value = encode_take(r->query[n].value != NULL ?
		    r->query[n].value : "");
		if (q[n].name == NULL || q[n].value == NULL) {
			n++;
			goto done;
		}
	}
	qsort(q, n, sizeof(*q), qparam_cmp);
	for (i = 0; i < n; i++)
		s3_buf_printf(out, "%s%s=%s", i > 0 ? "&" : "", q[i].name,
		    q[i].value);
	rc = out->failed ? -1 : 0;
 done:
	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	free(q);
	return rc;
}

/* Lower-cased copy of a header name, or NULL if it is not a token. */
static char *
header_name(const char *s)
{
	char	*l;
	size_t	 i;

	if (s == NULL || *s == '\0' || strlen(s) > 256)
		return NULL;
	l = xstrdup(s);
	for (i = 0; l[i] != '\0'; i++) {
		if (!tchar((unsigned char)l[i])) {
			free(l);
			return NULL;
		}
		if (l[i] >= 'A' && l[i] <= 'Z')
			l[i] = l[i] - 'A' + 'a';
	}
	for (i = 0; i < ZB_NELEM(reserved_headers); i++)
		if (strcmp(l, reserved_headers[i]) == 0) {
			free(l);
			return NULL;
		}
	return l;
}

/*
 * The value trimmed of blanks (SP, HTAB) with inner runs collapsed to one
 * space; NULL if it has another control byte or is too long.
 */
static char *
header_value(const char *s)
{
	struct zb_buf	 b;
	int		 blank = 0;

	s3_buf_init(&b, SIGV4_MAX_FIELD);
	s3_buf_add(&b, "", 0);
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = b.len > 0;
			continue;
		}
		if ((unsigned char)*s < ' ' || *s == 0x7f) {
			s3_buf_free(&b);
			return NULL;
		}
		if (blank)
			s3_buf_add(&b, " ", 1);
		blank = 0;
		s3_buf_add(&b, s, 1);
	}
	if (b.failed) {
		s3_buf_free(&b);
		return NULL;
	}
	return s3_buf_take(&b);
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr	*x = a, *y = b;
	int			 c;

	c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Fill h[] with the caller's headers and ours; the count filled, which
 * the caller frees, with *errstr set on a refused header.
 */
static size_t
collect_headers(const struct sigv4_req *r, const struct sigv4_out *o,
    struct hdr *h, const char **errstr)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->nheaders; i++) {
		h[n].name = header_name(r->headers[i].name);
		if (h[n].name == NULL) {
			*errstr = "header name is not a token or is one "
			    "sigv4_sign sets or refuses";
			return n + 1;
		}
		h[n].value = header_value(r->headers[i].value);
		h[n].idx = n;
		n++;
		if (h[n - 1].value == NULL) {
			*errstr = "header value has control bytes or is "
			    "too long";
			return n;
		}
	}
	h[n].name = xstrdup("host");
	h[n].value = xstrdup(r->host);
	h[n].idx = n;
	n++;
	h[n].name = xstrdup("x-amz-content-sha256");
	h[n].value = xstrdup(o->content_sha256);
	h[n].idx = n;
	n++;
	h[n].name = xstrdup("x-amz-date");
	h[n].value = xstrdup(o->amz_date);
	h[n].idx = n;
	n++;
	return n;
}

/* Canonical header lines into out, the signed list into o. */
static int
canon_headers(const struct sigv4_req *r, struct sigv4_out *o,
    struct zb_buf *out, const char **errstr)
{
	struct hdr	*h;
	size_t		 i, n;
	int		 rc = -1;

	h = xcalloc(r->nheaders + 3, sizeof(*h));
	*errstr = NULL;
	n = collect_headers(r, o, h, errstr);
	if (*errstr != NULL)
		goto done;
	qsort(h, n, sizeof(*h), hdr_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			s3_buf_printf(out, ",%s", h[i].value);
			continue;
		}
		s3_buf_printf(out, "%s%s:%s", i > 0 ? "\n" : "", h[i].name,
		    h[i].value);
		s3_buf_printf(&o->signed_headers, "%s%s", i > 0 ? ";" : "",
		    h[i].name);
	}
	s3_buf_add(out, "\n", 1);
	if (out->failed || o->signed_headers.failed)
		*errstr = "canonical headers too long";
	else
		rc = 0;
 done:
	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	return rc;
}

static int
set_dates(const struct sigv4_req *r, struct sigv4_out *o,
    const char *service)
{
	struct tm	 tm;
	int		 n;

	if (gmtime_r(&r->when, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    strftime(o->amz_date, sizeof(o->amz_date), "%Y%m%dT%H%M%SZ",
	    &tm) != 16)
		return -1;
	n = snprintf(o->scope, sizeof(o->scope), "%.8s/%s/%s/aws4_request",
	    o->amz_date, r->region, service);
	if (n < 0 || (size_t)n >= sizeof(o->scope))
		return -1;
	return 0;
}

/* The string to sign, the signature and the Authorization value. */
static int
finish(const struct sigv4_req *r, struct sigv4_out *o, const char *service)
{
	unsigned char	 mac[32];
	char		 day[9], hash[65];

	if (sigv4_sha256_hex(o->canonical.data, o->canonical.len, hash) == -1)
		return -1;
	s3_buf_printf(&o->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s",
	    o->amz_date, o->scope, hash);
	memcpy(day, o->amz_date, 8);
	day[8] = '\0';
	if (o->string_to_sign.failed ||
	    sigv4_signing_key(r->secret_key, day, r->region, service,
	    o->signing_key) == -1 ||
	    hmac256(o->signing_key, 32, o->string_to_sign.data,
	    o->string_to_sign.len, mac) == -1)
		return -1;
	tohex(mac, 32, o->signature);
	s3_buf_printf(&o->authorization, "AWS4-HMAC-SHA256 Credential=%s/%s,"
	    "SignedHeaders=%s,Signature=%s", r->access_key, o->scope,
	    o->signed_headers.data, o->signature);
	return o->authorization.failed ? -1 : 0;
}

int
sigv4_sign(const struct sigv4_req *r, struct sigv4_out *o,
    const char **errstr)
{
	const char	*service = r->service != NULL ? r->service : "s3";
	const char	*err;
	struct zb_buf	*c = &o->canonical;

	sigv4_out_free(o);
	sigv4_out_init(o);
	err = check_req(r);
	if (err != NULL)
		goto fail;
	err = "bad time or scope too long";
	if (set_dates(r, o, service) == -1)
		goto fail;
	/* payload_ok() bounded it well under the size */
	snprintf(o->content_sha256, sizeof(o->content_sha256), "%s",
	    r->payload_hash);
	s3_buf_printf(c, "%s\n", r->method);
	err = "canonical URI too long";
	if (canon_uri(r, c) == -1 || s3_buf_add(c, "\n", 1) == -1)
		goto fail;
	err = "canonical query string too long";
	if (canon_query(r, c) == -1 || s3_buf_add(c, "\n", 1) == -1)
		goto fail;
	if (canon_headers(r, o, c, &err) == -1)
		goto fail;
	s3_buf_printf(c, "\n%s\n%s", o->signed_headers.data, o->content_sha256);
	err = "canonical request too long";
	if (c->failed)
		goto fail;
	err = "signing failed (OpenSSL or a cap)";
	if (finish(r, o, service) == -1)
		goto fail;
	return 0;
 fail:
	*errstr = err;
	OPENSSL_cleanse(o->signing_key, sizeof(o->signing_key));
	o->signature[0] = '\0';
	return -1;
}

int
sigv4_chunk_sign(struct sigv4_out *o, const void *data, size_t len)
{
	struct zb_buf	 sts;
	unsigned char	 mac[32];
	char		 hash[65];
	int		 rc = -1;

	if (o->signature[0] == '\0' ||
	    sigv4_sha256_hex(data, len, hash) == -1)
		return -1;
	s3_buf_init(&sts, 1024);
	s3_buf_printf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s",
	    o->amz_date, o->scope, o->signature, SIGV4_EMPTY_SHA256, hash);
	if (!sts.failed &&
	    hmac256(o->signing_key, 32, sts.data, sts.len, mac) == 0) {
		tohex(mac, 32, o->signature);
		rc = 0;
	}
	s3_buf_free(&sts);
	return rc;
}
