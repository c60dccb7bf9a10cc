/*
 * toolkit_http.c - the HTTP adapters of ABI 1.5 (zentoria/plugin.h, "the
 * toolkit"): one engine of attempts on the shared curl multi (http.c)
 * with the retry policy, used three ways:
 *
 *  - http_request: a request with a body from memory and a collected
 *    response, ending with the spec's done();
 *  - http_download: a producer that pushes a 2xx body into a stream with
 *    its backpressure (CURL_WRITEFUNC_PAUSE, http_resume), and resumes a
 *    broken transfer with Range + If-Range;
 *  - http_upload: a writer whose stream is the request body (chunked or
 *    with Content-Length, raw or as one multipart/form-data file part),
 *    whose commit ends when the response came.
 *
 * Retries: connection errors, timeouts, 408, 429, 500, 502, 503, 504;
 * idempotent methods only unless retry_unsafe; the wait is the server's
 * Retry-After (seconds or an HTTP date) or backoff with full jitter; no
 * attempt starts after the deadline.  The error line of a response is
 * made from its status and body, never from the request's headers.
 */
#include "zb-build.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "http.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "toolkit.h"
#include "util.h"

#define ERROR_BODY_MAX	(64 * 1024)
#define MAX_HEADERS	256
#define FORM_BOUNDARY	"zentoria-form-7c1f3a9e5d2b4c68"

enum req_mode {
	MODE_REQUEST,
	MODE_DOWNLOAD,
	MODE_UPLOAD
};

struct hdr {
	char	*name;
	char	*value;
};

struct hdrs {
	struct hdr	*v;
	size_t		 n;
};

struct zb_http_req {
	enum req_mode		 mode;
	struct zb_inst		*inst;
	struct zb_io		*io;		/* download, upload */
	char			*method;
	char			*url;
	char			*what;		/* for log lines */
	struct hdrs		 req_hdrs;	/* the spec's */
	struct hdrs		 att_hdrs;	/* this attempt's */
	struct hdrs		 resp_hdrs;	/* the last response's */
	const char		*body;		/* request body (request) */
	size_t			 body_len;
	char			*body_copy;	/* body, unless the caller keeps
						 * it (ABI 1.8 body_kept) */
	struct zb_http_retry	 retry;		/* defaults applied */
	int			 follow;
	int			(*on_attempt)(void *, struct zb_http_req *,
				    int);
	size_t			 resp_max;
	uint32_t		 total_ms;	/* an attempt's bound */
	void			*arg;

	CURL			*easy;
	struct curl_slist	*slist;
	int			 in_flight;
	int			 in_attempt_cb;	/* inside on_attempt */
	int			 in_done;	/* inside done() */
	int			 attempt;	/* 1, 2, ... */
	uint64_t		 t0;		/* first attempt, now_ms() */
	struct zb_timer		*retry_timer;
	struct zb_timer		*defer_timer;
	struct buf		 rbody;		/* collected response body */
	int			 over_max;	/* 2xx body over resp_max */
	char			 reason[64];	/* status line's reason */
	char			*error;		/* the outcome's error line */
	char			*fail;		/* ours: ends without retry */
	struct zb_http_resp	 resp;

	/* http_request */
	void			(*done)(void *, const struct zb_http_resp *);
	size_t			 sent;		/* request body offset */

	/* http_download */
	int			(*on_response)(void *,
				    const struct zb_http_resp *, char *,
				    size_t);
	int			(*on_data)(void *, const unsigned char *,
				    size_t, char *, size_t);
	void			(*on_end)(void *, int, const char *);
	void			(*on_close)(void *);
	uint64_t		 delivered;	/* pushed into the stream */
	uint64_t		 skip;		/* to skip of this attempt */
	int			 checked;	/* this attempt's 2xx checked */
	int			 responded;	/* on_response was called */
	char			*validator;	/* ETag or Last-Modified */
	char			*etag;		/* the first answer's ETag */
	int			 resumable;
	int64_t			 total;		/* Content-Length; -1 */
	int			 paused;	/* by the stream */
	int			 ended;		/* on_end / done given */

	/* http_upload */
	int64_t			 up_size;	/* -1: unknown */
	int64_t			 up_size_wire;	/* with the form's parts */
	struct buf		 pending;	/* taken, not yet sent */
	size_t			 pending_off;
	char			*form_head;
	size_t			 form_head_len, form_head_off;
	size_t			 form_tail_off;
	uint64_t		 written;	/* body bytes taken */
	uint64_t		 up_sent;	/* bytes handed to curl */
	int			 read_paused;
	int			 want_ready;
	int			 eof;		/* commit: the body ends */
	int			 committing;
	int			 answered;	/* the last attempt ended */
	int			 up_status;	/* its outcome */
	char			*up_msg;
	void			(*on_abort)(void *);
};

static int	attempt_start(struct zb_http_req *);
static void	download_end(struct zb_http_req *, int, const char *);
static int	first_answer(struct zb_http_req *);
static void	upload_answered(struct zb_http_req *);

/* ---- small helpers ------------------------------------------------------- */

static const char *
prefix_of(const struct zb_http_req *q)
{
	if (q->inst != NULL)
		return q->inst->prefix;
	if (q->io != NULL && q->io->inst != NULL)
		return q->io->inst->prefix;
	return "";
}

/* "METHOD scheme://host/path": no user info, no query string. */
static char *
what_of(const char *given, const char *method, const char *url)
{
	const char	*host, *at, *end;
	size_t		 hl;

	if (given != NULL)
		return xstrdup(given);
	host = strstr(url, "://");
	host = host != NULL ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	hl = (size_t)(host - url);
	if (at != NULL)
		host = at + 1;
	return xasprintf("%s %.*s%.*s", method, (int)hl, url,
	    (int)strcspn(host, "?#"), host);
}

