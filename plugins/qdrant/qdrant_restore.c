/*
 * qdrant_restore.c - restoring the qdrant source's streams, and
 * test-restore.
 *
 * Targets (--to): a path (anything with a '/') gets the snapshot file
 * itself (host->file_writer); a bare name is a collection on the
 * source's server, by default the stream's own.  The full-storage
 * snapshot restores to a path only: Qdrant has no REST call for it, it
 * reads one at startup (the command is printed).
 *
 * A collection restore first asks the server about the target (GET
 * /collections/NAME): a missing or empty one is fine, one holding points
 * needs --force.  Until that answer came, write() answers ZB_AGAIN.  Then
 * the stream is uploaded as it comes (host->http_upload: POST
 * /collections/NAME/snapshots/upload?wait=true&priority=snapshot&checksum=
 * the server's SHA-256 from the manifest, multipart/form-data with the
 * file part "snapshot"), so the server checks the bytes once more before
 * it recovers the collection from them.
 *
 * test-restore uploads into a scratch collection of its own
 * (zb_test_restore_PID_N), compares its points count with the manifest's
 * fact, and deletes it, also after a failure or an abort.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zentoria/plugin.h>

#include "qdrant.h"

enum qrs_phase { PH_CHECK, PH_UPLOAD, PH_VERIFY, PH_DROP, PH_FAILED };

struct qrs {
	struct qdrant			*q;
	const struct zb_host_api	*h;
	struct zb_io			*w;
	int				 test;
	int				 force;
	char				*coll;
	char				 coll_url[QD_URL_MAX];
	enum qrs_phase			 phase;
	struct zb_http_req		*req;
	const struct zb_writer_ops	*up_ops;
	void				*up_ctx;
	int				 blocked;	/* write said AGAIN */
	int				 uploaded;	/* scratch may exist */
	int64_t				 want_points;	/* -1: unknown */
	char				 checksum[65];
	char				 filename[300];
	int				 status;
	char				 msg[2048];
};

static void
rs_free(struct qrs *r)
{
	if (r->req != NULL)
		r->h->http_request_cancel(r->req);
	free(r->coll);
	free(r);
}

static void
rs_fail(struct qrs *r, const char *fmt, ...) ZB_PRINTF(2, 3);

static void
rs_fail(struct qrs *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 m[1600];

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (r->status != ZB_OK)
		return;
	r->status = ZB_ERR;
	snprintf(r->msg, sizeof(r->msg), "%s: collection %s on %s: %s",
	    r->q->name, r->coll, r->q->url, m);
	r->h->log(r->q->inst, ZB_LOG_ERROR, "collection %s on %s: %s",
	    r->coll, r->q->url, m);
}

static const char *
fact(struct qrs *r, const char *key)
{
	return r->h->fact_get(r->w, NULL, key);
}

/* ---- after the upload: count, then drop (test-restore) --------------- */

static void
rs_finish(struct qrs *r)
{
	const struct zb_host_api *h = r->h;
	struct zb_io		*w = r->w;
	int			 status = r->status;
	char			 msg[sizeof(r->msg)];

	memcpy(msg, r->msg, sizeof(msg));
	rs_free(r);
	h->done(w, status, status == ZB_OK ? NULL : msg);
}

static void
drop_done(void *arg, const struct zb_http_resp *resp)
{
	struct qrs	*r = arg;

	r->req = NULL;
	if (resp->status == 200)
		r->h->log(r->q->inst, ZB_LOG_INFO, "test restore: scratch "
		    "collection %s deleted", r->coll);
	else
		rs_fail(r, "deleting the scratch collection: %s",
		    resp->error);
	rs_finish(r);
}

static void
step_drop(struct qrs *r)
{
	r->phase = PH_DROP;
	r->req = qd_call(r->q, "DELETE", r->coll_url, 0, drop_done, r);
	if (r->req == NULL) {
		rs_fail(r, "cannot delete the scratch collection");
		rs_finish(r);
	}
}

static void
verify_done(void *arg, const struct zb_http_resp *resp)
{
	struct qrs	*r = arg;
	struct qd_info	 in;
	char		 err[1024];

	r->req = NULL;
	if (resp->status != 200) {
		rs_fail(r, "reading the restored collection: %s",
		    resp->error);
	} else if (qj_info(r->h, resp->body, resp->body_len, &in, err,
	    sizeof(err)) != ZB_OK) {
		rs_fail(r, "reading the restored collection: %s", err);
	} else {
		if (r->want_points < 0)
			r->h->log(r->q->inst, ZB_LOG_WARN, "%s: %lld points "
			    "restored; the manifest has no points count to "
			    "compare with", r->coll, (long long)in.points);
		else if (in.points == r->want_points)
			r->h->log(r->q->inst, ZB_LOG_INFO, "%s%s: %lld points "
			    "restored, manifest says %lld: ok",
			    r->test ? "test restore: " : "", r->coll,
			    (long long)in.points, (long long)r->want_points);
		else
			rs_fail(r, "%lld points restored, manifest says "
			    "%lld", (long long)in.points,
			    (long long)r->want_points);
		qj_info_clear(&in);
	}
	if (r->test)
		step_drop(r);
	else
		rs_finish(r);
}

