/*
 * s3.c - the `s3' plugin: S3 and S3-compatible stores (MinIO, ...).
 *
 * As a sink it stores each object with PutObject or a multipart upload,
 * never over an existing key (a HEAD first, then If-None-Match: *),
 * lists with ListObjectsV2, reads with streamed GETs, deletes with
 * DeleteObjects, and aborts multipart uploads a crash left behind.  As a
 * source it backs up whole buckets (s3_src.c).  Every request is signed
 * with SigV4 and runs on the host's shared curl multi.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "s3_buf.h"
#include "s3.h"
#include "s3_src.h"

#define MIB	(1024 * 1024)

static const struct zb_option s3_options[] = {
	{ "endpoint", ZB_OPT_STRING, NULL, 1,
	    "http://HOST:PORT or https://HOST[:PORT] of the S3 service", 0, 0 },
	{ "region", ZB_OPT_STRING, "us-east-1", 0, "SigV4 region", 0, 0 },
	{ "bucket", ZB_OPT_STRING, NULL, 0, "sink: the bucket", 0, 0 },
	{ "prefix", ZB_OPT_STRING, "", 0,
	    "sink: key prefix; source: only keys starting with it", 0, 0 },
	{ "access_key", ZB_OPT_SECRET, NULL, 1,
	    "access key id (use access_key_file or env:NAME)", 0, 0 },
	{ "secret_key", ZB_OPT_SECRET, NULL, 1,
	    "secret access key (use secret_key_file or env:NAME)", 0, 0 },
	{ "path_style", ZB_OPT_BOOL, "yes", 0,
	    "yes: http://host/bucket/key; no: http://bucket.host/key", 0, 0 },
	{ "part_size", ZB_OPT_SIZE, "16M", 0,
	    "multipart part size (5M to 5G)", 5 * MIB, 5LL * 1024 * MIB },
	{ "max_uploads", ZB_OPT_INT, "4", 0,
	    "part buffers per object: one filling, the rest uploading", 1,
	    64 },
	{ "timeout", ZB_OPT_DURATION, "60s", 0,
	    "connect timeout, and how long a request may move no byte", 100,
	    86400000 },
	{ "request_timeout", ZB_OPT_DURATION, "5m", 0,
	    "longest attempt of a small request (listing, HEAD, DELETE, "
	    "multipart bookkeeping)", 1000, 86400000 },
	{ "transfer_timeout", ZB_OPT_DURATION, "0", 0,
	    "longest attempt of a data transfer (GET or PUT of data); 0: no "
	    "limit but the stall bound", 0, 30LL * 86400000 },
	{ "retries", ZB_OPT_INT, "5", 0,
	    "retries per request on 5xx, 429, timeouts and resets", 0, 20 },
	{ "object_lock_mode", ZB_OPT_STRING, NULL, 0,
	    "GOVERNANCE or COMPLIANCE: Object Lock on every object put", 0,
	    0 },
	{ "object_lock_days", ZB_OPT_INT, NULL, 0,
	    "retention of object_lock_mode, in days", 1, 36500 },
	{ "buckets", ZB_OPT_LIST, NULL, 0,
	    "source: buckets to back up, or all", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static int
parse_endpoint(struct s3 *s3, const char *ep)
{
	const char	*rest, *slash;
	size_t		 n;

	if (strncmp(ep, "http://", 7) == 0) {
		s3->scheme = xstrdup("http");
		rest = ep + 7;
	} else if (strncmp(ep, "https://", 8) == 0) {
		s3->scheme = xstrdup("https");
		rest = ep + 8;
	} else
		return -1;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || memchr(rest, '@', n) != NULL ||
	    memchr(rest, '?', n) != NULL)
		return -1;
	s3->hostport = xmalloc(n + 1);
	memcpy(s3->hostport, rest, n);
	s3->hostport[n] = '\0';
	s3->base_path = xstrdup(slash != NULL ? slash : "");
	n = strlen(s3->base_path);
	while (n > 0 && s3->base_path[n - 1] == '/')
		s3->base_path[--n] = '\0';
	return 0;
}

/* "a/b", "/a/b/", "" -> "a/b/", "" */
static char *
norm_prefix(const char *p)
{
	size_t	 n;

	while (*p == '/')
		p++;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return xstrdup("");
	return xasprintf("%.*s/", (int)n, p);
}

static void
s3_free(struct s3 *s3)
{
	s3_delq_free(s3);
	free(s3->scheme);
	free(s3->hostport);
	free(s3->base_path);
	free(s3->region);
	free(s3->bucket);
	free(s3->prefix);
	s3->host->secret_free(s3->access_key, s3->aklen);
	s3->host->secret_free(s3->secret_key, s3->sklen);
	free(s3);
}

