/*
 * s3_req.c - one signed S3 request.
 *
 * A request whose body is in memory (or absent) and whose answer is
 * collected -- listings, HEAD, DELETE, the multipart bookkeeping, a
 * part or a small object PUT -- runs on the host's http_request (ABI
 * 1.5), which owns the retry policy: connection errors, timeouts, 429
 * and 5xx are retried with exponential backoff and full jitter, up to
 * `retries' times.  Every attempt is signed afresh (SigV4, sigv4.c) in
 * on_attempt.  What S3 adds on top stays here: a 200 whose document is
 * an <Error> (CompleteMultipartUpload) is retried as a new request, and
 * the S3 error code and message become a sentence for the logs.
 *
 * The two streamed kinds -- a GET whose body goes to on_data (the bucket
 * source) and a PUT whose body comes from on_read (its restore) -- are
 * submitted directly with host->http_submit and keep their own retries
 * here (raw_*), because neither fits a host adapter: their bytes are
 * framed by the caller, not pushed into a stream as they come.
 */
#include "zb-build.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "s3_buf.h"
#include "s3.h"

#define BACKOFF_BASE_MS	200
#define BACKOFF_CAP_MS	10000
#define ERROR_BODY_MAX	(64 * 1024)

struct s3_req {
	struct s3		*s3;
	struct s3_req_spec	 spec;		/* strings owned (copies) */
	char			*key, *bucket;
	CURL			*easy;
	struct curl_slist	*hdrs;
	struct sigv4_out	 sig;
	struct s3_resp		 resp;
	struct zb_buf		 body;		/* collected response */
	size_t			 body_off;	/* request body sent */
	uint64_t		 delivered;	/* to on_data */
	int			 attempt;
	int			 in_flight;
	struct zb_timer		*retry_timer;
	char			 desc[300];	/* "PUT bucket/key" */
	/* on host->http_request (the in-memory kinds) */
	struct zb_http_req	*hreq;
	char			*url, *host, *path;
	char			 hash[65];	/* payload hash signed */
};

static int	attempt(struct s3_req *);
static int	tk_start(struct s3_req *);

void
s3_log(struct s3 *s3, int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	s3->host->vlog(s3->inst, level, fmt, ap);
	va_end(ap);
}

int
s3_ok(const struct s3_resp *r)
{
	/* CompleteMultipartUpload can fail with 200 and an <Error> body. */
	return r->curlcode == CURLE_OK && r->status >= 200 &&
	    r->status < 300 && r->code[0] == '\0';
}

const char *
s3_resp_header(const struct s3_resp *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

const char *
s3_where(const struct s3 *s3, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "s3://%s/%s", s3->bucket, key != NULL ? key : "");
	return buf;
}

char *
s3_full_key(const struct s3 *s3, const char *rel)
{
	return xasprintf("%s%s", s3->prefix, rel);
}

void
s3_content_md5(const void *p, size_t n, char out[25])
{
	unsigned char	 md[16];
	unsigned int	 mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 16);
}

static void
resp_clear(struct s3_resp *r)
{
	size_t	 i;

	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	memset(r, 0, sizeof(*r));
}

static void
req_free(struct s3_req *q)
{
	size_t	 i;

	if (q->retry_timer != NULL)
		q->s3->host->timer_del(q->retry_timer);
	if (q->hreq != NULL)
		q->s3->host->http_request_cancel(q->hreq);
	if (q->easy != NULL) {
		if (q->in_flight)
			q->s3->host->http_cancel(q->easy);
		curl_easy_cleanup(q->easy);
	}
	free(q->url);
	free(q->host);
	free(q->path);
	curl_slist_free_all(q->hdrs);
	sigv4_out_free(&q->sig);
	resp_clear(&q->resp);
	s3_buf_free(&q->body);
	for (i = 0; i < q->spec.nquery; i++) {
		free((char *)q->spec.query[i].name);
		free((char *)q->spec.query[i].value);
	}
	for (i = 0; i < q->spec.nheaders; i++) {
		free((char *)q->spec.headers[i].name);
		free((char *)q->spec.headers[i].value);
	}
	free((char *)q->spec.method);
	free(q->key);
	free(q->bucket);
	free(q);
}

