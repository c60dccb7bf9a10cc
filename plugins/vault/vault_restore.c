/*
 * vault_restore.c - putting a raft snapshot back.
 *
 * --to PATH writes the snapshot file (the host's file writer).  --to URL
 * posts it to that Vault (POST /v1/sys/storage/raft/snapshot, or
 * snapshot-force with --force) with the source's credentials: the token,
 * or an AppRole login at the target.  Before a byte goes out, the
 * target's sys/health must say initialized, unsealed and active: a
 * sealed, uninitialized or standby node (a standby redirects snapshot
 * requests, and a streamed body cannot follow a redirect) or one that
 * does not answer is refused, with nothing posted.
 *
 * The writer wraps the host's upload writer: write() answers ZB_AGAIN
 * until the health check (and login) ended, then hands every chunk to
 * the upload, which starts the POST.  A writer ends by commit or abort;
 * what a pending commit leaves is freed from on_response or at fini.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "vault.h"

enum rstate {
	R_HEALTH,	/* sys/health running */
	R_LOGIN,	/* AppRole login running */
	R_READY,	/* the upload writer is there */
	R_FAILED	/* refused: the next write fails */
};

struct vault_restore {
	struct vault		*v;
	struct zb_io		*w;
	struct vault_restore	*next;
	char			*target;	/* base URL */
	char			*url;		/* the POST's */
	char			*id;		/* artifact id */
	int			 force;
	enum rstate		 state;
	int			 blocked;	/* owes the host a ready() */
	struct zb_http_req	*req;
	const struct zb_writer_ops *iops;
	void			*ictx;
};

static void
rs_free(struct vault_restore *r)
{
	struct vault_restore	**pp;

	for (pp = &r->v->restores; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->req != NULL)
		r->v->host->http_request_cancel(r->req);
	free(r->target);
	free(r->url);
	free(r->id);
	free(r);
}

void
vault_restore_reap(struct vault *v)
{
	while (v->restores != NULL)
		rs_free(v->restores);
}

static void
rs_wake(struct vault_restore *r)
{
	if (r->blocked) {
		r->blocked = 0;
		r->v->host->ready(r->w);
	}
}

static void
rs_refuse(struct vault_restore *r, const char *why)
{
	r->v->host->log(r->v->inst, ZB_LOG_ERROR, "%s: refusing to restore "
	    "into %s: %s; nothing was posted", r->id, r->target, why);
	r->state = R_FAILED;
	rs_wake(r);
}

static int
rs_response(void *arg, const struct zb_http_resp *resp, char *err,
    size_t errlen)
{
	struct vault_restore	*r = arg;
	int			 rc = ZB_OK;

	if (resp->curlcode != 0 || (resp->status != 200 &&
	    resp->status != 204)) {
		snprintf(err, errlen, "POST %s: %s%s", r->url, resp->error,
		    resp->status == 400 && !r->force ? " (a snapshot of "
		    "another seal needs --force: snapshot-force)" : "");
		rc = ZB_ERR;
	} else
		r->v->host->log(r->v->inst, ZB_LOG_INFO, "%s: posted to %s; "
		    "the Vault applies it now", r->id, r->url);
	rs_free(r);
	return rc;
}

static void
rs_start_upload(struct vault_restore *r)
{
	struct vault			*v = r->v;
	struct zb_http_upload_spec	 spec;
	struct zb_http_header		 hdr[3];
	const char			*size;
	char				*end;

	r->url = vault_url(r->target, r->force ? VAULT_SNAP_PATH "-force" :
	    VAULT_SNAP_PATH);
	if (r->url == NULL || vault_token(v) == NULL) {
		rs_refuse(r, "out of memory or no token");
		return;
	}
	hdr[0].name = "X-Vault-Token";
	hdr[0].value = vault_token(v);
	hdr[1].name = "X-Vault-Request";
	hdr[1].value = "true";
	hdr[2].name = "Content-Type";
	hdr[2].value = "application/gzip";
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.method = "POST";
	spec.url = r->url;
	spec.headers = hdr;
	spec.nheaders = 3;
	spec.retry.deadline_ms = VAULT_SNAP_DEADLINE_MS;
	spec.retry.timeout_ms = v->timeout_ms;
	spec.size = -1;
	size = v->host->fact_get(r->w, NULL, "snapshot_bytes");
	if (size != NULL) {
		spec.size = strtoll(size, &end, 10);
		if (*end != '\0' || spec.size <= 0)
			spec.size = -1;
	}
	spec.on_response = rs_response;
	spec.arg = r;
	if (v->host->http_upload(r->w, &spec, &r->iops, &r->ictx) != ZB_OK) {
		rs_refuse(r, "cannot start the upload");
		return;
	}
	r->state = R_READY;
	rs_wake(r);
}