static int
s3_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct s3	*s3;
	const char	*v, *mode;
	int		 sink, bad = 0;

	if (host->struct_size < offsetof(struct zb_host_api, http_upload) +
	    sizeof(host->http_upload)) {
		host->log(inst, ZB_LOG_ERROR, "this daemon is too old for the "
		    "s3 plugin (needs plugin ABI 1.5)");
		return ZB_ERR;
	}
	s3_host = host;		/* the buffers' (s3_buf.h) */
	sink = strncmp(host->inst_name(inst), "sink:", 5) == 0;
	s3 = xcalloc(1, sizeof(*s3));
	s3->host = host;
	s3->inst = inst;
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (parse_endpoint(s3, host->cfg_str(inst, "endpoint")) == -1)
		bad |= host->cfg_error(inst, "endpoint", "expected http://HOST"
		    "[:PORT][/PATH] or https://...") != ZB_OK;
	s3->region = xstrdup(host->cfg_str(inst, "region"));
	s3->path_style = host->cfg_bool(inst, "path_style");
	s3->prefix = norm_prefix(host->cfg_str(inst, "prefix"));
	s3->part_size = (uint64_t)host->cfg_int(inst, "part_size");
	s3->max_uploads = (int)host->cfg_int(inst, "max_uploads");
	/* Durations are milliseconds; 0 (a sink's "no copy timeout") and
	 * anything below 100 ms mean the default for the network. */
	s3->timeouts.timeout_ms = host->cfg_int(inst, "timeout");
	if (s3->timeouts.timeout_ms < 100)
		s3->timeouts.timeout_ms = S3_TIMEOUT_DEFAULT_MS;
	s3->timeouts.request_ms = host->cfg_int(inst, "request_timeout");
	s3->timeouts.transfer_ms = host->cfg_int(inst, "transfer_timeout");
	s3->retries = (int)host->cfg_int(inst, "retries");
	v = host->cfg_str(inst, "bucket");
	if (sink && v == NULL)
		bad |= host->cfg_error(inst, "bucket", "a sink needs a bucket")
		    != ZB_OK;
	else if (v != NULL && !s3_src_bucket_ok(v))
		bad |= host->cfg_error(inst, "bucket", "not a bucket name "
		    "(3-63 of a-z 0-9 . -)") != ZB_OK;
	s3->bucket = xstrdup(v != NULL ? v : "");
	if (!sink && host->cfg_list_len(inst, "buckets") == 0)
		bad |= host->cfg_error(inst, "buckets", "a source needs "
		    "buckets = all or a list of names") != ZB_OK;
	else if (!sink)
		bad |= s3_src_check(host, inst) != ZB_OK;
	mode = host->cfg_str(inst, "object_lock_mode");
	if (mode != NULL) {
		if (strcasecmp(mode, "GOVERNANCE") == 0)
			s3->lock_mode = "GOVERNANCE";
		else if (strcasecmp(mode, "COMPLIANCE") == 0)
			s3->lock_mode = "COMPLIANCE";
		else
			bad |= host->cfg_error(inst, "object_lock_mode",
			    "expected GOVERNANCE or COMPLIANCE") != ZB_OK;
		if (host->cfg_str(inst, "object_lock_days") == NULL)
			bad |= host->cfg_error(inst, "object_lock_mode", "needs "
			    "object_lock_days") != ZB_OK;
		s3->lock_days = (int)host->cfg_int(inst, "object_lock_days");
	}
	if (host->secret(inst, "access_key", &s3->access_key, &s3->aklen) !=
	    ZB_OK || host->secret(inst, "secret_key", &s3->secret_key,
	    &s3->sklen) != ZB_OK)
		bad = 1;
	if (bad) {
		s3_free(s3);
		return ZB_ERR;
	}
	*ctx = s3;
	return ZB_OK;
}

static void
s3_fini(void *ctx)
{
	s3_free(ctx);
}

static int
put_entry(void *ctx, struct zb_io *w, const char *key,
    const struct zb_writer_ops **ops, void **wctx)
{
	return s3_put_open(ctx, w, key, ops, wctx);
}

static int
get_entry(void *ctx, struct zb_io *s, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	return s3_get_open(ctx, s, key, ops, pctx);
}

static int
list_entry(void *ctx, struct zb_io *l, const char *prefix)
{
	return s3_list(ctx, l, prefix);
}

static int
remove_entry(void *ctx, struct zb_io *op, const char *key)
{
	return s3_remove(ctx, op, key);
}

static int
cleanup_entry(void *ctx, struct zb_io *op, int64_t older_than_s)
{
	return s3_cleanup(ctx, op, older_than_s);
}

static int
list_pending_entry(void *ctx, struct zb_io *l, const char *prefix)
{
	return s3_list_pending(ctx, l, prefix);
}

static int
remove_pending_entry(void *ctx, struct zb_io *op, const char *key,
    const char *handle)
{
	return s3_remove_pending(ctx, op, key, handle);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SINK | ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "s3",
	.version = PACKAGE_VERSION,
	.description = "S3 and S3-compatible storage (MinIO): a sink, and a "
	    "source of whole buckets",
	.options = s3_options,
	.init = s3_init,
	.fini = s3_fini,
	.plan = s3_src_plan,
	.stream_open = s3_src_open,
	.restore_open = s3_src_restore_open,
	.put_open = put_entry,
	.get_open = get_entry,
	.list = list_entry,
	.remove = remove_entry,
	.cleanup = cleanup_entry,
	.list_pending = list_pending_entry,
	.remove_pending = remove_pending_entry,
};
