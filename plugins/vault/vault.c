/*
 * vault.c - the `vault' source: a raft snapshot of a HashiCorp Vault or
 * OpenBao cluster (GET /v1/sys/storage/raft/snapshot), checked while it
 * streams, with the server's version and the snapshot's raft index and
 * term recorded in the manifest.
 *
 * This file owns the instance (struct vault): the option table, the
 * credentials (a token, or an AppRole role_id and secret_id; all SECRET
 * options, so token_file, env: and vault: references work, resolved
 * once at init and wiped at fini), and plan, which asks sys/health for
 * the version and, with AppRole, logs in: a fresh token for every run.
 * The stream is vault_snap.c, the restore vault_restore.c.  The token
 * goes only into the X-Vault-Token header: never into a log line, a
 * message or a child's argv.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "vault.h"

static const struct zb_option vault_options[] = {
	{ "address", ZB_OPT_STRING, "http://127.0.0.1:8200", 0,
	    "base URL of the Vault (or OpenBao) node to snapshot", 0, 0 },
	{ "token", ZB_OPT_SECRET, NULL, 0,
	    "token with read on sys/storage/raft/snapshot; or token_file",
	    0, 0 },
	{ "approle_role_id", ZB_OPT_SECRET, NULL, 0,
	    "AppRole role_id instead of a token; or approle_role_id_file",
	    0, 0 },
	{ "approle_secret_id", ZB_OPT_SECRET, NULL, 0,
	    "AppRole secret_id; or approle_secret_id_file", 0, 0 },
	{ "timeout", ZB_OPT_DURATION, "60s", 0,
	    "longest silence from the server within one request", 1000,
	    3600000 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static void
vault_fini(void *ctx)
{
	struct vault	*v = ctx;

	if (v == NULL)
		return;
	if (v->req != NULL)
		v->host->http_request_cancel(v->req);
	vault_restore_reap(v);
	v->host->secret_free(v->token, v->tokenlen);
	v->host->secret_free(v->role_id, v->role_idlen);
	v->host->secret_free(v->secret_id, v->secret_idlen);
	v->host->secret_free(v->login, v->loginlen);
	free(v->addr);
	free(v);
}

/* http(s)://host[:port][/prefix], kept without its trailing slashes. */
static int
parse_address(struct vault *v)
{
	const char	*a = v->host->cfg_str(v->inst, "address");
	size_t		 n;

	if (a == NULL || (strncmp(a, "http://", 7) != 0 &&
	    strncmp(a, "https://", 8) != 0))
		return v->host->cfg_error(v->inst, "address", "'%s' is not "
		    "an http:// or https:// URL", a != NULL ? a : "");
	if (strpbrk(a, " \t\r\n?#") != NULL)
		return v->host->cfg_error(v->inst, "address", "'%s': no "
		    "spaces, query or fragment", a);
	n = strlen(a);
	while (n > 0 && a[n - 1] == '/')
		n--;
	v->addr = strndup(a, n);
	return v->addr != NULL ? ZB_OK : ZB_ERR;
}

static int
read_credentials(struct vault *v)
{
	const struct zb_host_api	*host = v->host;

	if (host->secret(v->inst, "token", &v->token, &v->tokenlen) != ZB_OK ||
	    host->secret(v->inst, "approle_role_id", &v->role_id,
	    &v->role_idlen) != ZB_OK ||
	    host->secret(v->inst, "approle_secret_id", &v->secret_id,
	    &v->secret_idlen) != ZB_OK)
		return ZB_ERR;
	if (v->token != NULL && v->role_id != NULL)
		return host->cfg_error(v->inst, "token", "give a token or "
		    "an AppRole (approle_role_id), not both");
	if (v->token == NULL && v->role_id == NULL)
		return host->cfg_error(v->inst, "token", "no credentials: "
		    "set token_file (or token), or approle_role_id_file and "
		    "approle_secret_id_file");
	if (v->secret_id != NULL && v->role_id == NULL)
		return host->cfg_error(v->inst, "approle_secret_id", "needs "
		    "approle_role_id");
	if (v->token != NULL && (v->tokenlen == 0 ||
	    strpbrk(v->token, "\r\n") != NULL))
		return host->cfg_error(v->inst, "token", "is empty or has "
		    "a line break inside");
	return ZB_OK;
}

