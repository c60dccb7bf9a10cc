/*
 * s3_get.c - the sink's get: one object streamed into the host's stream
 * (verify, restore), on host->http_download (ABI 1.5).
 *
 * The host pushes the GET's body with the stream's backpressure and
 * retries and resumes a broken transfer from where it broke with a
 * Range request, up to `retries' times: bytes already pushed are never
 * pushed twice.  Each attempt is signed afresh (SigV4); a resumed one
 * is also pinned to the first answer's ETag with If-Match, so that an
 * object replaced meanwhile ends the get with a 412 instead of mixing
 * two objects' bytes.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_buf.h"
#include "s3.h"

struct get {
	struct s3	*s3;
	struct zb_io	*s;
	char		*key;
	char		*host, *path, *url;
	char		 where[512];
	char		 what[560];	/* "GET s3://bucket/key" */
	char		 etag[128];
};

static int
on_attempt(void *arg, struct zb_http_req *hr, int attempt)
{
	struct get	*g = arg;

	if (attempt > 1 && g->etag[0] != '\0')
		g->s3->host->http_set_header(hr, "If-Match", g->etag);
	return s3_sign_get(g->s3, hr, g->host, g->path);
}

static int
on_response(void *arg, const struct zb_http_resp *r, char *err, size_t len)
{
	struct get	*g = arg;
	const char	*etag = r->header(r, "etag");

	if (etag != NULL && strlen(etag) < sizeof(g->etag))
		snprintf(g->etag, sizeof(g->etag), "%s", etag);
	return ZB_OK;
}

static void
on_end(void *arg, int status, const char *msg)
{
	struct get	*g = arg;
	char		 m[1024];

	if (status == ZB_OK) {
		g->s3->host->done(g->s, ZB_OK, NULL);
		return;
	}
	if (msg == NULL)
		msg = "failed";
	if (strncmp(msg, "HTTP 404 ", 9) == 0)
		snprintf(m, sizeof(m), "%s: no such object", g->where);
	else if (strncmp(msg, "HTTP 412 ", 9) == 0)
		snprintf(m, sizeof(m), "%s changed while it was read",
		    g->where);
	else
		snprintf(m, sizeof(m), "%s: %s", g->what, msg);
	g->s3->host->done(g->s, ZB_ERR, m);
}

static void
on_close(void *arg)
{
	struct get	*g = arg;

	free(g->key);
	free(g->host);
	free(g->path);
	free(g->url);
	free(g);
}

int
s3_get_open(struct s3 *s3, struct zb_io *s, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct zb_http_download_spec	 d;
	struct s3_limits		 lim;
	struct get			*g = xcalloc(1, sizeof(*g));

	g->s3 = s3;
	g->s = s;
	g->key = s3_full_key(s3, key);
	s3_where(s3, g->key, g->where, sizeof(g->where));
	snprintf(g->what, sizeof(g->what), "GET %s", g->where);
	if (s3_get_target(s3, g->key, &g->host, &g->path, &g->url) == -1) {
		s3_log(s3, ZB_LOG_ERROR, "%s: cannot build the request",
		    g->what);
		on_close(g);
		return ZB_ERR;
	}
	s3_limits_for(&s3->timeouts, S3_REQ_DATA, &lim);
	memset(&d, 0, sizeof(d));
	d.struct_size = sizeof(d);
	d.url = g->url;
	d.retry.max_attempts = s3->retries + 1;
	d.retry.base_ms = 200;
	d.retry.cap_ms = 10000;
	d.retry.deadline_ms = UINT32_MAX;	/* bounded by `retries' */
	d.retry.timeout_ms = (uint32_t)lim.connect_ms;
	d.total_ms = (uint32_t)lim.total_ms;
	d.on_attempt = on_attempt;
	d.on_response = on_response;
	d.on_end = on_end;
	d.on_close = on_close;
	d.arg = g;
	d.what = g->what;
	if (s3->host->http_download(s, &d, ops, pctx) != ZB_OK) {
		on_close(g);
		return ZB_ERR;
	}
	return ZB_OK;
}