static void
hdrs_set(struct hdrs *h, const char *name, const char *value, int replace)
{
	size_t	 i;

	if (replace)
		for (i = 0; i < h->n; i++)
			if (strcasecmp(h->v[i].name, name) == 0) {
				free(h->v[i].value);
				h->v[i].value = xstrdup(value);
				return;
			}
	h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
	h->v[h->n].name = xstrdup(name);
	h->v[h->n].value = xstrdup(value);
	h->n++;
}

static const char *
hdrs_get(const struct hdrs *h, const char *name)
{
	size_t	 i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

static void
hdrs_clear(struct hdrs *h)
{
	size_t	 i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static const char *
resp_header(const struct zb_http_resp *r, const char *name)
{
	const struct zb_http_req *q = r->priv;

	return q != NULL ? hdrs_get(&q->resp_hdrs, name) : NULL;
}

static const char *
resp_header_at(const struct zb_http_resp *r, size_t i, const char **value)
{
	const struct zb_http_req *q = r->priv;

	if (q == NULL || i >= q->resp_hdrs.n)
		return NULL;
	if (value != NULL)
		*value = q->resp_hdrs.v[i].value;
	return q->resp_hdrs.v[i].name;
}

static void
retry_defaults(struct zb_http_retry *dst, const struct zb_http_retry *src)
{
	*dst = *src;
	if (dst->max_attempts <= 0)
		dst->max_attempts = 5;
	if (dst->base_ms == 0)
		dst->base_ms = 200;
	if (dst->cap_ms == 0)
		dst->cap_ms = 10000;
	if (dst->deadline_ms == 0)
		dst->deadline_ms = 120000;
	if (dst->timeout_ms == 0)
		dst->timeout_ms = 60000;
}

static int
idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	    strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	    strcmp(m, "OPTIONS") == 0;
}

static int
retryable_curl(int code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int
retryable_status(long status)
{
	return status == 408 || status == 429 || status == 500 ||
	    status == 502 || status == 503 || status == 504;
}

static const char *
reason_of(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/*
 * Milliseconds to wait as the server asked (Retry-After: seconds or an
 * HTTP date), or -1 when it did not.
 */
static int64_t
retry_after_ms(const struct zb_http_req *q)
{
	const char	*v = hdrs_get(&q->resp_hdrs, "retry-after");
	char		*end;
	unsigned long	 s;
	time_t		 when, now;

	if (v == NULL || *v == '\0')
		return -1;
	if (isdigit((unsigned char)*v)) {
		s = strtoul(v, &end, 10);
		if (*end != '\0' || s > 86400)
			return s > 86400 ? 86400000 : -1;
		return (int64_t)s * 1000;
	}
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	now = time(NULL);
	return when > now ? (int64_t)(when - now) * 1000 : 0;
}

/* The first line of the body, printable, cut at 200 bytes. */
static void
first_line(const struct buf *b, char *out, size_t len)
{
	size_t	 i, o = 0;
	const char *p = b->data;

	out[0] = '\0';
	if (p == NULL)
		return;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strncmp(p, "<?xml", 5) == 0 && strstr(p, "?>") != NULL) {
		p = strstr(p, "?>") + 2;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
	}
	for (i = 0; p[i] != '\0' && p[i] != '\n' && p[i] != '\r' &&
	    o + 4 < len && i < 200; i++)
		out[o++] = isprint((unsigned char)p[i]) ? p[i] : '?';
	if (p[i] != '\0' && p[i] != '\n' && p[i] != '\r' && o + 4 < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* The error line of the outcome in q->resp (NULL for a good 2xx). */
static void
describe(struct zb_http_req *q)
{
	char		 line[256], tail[64], head[512];
	uint64_t	 secs = (now_ms() - q->t0 + 500) / 1000;
	long		 st = q->resp.status;

	free(q->error);
	q->error = NULL;
	tail[0] = '\0';
	if (q->attempt > 1)
		snprintf(tail, sizeof(tail), " (after %d attempts, %" PRIu64
		    " s)", q->attempt, secs);
	if (q->fail != NULL) {
		q->error = xstrdup(q->fail);
		return;
	}
	if (q->over_max) {
		q->error = xasprintf("response over %zu bytes", q->resp_max);
		return;
	}
	if (q->resp.curlcode != CURLE_OK && (st < 300 || st > 599)) {
		q->error = xasprintf("%s%s",
		    curl_easy_strerror((CURLcode)q->resp.curlcode), tail);
		return;
	}
	if (st >= 200 && st < 300)
		return;
	snprintf(head, sizeof(head), "HTTP %ld%s%s", st,
	    q->reason[0] != '\0' || reason_of(st)[0] != '\0' ? " " : "",
	    q->reason[0] != '\0' ? q->reason : reason_of(st));
	first_line(&q->rbody, line, sizeof(line));
	q->error = xasprintf("%s%s%s%s", head, line[0] != '\0' ? ": " : "",
	    line, tail);
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct zb_http_req	*q = arg;
	size_t			 n = size * nmemb, nl, vl, i;
	const char		*colon, *v, *sp;
	char			*name, *val;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (100 Continue, a redirect): start over */
		hdrs_clear(&q->resp_hdrs);
		q->reason[0] = '\0';
		sp = memchr(p, ' ', n);
		if (sp != NULL)
			sp = memchr(sp + 1, ' ', (size_t)(p + n - sp - 1));
		if (sp != NULL) {
			sp++;
			for (i = 0; sp + i < p + n && i + 1 <
			    sizeof(q->reason) && sp[i] != '\r' &&
			    sp[i] != '\n'; i++)
				q->reason[i] = isprint((unsigned char)sp[i]) ?
				    sp[i] : '?';
			q->reason[i] = '\0';
		}
		return n;
	}
	colon = memchr(p, ':', n);
	if (colon == NULL || q->resp_hdrs.n >= MAX_HEADERS)
		return n;
	nl = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + n && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(p + n - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	name = xstrndup(p, nl);
	val = xstrndup(v, vl);
	hdrs_set(&q->resp_hdrs, name, val, 0);
	free(name);
	free(val);
	return n;
}

static long
cur_status(struct zb_http_req *q)
{
	long	 status = 0;

	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* Collect a body: a 2xx one up to resp_max, an error one up to 64 KiB. */
static size_t
collect(struct zb_http_req *q, long status, const char *p, size_t n)
{
	if (status >= 200 && status < 300) {
		if (q->resp_max == 0)
			return n;	/* not wanted */
		if (q->rbody.len + n > q->resp_max) {
			q->over_max = 1;
			return 0;	/* fail the transfer */
		}
		if (buf_add(&q->rbody, p, n) == -1) {
			q->over_max = 1;
			return 0;
		}
		return n;
	}
	if (q->rbody.len < ERROR_BODY_MAX)
		(void)buf_add(&q->rbody, p, q->rbody.len + n >
		    ERROR_BODY_MAX ? ERROR_BODY_MAX - q->rbody.len : n);
	return n;
}

static size_t
on_write_collect(char *p, size_t size, size_t nmemb, void *arg)
{
	struct zb_http_req	*q = arg;

	return collect(q, cur_status(q), p, size * nmemb);
}

static size_t
on_read_mem(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct zb_http_req	*q = arg;
	size_t			 n = size * nmemb, left = q->body_len - q->sent;

	if (n > left)
		n = left;
	if (n > 0)
		memcpy(dst, q->body + q->sent, n);
	q->sent += n;
	return n;
}

static int
on_seek_mem(void *arg, curl_off_t off, int origin)
{
	struct zb_http_req	*q = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > q->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	q->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* ---- attempts ------------------------------------------------------------ */

static void
slist_add(struct zb_http_req *q, const char *name, const char *value)
{
	char			*line;
	struct curl_slist	*l;

	/* "Name;" sends a header with an empty value (curl's rule). */
	if (*value == '\0')
		line = xasprintf("%s;", name);
	else
		line = xasprintf("%s: %s", name, value);
	l = curl_slist_append(q->slist, line);
	free(line);
	if (l != NULL)
		q->slist = l;
}

static int
has_header(const struct zb_http_req *q, const char *name)
{
	return hdrs_get(&q->att_hdrs, name) != NULL ||
	    hdrs_get(&q->req_hdrs, name) != NULL;
}

static void
build_headers(struct zb_http_req *q)
{
	size_t	 i;

	curl_slist_free_all(q->slist);
	q->slist = NULL;
	for (i = 0; i < q->req_hdrs.n; i++)
		if (hdrs_get(&q->att_hdrs, q->req_hdrs.v[i].name) == NULL)
			slist_add(q, q->req_hdrs.v[i].name,
			    q->req_hdrs.v[i].value);
	for (i = 0; i < q->att_hdrs.n; i++)
		slist_add(q, q->att_hdrs.v[i].name, q->att_hdrs.v[i].value);
	/* No 100-continue round trip; no default form type on POST. */
	if (!has_header(q, "Expect"))
		q->slist = curl_slist_append(q->slist, "Expect:");
	if (!has_header(q, "Content-Type"))
		q->slist = curl_slist_append(q->slist, "Content-Type:");
	if (q->mode == MODE_UPLOAD && q->up_size_wire < 0 &&
	    !has_header(q, "Transfer-Encoding"))
		q->slist = curl_slist_append(q->slist,
		    "Transfer-Encoding: chunked");
}

static size_t	on_write_download(char *, size_t, size_t, void *);
static size_t	on_read_upload(char *, size_t, size_t, void *);
static void	on_transfer_done(void *, int, long);

static void
setup_method(struct zb_http_req *q)
{
	const char	*m = q->method;

	if (q->mode == MODE_UPLOAD) {
		curl_easy_setopt(q->easy, CURLOPT_READFUNCTION,
		    on_read_upload);
		curl_easy_setopt(q->easy, CURLOPT_READDATA, q);
		if (strcmp(m, "POST") == 0) {
			curl_easy_setopt(q->easy, CURLOPT_POST, 1L);
			curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)q->up_size_wire);
		} else {
			curl_easy_setopt(q->easy, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(q->easy, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)q->up_size_wire);
			if (strcmp(m, "PUT") != 0)
				curl_easy_setopt(q->easy,
				    CURLOPT_CUSTOMREQUEST, m);
		}
		return;
	}
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(q->easy, CURLOPT_NOBODY, 1L);
		return;
	}
	if (q->body != NULL || strcmp(m, "POST") == 0 ||
	    strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
		curl_easy_setopt(q->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(q->easy, CURLOPT_READFUNCTION, on_read_mem);
		curl_easy_setopt(q->easy, CURLOPT_READDATA, q);
		curl_easy_setopt(q->easy, CURLOPT_SEEKFUNCTION, on_seek_mem);
		curl_easy_setopt(q->easy, CURLOPT_SEEKDATA, q);
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)q->body_len);
	}
	if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0)
		curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, m);
}