static void
step_verify(struct qrs *r)
{
	r->phase = PH_VERIFY;
	r->req = qd_call(r->q, "GET", r->coll_url, 0, verify_done, r);
	if (r->req == NULL) {
		rs_fail(r, "cannot read the restored collection");
		if (r->test)
			step_drop(r);
		else
			rs_finish(r);
	}
}

/*
 * The upload's answer ends a restore.  In a test restore, it goes on with
 * the points count and the drop of the scratch collection: the writer
 * then ends with our own done() (ZB_AGAIN).
 */
static int
up_response(void *arg, const struct zb_http_resp *resp, char *err,
    size_t errlen)
{
	struct qrs	*r = arg;
	char		 e[1024];

	r->up_ops = NULL;	/* the adapter ends with this answer */
	if (resp->status != 200)
		rs_fail(r, "uploading the snapshot: %s", resp->error);
	else if (qj_true(r->h, resp->body, resp->body_len, e, sizeof(e)) !=
	    ZB_OK)
		rs_fail(r, "uploading the snapshot: %s", e);
	else
		r->h->log(r->q->inst, ZB_LOG_INFO, "%scollection %s "
		    "recovered from the snapshot", r->test ?
		    "test restore: " : "", r->coll);
	if (!r->test) {
		/* A restore ends with the answer: the adapter's done(). */
		if (r->status == ZB_OK) {
			rs_free(r);
			return ZB_OK;
		}
		snprintf(err, errlen, "%s", r->msg);
		rs_free(r);
		return ZB_ERR;
	}
	if (r->status != ZB_OK)
		step_drop(r);
	else
		step_verify(r);
	return ZB_AGAIN;
}

static int
start_upload(struct qrs *r)
{
	struct zb_http_header		 hd[1];
	struct zb_http_upload_spec	 spec;
	char				 url[QD_URL_MAX];
	int				 rc;

	if (r->checksum[0] != '\0')
		rc = qd_url(r->q, url, sizeof(url), "/collections/%s/"
		    "snapshots/upload?wait=true&priority=snapshot&"
		    "checksum=%s", r->coll, r->checksum);
	else
		rc = qd_url(r->q, url, sizeof(url), "/collections/%s/"
		    "snapshots/upload?wait=true&priority=snapshot", r->coll);
	if (rc != ZB_OK)
		return ZB_ERR;
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.method = "POST";
	spec.url = url;
	qd_headers(r->q, hd, &spec.nheaders);
	spec.headers = hd;
	qd_retry(r->q, &spec.retry);
	/* the server recovers the collection before it answers */
	spec.retry.timeout_ms = r->q->snap_timeout_ms;
	spec.size = -1;
	spec.form_field = "snapshot";
	spec.form_filename = r->filename;
	spec.form_type = "application/octet-stream";
	spec.resp_max = QD_RESP_MAX;
	spec.on_response = up_response;
	spec.arg = r;
	if (r->h->http_upload(r->w, &spec, &r->up_ops, &r->up_ctx) !=
	    ZB_OK) {
		r->up_ops = NULL;
		return ZB_ERR;
	}
	r->uploaded = 1;
	return ZB_OK;
}

/* ---- before: what is the target now ----------------------------------- */

static void
check_done(void *arg, const struct zb_http_resp *resp)
{
	struct qrs	*r = arg;
	struct qd_info	 in;
	char		 err[1024];

	r->req = NULL;
	if (resp->status == 404) {
		r->h->log(r->q->inst, ZB_LOG_INFO, "%scollection %s does not "
		    "exist on %s: it will be created", r->test ?
		    "test restore: " : "", r->coll, r->q->url);
	} else if (resp->status != 200) {
		rs_fail(r, "%s", resp->error);
	} else if (qj_info(r->h, resp->body, resp->body_len, &in, err,
	    sizeof(err)) != ZB_OK) {
		rs_fail(r, "%s", err);
	} else {
		if (r->test)
			rs_fail(r, "the scratch collection exists already");
		else if (in.points != 0 && !r->force)
			rs_fail(r, "exists and holds %lld points; refusing "
			    "to replace it (use --force)",
			    (long long)in.points);
		else
			r->h->log(r->q->inst, ZB_LOG_INFO, "collection %s "
			    "exists (%lld points): it will be replaced",
			    r->coll, (long long)in.points);
		qj_info_clear(&in);
	}
	if (r->status == ZB_OK) {
		if (start_upload(r) == ZB_OK)
			r->phase = PH_UPLOAD;
		else
			rs_fail(r, "cannot start the upload");
	}
	if (r->status != ZB_OK)
		r->phase = PH_FAILED;
	if (r->blocked) {
		r->blocked = 0;
		r->h->ready(r->w);
	}
}

/* ---- writer ops ------------------------------------------------------- */

