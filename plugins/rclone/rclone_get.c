/*
 * rclone_get.c - a get.  When the sink's `rclone rcd' is up (a listing
 * came first: a catalog read, a verify, a restore, a copy from this
 * tier), the object is one HTTP GET of the server's --rc-serve
 * (GET /[REMOTE]/KEY) through the host's download adapter on the shared
 * curl multi: no process per object, which a catalog of hundreds of
 * manifests on OneDrive would otherwise start (and read, maybe refresh,
 * the token) one after the other.  Otherwise it is `rclone cat
 * REMOTE/KEY', whose stdout the host's fd producer pushes into the
 * stream (pausing it pauses the pipe, and rclone with it); that stream
 * ends when both the bytes ended and rclone exited: a missing object, or
 * a transfer rclone gave up on, fails it with rclone's last ERROR line
 * even though the pipe just ended.  Either way the whole object is read
 * (the core reads no ranges).
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rclone.h"

struct rc_get {
	struct rclone	*rc;
	struct zb_io	*s;
	struct rc_cmd	*cmd;
	char		*key;
	int		 ended;		/* on_end came */
	int		 end_status;
	char		 end_msg[512];
	int		 exited;
	int		 exit_ok;
	char		 exit_err[512];
	int		 closed;	/* the adapter is gone */
	int		 reported;
};

static void
get_free(struct rc_get *g)
{
	struct rclone	*rc = g->rc;

	free(g->key);
	free(g);
	rc->busy--;
	rclone_rcd_idle(rc);
	rclone_unref(rc);
}

/* ---- through the rclone rcd -------------------------------------------- */

static void
http_end(void *arg, int status, const char *msg)
{
	struct rc_get	*g = arg;
	char		 out[700];

	if (status == ZB_OK) {
		g->rc->host->done(g->s, ZB_OK, NULL);
		return;
	}
	if (msg != NULL && strncmp(msg, "HTTP 404", 8) == 0)
		snprintf(out, sizeof(out), "rclone get %s: not found on the "
		    "remote", g->key);
	else
		snprintf(out, sizeof(out), "rclone get %s: %s", g->key,
		    msg != NULL ? msg : "error");
	g->rc->host->done(g->s, ZB_ERR, out);
}

static void
http_close(void *arg)
{
	get_free(arg);
}

/* 1: the get runs through the server; 0: it is not up; -1: failed. */
static int
get_by_http(struct rc_get *g, const struct zb_producer_ops **ops,
    void **pctx)
{
	const struct zb_host_api	*h = g->rc->host;
	struct zb_http_download_spec	 spec;
	struct zb_http_header		 hdr;
	struct zb_buf			 url;
	char				 what[200];
	int				 rv;

	memset(&url, 0, sizeof(url));
	h->buf_init(&url, 64 * 1024);
	if (rclone_rcd_object_url(g->rc, g->key, &url, &hdr.value) != 0) {
		h->buf_free(&url);
		return 0;
	}
	hdr.name = "Authorization";
	snprintf(what, sizeof(what), "rclone get %s", g->key);
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.url = url.data;
	spec.headers = &hdr;
	spec.nheaders = 1;
	spec.on_end = http_end;
	spec.on_close = http_close;
	spec.arg = g;
	spec.what = what;
	rv = h->http_download(g->s, &spec, ops, pctx);
	h->buf_free(&url);
	return rv == ZB_OK ? 1 : -1;
}

/* ---- `rclone cat' --------------------------------------------------------- */

static void
maybe_report(struct rc_get *g)
{
	char	 msg[700];

	if (g->reported || g->closed || !g->ended || !g->exited)
		return;
	g->reported = 1;
	if (g->end_status != ZB_OK)
		g->rc->host->done(g->s, ZB_ERR, g->end_msg);
	else if (!g->exit_ok) {
		snprintf(msg, sizeof(msg), "rclone cat %s: %s", g->key,
		    g->exit_err);
		g->rc->host->done(g->s, ZB_ERR, msg);
	} else
		g->rc->host->done(g->s, ZB_OK, NULL);
}

static void
get_on_end(void *arg, int status, const char *msg)
{
	struct rc_get	*g = arg;

	g->ended = 1;
	g->end_status = status;
	snprintf(g->end_msg, sizeof(g->end_msg), "%s", msg != NULL ? msg :
	    "read error");
	maybe_report(g);
}

static void
get_on_close(void *arg)
{
	struct rc_get	*g = arg;

	g->closed = 1;
	if (!g->exited) {
		rc_cmd_kill(g->cmd);	/* cat_exit frees */
		return;
	}
	get_free(g);
}

static void
cat_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_get	*g = arg;

	(void)code;
	g->exited = 1;
	g->exit_ok = ok;
	g->cmd = NULL;
	snprintf(g->exit_err, sizeof(g->exit_err), "%s", err);
	if (g->closed) {
		get_free(g);
		return;
	}
	maybe_report(g);
}

int
rclone_get_open(void *ctx, struct zb_io *s, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct rclone			*rc = ctx;
	struct zb_fd_producer_spec	 fs;
	struct rc_cmd_spec		 spec;
	struct rc_get			*g;
	char				*path, what[160];
	int				 fd = -1;

	if (!rclone_key_ok(key)) {
		rc->host->log(rc->inst, ZB_LOG_ERROR, "refusing object key "
		    "'%s'", key);
		return ZB_ERR;
	}
	path = rclone_path(rc, key);
	g = calloc(1, sizeof(*g));
	if (g != NULL)
		g->key = strdup(key);
	if (path == NULL || g == NULL || g->key == NULL) {
		free(path);
		if (g != NULL)
			free(g->key);
		free(g);
		return ZB_ERR;
	}
	g->rc = rc;
	g->s = s;
	rc->refs++;
	rc->busy++;
	switch (get_by_http(g, ops, pctx)) {
	case 1:
		free(path);
		return ZB_OK;
	case -1:
		free(path);
		get_free(g);
		return ZB_ERR;
	}
	{
		const char	*argv[] = { "cat", path, NULL };

		snprintf(what, sizeof(what), "get %s", key);
		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.want_stdout = 1;
		spec.on_exit = cat_exit;
		spec.arg = g;
		spec.what = what;
		g->cmd = rc_cmd_start(rc, &spec, NULL, &fd);
	}
	free(path);
	if (g->cmd == NULL) {
		get_free(g);
		return ZB_ERR;
	}
	memset(&fs, 0, sizeof(fs));
	fs.struct_size = sizeof(fs);
	fs.fd = fd;
	fs.on_end = get_on_end;
	fs.on_close = get_on_close;
	fs.arg = g;
	if (rc->host->fd_producer(s, &fs, ops, pctx) != ZB_OK) {
		/* The child goes; cat_exit frees g. */
		g->closed = 1;
		rc_cmd_kill(g->cmd);
		return ZB_ERR;
	}
	return ZB_OK;
}
