/*
 * qdrant.c - the `qdrant' source: snapshots of a Qdrant server's
 * collections (one stream per collection, named after it), and of its
 * whole storage (stream `full') when asked, made by the server and
 * streamed through the core, never through a temporary file.
 *
 * This file owns the instance (struct qdrant): the option table, the
 * api-key (resolved once at init, wiped at fini), plan (which asks the
 * server for its collections) and the descriptor.  A stream is
 * qdrant_backup.c, restore and test-restore qdrant_restore.c.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "qdrant.h"

static const struct zb_option qdrant_options[] = {
	{ "url", ZB_OPT_STRING, "http://127.0.0.1:6333", 0,
	    "base URL of the Qdrant REST API", 0, 0 },
	{ "api_key", ZB_OPT_SECRET, NULL, 0,
	    "API key, sent as the api-key header; or api_key_file", 0, 0 },
	{ "collections", ZB_OPT_LIST, "all", 0,
	    "collections to back up, one stream each; all: every one", 0, 0 },
	{ "full_snapshot", ZB_OPT_BOOL, "no", 0,
	    "also the full-storage snapshot (stream full)", 0, 0 },
	{ "timeout", ZB_OPT_DURATION, "30s", 0,
	    "longest silence from the server within one request", 100,
	    86400000 },
	{ "snapshot_timeout", ZB_OPT_DURATION, "30m", 0,
	    "how long the server may take to write or recover a snapshot",
	    1000, 86400000 },
	{ "retry_deadline", ZB_OPT_DURATION, "80s", 0,
	    "how long a failing request is retried (at most 2m)", 100,
	    120000 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/*
 * A collection that can be a stream name: letters, digits, '_', '.',
 * '-', not starting with '.', at most 255 bytes (Qdrant's own limit).
 */
int
qdrant_valid_name(const char *s)
{
	size_t	 i;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 255)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	}
	return 1;
}

static void
qdrant_fini(void *ctx)
{
	struct qdrant	*q = ctx;

	if (q == NULL)
		return;
	qd_pending_cancel_all(q);
	if (q->key != NULL)
		q->host->secret_free(q->key, q->keylen);
	free(q->url);
	free(q);
}

static int
check_collections(struct qdrant *q)
{
	const struct zb_host_api *h = q->host;
	size_t			 i, n;
	const char		*c;

	n = h->cfg_list_len(q->inst, "collections");
	if (n == 0)
		return h->cfg_error(q->inst, "collections", "is empty (all, "
		    "or a list of collection names)");
	for (i = 0; i < n; i++) {
		c = h->cfg_list_item(q->inst, "collections", i);
		if (strcmp(c, "all") == 0) {
			if (n > 1)
				return h->cfg_error(q->inst, "collections",
				    "all cannot be combined with names");
			q->all = 1;
			return ZB_OK;
		}
		if (!qdrant_valid_name(c))
			return h->cfg_error(q->inst, "collections", "'%s': "
			    "not usable as a stream name (letters, digits, "
			    "'_', '.', '-')", c);
		if (q->full && strcmp(c, QD_FULL) == 0)
			return h->cfg_error(q->inst, "collections", "a "
			    "collection named full clashes with the stream "
			    "of full_snapshot = yes");
	}
	return ZB_OK;
}

static int
qdrant_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct qdrant	*q;
	const char	*url;
	size_t		 n;

	if (host->struct_size < offsetof(struct zb_host_api, buf_json_str) +
	    sizeof(host->buf_json_str)) {
		host->log(inst, ZB_LOG_ERROR, "this plugin needs plugin ABI "
		    "1.5 (the HTTP toolkit, JSON); the daemon is older");
		return ZB_ERR;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return ZB_ERR;
	q->host = host;
	q->inst = inst;
	q->name = host->inst_name(inst);
	q->full = host->cfg_bool(inst, "full_snapshot");
	q->timeout_ms = (uint32_t)host->cfg_int(inst, "timeout");
	q->snap_timeout_ms = (uint32_t)host->cfg_int(inst, "snapshot_timeout");
	q->deadline_ms = (uint32_t)host->cfg_int(inst, "retry_deadline");
	url = host->cfg_str(inst, "url");
	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) || strchr(url, '?') != NULL ||
	    strchr(url, '#') != NULL) {
		host->cfg_error(inst, "url", "'%s': expected http://HOST:PORT "
		    "or https://HOST:PORT[/PATH]", url != NULL ? url : "");
		goto fail;
	}
	q->url = strdup(url);
	if (q->url == NULL)
		goto fail;
	n = strlen(q->url);
	while (n > 0 && q->url[n - 1] == '/')
		q->url[--n] = '\0';
	if (n > QD_URL_MAX / 4) {
		host->cfg_error(inst, "url", "is too long");
		goto fail;
	}
	if (check_collections(q) != ZB_OK)
		goto fail;
	if (host->secret(inst, "api_key", &q->key, &q->keylen) != ZB_OK)
		goto fail;
	if (q->key != NULL && (q->keylen == 0 ||
	    strcspn(q->key, "\r\n") != q->keylen)) {
		host->cfg_error(inst, "api_key", "is empty or holds a line "
		    "break");
		goto fail;
	}
	*ctx = q;
	return ZB_OK;