/* Set up and submit attempt q->attempt + 1.  0, or -1 with q->fail set. */
static int
attempt_start(struct zb_http_req *q)
{
	char	 range[64];
	long	 t_s;

	q->attempt++;
	if (q->attempt == 1)
		q->t0 = now_ms();
	hdrs_clear(&q->att_hdrs);
	hdrs_clear(&q->resp_hdrs);
	buf_free(&q->rbody);
	buf_init(&q->rbody, q->resp_max > ERROR_BODY_MAX ? q->resp_max + 1 :
	    ERROR_BODY_MAX + 1);
	q->over_max = 0;
	q->reason[0] = '\0';
	q->sent = 0;
	q->checked = 0;
	q->skip = 0;
	q->up_sent = 0;
	q->form_head_off = 0;
	q->form_tail_off = 0;
	q->read_paused = 0;
	if (q->mode == MODE_DOWNLOAD && q->delivered > 0) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-",
		    q->delivered);
		hdrs_set(&q->att_hdrs, "Range", range, 1);
		if (q->validator != NULL)
			hdrs_set(&q->att_hdrs, "If-Range", q->validator, 1);
	}
	if (q->on_attempt != NULL) {
		q->in_attempt_cb = 1;
		if (q->on_attempt(q->arg, q, q->attempt) != ZB_OK) {
			q->in_attempt_cb = 0;
			free(q->fail);
			q->fail = xstrdup("the request was not sent: "
			    "on_attempt failed");
			return -1;
		}
		q->in_attempt_cb = 0;
	}
	if (q->easy != NULL)
		curl_easy_reset(q->easy);
	else if ((q->easy = curl_easy_init()) == NULL) {
		free(q->fail);
		q->fail = xstrdup("cannot create a curl handle");
		return -1;
	}
	build_headers(q);
	curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->slist);
	curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION,
	    q->mode == MODE_DOWNLOAD ? on_write_download : on_write_collect);
	curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (q->follow) {
		curl_easy_setopt(q->easy, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(q->easy, CURLOPT_MAXREDIRS, 10L);
		curl_easy_setopt(q->easy, CURLOPT_REDIR_PROTOCOLS_STR,
		    "http,https");
		/* The headers (a token, Authorization) go along. */
		curl_easy_setopt(q->easy, CURLOPT_UNRESTRICTED_AUTH, 1L);
		curl_easy_setopt(q->easy, CURLOPT_POSTREDIR,
		    (long)CURL_REDIR_POST_ALL);
	}
	/* Per attempt: connect within, and no progress for, timeout_ms. */
	t_s = (long)((q->retry.timeout_ms + 999) / 1000);
	curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)q->retry.timeout_ms);
	curl_easy_setopt(q->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(q->easy, CURLOPT_LOW_SPEED_TIME, t_s);
	if (q->total_ms > 0)
		curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS,
		    (long)q->total_ms);
	setup_method(q);
	if (http_submit(q->easy, on_transfer_done, q) == -1) {
		free(q->fail);
		q->fail = xstrdup("cannot start the HTTP transfer");
		return -1;
	}
	q->in_flight = 1;
	return 0;
}