/* ---- curl callbacks --------------------------------------------------------- */

static size_t
on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct s3_req	*q = arg;
	size_t		 n = size * nmemb, left = q->spec.bodylen - q->body_off;

	if (n > left)
		n = left;
	if (q->spec.on_read != NULL) {
		if (n == 0)
			return 0;
		n = q->spec.on_read(q->spec.arg, dst, n);
		if (n == CURL_READFUNC_ABORT || n == CURL_READFUNC_PAUSE)
			return n;
		if (n == 0 || n > left)
			return CURL_READFUNC_ABORT;	/* the body ran short */
		q->body_off += n;
		return n;
	}
	memcpy(dst, (const char *)q->spec.body + q->body_off, n);
	q->body_off += n;
	return n;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req	*q = arg;
	size_t		 n = size * nmemb, r;
	long		 status = 0;

	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300 && q->spec.on_data != NULL) {
		r = q->spec.on_data(q->spec.arg, p, n);
		if (r == n)
			q->delivered += n;
		return r;
	}
	if (s3_buf_add(&q->body, p, n) == -1)
		return 0;	/* larger than we ever expect: fail */
	return n;
}

static void
keep_header(struct s3_resp *r, const char *name, size_t nl, const char *val,
    size_t vl)
{
	struct s3_hdr	*h;
	size_t		 i;

	r->hdrs = xreallocarray(r->hdrs, r->nhdrs + 1, sizeof(*r->hdrs));
	h = &r->hdrs[r->nhdrs++];
	h->name = xmalloc(nl + 1);
	for (i = 0; i < nl; i++)
		h->name[i] = (char)tolower((unsigned char)name[i]);
	h->name[nl] = '\0';
	h->value = xmalloc(vl + 1);
	memcpy(h->value, val, vl);
	h->value[vl] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req	*q = arg;
	size_t		 n = size * nmemb, nl, vl;
	const char	*colon, *v;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): start over */
		resp_clear(&q->resp);
		return n;
	}
	colon = memchr(p, ':', n);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + n && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(p + n - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' '))
		vl--;
	if (nl == 4 && strncasecmp(p, "etag", 4) == 0 &&
	    vl < sizeof(q->resp.etag)) {
		memcpy(q->resp.etag, v, vl);
		q->resp.etag[vl] = '\0';
	} else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
		q->resp.content_length = strtoull(v, NULL, 10);
		q->resp.has_length = 1;
	}
	if (q->spec.keep_headers && q->resp.nhdrs < 256 &&
	    ((nl == 12 && strncasecmp(p, "content-type", 12) == 0) ||
	    (nl == 13 && strncasecmp(p, "last-modified", 13) == 0) ||
	    (nl > 11 && strncasecmp(p, "x-amz-meta-", 11) == 0) ||
	    (nl > 18 && strncasecmp(p, "x-amz-object-lock-", 18) == 0)))
		keep_header(&q->resp, p, nl, v, vl);
	return n;
}

/* ---- attempts ------------------------------------------------------------------ */

static int
retryable(const struct s3_resp *r)
{
	switch (r->curlcode) {
	case CURLE_OK:
		if (r->status >= 200 && r->status < 300)
			return strcmp(r->code, "InternalError") == 0 ||
			    strcmp(r->code, "SlowDown") == 0 ||
			    strcmp(r->code, "ServiceUnavailable") == 0;
		return r->status == 429 || r->status == 500 ||
		    r->status == 502 || r->status == 503 || r->status == 504;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* Is the document's root element <Error> (a 200 that failed)? */
static int
root_is_error(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "<?xml", 5) == 0 && (p = strstr(p, "?>")) != NULL)
		p += 2;
	else if (p == NULL)
		return 0;
	while (isspace((unsigned char)*p))
		p++;
	return strncmp(p, "<Error>", 7) == 0;
}

