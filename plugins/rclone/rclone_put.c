/*
 * rclone_put.c - a put: the stream goes into `rclone rcat' under a
 * temporary name beside the object (DIR/.NAME.zb-XXXXXXXX) through the
 * host's fd writer on the child's stdin (a slow remote fills the pipe,
 * the writer answers ZB_AGAIN, the source pauses).  At commit the pipe
 * is closed; once rcat exited 0, `rclone lsjson' of the directory (the
 * temporary and the final name only) checks the remote's size against
 * the bytes written, and its SHA-256 when the remote has one, and that
 * no object of the final name exists; then `rclone moveto
 * --ignore-existing' puts it into place.  Only then is the put done: the
 * core writes data, sidecar and manifest one after the other, each
 * after the previous one's commit, so a failed or killed upload never
 * leaves a manifest.  A failed or aborted put deletes its temporary; one
 * the process did not survive is left for list_pending/remove_pending.
 *
 * At most max_uploads rcat children run at once per sink: a put beyond
 * that answers ZB_AGAIN to its first write until a slot frees.
 */
#include "zb-build.h"

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "rclone.h"

#define RCLONE_PIPE_SIZE	(1024 * 1024)

enum put_state {
	PUT_WAITING,		/* for an upload slot */
	PUT_UPLOADING,		/* rcat running, writer open */
	PUT_FLUSHED,		/* pipe closed, rcat finishing */
	PUT_VERIFYING,		/* lsjson */
	PUT_MOVING,		/* moveto */
	PUT_FAILED		/* rcat could not start, or exited early */
};

struct rc_put {
	struct rclone			*rc;
	struct zb_io			*w;
	struct zb_io			*cw;	/* the handle commit ends */
	enum put_state			 state;
	struct rc_waiter		 waiter;
	int				 slot;
	struct rc_cmd			*cmd;	/* the running child */
	const struct zb_writer_ops	*iops;	/* the host's fd writer */
	void				*ictx;
	EVP_MD_CTX			*md;
	uint64_t			 bytes;
	char				 sha[65];
	char				*key;
	char				*base;	/* NAME */
	char				*tmp_base; /* .NAME.zb-XXXXXXXX */
	char				*dir_path; /* remote/DIR */
	char				*tmp_path;
	char				*final_path;
	char				 what[160];
	int				 want_ready;
	int				 commit_pending;
	int				 committing;
	int				 aborted;	/* by the host */
	int				 rcat_done;
	int				 rcat_ok;
	/* verify */
	int				 tmp_seen;
	int64_t				 tmp_size;
	char				 tmp_sha[65];
	int				 final_seen;
	int				 bad_line;
	char				 err[512];
};

static void	put_verify(struct rc_put *);

static void
put_free(struct rc_put *p)
{
	if (p->slot)
		rclone_slot_release(p->rc);
	rclone_slot_cancel(p->rc, &p->waiter);
	if (p->md != NULL)
		EVP_MD_CTX_free(p->md);
	free(p->key);
	free(p->base);
	free(p->tmp_base);
	free(p->dir_path);
	free(p->tmp_path);
	free(p->final_path);
	rclone_unref(p->rc);
	free(p);
}

/* Fire and forget: delete path (a temporary, or an object taken back). */
static void
forget(struct rclone *rc, const char *path, const char *why)
{
	const char	*argv[] = { "deletefile", path, NULL };
	struct rc_cmd_spec spec;
	char		 what[600];

	snprintf(what, sizeof(what), "deletefile %s (%s)", path, why);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.what = what;
	spec.quiet = 1;
	if (rc_cmd_start(rc, &spec, NULL, NULL) == NULL)
		rc->host->log(rc->inst, ZB_LOG_WARN, "cannot delete %s: it "
		    "stays as a pending put for prune", path);
}

/*
 * The end of a commit: done (unless the host aborted meanwhile), the
 * temporary deleted on failure, the object taken back when an abort
 * came too late.
 */
static void
put_finish(struct rc_put *p, int status, const char *msg)
{
	struct rclone	*rc = p->rc;

	if (p->aborted) {
		forget(rc, status == ZB_OK ? p->final_path : p->tmp_path,
		    "aborted");
		put_free(p);
		return;
	}
	if (status != ZB_OK)
		forget(rc, p->tmp_path, "failed put");
	rc->host->done(p->cw, status, msg);
	put_free(p);
}

/* ---- the upload -------------------------------------------------------- */