static int
vault_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct vault	*v;

	if (host->struct_size < offsetof(struct zb_host_api, json_int) +
	    sizeof(host->json_int)) {
		host->log(inst, ZB_LOG_ERROR, "this plugin needs plugin ABI "
		    "1.5 (the HTTP toolkit and JSON); the daemon is older");
		return ZB_ERR;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return ZB_ERR;
	v->host = host;
	v->inst = inst;
	v->timeout_ms = (uint32_t)host->cfg_int(inst, "timeout");
	if (parse_address(v) != ZB_OK || read_credentials(v) != ZB_OK) {
		vault_fini(v);
		return ZB_ERR;
	}
	*ctx = v;
	return ZB_OK;
}

static void
plan_end(struct vault *v, int status, const char *msg)
{
	struct zb_io	*run = v->run;

	v->run = NULL;
	v->req = NULL;
	if (status == ZB_OK && v->host->add_stream(run, "raft", "snap") !=
	    ZB_OK) {
		status = ZB_ERR;
		msg = "cannot declare the stream";
	}
	v->host->done(run, status, msg);
}

static void
plan_login_done(void *arg, int status, const char *err)
{
	plan_end(arg, status, err);
}

static void
plan_health_done(void *arg, const struct vault_health *h, const char *err)
{
	struct vault	*v = arg;
	char		 msg[512];

	v->req = NULL;
	if (h->status != 200 || !h->parsed) {
		if (h->status != 0 && h->parsed)
			snprintf(msg, sizeof(msg), "%s is %s: no snapshot to "
			    "take", v->addr, vault_health_state(h));
		else
			snprintf(msg, sizeof(msg), "%s%s: %s", v->addr,
			    VAULT_HEALTH_PATH, err);
		plan_end(v, ZB_ERR, msg);
		return;
	}
	memcpy(v->version, h->version, sizeof(v->version));
	memcpy(v->cluster, h->cluster, sizeof(v->cluster));
	if (v->token != NULL) {
		plan_end(v, ZB_OK, NULL);
		return;
	}
	v->req = vault_login(v, v->addr, plan_login_done, v);
	if (v->req == NULL)
		plan_end(v, ZB_ERR, "cannot start the AppRole login");
}

/*
 * A run: sys/health (a standby is fine: it redirects the snapshot to the
 * active node), then with AppRole a login; then the one stream.
 */
static int
vault_plan(void *ctx, struct zb_io *run)
{
	struct vault	*v = ctx;

	if (v->run != NULL) {
		v->host->log(v->inst, ZB_LOG_ERROR, "a run is being planned "
		    "already");
		return ZB_ERR;
	}
	v->run = run;
	v->version[0] = '\0';
	v->cluster[0] = '\0';
	v->req = vault_health(v, v->addr, "?standbyok=true&perfstandbyok=true",
	    0, plan_health_done, v);
	if (v->req == NULL) {
		v->run = NULL;
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
vault_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	return vault_snap_open(ctx, s, ops, pctx);
}

static int
vault_restore_open_cb(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	return vault_restore_open(ctx, w, req, ops, wctx);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "vault",
	.version = PACKAGE_VERSION,
	.description = "raft snapshot of a HashiCorp Vault or OpenBao "
	    "cluster, checked while it streams",
	.options = vault_options,
	.init = vault_init,
	.fini = vault_fini,
	.plan = vault_plan,
	.stream_open = vault_stream_open,
	.restore_open = vault_restore_open_cb,
};
