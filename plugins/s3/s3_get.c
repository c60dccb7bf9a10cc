/*
 * s3_get.c - the sink's get: one object streamed into the host's stream
 * (verify, restore).
 *
 * The GET's body goes to host->push as curl delivers it.  When the host
 * pauses the stream, the next delivery is refused with
 * CURL_WRITEFUNC_PAUSE (curl offers it again after resume).  A transfer
 * that breaks after some bytes went out is resumed from there with a
 * Range request pinned to the object's ETag (If-Match), up to `retries'
 * times: bytes already pushed are never pushed twice.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util.h"
#include "s3.h"

struct get {
	struct s3	*s3;
	struct zb_io	*s;
	char		*key;
	char		 where[512];
	struct s3_req	*req;
	uint64_t	 offset;	/* bytes pushed */
	char		 etag[128];
	int		 resumes;
	int		 paused;	/* by the host */
	int		 curl_paused;	/* we answered PAUSE */
	int		 torn_down;	/* push said ZB_ERR */
};

static int	start(struct get *);

static size_t
on_data(void *arg, const char *p, size_t n)
{
	struct get	*g = arg;
	int		 rc;

	if (g->torn_down)
		return 0;
	if (g->paused) {
		g->curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	rc = g->s3->host->push(g->s, p, n);
	if (rc == ZB_ERR) {
		g->torn_down = 1;
		return 0;
	}
	g->offset += n;
	if (rc == ZB_AGAIN)
		g->paused = 1;	/* taken; pause() has been called */
	return n;
}

static void
on_done(void *arg, struct s3_resp *r)
{
	struct get	*g = arg;
	char		 msg[700];

	g->req = NULL;
	if (g->torn_down)
		return;		/* close() follows */
	if (s3_ok(r)) {
		g->s3->host->done(g->s, ZB_OK, NULL);
		return;
	}
	/* The first answer's ETag pins resumed reads to the same object. */
	if (g->etag[0] == '\0' && r->etag[0] != '\0')
		snprintf(g->etag, sizeof(g->etag), "%s", r->etag);
	/* A body cut off mid-way is a curl error with status 200. */
	if (g->offset > 0 && g->etag[0] != '\0' &&
	    g->resumes < g->s3->retries && r->status != 412 &&
	    (r->curlcode != 0 || r->status >= 500)) {
		g->resumes++;
		s3_log(g->s3, ZB_LOG_WARN, "%s; resuming at byte %llu (%d of "
		    "%d)", r->error, (unsigned long long)g->offset, g->resumes,
		    g->s3->retries);
		if (start(g) == 0)
			return;
	}
	if (r->status == 404)
		snprintf(msg, sizeof(msg), "%s: no such object", g->where);
	else if (r->status == 412)
		snprintf(msg, sizeof(msg), "%s changed while it was read",
		    g->where);
	else
		snprintf(msg, sizeof(msg), "%s", r->error);
	g->s3->host->done(g->s, ZB_ERR, msg);
}

static int
start(struct get *g)
{
	struct s3_req_spec	 s;
	char			 range[64];

	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.key = g->key;
	if (g->offset > 0) {
		snprintf(range, sizeof(range), "bytes=%llu-",
		    (unsigned long long)g->offset);
		s.headers[0].name = "range";
		s.headers[0].value = range;
		s.headers[1].name = "if-match";
		s.headers[1].value = g->etag;
		s.nheaders = 2;
	}
	s.on_data = on_data;
	s.done = on_done;
	s.arg = g;
	g->req = s3_req_start(g->s3, &s);
	return g->req != NULL ? 0 : -1;
}

static void
get_pause(void *pctx)
{
	((struct get *)pctx)->paused = 1;
}

static void
get_resume(void *pctx)
{
	struct get	*g = pctx;

	g->paused = 0;
	if (g->curl_paused && g->req != NULL) {
		g->curl_paused = 0;
		s3_req_resume(g->req);
	}
}

static void
get_close(void *pctx)
{
	struct get	*g = pctx;

	s3_req_cancel(g->req);
	free(g->key);
	free(g);
}

static const struct zb_producer_ops get_ops = {
	get_pause, get_resume, get_close
};

int
s3_get_open(struct s3 *s3, struct zb_io *s, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct get	*g = xcalloc(1, sizeof(*g));

	g->s3 = s3;
	g->s = s;
	g->key = s3_full_key(s3, key);
	s3_where(s3, g->key, g->where, sizeof(g->where));
	if (start(g) == -1) {
		free(g->key);
		free(g);
		return ZB_ERR;
	}
	*ops = &get_ops;
	*pctx = g;
	return ZB_OK;
}