static void
on_retry_timer(void *arg)
{
	struct zb_http_req	*q = arg;

	q->retry_timer = NULL;
	if (attempt_start(q) == 0)
		return;
	q->resp.curlcode = -1;
	q->resp.status = 0;
	on_transfer_done(q, -1, 0);
}

/*
 * After an attempt that failed: schedule the next one if the policy
 * allows it.  1 when scheduled.
 */
static int
maybe_retry(struct zb_http_req *q, int can_repeat)
{
	int64_t		 wait, ra;
	uint64_t	 ceil_ms, elapsed;
	char		 at[64];
	int		 transient;

	if (q->fail != NULL || !can_repeat)
		return 0;
	transient = q->resp.curlcode != CURLE_OK ?
	    retryable_curl(q->resp.curlcode) :
	    retryable_status(q->resp.status);
	if (!transient || q->attempt >= q->retry.max_attempts)
		return 0;
	if (!idempotent(q->method) && !q->retry.retry_unsafe)
		return 0;
	ra = q->resp.curlcode == CURLE_OK ? retry_after_ms(q) : -1;
	if (ra >= 0)
		wait = ra;
	else {
		ceil_ms = (uint64_t)q->retry.base_ms << (q->attempt - 1 < 30 ?
		    q->attempt - 1 : 30);
		if (ceil_ms > q->retry.cap_ms)
			ceil_ms = q->retry.cap_ms;
		wait = (int64_t)((uint64_t)random() % (ceil_ms + 1));
	}
	elapsed = now_ms() - q->t0;
	if (elapsed + (uint64_t)wait >= q->retry.deadline_ms)
		return 0;
	if (q->mode == MODE_DOWNLOAD && q->delivered > 0)
		snprintf(at, sizeof(at), "resuming at byte %" PRIu64 ", ",
		    q->delivered);
	else
		at[0] = '\0';
	log_warnx("%s %s: %s; %sretry %d of %d in %.1f s", prefix_of(q),
	    q->what, q->error != NULL ? q->error : "failed", at, q->attempt,
	    q->retry.max_attempts - 1, (double)wait / 1000);
	q->retry_timer = reactor_timer_add((uint64_t)wait, on_retry_timer, q);
	return 1;
}