static void
describe(struct s3_req *q)
{
	struct s3_resp	*r = &q->resp;
	struct s3_xml	 doc = { q->body.data, q->body.len };
	char		*code = NULL, *msg = NULL;

	if (r->curlcode != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s: %s", q->desc,
		    curl_easy_strerror((CURLcode)r->curlcode));
		return;
	}
	if (q->body.data != NULL && (r->status < 200 || r->status >= 300 ||
	    root_is_error(q->body.data))) {
		code = s3_xml_text(&doc, "Code");
		msg = s3_xml_text(&doc, "Message");
	}
	if (code != NULL)
		snprintf(r->code, sizeof(r->code), "%s", code);
	if (r->status >= 200 && r->status < 300 && code == NULL)
		r->error[0] = '\0';
	else
		snprintf(r->error, sizeof(r->error), "%s: HTTP %ld%s%s%s%s",
		    q->desc, r->status, code ? " " : "", code ? code : "",
		    msg ? ": " : "", msg ? msg : "");
	free(code);
	free(msg);
}

static void
on_retry_timer(void *arg)
{
	struct s3_req	*q = arg;
	struct s3_resp	 r;

	q->retry_timer = NULL;
	if (attempt(q) == -1) {
		memset(&r, 0, sizeof(r));
		r.curlcode = CURLE_FAILED_INIT;
		snprintf(r.error, sizeof(r.error), "%s: cannot start the "
		    "request again", q->desc);
		q->spec.done(q->spec.arg, &r);
		req_free(q);
	}
}

/* Can the request body be sent again from its start? */
static int
rewound(struct s3_req *q)
{
	if (q->spec.on_read == NULL || q->body_off == 0)
		return 1;
	return q->spec.on_rewind != NULL &&
	    q->spec.on_rewind(q->spec.arg) == 0;
}

static void
on_done(void *arg, int curlcode, long status)
{
	struct s3_req	*q = arg;
	uint64_t	 wait;

	q->in_flight = 0;
	q->resp.curlcode = curlcode;
	q->resp.status = status;
	q->resp.attempts = q->attempt;
	q->resp.body = q->body.data;
	q->resp.len = q->body.len;
	describe(q);
	if (retryable(&q->resp) && q->delivered == 0 &&
	    q->attempt <= q->s3->retries && rewound(q)) {
		wait = (uint64_t)BACKOFF_BASE_MS << (q->attempt - 1);
		if (wait > BACKOFF_CAP_MS)
			wait = BACKOFF_CAP_MS;
		wait = (uint64_t)random() % (wait + 1);	/* full jitter */
		s3_log(q->s3, ZB_LOG_WARN, "%s; retry %d of %d in %.1f s",
		    q->resp.error, q->attempt, q->s3->retries,
		    (double)wait / 1000);
		q->retry_timer = q->s3->host->timer_add(wait, on_retry_timer,
		    q);
		return;
	}
	q->spec.done(q->spec.arg, &q->resp);
	req_free(q);
}

/* The query string as sent (and as signed, by sigv4.c). */
static int
query_string(struct zb_buf *b, const struct s3_req_spec *s)
{
	size_t	 i;

	for (i = 0; i < s->nquery; i++) {
		if (s3_buf_puts(b, i == 0 ? "?" : "&") == -1 ||
		    sigv4_uri_encode(b, s->query[i].name,
		    strlen(s->query[i].name), 0) == -1)
			return -1;
		if (s->query[i].value == NULL)
			continue;
		if (s3_buf_puts(b, "=") == -1 ||
		    sigv4_uri_encode(b, s->query[i].value,
		    strlen(s->query[i].value), 0) == -1)
			return -1;
	}
	return 0;
}

