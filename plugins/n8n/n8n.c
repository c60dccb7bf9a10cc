/*
 * n8n.c - the `n8n' source: the workflows of an n8n instance through its
 * public REST API (v1), as one JSON document, restored into an n8n (or a
 * file) by name.
 *
 * This file owns the instance (struct n8n): the option table, the API
 * key (resolved once at init, wiped at fini), plan, and the descriptor.
 * The stream is n8n_backup.c, the restore n8n_restore.c and n8n_apply.c.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

static const struct zb_option n8n_options[] = {
	{ "url", ZB_OPT_STRING, "http://127.0.0.1:5678", 0,
	    "base URL of the n8n instance (the API is URL/api/v1)", 0, 0 },
	{ "api_key", ZB_OPT_SECRET, NULL, 0,
	    "API key, sent as X-N8N-API-KEY (required); or api_key_file",
	    0, 0 },
	{ "timeout", ZB_OPT_DURATION, "60s", 0,
	    "fail an attempt after this long without progress", 1000,
	    3600000 },
	{ "deadline", ZB_OPT_DURATION, "100s", 0,
	    "a request failing every attempt gives up after this long",
	    1000, 3600000 },
	{ "page_size", ZB_OPT_INT, "250", 0,
	    "workflows per list request (limit=, the API allows 1-250)",
	    1, N8N_PAGE_LIMIT },
	{ "credentials", ZB_OPT_BOOL, "yes", 0,
	    "also record credential names and types (never their secrets)",
	    0, 0 },
	{ "max_response", ZB_OPT_SIZE, "256M", 0,
	    "largest response body read (one page, one workflow)",
	    65536, (int64_t)1 << 40 },
	{ "max_document", ZB_OPT_SIZE, "1G", 0,
	    "largest backup document a restore into an n8n reads",
	    65536, (int64_t)1 << 40 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static void
n8n_fini(void *ctx)
{
	struct n8n	*n = ctx;

	if (n == NULL)
		return;
	if (n->key != NULL)
		n->host->secret_free(n->key, n->keylen);
	free(n->url);
	free(n);
}

static int
n8n_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct n8n	*n;
	const char	*url;

	if (host->struct_size < offsetof(struct zb_host_api, buf_json_str) +
	    sizeof(host->buf_json_str)) {
		host->log(inst, ZB_LOG_ERROR, "this plugin needs plugin ABI "
		    "1.5 (HTTP requests, JSON); the daemon is older");
		return ZB_ERR;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return ZB_ERR;
	n->host = host;
	n->inst = inst;
	url = host->cfg_str(inst, "url");
	if (url == NULL || !n8n_api_is_url(url)) {
		host->cfg_error(inst, "url", "'%s' is not an http:// or "
		    "https:// URL", url != NULL ? url : "");
		goto fail;
	}
	n->url = n8n_api_base(url);
	if (n->url == NULL)
		goto fail;
	n->timeout_ms = (uint32_t)host->cfg_int(inst, "timeout");
	n->deadline_ms = (uint32_t)host->cfg_int(inst, "deadline");
	n->page_limit = (int)host->cfg_int(inst, "page_size");
	n->credentials = host->cfg_bool(inst, "credentials");
	n->max_response = (size_t)host->cfg_int(inst, "max_response");
	n->max_document = (size_t)host->cfg_int(inst, "max_document");
	if (host->secret(inst, "api_key", &n->key, &n->keylen) != ZB_OK)
		goto fail;
	if (n->key == NULL || n->keylen == 0) {
		host->cfg_error(inst, "api_key", "is required (api_key = "
		    "env:NAME, api_key_file = PATH, or a vault: reference)");
		goto fail;
	}
	if (strpbrk(n->key, "\r\n") != NULL) {
		host->cfg_error(inst, "api_key", "holds a line break");
		goto fail;
	}
	*ctx = n;
	return ZB_OK;
fail:
	n8n_fini(n);
	return ZB_ERR;
}

static int
n8n_plan(void *ctx, struct zb_io *run)
{
	struct n8n	*n = ctx;

	if (n->host->add_stream(run, "workflows", "json") != ZB_OK)
		return ZB_ERR;
	n->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

static int
n8n_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	return n8n_backup_open(ctx, s, ops, pctx);
}

static int
n8n_restore(void *ctx, struct zb_io *w, const struct zb_restore_req *req,
    const struct zb_writer_ops **ops, void **wctx)
{
	return n8n_restore_open(ctx, w, req, ops, wctx);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "n8n",
	.version = PACKAGE_VERSION,
	.description = "n8n workflows through the public REST API, restored "
	    "by name",
	.options = n8n_options,
	.init = n8n_init,
	.fini = n8n_fini,
	.plan = n8n_plan,
	.stream_open = n8n_stream_open,
	.restore_open = n8n_restore,
};