static void
req_free(struct zb_http_req *q)
{
	if (q->retry_timer != NULL)
		reactor_timer_del(q->retry_timer);
	if (q->defer_timer != NULL)
		reactor_timer_del(q->defer_timer);
	if (q->easy != NULL) {
		if (q->in_flight)
			http_cancel(q->easy);
		curl_easy_cleanup(q->easy);
	}
	curl_slist_free_all(q->slist);
	hdrs_clear(&q->req_hdrs);
	hdrs_clear(&q->att_hdrs);
	hdrs_clear(&q->resp_hdrs);
	buf_free(&q->rbody);
	buf_free(&q->pending);
	free(q->method);
	free(q->url);
	free(q->what);
	free(q->body_copy);
	free(q->error);
	free(q->fail);
	free(q->validator);
	free(q->etag);
	free(q->form_head);
	free(q->up_msg);
	free(q);
}

static void
fill_resp(struct zb_http_req *q, int curlcode, long status)
{
	q->resp.struct_size = sizeof(q->resp);
	q->resp.curlcode = curlcode;
	q->resp.status = status;
	q->resp.body = q->rbody.data;
	q->resp.body_len = q->rbody.len;
	q->resp.attempts = q->attempt;
	q->resp.header = resp_header;
	q->resp.header_at = resp_header_at;
	q->resp.priv = q;
	describe(q);
	q->resp.error = q->error != NULL ? q->error : "";
}

static void
on_transfer_done(void *arg, int curlcode, long status)
{
	struct zb_http_req	*q = arg;
	int			 ok, can_repeat;

	q->in_flight = 0;
	fill_resp(q, curlcode, status);
	ok = q->fail == NULL && curlcode == CURLE_OK && status >= 200 &&
	    status < 300 && !q->over_max;
	switch (q->mode) {
	case MODE_REQUEST:
		if (!ok && maybe_retry(q, 1))
			return;
		q->in_done = 1;		/* a cancel from done is ignored */
		q->done(q->arg, &q->resp);
		req_free(q);
		return;
	case MODE_DOWNLOAD:
		if (ok && q->total >= 0 && q->delivered < (uint64_t)q->total) {
			free(q->fail);
			q->fail = xasprintf("the body ended after %" PRIu64
			    " of %" PRId64 " bytes", q->delivered, q->total);
			ok = 0;
			describe(q);
		}
		if (ok && !q->responded && first_answer(q) == -1) {
			ok = 0;	/* an empty body on_response refused */
			describe(q);
		}
		if (ok) {
			download_end(q, ZB_OK, NULL);
			return;
		}
		can_repeat = q->delivered == 0 || q->resumable;
		if (maybe_retry(q, can_repeat))
			return;
		download_end(q, ZB_ERR, q->error != NULL ? q->error :
		    "the download failed");
		return;
	case MODE_UPLOAD:
		if (!ok && maybe_retry(q, q->up_sent == 0))
			return;
		q->answered = 1;
		upload_answered(q);
		return;
	}
}

/* ---- http_request -------------------------------------------------------- */

static void
copy_headers(struct hdrs *dst, const struct zb_http_header *h, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (h[i].name != NULL && h[i].value != NULL)
			hdrs_set(dst, h[i].name, h[i].value, 0);
}

static void
on_first_attempt_failed(void *arg)
{
	struct zb_http_req	*q = arg;

	q->defer_timer = NULL;
	q->resp.curlcode = -1;
	on_transfer_done(q, -1, 0);
}

