/*
 * qdrant_backup.c - one stream of the qdrant source: a collection's
 * snapshot, or the full-storage one (stream `full').
 *
 * Steps, each one request: GET / (the server's version), GET
 * /collections/NAME (points count, vector config; for `full' GET
 * /collections), POST .../snapshots?wait=true (the server writes the
 * snapshot and answers with its name, size and SHA-256), then the
 * download through the toolkit's producer (host->http_download: bytes go
 * straight into the stream, a broken transfer resumes with Range), with
 * a SHA-256 of every byte compared with the server's checksum when the
 * body ended: a mismatch, or a size other than the announced one, fails
 * the stream before its done().  Last, DELETE the snapshot on the server
 * - after a failure as well - and only then end the stream.  If the
 * host closes the stream early, the delete is sent anyway, detached
 * (qdrant_req.c).
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <zentoria/plugin.h>

#include "qdrant.h"

enum qbk_step { ST_VERSION, ST_INFO, ST_CREATE, ST_DOWNLOAD, ST_DELETE };

struct qbk {
	struct qdrant			*q;
	struct zb_io			*s;
	const char			*coll;	/* NULL: full storage */
	char				 what[400]; /* for messages */
	enum qbk_step			 step;
	struct zb_http_req		*req;	/* the request running */
	struct qd_snap			 snap;
	int				 created;	/* snap exists */
	char				 snap_url[QD_URL_MAX];
	EVP_MD_CTX			*md;
	uint64_t			 bytes;
	const struct zb_producer_ops	*dl_ops; /* the download */
	void				*dl_ctx;
	int				 paused;
	int				 status;	/* the outcome */
	char				 msg[2048];
};

static void	step_delete(struct qbk *);

static void
bk_free(struct qbk *b)
{
	if (b->req != NULL)
		b->q->host->http_request_cancel(b->req);
	if (b->dl_ops != NULL)
		b->dl_ops->close(b->dl_ctx);
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* The stream failed (first failure wins); then the snapshot goes. */
static void
bk_fail(struct qbk *b, const char *fmt, ...) ZB_PRINTF(2, 3);

static void
bk_fail(struct qbk *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 m[1600];

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (b->status == ZB_OK) {
		b->status = ZB_ERR;
		snprintf(b->msg, sizeof(b->msg), "%s: %s: %s", b->q->name,
		    b->what, m);
		b->q->host->log(b->q->inst, ZB_LOG_ERROR, "%s: %s", b->what,
		    m);
	}
	step_delete(b);
}

/* The end: the outcome goes to the host; close() frees b. */
static void
bk_end(struct qbk *b)
{
	b->step = ST_DELETE;
	if (b->status == ZB_OK)
		b->q->host->done(b->s, ZB_OK, NULL);
	else
		b->q->host->done(b->s, ZB_ERR, b->msg);
}

static void
delete_done(void *arg, const struct zb_http_resp *r)
{
	struct qbk	*b = arg;
	char		 err[512];

	b->req = NULL;
	b->created = 0;
	if (r->status == 200 && qj_true(b->q->host, r->body, r->body_len,
	    err, sizeof(err)) == ZB_OK)
		b->q->host->log(b->q->inst, ZB_LOG_DEBUG, "%s: snapshot %s "
		    "deleted on the server", b->what, b->snap.name);
	else
		b->q->host->log(b->q->inst, ZB_LOG_WARN, "%s: snapshot %s "
		    "could not be deleted on the server: %s", b->what,
		    b->snap.name, r->status == 200 ? err : r->error);
	bk_end(b);
}

static void
step_delete(struct qbk *b)
{
	b->step = ST_DELETE;
	if (!b->created) {
		bk_end(b);
		return;
	}
	b->req = qd_call(b->q, "DELETE", b->snap_url, 0, delete_done, b);
	if (b->req == NULL) {
		b->q->host->log(b->q->inst, ZB_LOG_WARN, "%s: snapshot %s "
		    "left on the server: the delete could not be started",
		    b->what, b->snap.name);
		b->created = 0;
		bk_end(b);
	}
}

/* ---- the download ----------------------------------------------------- */

static int
dl_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct qbk	*b = arg;

	if (EVP_DigestUpdate(b->md, p, n) != 1) {
		snprintf(err, errlen, "SHA-256 failed");
		return ZB_ERR;
	}
	b->bytes += n;
	if (b->snap.size >= 0 && b->bytes > (uint64_t)b->snap.size) {
		snprintf(err, errlen, "the server sent more than the %lld "
		    "bytes its snapshot %s has", (long long)b->snap.size,
		    b->snap.name);
		return ZB_ERR;
	}
	return ZB_OK;
}