static int
add_header(struct s3_req *q, const char *name, const char *value)
{
	char			*h = xasprintf("%s: %s", name, value);
	struct curl_slist	*l = curl_slist_append(q->hdrs, h);

	free(h);
	if (l == NULL)
		return -1;
	q->hdrs = l;
	return 0;
}

/* A header line as is ("Name:" with nothing removes curl's own). */
static int
add_raw(struct s3_req *q, const char *line)
{
	struct curl_slist	*l = curl_slist_append(q->hdrs, line);

	if (l == NULL)
		return -1;
	q->hdrs = l;
	return 0;
}

/* Data transfers get no total bound by default; the rest do. */
static enum s3_req_kind
req_kind(const struct s3_req_spec *s)
{
	if (s->on_data != NULL || s->on_read != NULL ||
	    s->bodylen > S3_SMALL_BODY_MAX)
		return S3_REQ_DATA;
	return S3_REQ_SMALL;
}

/*
 * What every attempt shares: the Host, the path, the URL and the payload
 * hash.  0, or -1 (a cap passed).
 */
static int
prepare(struct s3_req *q)
{
	struct s3	*s3 = q->s3;
	struct zb_buf	 path, url;
	int		 rc = -1;

	/* No bucket: a request to the service itself (ListBuckets). */
	q->host = s3->path_style || q->bucket[0] == '\0' ?
	    xstrdup(s3->hostport) : xasprintf("%s.%s", q->bucket,
	    s3->hostport);
	s3_buf_init(&path, 16384);
	s3_buf_init(&url, 32768);
	s3_buf_puts(&path, s3->base_path);
	if (s3->path_style && q->bucket[0] != '\0')
		s3_buf_printf(&path, "/%s", q->bucket);
	s3_buf_printf(&path, "/%s", q->key != NULL ? q->key : "");
	s3_buf_printf(&url, "%s://%s", s3->scheme, q->host);
	sigv4_uri_encode(&url, path.data, path.len, 1);
	if (path.failed || url.failed || query_string(&url, &q->spec) == -1)
		goto out;
	if ((q->spec.sign_body && q->spec.on_read == NULL) ||
	    q->spec.bodylen == 0) {
		if (sigv4_sha256_hex(q->spec.body != NULL ? q->spec.body : "",
		    q->spec.bodylen, q->hash) == -1)
			goto out;
	} else
		snprintf(q->hash, sizeof(q->hash), "%s",
		    SIGV4_UNSIGNED_PAYLOAD);
	q->path = s3_buf_take(&path);
	q->url = s3_buf_take(&url);
	rc = 0;
out:
	s3_buf_free(&path);
	s3_buf_free(&url);
	return rc;
}

/* Sign for now into q->sig.  0, or -1 (logged). */
static int
sign(struct s3_req *q)
{
	struct s3		*s3 = q->s3;
	struct sigv4_req	 sr;
	const char		*err;

	sigv4_out_free(&q->sig);
	sigv4_out_init(&q->sig);
	memset(&sr, 0, sizeof(sr));
	sr.method = q->spec.method;
	sr.host = q->host;
	sr.path = q->path;
	sr.path_mode = SIGV4_PATH_S3;
	sr.query = q->spec.query;
	sr.nquery = q->spec.nquery;
	sr.headers = q->spec.headers;
	sr.nheaders = q->spec.nheaders;
	sr.payload_hash = q->hash;
	sr.region = s3->region;
	sr.access_key = s3->access_key;
	sr.secret_key = s3->secret_key;
	sr.when = time(NULL);
	if (sigv4_sign(&sr, &q->sig, &err) == -1) {
		s3_log(s3, ZB_LOG_ERROR, "%s: cannot sign: %s", q->desc, err);
		return -1;
	}
	return 0;
}

/* ---- the streamed kinds: raw transfers on host->http_submit ------------- */