static void
rcat_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_put	*p = arg;

	(void)code;
	p->cmd = NULL;
	p->rcat_done = 1;
	p->rcat_ok = ok;
	if (p->slot) {
		p->slot = 0;
		rclone_slot_release(p->rc);
	}
	if (!ok)
		snprintf(p->err, sizeof(p->err), "rclone rcat: %s", err);
	switch (p->state) {
	case PUT_FLUSHED:
		if (p->aborted) {
			forget(p->rc, p->tmp_path, "aborted");
			put_free(p);
		} else if (!ok)
			put_finish(p, ZB_ERR, p->err);
		else
			put_verify(p);
		break;
	case PUT_UPLOADING:
		/*
		 * Quit before the end of the stream: the next write fails
		 * (EPIPE), the host aborts.  Let it know now if it waits.
		 */
		p->state = PUT_FAILED;
		if (p->aborted) {
			forget(p->rc, p->tmp_path, "aborted");
			put_free(p);
		}
		break;
	default:
		/* Aborted: the host has let go of the put. */
		if (p->aborted) {
			forget(p->rc, p->tmp_path, "aborted");
			put_free(p);
		}
		break;
	}
}

static void
on_flushed(void *arg, struct zb_io *cw)
{
	struct rc_put	*p = arg;

	p->cw = cw;
	p->state = PUT_FLUSHED;
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
	    " bytes handed to rclone", p->key, p->bytes);
	if (p->rcat_done) {
		if (!p->rcat_ok)
			put_finish(p, ZB_ERR, p->err);
		else
			put_verify(p);
	}
}

static void
on_inner_abort(void *arg)
{
	struct rc_put	*p = arg;

	p->iops = NULL;
	p->ictx = NULL;
	if (p->cmd != NULL)
		rc_cmd_kill(p->cmd);
}

static int	inner_commit(struct rc_put *);

/* A slot is ours: start rcat and open the host's writer on its stdin. */
static void
put_start(void *arg)
{
	struct rc_put		*p = arg;
	struct rclone		*rc = p->rc;
	struct zb_fd_writer_spec fs;
	struct rc_cmd_spec	 spec;
	const char		*argv[] = { "rcat", p->tmp_path, NULL };
	int			 fd = -1, rv;

	p->slot = 1;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.want_stdin = 1;
	spec.on_exit = rcat_exit;
	spec.arg = p;
	spec.what = p->what;
	p->cmd = rc_cmd_start(rc, &spec, &fd, NULL);
	if (p->cmd == NULL) {
		p->slot = 0;
		rclone_slot_release(rc);
		snprintf(p->err, sizeof(p->err), "cannot start rclone");
		p->state = PUT_FAILED;
		goto wake;
	}
	/* A bigger pipe: fewer wake-ups per MiB (best effort). */
	(void)fcntl(fd, F_SETPIPE_SZ, RCLONE_PIPE_SIZE);
	memset(&fs, 0, sizeof(fs));
	fs.struct_size = sizeof(fs);
	fs.fd = fd;
	fs.on_commit = on_flushed;
	fs.on_abort = on_inner_abort;
	fs.arg = p;
	rv = rc->host->fd_writer(p->w, &fs, &p->iops, &p->ictx);
	if (rv != ZB_OK) {
		p->iops = NULL;
		rc_cmd_kill(p->cmd);
		snprintf(p->err, sizeof(p->err), "cannot write into rclone");
		p->state = PUT_FAILED;
		goto wake;
	}
	p->state = PUT_UPLOADING;
wake:
	if (p->commit_pending) {
		p->commit_pending = 0;
		if (p->state == PUT_FAILED)
			put_finish(p, ZB_ERR, p->err);	/* cw is w */
		else if (inner_commit(p) == ZB_ERR) {
			/* The adapter has cleaned up; the child goes. */
			if (p->cmd != NULL)
				rc_cmd_kill(p->cmd);
			p->aborted = 1;
			p->rc->host->done(p->w, ZB_ERR, "cannot close the "
			    "pipe into rclone");
			if (p->cmd == NULL)
				put_free(p);
		}
		return;
	}
	if (p->want_ready) {
		p->want_ready = 0;
		rc->host->ready(p->w);
	}
}

static int
put_write(void *wctx, const struct zb_chunk *c)
{
	struct rc_put	*p = wctx;
	int		 rv;

	if (p->state == PUT_FAILED || (p->iops == NULL && p->state !=
	    PUT_WAITING)) {
		p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: %s",
		    p->key, p->err[0] != '\0' ? p->err : "rclone is gone");
		return ZB_ERR;
	}
	if (p->state == PUT_WAITING) {
		p->want_ready = 1;
		return ZB_AGAIN;
	}
	rv = p->iops->write(p->ictx, c);
	if (rv == ZB_OK) {
		p->bytes += c->len;
		EVP_DigestUpdate(p->md, c->data, c->len);
	}
	return rv;
}