static void
dl_end(void *arg, int status, const char *msg)
{
	struct qbk	*b = arg;
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];

	if (status != ZB_OK) {
		bk_fail(b, "downloading snapshot %s: %s", b->snap.name,
		    msg != NULL ? msg : "failed");
		return;
	}
	if (EVP_DigestFinal_ex(b->md, d, &dlen) != 1) {
		bk_fail(b, "SHA-256 failed");
		return;
	}
	for (i = 0; i < dlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	if (b->snap.size >= 0 && b->bytes != (uint64_t)b->snap.size) {
		bk_fail(b, "snapshot %s: %llu bytes received, the server "
		    "announced %lld", b->snap.name,
		    (unsigned long long)b->bytes, (long long)b->snap.size);
		return;
	}
	if (b->snap.checksum[0] != '\0' &&
	    strcmp(hex, b->snap.checksum) != 0) {
		bk_fail(b, "snapshot %s: SHA-256 mismatch: the server's "
		    "checksum is %s, the %llu bytes received hash to %s",
		    b->snap.name, b->snap.checksum,
		    (unsigned long long)b->bytes, hex);
		return;
	}
	b->q->host->fact_str(b->s, NULL, "sha256", hex);
	b->q->host->log(b->q->inst, ZB_LOG_INFO, "%s: snapshot %s: %llu "
	    "bytes, SHA-256 %s", b->what, b->snap.name,
	    (unsigned long long)b->bytes,
	    b->snap.checksum[0] != '\0' ? "matches the server's" :
	    "not checked (the server gave no checksum)");
	step_delete(b);
}

static void
step_download(struct qbk *b)
{
	const struct zb_host_api	*h = b->q->host;
	struct zb_http_header		 hd[1];
	struct zb_http_download_spec	 spec;

	b->step = ST_DOWNLOAD;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(),
	    NULL) != 1) {
		bk_fail(b, "SHA-256 failed");
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.url = b->snap_url;
	qd_headers(b->q, hd, &spec.nheaders);
	spec.headers = hd;
	qd_retry(b->q, &spec.retry);
	spec.on_data = dl_data;
	spec.on_end = dl_end;
	spec.arg = b;
	if (h->http_download(b->s, &spec, &b->dl_ops, &b->dl_ctx) != ZB_OK) {
		b->dl_ops = NULL;
		bk_fail(b, "cannot start downloading snapshot %s",
		    b->snap.name);
		return;
	}
	if (b->paused && b->dl_ops != NULL)
		b->dl_ops->pause(b->dl_ctx);
}

/* ---- the requests before it -------------------------------------------- */

static void
create_done(void *arg, const struct zb_http_resp *r)
{
	struct qbk	*b = arg;
	const struct zb_host_api *h = b->q->host;
	char		 err[1024];
	int		 rc;

	b->req = NULL;
	if (r->status != 200) {
		bk_fail(b, "creating a snapshot: %s", r->error);
		return;
	}
	if (qj_snapshot(h, r->body, r->body_len, &b->snap, err,
	    sizeof(err)) != ZB_OK) {
		bk_fail(b, "creating a snapshot: %s", err);
		return;
	}
	if (b->coll != NULL)
		rc = qd_url(b->q, b->snap_url, sizeof(b->snap_url),
		    "/collections/%s/snapshots/%s", b->coll, b->snap.name);
	else
		rc = qd_url(b->q, b->snap_url, sizeof(b->snap_url),
		    "/snapshots/%s", b->snap.name);
	if (rc != ZB_OK) {
		bk_fail(b, "snapshot %s: name too long", b->snap.name);
		return;
	}
	b->created = 1;
	h->fact_str(b->s, NULL, "snapshot", b->snap.name);
	if (b->snap.size >= 0)
		h->fact_int(b->s, NULL, "snapshot_size", b->snap.size);
	if (b->snap.checksum[0] != '\0')
		h->fact_str(b->s, NULL, "checksum", b->snap.checksum);
	else
		h->log(b->q->inst, ZB_LOG_WARN, "%s: the server gave no "
		    "checksum for snapshot %s: it cannot be checked",
		    b->what, b->snap.name);
	h->log(b->q->inst, ZB_LOG_INFO, "%s: snapshot %s created (%lld "
	    "bytes)", b->what, b->snap.name, (long long)b->snap.size);
	step_download(b);
}

static void
step_create(struct qbk *b)
{
	char	 url[QD_URL_MAX];
	int	 rc;

	b->step = ST_CREATE;
	if (b->coll != NULL)
		rc = qd_url(b->q, url, sizeof(url),
		    "/collections/%s/snapshots?wait=true", b->coll);
	else
		rc = qd_url(b->q, url, sizeof(url), "/snapshots?wait=true");
	if (rc != ZB_OK) {
		bk_fail(b, "URL too long");
		return;
	}
	b->req = qd_call(b->q, "POST", url, b->q->snap_timeout_ms,
	    create_done, b);
	if (b->req == NULL)
		bk_fail(b, "cannot send the request");
}