static int
attempt(struct s3_req *q)
{
	struct s3		*s3 = q->s3;
	struct s3_limits	 lim;
	const char		*m = q->spec.method;
	size_t			 i;
	int			 has_ctype = 0;

	q->attempt++;
	q->body_off = 0;
	q->delivered = 0;
	s3_buf_free(&q->body);
	s3_buf_init(&q->body, q->spec.resp_max > ERROR_BODY_MAX ?
	    q->spec.resp_max : ERROR_BODY_MAX);
	resp_clear(&q->resp);
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	if (q->easy != NULL)
		curl_easy_reset(q->easy);
	else if ((q->easy = curl_easy_init()) == NULL)
		return -1;
	if (sign(q) == -1)
		return -1;
	if (add_header(q, "x-amz-date", q->sig.amz_date) == -1 ||
	    add_header(q, "x-amz-content-sha256", q->sig.content_sha256) ==
	    -1 || add_header(q, "Authorization", q->sig.authorization.data) ==
	    -1)
		return -1;
	for (i = 0; i < q->spec.nheaders; i++) {
		if (strcasecmp(q->spec.headers[i].name, "content-type") == 0)
			has_ctype = 1;
		if (add_header(q, q->spec.headers[i].name,
		    q->spec.headers[i].value) == -1)
			return -1;
	}
	/* No 100-continue round trip; no form content type on POST. */
	if (add_raw(q, "Expect:") == -1 ||
	    (!has_ctype && add_raw(q, "Content-Type:") == -1))
		return -1;

	curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
	if (strcmp(m, "PUT") == 0) {
		curl_easy_setopt(q->easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(q->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(q->easy, CURLOPT_READDATA, q);
		curl_easy_setopt(q->easy, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)q->spec.bodylen);
	} else if (strcmp(m, "GET") != 0)
		curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, m);
	/* Connect, stall and total bounds (s3_limits.c). */
	s3_limits_for(&s3->timeouts, req_kind(&q->spec), &lim);
	s3_limits_apply(q->easy, &lim);
	if (s3->host->http_submit(s3->inst, q->easy, on_done, q) != ZB_OK)
		return -1;
	q->in_flight = 1;
	return 0;
}

/* ---- the in-memory kinds: host->http_request ------------------------------ */

static int
tk_sign(void *arg, struct zb_http_req *hr, int n)
{
	struct s3_req		 *q = arg;
	const struct zb_host_api *host = q->s3->host;

	if (sign(q) == -1)
		return ZB_ERR;
	host->http_set_header(hr, "x-amz-date", q->sig.amz_date);
	host->http_set_header(hr, "x-amz-content-sha256",
	    q->sig.content_sha256);
	host->http_set_header(hr, "Authorization",
	    q->sig.authorization.data);
	return ZB_OK;
}

static void
on_tk_retry(void *arg)
{
	struct s3_req	*q = arg;
	struct s3_resp	 r;

	q->retry_timer = NULL;
	if (tk_start(q) == 0)
		return;
	memset(&r, 0, sizeof(r));
	r.curlcode = CURLE_FAILED_INIT;
	snprintf(r.error, sizeof(r.error), "%s: cannot start the request "
	    "again", q->desc);
	q->spec.done(q->spec.arg, &r);
	req_free(q);
}