static int
inner_commit(struct rc_put *p)
{
	unsigned char	 d[32];
	unsigned int	 n, i;

	EVP_DigestFinal_ex(p->md, d, &n);
	for (i = 0; i < 32; i++)
		snprintf(p->sha + 2 * i, 3, "%02x", d[i]);
	return p->iops->commit(p->ictx);
}

static int
put_commit(void *wctx)
{
	struct rc_put	*p = wctx;
	int		 rv;

	p->committing = 1;
	p->cw = p->w;
	if (p->state == PUT_WAITING) {
		p->commit_pending = 1;	/* put_start commits */
		return ZB_AGAIN;
	}
	if (p->state == PUT_FAILED || p->iops == NULL) {
		p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: %s",
		    p->key, p->err[0] != '\0' ? p->err : "rclone is gone");
		if (p->iops != NULL)
			p->iops->abort(p->ictx);
		p->aborted = 1;		/* no done: we return ZB_ERR */
		if (p->cmd == NULL) {
			forget(p->rc, p->tmp_path, "failed put");
			put_free(p);
		}
		return ZB_ERR;
	}
	rv = inner_commit(p);
	if (rv == ZB_ERR) {
		/* The adapter called on_abort (the child is killed). */
		p->aborted = 1;
		if (p->cmd == NULL) {
			forget(p->rc, p->tmp_path, "failed put");
			put_free(p);
		}
		return ZB_ERR;
	}
	return ZB_AGAIN;
}

static void
put_abort(void *wctx)
{
	struct rc_put	*p = wctx;

	p->aborted = 1;
	switch (p->state) {
	case PUT_WAITING:
		put_free(p);
		return;
	case PUT_UPLOADING:
	case PUT_FLUSHED:
	case PUT_FAILED:
		if (p->iops != NULL)
			p->iops->abort(p->ictx);	/* kills rcat */
		p->iops = NULL;
		if (p->cmd != NULL)
			rc_cmd_kill(p->cmd);	/* rcat_exit frees */
		else if (p->state == PUT_FLUSHED && !p->rcat_done)
			;	/* cannot be: cmd is set until rcat exits */
		else {
			forget(p->rc, p->tmp_path, "aborted");
			put_free(p);
		}
		return;
	case PUT_VERIFYING:
	case PUT_MOVING:
		/* The running lsjson/moveto ends in put_finish. */
		if (p->iops != NULL)
			p->iops->abort(p->ictx);
		p->iops = NULL;
		return;
	}
}

static const struct zb_writer_ops put_ops = {
	put_write, put_commit, put_abort
};

/* ---- verify and move ---------------------------------------------------- */

static void
move_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_put	*p = arg;
	char		 msg[700];

	(void)code;
	p->cmd = NULL;
	if (!ok) {
		snprintf(msg, sizeof(msg), "rclone moveto %s: %s", p->key, err);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	put_finish(p, ZB_OK, NULL);
}

static void
put_move(struct rc_put *p)
{
	const char		*argv[] = { "moveto", "--ignore-existing",
				    p->tmp_path, p->final_path, NULL };
	struct rc_cmd_spec	 spec;

	p->state = PUT_MOVING;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.on_exit = move_exit;
	spec.arg = p;
	spec.what = p->what;
	p->cmd = rc_cmd_start(p->rc, &spec, NULL, NULL);
	if (p->cmd == NULL)
		put_finish(p, ZB_ERR, "cannot start rclone moveto");
}

static void
verify_line(void *arg, char *line)
{
	struct rc_put	*p = arg;
	struct rc_entry	 e;
	int		 rv;

	rv = rc_json_entry(line, &e);
	if (rv == -1)
		p->bad_line = 1;
	if (rv != 1 || e.is_dir)
		return;
	if (strcmp(e.path, p->tmp_base) == 0) {
		p->tmp_seen = 1;
		p->tmp_size = e.size;
		if (e.sha256 != NULL)
			snprintf(p->tmp_sha, sizeof(p->tmp_sha), "%s",
			    e.sha256);
	} else if (strcmp(e.path, p->base) == 0)
		p->final_seen = 1;
}