struct zb_http_req *
toolkit_http_request(struct zb_inst *inst, const struct zb_http_spec *spec)
{
	struct zb_http_req	*q;

	if (spec == NULL || spec->struct_size < offsetof(struct zb_http_spec,
	    arg) + sizeof(spec->arg) || spec->url == NULL ||
	    spec->done == NULL) {
		log_warnx("%s plugin bug: http_request() with an incomplete "
		    "spec", inst != NULL ? inst->prefix : "");
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->mode = MODE_REQUEST;
	q->inst = inst;
	q->method = xstrdup(spec->method != NULL ? spec->method : "GET");
	q->url = xstrdup(spec->url);
	q->what = what_of(spec->struct_size >= offsetof(struct zb_http_spec,
	    what) + sizeof(spec->what) ? spec->what : NULL, q->method, q->url);
	copy_headers(&q->req_hdrs, spec->headers, spec->nheaders);
	if (spec->body != NULL) {
		if (spec->struct_size >= offsetof(struct zb_http_spec,
		    body_kept) + sizeof(spec->body_kept) && spec->body_kept)
			q->body = spec->body;
		else {
			q->body_copy = xmalloc(spec->body_len + 1);
			memcpy(q->body_copy, spec->body, spec->body_len);
			q->body = q->body_copy;
		}
		q->body_len = spec->body_len;
	}
	retry_defaults(&q->retry, &spec->retry);
	q->follow = spec->follow_redirects;
	q->on_attempt = spec->on_attempt;
	q->resp_max = spec->resp_max;
	if (spec->struct_size >= offsetof(struct zb_http_spec, total_ms) +
	    sizeof(spec->total_ms))
		q->total_ms = spec->total_ms;
	q->done = spec->done;
	q->arg = spec->arg;
	q->total = -1;
	if (attempt_start(q) == -1) {
		/* done comes from the loop, never before we return */
		q->defer_timer = reactor_timer_add(0, on_first_attempt_failed,
		    q);
	}
	return q;
}

void
toolkit_http_request_cancel(struct zb_http_req *q)
{
	if (q != NULL && q->mode == MODE_REQUEST && !q->in_done)
		req_free(q);
}

void
toolkit_http_set_header(struct zb_http_req *q, const char *name,
    const char *value)
{
	if (q == NULL || name == NULL || value == NULL)
		return;
	if (!q->in_attempt_cb) {
		log_warnx("%s plugin bug: http_set_header() outside "
		    "on_attempt", prefix_of(q));
		return;
	}
	hdrs_set(&q->att_hdrs, name, value, 1);
}

/* ---- http_download ------------------------------------------------------- */

static void
download_end(struct zb_http_req *q, int status, const char *msg)
{
	if (q->ended)
		return;
	q->ended = 1;
	if (status != ZB_OK && q->on_end == NULL)
		log_debug("%s %s: %s", prefix_of(q), q->what, msg);
	if (q->on_end != NULL)
		q->on_end(q->arg, status, msg);
	else
		io_done(q->io, status, msg);
}

/* The first 2xx answer: remember what a resume needs. */
static int
first_answer(struct zb_http_req *q)
{
	const char	*cl = hdrs_get(&q->resp_hdrs, "content-length");
	const char	*ar = hdrs_get(&q->resp_hdrs, "accept-ranges");
	const char	*et = hdrs_get(&q->resp_hdrs, "etag");
	const char	*lm = hdrs_get(&q->resp_hdrs, "last-modified");
	char		 err[512];
	char		*end;
	unsigned long long v;

	q->total = -1;
	if (cl != NULL && isdigit((unsigned char)*cl)) {
		v = strtoull(cl, &end, 10);
		if (*end == '\0')
			q->total = (int64_t)v;
	}
	q->resumable = q->total >= 0 ||
	    (ar != NULL && strcasecmp(ar, "bytes") == 0);
	if (ar != NULL && strcasecmp(ar, "none") == 0)
		q->resumable = 0;
	if (et != NULL && strncmp(et, "W/", 2) != 0) {
		q->etag = xstrdup(et);
		q->validator = xstrdup(et);
	} else if (lm != NULL)
		q->validator = xstrdup(lm);
	if (et != NULL && q->etag == NULL)
		q->etag = xstrdup(et);
	q->responded = 1;
	if (q->on_response != NULL) {
		fill_resp(q, CURLE_OK, cur_status(q));
		err[0] = '\0';
		if (q->on_response(q->arg, &q->resp, err, sizeof(err)) !=
		    ZB_OK) {
			free(q->fail);
			q->fail = xstrdup(err[0] != '\0' ? err :
			    "the response was refused");
			return -1;
		}
	}
	return 0;
}

/* A later 2xx answer to "Range: bytes=N-": where does its body start? */
static int
resumed_answer(struct zb_http_req *q, long status)
{
	const char	*cr = hdrs_get(&q->resp_hdrs, "content-range");
	const char	*et = hdrs_get(&q->resp_hdrs, "etag");
	unsigned long long from;
	char		*end;

	if (status == 206) {
		if (cr == NULL || strncasecmp(cr, "bytes ", 6) != 0)
			goto bad;
		from = strtoull(cr + 6, &end, 10);
		if (*end != '-' || from != q->delivered)
			goto bad;
		q->skip = 0;
		return 0;
	}
	/* 200: the whole body again; usable only if it is the same one. */
	if (q->etag == NULL || et == NULL || strcmp(q->etag, et) != 0) {
		free(q->fail);
		q->fail = xasprintf("the download broke after %" PRIu64
		    " bytes and the server sent the whole body again with %s "
		    "ETag: cannot resume", q->delivered, et == NULL ? "no" :
		    "another");
		return -1;
	}
	q->skip = q->delivered;
	return 0;
bad:
	free(q->fail);
	q->fail = xasprintf("the download broke after %" PRIu64 " bytes and "
	    "the server answered the resume with Content-Range: %s",
	    q->delivered, cr != NULL ? cr : "(none)");
	return -1;
}

static size_t
on_write_download(char *p, size_t size, size_t nmemb, void *arg)
{
	struct zb_http_req	*q = arg;
	size_t			 n = size * nmemb, k;
	long			 status = cur_status(q);
	char			 err[512];
	int			 rc;

	if (status < 200 || status >= 300)
		return collect(q, status, p, n);
	if (q->ended || q->fail != NULL)
		return 0;
	if (q->paused)
		return CURL_WRITEFUNC_PAUSE;	/* the same bytes come again */
	if (!q->checked) {
		q->checked = 1;
		if (!q->responded) {
			if (first_answer(q) == -1)
				return 0;
		} else if (q->delivered > 0 &&
		    resumed_answer(q, status) == -1)
			return 0;
	}
	k = 0;
	if (q->skip > 0) {
		/* a 200 with the same ETag: drop what was delivered */
		k = q->skip < n ? (size_t)q->skip : n;
		q->skip -= k;
		p += k;
		if (k == n)
			return n;
		n -= k;
	}
	if (q->total >= 0 && q->delivered + n > (uint64_t)q->total) {
		free(q->fail);
		q->fail = xasprintf("the body is longer than its "
		    "Content-Length (%" PRId64 " bytes)", q->total);
		return 0;
	}
	if (q->on_data != NULL) {
		err[0] = '\0';
		if (q->on_data(q->arg, (const unsigned char *)p, n, err,
		    sizeof(err)) != ZB_OK) {
			free(q->fail);
			q->fail = xstrdup(err[0] != '\0' ? err :
			    "the data was refused");
			return 0;
		}
	}
	rc = io_push(q->io, p, n);
	q->delivered += n;
	if (rc == ZB_ERR) {
		q->ended = 1;	/* being torn down: close() follows */
		return 0;
	}
	return n + k;
}

static void
dl_pause(void *pctx)
{
	struct zb_http_req	*q = pctx;

	q->paused = 1;
}

static void
dl_resume(void *pctx)
{
	struct zb_http_req	*q = pctx;

	q->paused = 0;
	if (q->in_flight)
		http_resume(q->easy);
}

static void
dl_close(void *pctx)
{
	struct zb_http_req	*q = pctx;

	if (q->on_close != NULL)
		q->on_close(q->arg);
	req_free(q);
}

static const struct zb_producer_ops download_ops = {
	.pause = dl_pause,
	.resume = dl_resume,
	.close = dl_close
};

static void
on_download_start_failed(void *arg)
{
	struct zb_http_req	*q = arg;

	q->defer_timer = NULL;
	download_end(q, ZB_ERR, q->fail);
}

int
toolkit_http_download(struct zb_io *s, const struct zb_http_download_spec *spec,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct zb_http_req	*q;

	if (spec == NULL || spec->struct_size <
	    offsetof(struct zb_http_download_spec, arg) + sizeof(spec->arg) ||
	    spec->url == NULL) {
		log_warnx("%s plugin bug: http_download() with an incomplete "
		    "spec", s->inst != NULL ? s->inst->prefix : "");
		return ZB_ERR;
	}
	q = xcalloc(1, sizeof(*q));
	q->mode = MODE_DOWNLOAD;
	q->io = s;
	q->method = xstrdup("GET");
	q->url = xstrdup(spec->url);
	q->what = what_of(spec->struct_size >=
	    offsetof(struct zb_http_download_spec, what) + sizeof(spec->what) ?
	    spec->what : NULL, q->method, q->url);
	copy_headers(&q->req_hdrs, spec->headers, spec->nheaders);
	retry_defaults(&q->retry, &spec->retry);
	q->follow = spec->follow_redirects;
	q->on_attempt = spec->on_attempt;
	q->on_response = spec->on_response;
	q->on_data = spec->on_data;
	q->on_end = spec->on_end;
	q->on_close = spec->on_close;
	q->arg = spec->arg;
	if (spec->struct_size >= offsetof(struct zb_http_download_spec,
	    total_ms) + sizeof(spec->total_ms))
		q->total_ms = spec->total_ms;
	q->total = -1;
	if (attempt_start(q) == -1)
		q->defer_timer = reactor_timer_add(0, on_download_start_failed,
		    q);
	*ops = &download_ops;
	*pctx = q;
	return ZB_OK;
}

/* ---- http_upload --------------------------------------------------------- */

static void
on_defer_ready(void *arg)
{
	struct zb_http_req	*q = arg;

	q->defer_timer = NULL;
	if (q->want_ready) {
		q->want_ready = 0;
		hostapi_get()->ready(q->io);
	}
}

static void
defer_ready(struct zb_http_req *q)
{
	if (q->defer_timer == NULL)
		q->defer_timer = reactor_timer_add(0, on_defer_ready, q);
}

static size_t
copy_out(char *dst, size_t n, const char *src, size_t len, size_t *off)
{
	size_t	 k = len - *off;

	if (k > n)
		k = n;
	memcpy(dst, src + *off, k);
	*off += k;
	return k;
}

static size_t
on_read_upload(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct zb_http_req	*q = arg;
	size_t			 n = size * nmemb, k;
	static const char	 tail[] = "\r\n--" FORM_BOUNDARY "--\r\n";

	if (q->form_head != NULL && q->form_head_off < q->form_head_len) {
		k = copy_out(dst, n, q->form_head, q->form_head_len,
		    &q->form_head_off);
		q->up_sent += k;
		return k;
	}
	if (q->pending_off < q->pending.len) {
		k = copy_out(dst, n, q->pending.data, q->pending.len,
		    &q->pending_off);
		q->up_sent += k;
		if (q->pending_off == q->pending.len) {
			buf_reset(&q->pending);
			q->pending_off = 0;
			if (q->want_ready)
				defer_ready(q);
		}
		return k;
	}
	if (!q->eof) {
		q->read_paused = 1;
		if (q->want_ready)
			defer_ready(q);
		return CURL_READFUNC_PAUSE;
	}
	if (q->form_head != NULL && q->form_tail_off < sizeof(tail) - 1) {
		k = copy_out(dst, n, tail, sizeof(tail) - 1, &q->form_tail_off);
		q->up_sent += k;
		return k;
	}
	return 0;	/* the end of the body */
}

static void
upload_finish(struct zb_http_req *q)
{
	char	 err[512];
	int	 st = ZB_OK, rc;
	char	*msg = NULL;

	if (q->fail != NULL || q->resp.curlcode != CURLE_OK) {
		st = ZB_ERR;
		msg = xstrdup(q->error != NULL ? q->error : "upload failed");
	} else if (q->on_response != NULL) {
		err[0] = '\0';
		rc = q->on_response(q->arg, &q->resp, err, sizeof(err));
		if (rc == ZB_AGAIN) {
			/* the plugin ends the writer itself, later */
			req_free(q);
			return;
		}
		if (rc != ZB_OK) {
			st = ZB_ERR;
			msg = xstrdup(err[0] != '\0' ? err : q->resp.error);
		}
	} else if (q->resp.status < 200 || q->resp.status >= 300 ||
	    q->over_max) {
		st = ZB_ERR;
		msg = xstrdup(q->resp.error);
	}
	if (st != ZB_OK && q->on_abort != NULL)
		q->on_abort(q->arg);
	io_done(q->io, st, msg);
	free(msg);
	req_free(q);
}

/* The last attempt ended: before commit, the writer fails at its next
 * write; after it, commit ends here. */
static void
upload_answered(struct zb_http_req *q)
{
	if (q->committing) {
		upload_finish(q);
		return;
	}
	if (q->want_ready)
		defer_ready(q);
}

static int
up_write(void *wctx, const struct zb_chunk *c)
{
	struct zb_http_req	*q = wctx;

	if (q->answered) {
		log_warnx("%s %s: %s", prefix_of(q), q->what,
		    q->fail != NULL ? q->fail :
		    q->resp.status >= 200 && q->resp.status < 300 ?
		    "the server answered before the body ended" :
		    q->resp.error);
		return ZB_ERR;
	}
	if (q->up_size >= 0 && q->written + c->len > (uint64_t)q->up_size) {
		log_warnx("%s %s: the body is longer than the %" PRId64
		    " bytes announced", prefix_of(q), q->what, q->up_size);
		return ZB_ERR;
	}
	if (q->pending.len > q->pending_off) {
		q->want_ready = 1;
		return ZB_AGAIN;
	}
	buf_reset(&q->pending);
	q->pending_off = 0;
	if (buf_add(&q->pending, c->data, c->len) == -1) {
		log_warnx("%s %s: a chunk of %zu bytes is too large",
		    prefix_of(q), q->what, c->len);
		return ZB_ERR;
	}
	q->written += c->len;
	if (q->read_paused && q->in_flight) {
		q->read_paused = 0;
		http_resume(q->easy);
	}
	return ZB_OK;
}

static int
up_commit(void *wctx)
{
	struct zb_http_req	*q = wctx;

	q->committing = 1;
	if (!q->answered && q->up_size >= 0 &&
	    q->written != (uint64_t)q->up_size) {
		free(q->fail);
		q->fail = xasprintf("the body ended after %" PRIu64 " of the %"
		    PRId64 " bytes announced", q->written, q->up_size);
		if (q->in_flight) {
			http_cancel(q->easy);
			q->in_flight = 0;
		}
		describe(q);
		q->answered = 1;
	}
	if (q->answered) {
		upload_finish(q);
		return ZB_AGAIN;
	}
	q->eof = 1;
	if (q->read_paused && q->in_flight) {
		q->read_paused = 0;
		http_resume(q->easy);
	}
	return ZB_AGAIN;
}

static void
up_abort(void *wctx)
{
	struct zb_http_req	*q = wctx;

	if (q->on_abort != NULL)
		q->on_abort(q->arg);
	req_free(q);
}

static const struct zb_writer_ops upload_ops = {
	.write = up_write,
	.commit = up_commit,
	.abort = up_abort
};

/* A quoted-string parameter value: no quotes, no line breaks. */
static char *
form_quote(const char *s)
{
	char	*out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '"' || *p == '\r' || *p == '\n' || *p == '\\')
			*p = '_';
	return out;
}