static void
tk_done(void *arg, const struct zb_http_resp *hr)
{
	struct s3_req	*q = arg;
	const char	*name, *v;
	size_t		 i;
	uint64_t	 wait;

	q->hreq = NULL;		/* it frees itself after this returns */
	resp_clear(&q->resp);
	s3_buf_reset(&q->body);
	q->attempt += hr->attempts;
	q->resp.curlcode = hr->curlcode == -1 ? CURLE_FAILED_INIT :
	    hr->curlcode;
	q->resp.status = hr->status;
	q->resp.attempts = q->attempt;
	if (hr->body != NULL)
		s3_buf_add(&q->body, hr->body, hr->body_len);
	q->resp.body = q->body.data;
	q->resp.len = q->body.len;
	for (i = 0; (name = hr->header_at(hr, i, &v)) != NULL; i++) {
		if (strcasecmp(name, "etag") == 0 &&
		    strlen(v) < sizeof(q->resp.etag))
			snprintf(q->resp.etag, sizeof(q->resp.etag), "%s", v);
		else if (strcasecmp(name, "content-length") == 0) {
			q->resp.content_length = strtoull(v, NULL, 10);
			q->resp.has_length = 1;
		}
		if (q->spec.keep_headers && q->resp.nhdrs < 256 &&
		    (strcasecmp(name, "content-type") == 0 ||
		    strcasecmp(name, "last-modified") == 0 ||
		    strncasecmp(name, "x-amz-meta-", 11) == 0 ||
		    strncasecmp(name, "x-amz-object-lock-", 18) == 0))
			keep_header(&q->resp, name, strlen(name), v,
			    strlen(v));
	}
	if (q->resp.curlcode != CURLE_OK && hr->error != NULL) {
		snprintf(q->resp.error, sizeof(q->resp.error), "%s: %s",
		    q->desc, hr->error);
	} else
		describe(q);
	/* A 200 whose document is an <Error>: the host saw a success. */
	if (q->resp.curlcode == CURLE_OK && q->resp.status >= 200 &&
	    q->resp.status < 300 && retryable(&q->resp) &&
	    q->attempt <= q->s3->retries) {
		wait = (uint64_t)BACKOFF_BASE_MS << (q->attempt - 1);
		if (wait > BACKOFF_CAP_MS)
			wait = BACKOFF_CAP_MS;
		wait = (uint64_t)random() % (wait + 1);	/* full jitter */
		s3_log(q->s3, ZB_LOG_WARN, "%s; retry %d of %d in %.1f s",
		    q->resp.error, q->attempt, q->s3->retries,
		    (double)wait / 1000);
		q->retry_timer = q->s3->host->timer_add(wait, on_tk_retry, q);
		return;
	}
	q->spec.done(q->spec.arg, &q->resp);
	req_free(q);
}

static int
tk_start(struct s3_req *q)
{
	struct s3		*s3 = q->s3;
	struct s3_limits	 lim;
	struct zb_http_spec	 hs;
	struct zb_http_header	 h[S3_MAX_HEADERS];
	size_t			 i;
	int			 left = s3->retries + 1 - q->attempt;

	for (i = 0; i < q->spec.nheaders; i++) {
		h[i].name = q->spec.headers[i].name;
		h[i].value = q->spec.headers[i].value;
	}
	s3_limits_for(&s3->timeouts, req_kind(&q->spec), &lim);
	memset(&hs, 0, sizeof(hs));
	hs.struct_size = sizeof(hs);
	hs.method = q->spec.method;
	hs.url = q->url;
	hs.headers = h;
	hs.nheaders = q->spec.nheaders;
	hs.body = q->spec.body;
	hs.body_len = q->spec.bodylen;
	/* Borrowed until done (s3_req_spec): a part is not held twice. */
	hs.body_kept = 1;
	hs.retry.max_attempts = left > 0 ? left : 1;
	hs.retry.base_ms = BACKOFF_BASE_MS;
	hs.retry.cap_ms = BACKOFF_CAP_MS;
	hs.retry.deadline_ms = UINT32_MAX;	/* bounded by `retries' */
	hs.retry.timeout_ms = (uint32_t)lim.connect_ms;
	hs.retry.retry_unsafe = 1;	/* S3's POSTs can be sent again */
	hs.total_ms = (uint32_t)lim.total_ms;
	hs.on_attempt = tk_sign;
	/* As before: any 2xx document up to 64 KiB (a 200 <Error>). */
	hs.resp_max = q->spec.resp_max > ERROR_BODY_MAX ? q->spec.resp_max :
	    ERROR_BODY_MAX;
	hs.done = tk_done;
	hs.arg = q;
	hs.what = q->desc;
	q->hreq = s3->host->http_request(s3->inst, &hs);
	return q->hreq != NULL ? 0 : -1;
}