static void
info_done(void *arg, const struct zb_http_resp *r)
{
	struct qbk	*b = arg;
	const struct zb_host_api *h = b->q->host;
	struct qd_info	 in;
	char		 err[1024];
	char		**names = NULL;
	size_t		 n = 0, i, off = 0;
	char		 list[4096];

	b->req = NULL;
	if (r->status != 200) {
		bk_fail(b, "%s: %s", b->coll != NULL ? "reading the "
		    "collection" : "listing the collections", r->error);
		return;
	}
	if (b->coll == NULL) {
		if (qj_collections(h, r->body, r->body_len, &names, &n, err,
		    sizeof(err)) != ZB_OK) {
			bk_fail(b, "listing the collections: %s", err);
			return;
		}
		list[0] = '\0';
		for (i = 0; i < n && off < sizeof(list); i++) {
			int	 k = snprintf(list + off, sizeof(list) - off,
			    "%s%s", i > 0 ? "," : "", names[i]);

			if (k < 0)
				break;
			off += (size_t)k;
		}
		h->fact_int(b->s, NULL, "collections", (int64_t)n);
		h->fact_str(b->s, NULL, "collection_names", list);
		qj_names_free(names, n);
		step_create(b);
		return;
	}
	if (qj_info(h, r->body, r->body_len, &in, err, sizeof(err)) !=
	    ZB_OK) {
		bk_fail(b, "reading the collection: %s", err);
		return;
	}
	h->fact_str(b->s, NULL, "collection", b->coll);
	if (in.points >= 0)
		h->fact_int(b->s, NULL, "points", in.points);
	if (in.vectors != NULL)
		h->fact_str(b->s, NULL, "vectors", in.vectors);
	if (in.status[0] != '\0')
		h->fact_str(b->s, NULL, "status", in.status);
	qj_info_clear(&in);
	step_create(b);
}

static void
version_done(void *arg, const struct zb_http_resp *r)
{
	struct qbk	*b = arg;
	char		 ver[128], err[512], url[QD_URL_MAX];
	int		 rc;

	b->req = NULL;
	if (r->status != 200) {
		bk_fail(b, "asking for the version: %s", r->error);
		return;
	}
	if (qj_version(b->q->host, r->body, r->body_len, ver, sizeof(ver),
	    err, sizeof(err)) == ZB_OK)
		b->q->host->fact_str(b->s, NULL, "qdrant_version", ver);
	else
		b->q->host->log(b->q->inst, ZB_LOG_WARN, "%s: no version: %s",
		    b->what, err);
	b->step = ST_INFO;
	if (b->coll != NULL)
		rc = qd_url(b->q, url, sizeof(url), "/collections/%s",
		    b->coll);
	else
		rc = qd_url(b->q, url, sizeof(url), "/collections");
	if (rc != ZB_OK) {
		bk_fail(b, "URL too long");
		return;
	}
	b->req = qd_call(b->q, "GET", url, 0, info_done, b);
	if (b->req == NULL)
		bk_fail(b, "cannot send the request");
}

/* ---- producer ops ------------------------------------------------------- */

static void
bk_pause(void *pctx)
{
	struct qbk	*b = pctx;

	b->paused = 1;
	if (b->dl_ops != NULL && b->step == ST_DOWNLOAD)
		b->dl_ops->pause(b->dl_ctx);
}

static void
bk_resume(void *pctx)
{
	struct qbk	*b = pctx;

	b->paused = 0;
	if (b->dl_ops != NULL && b->step == ST_DOWNLOAD)
		b->dl_ops->resume(b->dl_ctx);
}

static void
bk_close(void *pctx)
{
	struct qbk	*b = pctx;

	if (b->req != NULL) {
		b->q->host->http_request_cancel(b->req);
		b->req = NULL;
	}
	if (b->created) {
		char	 what[1024];

		snprintf(what, sizeof(what), "%s: snapshot %s", b->what,
		    b->snap.name);
		qd_delete_detached(b->q, b->snap_url, what);
	}
	bk_free(b);
}

static const struct zb_producer_ops bk_ops = {
	bk_pause, bk_resume, bk_close
};

int
qdrant_backup_open(struct qdrant *q, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct qbk	*b;
	const char	*name = q->host->stream_name(s);
	char		 url[QD_URL_MAX];

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return ZB_ERR;
	b->q = q;
	b->s = s;
	if (strcmp(name, QD_FULL) == 0 && q->full) {
		b->coll = NULL;
		snprintf(b->what, sizeof(b->what), "full-storage snapshot of "
		    "%s", q->url);
	} else {
		b->coll = name;
		snprintf(b->what, sizeof(b->what), "collection %s on %s",
		    name, q->url);
	}
	if (qd_url(q, url, sizeof(url), "/") != ZB_OK) {
		free(b);
		return ZB_ERR;
	}
	b->step = ST_VERSION;
	b->req = qd_call(q, "GET", url, 0, version_done, b);
	if (b->req == NULL) {
		free(b);
		return ZB_ERR;
	}
	*ops = &bk_ops;
	*pctx = b;
	return ZB_OK;
}