static int
rs_write(void *wctx, const struct zb_chunk *c)
{
	struct qrs	*r = wctx;

	switch (r->phase) {
	case PH_CHECK:
		r->blocked = 1;
		return ZB_AGAIN;
	case PH_UPLOAD:
		return r->up_ops->write(r->up_ctx, c);
	default:
		return ZB_ERR;
	}
}

static int
rs_commit(void *wctx)
{
	struct qrs	*r = wctx;

	if (r->phase != PH_UPLOAD || r->up_ops == NULL) {
		rs_fail(r, "nothing was uploaded");	/* logs a first one */
		if (r->up_ops != NULL)
			r->up_ops->abort(r->up_ctx);
		rs_free(r);
		return ZB_ERR;
	}
	return r->up_ops->commit(r->up_ctx);
}

static void
rs_abort(void *wctx)
{
	struct qrs	*r = wctx;

	if (r->up_ops != NULL)
		r->up_ops->abort(r->up_ctx);
	if (r->req != NULL) {
		r->h->http_request_cancel(r->req);
		r->req = NULL;
	}
	if (r->test && r->uploaded)
		qd_delete_detached(r->q, r->coll_url, "test restore: "
		    "scratch collection");
	rs_free(r);
}

static const struct zb_writer_ops rs_ops = { rs_write, rs_commit, rs_abort };

/* ---- open -------------------------------------------------------------- */

static int
is_full(struct qdrant *q, struct zb_io *w, const struct zb_restore_req *req)
{
	(void)q;
	return strcmp(req->stream, QD_FULL) == 0 &&
	    q->host->fact_get(w, NULL, "collection") == NULL;
}

int
qdrant_restore_open(struct qdrant *q, struct zb_io *w,
    const struct zb_restore_req *req, int test,
    const struct zb_writer_ops **ops, void **wctx)
{
	const struct zb_host_api *h = q->host;
	const char		*t = req->target, *v;
	static unsigned		 seq;
	struct qrs		*r;
	char			 scratch[64];

	if (is_full(q, w, req)) {
		if (test || t == NULL || strchr(t, '/') == NULL) {
			h->log(q->inst, ZB_LOG_ERROR, "%s: a full-storage "
			    "snapshot %s; give --to PATH to write the file, "
			    "then start Qdrant with --storage-snapshot PATH",
			    req->artifact_id, test ? "cannot be test-restored "
			    "through the API (Qdrant reads it at startup)" :
			    "restores to a file only");
			return ZB_ERR;
		}
		h->log(q->inst, ZB_LOG_INFO, "%s: writing the full-storage "
		    "snapshot to %s; to restore it, start Qdrant with: "
		    "qdrant --storage-snapshot %s --force-snapshot",
		    req->artifact_id, t, t);
		return h->file_writer(w, t, req->force, ops, wctx);
	}
	if (!test && t != NULL && strchr(t, '/') != NULL)
		return h->file_writer(w, t, req->force, ops, wctx);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ZB_ERR;
	r->q = q;
	r->h = h;
	r->w = w;
	r->test = test;
	r->force = req->force;
	r->want_points = -1;
	if (test) {
		snprintf(scratch, sizeof(scratch), "zb_test_restore_%ld_%u",
		    (long)getpid(), ++seq);
		r->coll = strdup(scratch);
	} else
		r->coll = strdup(t != NULL ? t : req->stream);
	if (r->coll == NULL)
		goto fail;
	if (r->coll[0] == '\0' || strlen(r->coll) > 255 ||
	    strcspn(r->coll, "\r\n\t") != strlen(r->coll)) {
		h->log(q->inst, ZB_LOG_ERROR, "%s: '%s' is not a collection "
		    "name (give --to COLLECTION, or --to PATH with a '/')",
		    req->artifact_id, r->coll);
		goto fail;
	}
	v = fact(r, "points");
	if (v != NULL)
		r->want_points = strtoll(v, NULL, 10);
	v = fact(r, "checksum");
	if (v == NULL)
		v = fact(r, "sha256");
	if (v != NULL && strlen(v) == 64)
		memcpy(r->checksum, v, 65);
	v = fact(r, "snapshot");
	snprintf(r->filename, sizeof(r->filename), "%s", v != NULL &&
	    strchr(v, '/') == NULL ? v : "collection.snapshot");
	if (qd_url(q, r->coll_url, sizeof(r->coll_url), "/collections/%s",
	    r->coll) != ZB_OK)
		goto fail;
	r->phase = PH_CHECK;
	r->req = qd_call(q, "GET", r->coll_url, 0, check_done, r);
	if (r->req == NULL)
		goto fail;
	if (test)
		h->log(q->inst, ZB_LOG_INFO, "test restore: uploading %s into "
		    "the scratch collection %s on %s", req->artifact_id,
		    r->coll, q->url);
	*ops = &rs_ops;
	*wctx = r;
	return ZB_OK;
fail:
	rs_free(r);
	return ZB_ERR;
}
