/*
 * redis.c - the `redis' source: an RDB snapshot of a Redis server, taken
 * the way `redis-cli --rdb' takes it (replication protocol), with the
 * server's version and keys per database recorded in the manifest.
 *
 * This file owns the instance (struct redis): the option table, address
 * parsing, the password (resolved once at init, wiped at fini), plan,
 * and restore to a file.  The backup stream is redis_sync.c, the test
 * restore redis_test.c.  A restore never touches a live server: it writes
 * the RDB to the file given with --to.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "redis.h"

static const struct zb_option redis_options[] = {
	{ "address", ZB_OPT_STRING, "127.0.0.1:6379", 0,
	    "host:port of the server, or the path of its unix socket", 0, 0 },
	{ "username", ZB_OPT_STRING, NULL, 0,
	    "ACL user to authenticate as (with password)", 0, 0 },
	{ "password", ZB_OPT_SECRET, NULL, 0,
	    "password (requirepass or the ACL user's); or password_file",
	    0, 0 },
	{ "timeout", ZB_OPT_DURATION, "60s", 0,
	    "connect timeout, and longest silence from the server", 100,
	    86400000 },
	{ "redis_server", ZB_OPT_STRING, "redis-server", 0,
	    "redis-server program for test-restore (searched in PATH)", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* host:port, [v6]:port, or a path: into r->node/port or r->path. */
static int
parse_address(struct redis *r)
{
	const char	*a = r->addr, *colon, *end;
	char		*p;
	long		 port;

	if (a[0] == '/') {
		r->path = a;
		return ZB_OK;
	}
	colon = strrchr(a, ':');
	if (colon == NULL || colon == a || colon[1] == '\0')
		return r->host->cfg_error(r->inst, "address", "'%s' is neither "
		    "host:port nor an absolute socket path", a);
	port = strtol(colon + 1, &p, 10);
	if (*p != '\0' || port < 1 || port > 65535)
		return r->host->cfg_error(r->inst, "address", "'%s': bad port",
		    a);
	end = colon;
	if (a[0] == '[' && end[-1] == ']') {
		a++;
		end--;
	}
	if (end == a)
		return r->host->cfg_error(r->inst, "address", "'%s': no host",
		    r->addr);
	r->node = strndup(a, end - a);
	r->port = strdup(colon + 1);
	if (r->node == NULL || r->port == NULL)
		return ZB_ERR;
	return ZB_OK;
}

static void
redis_fini(void *ctx)
{
	struct redis	*r = ctx;

	if (r == NULL)
		return;
	if (r->pass != NULL)
		r->host->secret_free(r->pass, r->passlen);
	free(r->node);
	free(r->port);
	free(r);
}

static int
redis_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct redis	*r;

	if (host->struct_size < offsetof(struct zb_host_api, fact_each) +
	    sizeof(host->fact_each)) {
		host->log(inst, ZB_LOG_ERROR, "this plugin needs plugin ABI "
		    "1.2 (facts); the daemon is older");
		return ZB_ERR;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ZB_ERR;
	r->host = host;
	r->inst = inst;
	r->addr = host->cfg_str(inst, "address");
	r->user = host->cfg_str(inst, "username");
	r->timeout_ms = (uint64_t)host->cfg_int(inst, "timeout");
	r->server = host->cfg_str(inst, "redis_server");
	if (parse_address(r) != ZB_OK)
		goto fail;
	if (r->server == NULL || r->server[0] == '\0') {
		host->cfg_error(inst, "redis_server", "is empty");
		goto fail;
	}
	/* An unset (optional) secret resolves to NULL. */
	if (host->secret(inst, "password", &r->pass, &r->passlen) != ZB_OK)
		goto fail;
	if (r->pass == NULL && r->user != NULL) {
		host->cfg_error(inst, "username", "needs password or "
		    "password_file");
		goto fail;
	}
	*ctx = r;
	return ZB_OK;
fail:
	redis_fini(r);
	return ZB_ERR;
}

void
redis_target_of(const struct redis *r, struct redis_target *t)
{
	memset(t, 0, sizeof(*t));
	t->name = r->addr;
	t->node = r->node;
	t->port = r->port;
	t->path = r->path;
	t->user = r->user;
	t->pass = r->pass;
	t->passlen = r->passlen;
	t->timeout_ms = r->timeout_ms;
}

static int
redis_plan(void *ctx, struct zb_io *run)
{
	struct redis	*r = ctx;

	if (r->host->add_stream(run, "dump", "rdb") != ZB_OK)
		return ZB_ERR;
	r->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

static int
redis_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	return sync_open(ctx, s, ops, pctx);
}

static int
redis_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct redis	*r = ctx;

	if (req->target == NULL) {
		r->host->log(r->inst, ZB_LOG_ERROR, "%s: give --to PATH to "
		    "write the RDB to a file; a restore never replaces the "
		    "dump of a live server (stop it, put the file in place "
		    "as its dbfilename, start it with appendonly no)",
		    req->artifact_id);
		return ZB_ERR;
	}
	return r->host->file_writer(w, req->target, req->force, ops, wctx);
}

static int
redis_test_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	return test_open(ctx, w, ops, wctx);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "redis",
	.version = PACKAGE_VERSION,
	.description = "RDB snapshot of a Redis server over the replication "
	    "protocol",
	.options = redis_options,
	.init = redis_init,
	.fini = redis_fini,
	.plan = redis_plan,
	.stream_open = redis_stream_open,
	.restore_open = redis_restore_open,
	.test_restore_open = redis_test_restore_open,
};