int
toolkit_http_upload(struct zb_io *w, const struct zb_http_upload_spec *spec,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct zb_http_req	*q;
	char			*field, *fname, *ctype;
	size_t			 tail = strlen("\r\n--" FORM_BOUNDARY "--\r\n");

	if (spec == NULL || spec->struct_size <
	    offsetof(struct zb_http_upload_spec, arg) + sizeof(spec->arg) ||
	    spec->url == NULL) {
		log_warnx("%s plugin bug: http_upload() with an incomplete "
		    "spec", w->inst != NULL ? w->inst->prefix : "");
		return ZB_ERR;
	}
	q = xcalloc(1, sizeof(*q));
	q->mode = MODE_UPLOAD;
	q->io = w;
	q->method = xstrdup(spec->method != NULL ? spec->method : "PUT");
	q->url = xstrdup(spec->url);
	q->what = what_of(spec->struct_size >=
	    offsetof(struct zb_http_upload_spec, what) + sizeof(spec->what) ?
	    spec->what : NULL, q->method, q->url);
	copy_headers(&q->req_hdrs, spec->headers, spec->nheaders);
	retry_defaults(&q->retry, &spec->retry);
	q->on_attempt = spec->on_attempt;
	q->resp_max = spec->resp_max;
	q->on_response = spec->on_response;
	q->on_abort = spec->on_abort;
	q->arg = spec->arg;
	if (spec->struct_size >= offsetof(struct zb_http_upload_spec,
	    total_ms) + sizeof(spec->total_ms))
		q->total_ms = spec->total_ms;
	q->total = -1;
	q->up_size = spec->size >= 0 ? spec->size : -1;
	q->up_size_wire = q->up_size;
	buf_init(&q->pending, SIZE_MAX / 2);
	if (spec->form_field != NULL) {
		field = form_quote(spec->form_field);
		fname = form_quote(spec->form_filename != NULL ?
		    spec->form_filename : "data");
		ctype = form_quote(spec->form_type != NULL ?
		    spec->form_type : "application/octet-stream");
		q->form_head = xasprintf("--%s\r\nContent-Disposition: "
		    "form-data; name=\"%s\"; filename=\"%s\"\r\n"
		    "Content-Type: %s\r\n\r\n", FORM_BOUNDARY, field, fname,
		    ctype);
		q->form_head_len = strlen(q->form_head);
		free(field);
		free(fname);
		free(ctype);
		hdrs_set(&q->req_hdrs, "Content-Type",
		    "multipart/form-data; boundary=" FORM_BOUNDARY, 1);
		if (q->up_size >= 0)
			q->up_size_wire = q->up_size +
			    (int64_t)(q->form_head_len + tail);
	}
	if (attempt_start(q) == -1) {
		log_warnx("%s %s: %s", prefix_of(q), q->what, q->fail);
		req_free(q);
		return ZB_ERR;
	}
	*ops = &upload_ops;
	*wctx = q;
	return ZB_OK;
}