static void
rs_login_done(void *arg, int status, const char *err)
{
	struct vault_restore	*r = arg;

	r->req = NULL;
	if (status != ZB_OK) {
		rs_refuse(r, err);
		return;
	}
	rs_start_upload(r);
}

static void
rs_health_done(void *arg, const struct vault_health *h, const char *err)
{
	struct vault_restore	*r = arg;
	char			 why[512];

	r->req = NULL;
	if (h->status == 0 || !h->parsed) {
		snprintf(why, sizeof(why), "sys/health: %s", err);
		rs_refuse(r, why);
		return;
	}
	if (h->status != 200 || !h->initialized || h->sealed || h->standby ||
	    h->perf_standby) {
		snprintf(why, sizeof(why), "it is %s (sys/health: HTTP %ld)",
		    vault_health_state(h), h->status);
		rs_refuse(r, why);
		return;
	}
	if (r->v->token != NULL) {
		rs_start_upload(r);
		return;
	}
	r->state = R_LOGIN;
	r->req = vault_login(r->v, r->target, rs_login_done, r);
	if (r->req == NULL)
		rs_refuse(r, "cannot start the AppRole login");
}

static int
rs_write(void *ctx, const struct zb_chunk *c)
{
	struct vault_restore	*r = ctx;

	switch (r->state) {
	case R_READY:
		return r->iops->write(r->ictx, c);
	case R_FAILED:
		return ZB_ERR;
	default:
		r->blocked = 1;
		return ZB_AGAIN;
	}
}

static int
rs_commit(void *ctx)
{
	struct vault_restore	*r = ctx;
	int			 rc;

	if (r->state != R_READY) {
		r->v->host->log(r->v->inst, ZB_LOG_ERROR, "%s: nothing was "
		    "posted to %s", r->id, r->target);
		rs_free(r);
		return ZB_ERR;
	}
	/* on_response frees r, unless the upload ends without an answer */
	rc = r->iops->commit(r->ictx);
	return rc;
}

static void
rs_abort(void *ctx)
{
	struct vault_restore	*r = ctx;

	if (r->state == R_READY)
		r->iops->abort(r->ictx);
	rs_free(r);
}

static const struct zb_writer_ops rs_ops = {
	.write = rs_write,
	.commit = rs_commit,
	.abort = rs_abort,
};

static int
is_url(const char *t)
{
	return strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0;
}

int
vault_restore_open(struct vault *v, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct vault_restore	*r;
	size_t			 n;

	if (req->target == NULL) {
		v->host->log(v->inst, ZB_LOG_ERROR, "%s: give --to PATH to "
		    "write the snapshot file, or --to URL (http[s]://HOST:"
		    "PORT) to restore it into that Vault", req->artifact_id);
		return ZB_ERR;
	}
	if (!is_url(req->target))
		return v->host->file_writer(w, req->target, req->force, ops,
		    wctx);
	if (strpbrk(req->target, " \t\r\n?#") != NULL) {
		v->host->log(v->inst, ZB_LOG_ERROR, "%s: --to %s: a Vault's "
		    "base URL has no spaces, query or fragment",
		    req->artifact_id, req->target);
		return ZB_ERR;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ZB_ERR;
	r->v = v;
	r->w = w;
	r->force = req->force;
	n = strlen(req->target);
	while (n > 0 && req->target[n - 1] == '/')
		n--;
	r->target = strndup(req->target, n);
	r->id = strdup(req->artifact_id);
	r->next = v->restores;
	v->restores = r;
	if (r->target == NULL || r->id == NULL) {
		rs_free(r);
		return ZB_ERR;
	}
	r->state = R_HEALTH;
	r->req = vault_health(v, r->target, "", 1, rs_health_done, r);
	if (r->req == NULL) {
		rs_free(r);
		return ZB_ERR;
	}
	*ops = &rs_ops;
	*wctx = r;
	return ZB_OK;
}