fail:
	qdrant_fini(q);
	return ZB_ERR;
}

/* ---- plan: which collections exist --------------------------------- */

struct qplan {
	struct qdrant	*q;
	struct zb_io	*run;
};

static int
has_name(char **names, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return 1;
	return 0;
}

static int
plan_streams(struct qdrant *q, struct zb_io *run, char **names, size_t n,
    char *err, size_t errlen)
{
	const struct zb_host_api *h = q->host;
	const char		*c;
	size_t			 i, len;

	if (q->all) {
		for (i = 0; i < n; i++) {
			if (!qdrant_valid_name(names[i])) {
				snprintf(err, errlen, "collection '%s' cannot "
				    "be a stream name (letters, digits, '_', "
				    "'.', '-'): list the others in "
				    "collections =", names[i]);
				return ZB_ERR;
			}
			if (q->full && strcmp(names[i], QD_FULL) == 0) {
				snprintf(err, errlen, "collection 'full' "
				    "clashes with the stream of full_snapshot "
				    "= yes");
				return ZB_ERR;
			}
			if (h->add_stream(run, names[i], "snapshot") != ZB_OK)
				goto bug;
		}
	} else {
		len = h->cfg_list_len(q->inst, "collections");
		for (i = 0; i < len; i++) {
			c = h->cfg_list_item(q->inst, "collections", i);
			if (!has_name(names, n, c)) {
				snprintf(err, errlen, "collection '%s' does "
				    "not exist on %s", c, q->url);
				return ZB_ERR;
			}
			if (h->add_stream(run, c, "snapshot") != ZB_OK)
				goto bug;
		}
	}
	if (q->full && h->add_stream(run, QD_FULL, "snapshot") != ZB_OK)
		goto bug;
	if (n == 0 && !q->full) {
		snprintf(err, errlen, "%s has no collection", q->url);
		return ZB_ERR;
	}
	return ZB_OK;
bug:
	snprintf(err, errlen, "cannot declare the streams (see above)");
	return ZB_ERR;
}

static void
plan_done(void *arg, const struct zb_http_resp *r)
{
	struct qplan	*p = arg;
	struct qdrant	*q = p->q;
	struct zb_io	*run = p->run;
	char		 err[1024], msg[1400];
	char		**names = NULL;
	size_t		 n = 0;
	int		 rc;

	free(p);
	if (r->status != 200) {
		snprintf(msg, sizeof(msg), "%s: listing the collections of "
		    "%s: %s", q->name, q->url, r->error);
		q->host->done(run, ZB_ERR, msg);
		return;
	}
	rc = qj_collections(q->host, r->body, r->body_len, &names, &n, err,
	    sizeof(err));
	if (rc == ZB_OK)
		rc = plan_streams(q, run, names, n, err, sizeof(err));
	qj_names_free(names, n);
	if (rc != ZB_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", q->name, err);
		q->host->done(run, ZB_ERR, msg);
		return;
	}
	q->host->done(run, ZB_OK, NULL);
}

static int
qdrant_plan(void *ctx, struct zb_io *run)
{
	struct qdrant	*q = ctx;
	struct qplan	*p;
	char		 url[QD_URL_MAX];

	if (qd_url(q, url, sizeof(url), "/collections") != ZB_OK)
		return ZB_ERR;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ZB_ERR;
	p->q = q;
	p->run = run;
	if (qd_call(q, "GET", url, 0, plan_done, p) == NULL) {
		free(p);
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
qdrant_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	return qdrant_backup_open(ctx, s, ops, pctx);
}

static int
qdrant_restore(void *ctx, struct zb_io *w, const struct zb_restore_req *req,
    const struct zb_writer_ops **ops, void **wctx)
{
	return qdrant_restore_open(ctx, w, req, 0, ops, wctx);
}

static int
qdrant_test_restore(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	return qdrant_restore_open(ctx, w, req, 1, ops, wctx);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "qdrant",
	.version = PACKAGE_VERSION,
	.description = "snapshots of Qdrant collections (and of the full "
	    "storage), checked against the server's SHA-256",
	.options = qdrant_options,
	.init = qdrant_init,
	.fini = qdrant_fini,
	.plan = qdrant_plan,
	.stream_open = qdrant_stream_open,
	.restore_open = qdrant_restore,
	.test_restore_open = qdrant_test_restore,
};