/* ---- helpers for the sink's get (s3_get.c) ----------------------------- */

int
s3_get_target(struct s3 *s3, const char *key, char **host, char **path,
    char **url)
{
	struct s3_req	 q;

	memset(&q, 0, sizeof(q));
	q.s3 = s3;
	q.spec.method = "GET";
	q.bucket = s3->bucket;
	q.key = (char *)key;
	if (prepare(&q) == -1)
		return -1;
	*host = q.host;
	*path = q.path;
	*url = q.url;
	return 0;
}

int
s3_sign_get(struct s3 *s3, struct zb_http_req *hr, const char *host,
    const char *path)
{
	struct s3_req	 q;
	int		 rc;

	memset(&q, 0, sizeof(q));
	q.s3 = s3;
	q.spec.method = "GET";
	q.host = (char *)host;
	q.path = (char *)path;
	snprintf(q.hash, sizeof(q.hash), "%s", SIGV4_EMPTY_SHA256);
	snprintf(q.desc, sizeof(q.desc), "GET s3://%s%s", s3->bucket, path);
	sigv4_out_init(&q.sig);
	rc = tk_sign(&q, hr, 0);
	sigv4_out_free(&q.sig);
	return rc;
}

/* ---- requests ------------------------------------------------------------------ */

struct s3_req *
s3_req_start(struct s3 *s3, const struct s3_req_spec *spec)
{
	struct s3_req	*q;
	size_t		 i;
	char		 where[280];
	int		 rc;

	q = xcalloc(1, sizeof(*q));
	q->s3 = s3;
	q->spec = *spec;
	q->spec.method = xstrdup(spec->method);
	for (i = 0; i < spec->nquery; i++) {
		q->spec.query[i].name = xstrdup(spec->query[i].name);
		q->spec.query[i].value = spec->query[i].value != NULL ?
		    xstrdup(spec->query[i].value) : NULL;
	}
	for (i = 0; i < spec->nheaders; i++) {
		q->spec.headers[i].name = xstrdup(spec->headers[i].name);
		q->spec.headers[i].value = xstrdup(spec->headers[i].value);
	}
	q->bucket = xstrdup(spec->bucket != NULL ? spec->bucket : s3->bucket);
	q->key = spec->key != NULL ? xstrdup(spec->key) : NULL;
	sigv4_out_init(&q->sig);
	s3_buf_init(&q->body, spec->resp_max > ERROR_BODY_MAX ?
	    spec->resp_max : ERROR_BODY_MAX);
	snprintf(where, sizeof(where), "s3://%s/%s", q->bucket,
	    q->key != NULL ? q->key : "");
	snprintf(q->desc, sizeof(q->desc), "%s %s%s%s", spec->method, where,
	    spec->nquery > 0 ? "?" : "", spec->nquery > 0 ?
	    spec->query[0].name : "");
	if (prepare(q) == -1)
		rc = -1;
	else if (spec->on_data == NULL && spec->on_read == NULL)
		rc = tk_start(q);
	else
		rc = attempt(q);
	if (rc == -1) {
		s3_log(s3, ZB_LOG_ERROR, "%s: cannot start the request",
		    q->desc);
		req_free(q);
		return NULL;
	}
	return q;
}

void
s3_req_cancel(struct s3_req *q)
{
	if (q != NULL)
		req_free(q);
}

void
s3_req_resume(struct s3_req *q)
{
	if (q->in_flight)
		q->s3->host->http_resume(q->easy);
}

const struct s3_resp *
s3_req_resp(const struct s3_req *q)
{
	return &q->resp;
}
