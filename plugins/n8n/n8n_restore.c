/*
 * n8n_restore.c - the restore writer of the `workflows' stream.
 *
 * --to PATH (anything but an http:// or https:// URL) writes the JSON
 * document through the host's file writer.  --to URL (or no --to: the
 * source's own url) reads the whole document (at most max_document
 * bytes: the host verifies its SHA-256 only at the end, and nothing may
 * be created from bytes that turn out wrong), then at commit parses it
 * and hands it to n8n_apply.c, which talks to the target n8n with the
 * source's API key.
 *
 * Owns struct n8n_rw.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

struct n8n_rw {
	struct n8n		*n;
	const struct zb_host_api *host;
	struct zb_io		*w;
	char			*base;
	char			*artifact;
	int			 force;
	struct zb_buf		 doc;
	const struct zb_json	*root;
	struct n8n_apply	*apply;
};

static void
rw_free(struct n8n_rw *rw)
{
	if (rw->apply != NULL)
		n8n_apply_cancel(rw->apply);
	if (rw->root != NULL)
		rw->host->json_free(rw->root);
	rw->host->buf_free(&rw->doc);
	free(rw->base);
	free(rw->artifact);
	free(rw);
}

static int
rw_write(void *wctx, const struct zb_chunk *c)
{
	struct n8n_rw	*rw = wctx;

	if (rw->host->buf_add(&rw->doc, c->data, c->len) == -1) {
		rw->host->log(rw->n->inst, ZB_LOG_ERROR, "%s: the document is "
		    "larger than max_document (%zu bytes)", rw->artifact,
		    rw->n->max_document);
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
rw_check(struct n8n_rw *rw, char *err, size_t errlen)
{
	const struct zb_json	*f, *wfs, *it;

	rw->root = rw->host->json_parse(rw->doc.data != NULL ? rw->doc.data :
	    "", rw->doc.len, err, errlen);
	if (rw->root == NULL)
		return ZB_ERR;
	f = rw->host->json_get(rw->root, "format");
	if (f == NULL || f->type != ZB_JSON_STRING ||
	    strcmp(f->str, N8N_FORMAT) != 0) {
		strncpy(err, "not an n8n workflows document of this plugin",
		    errlen - 1);
		err[errlen - 1] = '\0';
		return ZB_ERR;
	}
	wfs = rw->host->json_get(rw->root, "workflows");
	if (wfs == NULL || wfs->type != ZB_JSON_ARRAY) {
		strncpy(err, "no \"workflows\" array", errlen - 1);
		err[errlen - 1] = '\0';
		return ZB_ERR;
	}
	for (it = wfs->child; it != NULL; it = it->next)
		if (n8n_wf_check(rw->host, it, err, errlen) != ZB_OK)
			return ZB_ERR;
	return ZB_OK;
}

static void	rw_done(void *arg, int status, const char *msg);

static int
rw_commit(void *wctx)
{
	struct n8n_rw	*rw = wctx;
	char		 err[256];

	if (rw_check(rw, err, sizeof(err)) != ZB_OK) {
		rw->host->log(rw->n->inst, ZB_LOG_ERROR, "%s: %s",
		    rw->artifact, err);
		rw_free(rw);
		return ZB_ERR;
	}
	rw->apply = n8n_apply_start(rw->n, rw->base, rw->doc.data, rw->root,
	    rw->force, rw_done, rw);
	if (rw->apply == NULL) {
		rw_free(rw);
		return ZB_ERR;
	}
	return ZB_AGAIN;
}

static void
rw_done(void *arg, int status, const char *msg)
{
	struct n8n_rw	*rw = arg;
	struct zb_io	*w = rw->w;
	const struct zb_host_api *host = rw->host;

	rw->apply = NULL;	/* frees itself after this returns */
	rw_free(rw);
	host->done(w, status, msg);
}

static void
rw_abort(void *wctx)
{
	struct n8n_rw	*rw = wctx;

	if (rw->apply != NULL)
		rw->host->log(rw->n->inst, ZB_LOG_WARN, "%s: the restore into "
		    "%s was interrupted; what was created so far stays",
		    rw->artifact, rw->base);
	rw_free(rw);
}

static const struct zb_writer_ops rw_ops = {
	.write = rw_write,
	.commit = rw_commit,
	.abort = rw_abort,
};

int
n8n_restore_open(struct n8n *n, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct n8n_rw	*rw;

	if (req->target != NULL && !n8n_api_is_url(req->target))
		return n->host->file_writer(w, req->target, req->force, ops,
		    wctx);
	rw = calloc(1, sizeof(*rw));
	if (rw == NULL)
		return ZB_ERR;
	rw->n = n;
	rw->host = n->host;
	rw->w = w;
	rw->force = req->force;
	rw->base = n8n_api_base(req->target != NULL ? req->target : n->url);
	rw->artifact = strdup(req->artifact_id != NULL ? req->artifact_id :
	    "restore");
	n->host->buf_init(&rw->doc, n->max_document);
	if (rw->base == NULL || rw->artifact == NULL) {
		rw_free(rw);
		return ZB_ERR;
	}
	*ops = &rw_ops;
	*wctx = rw;
	return ZB_OK;
}