static void
verify_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_put	*p = arg;
	char		 msg[700];

	(void)code;
	p->cmd = NULL;
	if (!ok) {
		snprintf(msg, sizeof(msg), "rclone lsjson %s: %s", p->key, err);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	if (p->bad_line) {
		put_finish(p, ZB_ERR, "cannot parse rclone lsjson's output");
		return;
	}
	if (!p->tmp_seen) {
		snprintf(msg, sizeof(msg), "%s: the uploaded temporary %s is "
		    "not on the remote", p->key, p->tmp_base);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	if (p->tmp_size != (int64_t)p->bytes) {
		snprintf(msg, sizeof(msg), "%s: the remote has %" PRId64
		    " bytes, %" PRIu64 " were written", p->key, p->tmp_size,
		    p->bytes);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	if (p->tmp_sha[0] != '\0' && strcasecmp(p->tmp_sha, p->sha) != 0) {
		snprintf(msg, sizeof(msg), "%s: the remote's SHA-256 is %s, "
		    "%s was written", p->key, p->tmp_sha, p->sha);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	if (p->final_seen) {
		snprintf(msg, sizeof(msg), "%s: an object of that name exists "
		    "already", p->key);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
	    " bytes%s verified", p->key, p->bytes, p->tmp_sha[0] != '\0' ?
	    " and SHA-256" : "");
	put_move(p);
}

/* A glob that matches name only (rclone's filter syntax). */
static char *
glob_quote(const char *name)
{
	char	*g, *o;

	g = malloc(2 * strlen(name) + 2);
	if (g == NULL)
		return NULL;
	o = g;
	*o++ = '/';
	for (; *name != '\0'; name++) {
		if (strchr("*?[]{}\\", *name) != NULL)
			*o++ = '\\';
		*o++ = *name;
	}
	*o = '\0';
	return g;
}

static void
put_verify(struct rc_put *p)
{
	struct rc_cmd_spec	 spec;
	char			*g1, *g2;

	p->state = PUT_VERIFYING;
	g1 = glob_quote(p->tmp_base);
	g2 = glob_quote(p->base);
	if (g1 == NULL || g2 == NULL) {
		free(g1);
		free(g2);
		put_finish(p, ZB_ERR, "out of memory");
		return;
	}
	{
		const char	*argv[] = { "lsjson", "--files-only",
				    "--hash-type", "sha256", "--include", g1,
				    "--include", g2, p->dir_path, NULL };

		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.on_line = verify_line;
		spec.quiet = 1;	/* "hash type not supported" */
		spec.on_exit = verify_exit;
		spec.arg = p;
		spec.what = p->what;
		p->cmd = rc_cmd_start(p->rc, &spec, NULL, NULL);
	}
	free(g1);
	free(g2);
	if (p->cmd == NULL)
		put_finish(p, ZB_ERR, "cannot start rclone lsjson");
}

/* ---- open -------------------------------------------------------------- */

int
rclone_put_open(void *ctx, struct zb_io *w, const char *key,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct rclone	*rc = ctx;
	struct rc_put	*p;
	unsigned char	 rnd[4];
	const char	*slash;
	char		*dir;

	if (!rclone_key_ok(key)) {
		rc->host->log(rc->inst, ZB_LOG_ERROR, "refusing object key "
		    "'%s'", key);
		return ZB_ERR;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ZB_ERR;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ZB_ERR;
	p->rc = rc;
	rc->refs++;
	p->w = p->cw = w;
	p->state = PUT_WAITING;
	p->waiter.start = put_start;
	p->waiter.arg = p;
	p->md = EVP_MD_CTX_new();
	p->key = strdup(key);
	slash = strrchr(key, '/');
	p->base = strdup(slash != NULL ? slash + 1 : key);
	dir = slash != NULL ? strndup(key, (size_t)(slash - key)) : strdup("");
	if (p->md == NULL || p->key == NULL || p->base == NULL ||
	    dir == NULL ||
	    EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1)
		goto fail;
	if (asprintf(&p->tmp_base, ".%s" RCLONE_TMP_TAG "%02x%02x%02x%02x",
	    p->base, rnd[0], rnd[1], rnd[2], rnd[3]) == -1) {
		p->tmp_base = NULL;
		goto fail;
	}
	p->dir_path = rclone_path(rc, dir);
	p->final_path = rclone_path(rc, key);
	free(dir);
	dir = NULL;
	if (p->dir_path == NULL || p->final_path == NULL)
		goto fail;
	if (asprintf(&p->tmp_path, "%s%s%s", p->dir_path,
	    p->dir_path[strlen(p->dir_path) - 1] == ':' ||
	    p->dir_path[strlen(p->dir_path) - 1] == '/' ? "" : "/",
	    p->tmp_base) == -1) {
		p->tmp_path = NULL;
		goto fail;
	}
	snprintf(p->what, sizeof(p->what), "put %s", key);
	*ops = &put_ops;
	*wctx = p;
	rclone_slot_wait(rc, &p->waiter);
	return ZB_OK;
fail:
	free(dir);
	put_free(p);
	return ZB_ERR;
}
