/*
 * rclone_put.c - a put, under a temporary name beside the object
 * (DIR/.NAME.zb-XXXXXXXX).  A stream goes into `rclone rcat' through the
 * host's fd writer on the child's stdin (a slow remote fills the pipe,
 * the writer answers ZB_AGAIN, the source pauses).  A small object of
 * known size (up to RCLONE_SMALL_MAX: markers, sidecars, manifests) is
 * kept in memory and sent as one operations/uploadfile to the sink's
 * rclone rcd (rclone_rcd.c), with no process of its own.  At commit,
 * once rcat exited 0 (or the upload was answered), one operations/list
 * of the directory checks the remote's size against the bytes written,
 * and its SHA-256 when the remote has one, and that no object of the
 * final name exists; then operations/movefile with IgnoreExisting puts
 * it into place.  Only then is the put done: the core writes data,
 * sidecar and manifest one after the other, each after the previous
 * one's commit, so a failed or killed upload never leaves a manifest.  A
 * failed or aborted put deletes its temporary; one the process did not
 * survive is left for list_pending/remove_pending.
 *
 * When the host knows the put's size up front (host->put_size: a copy
 * job, a sidecar, a manifest), rcat gets it as --size and uploads as the
 * bytes come, even to a remote that cannot take a stream of unknown
 * size (WebDAV, OneDrive), where rcat otherwise spools the whole stream
 * to rclone's temp_dir and uploads only after its end.  The SHA-256 the
 * remote's is compared with is the host's (host->put_sha256), so the
 * stream is not hashed a second time on the loop thread; a host older
 * than ABI 1.6 gets it hashed here.
 *
 * When the host has the put's bytes as a file (host->put_file, ABI 1.7:
 * a copy from a `local' sink), rclone reads that file itself: one
 * operations/copyfile job in the sink's rcd (rclone_job.c, PUT_FILE),
 * from the path of the descriptor, checked to be the same file (device
 * and inode) before and after.  The host's bytes, which it checks
 * against the manifest, are counted and dropped, at most
 * RCLONE_FILE_AHEAD ahead of what rclone has read.  The commit still
 * comes only from the host, after its check.  Without the path (no
 * /proc), the bytes go through rcat's pipe like any stream's.
 *
 * At most max_uploads uploads (rcat children, copyfile jobs) run at once
 * per sink: a put beyond that answers ZB_AGAIN to its first write until
 * a slot frees.
 */
#include "zb-build.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rclone.h"

#define RCLONE_PIPE_SIZE	(1024 * 1024)

enum put_state {
	PUT_WAITING,		/* for an upload slot */
	PUT_UPLOADING,		/* rcat running, writer open */
	PUT_FLUSHED,		/* pipe closed, rcat finishing */
	PUT_VERIFYING,		/* lsjson */
	PUT_MOVING,		/* moveto */
	PUT_FAILED,		/* rcat could not start, or exited early */
	PUT_BUFFERING,		/* a small put: its bytes in memory */
	PUT_SENDING,		/* operations/uploadfile */
	PUT_FILE,		/* rclone copies the file (host->put_file) */
	PUT_PROBING		/* in place: is the name free? */
};

/* Known up front and at most this big: one upload from memory. */
#define RCLONE_SMALL_MAX	(1024 * 1024)

/*
 * A put from the origin's file (host->put_file): the host's bytes
 * (checked, not sent) may run RCLONE_FILE_AHEAD ahead of what rclone has
 * read before a write answers "not now", so that the two reads of the
 * file stay close (one read from the disk, the other from the cache).
 */
#define RCLONE_FILE_AHEAD	(16 * 1024 * 1024)

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
	EVP_MD_CTX			*md;	/* NULL: the host hashes */
	int64_t				 size;	/* known up front, or -1 */
	struct zb_buf			 mem;	/* PUT_BUFFERING */
	uint64_t			 bytes;
	char				 sha[65];
	char				*key;
	char				*base;	/* NAME */
	char				*tmp_base; /* .NAME.zb-XXXXXXXX */
	char				*dir_rel;  /* DIR, "" at the top */
	char				*tmp_rel;  /* DIR/.NAME.zb-XXXXXXXX */
	char				*tmp_path; /* remote/DIR/.NAME... */
	char				 what[160];
	int				 want_ready;
	int				 in_place;	/* host->put_in_place */
	int				 commit_pending;
	int				 committing;
	int				 aborted;	/* by the host */
	int				 upload_over;	/* rcat exited, or the job ended */
	int				 upload_ok;
	/* verify */
	int				 tmp_seen;
	int64_t				 tmp_size;
	char				 tmp_sha[65];
	int				 final_seen;
	int				 bad_line;
	char				 err[512];
	/* PUT_FILE: rclone copies the origin's file */
	struct rc_job			*job;	/* until it ended */
	uint64_t			 sent;	/* bytes rclone has read */
	char				*src_path;
	dev_t				 src_dev;
	ino_t				 src_ino;
};

static void	put_verify(struct rc_put *);

static void
put_free(struct rc_put *p)
{
	if (p->slot)
		rclone_slot_release(p->rc);
	rclone_slot_cancel(p->rc, &p->waiter);
	free(p->src_path);
	if (p->md != NULL)
		EVP_MD_CTX_free(p->md);
	free(p->key);
	free(p->base);
	free(p->tmp_base);
	free(p->dir_rel);
	free(p->tmp_rel);
	free(p->tmp_path);
	p->rc->host->buf_free(&p->mem);
	p->rc->busy--;
	rclone_rcd_idle(p->rc);
	rclone_unref(p->rc);
	free(p);
}

static void
forget_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rclone	*rc = arg;

	(void)root;
	if (!ok)
		rc->host->log(rc->inst, ZB_LOG_WARN, "cannot delete a "
		    "temporary: %s; it stays as a pending put for prune", err);
	rclone_unref(rc);
}

/* Fire and forget: delete rel (a temporary, or an object taken back). */
static void
forget(struct rclone *rc, const char *rel, const char *why)
{
	char		 what[600];

	snprintf(what, sizeof(what), "delete %s: %s", rel, why);
	rc->refs++;
	rclone_rcd_deletefile(rc, rel, what, forget_done, rc);
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
		forget(rc, status == ZB_OK ? p->key : p->tmp_rel,
		    "aborted");
		put_free(p);
		return;
	}
	if (status != ZB_OK)
		forget(rc, p->tmp_rel, "failed put");
	rc->host->done(p->cw, status, msg);
	put_free(p);
}

/* ---- the upload -------------------------------------------------------- */

/*
 * The upload ended (rcat exited, or the copyfile job finished), ok or
 * not (p->err says why): verify if the host has committed, else wait for
 * its commit or abort.
 */
static void
upload_ended(struct rc_put *p, int ok)
{
	p->upload_over = 1;
	p->upload_ok = ok;
	if (p->slot) {
		p->slot = 0;
		rclone_slot_release(p->rc);
	}
	switch (p->state) {
	case PUT_FLUSHED:
		if (p->aborted) {
			forget(p->rc, p->tmp_rel, "aborted");
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
			forget(p->rc, p->tmp_rel, "aborted");
			put_free(p);
		}
		break;
	case PUT_FILE:
		/*
		 * rclone copied the whole file (or failed) before the host's
		 * check was through: the writes go on without waiting for
		 * it (or fail), and commit verifies (or fails).
		 */
		if (p->aborted) {
			forget(p->rc, p->tmp_rel, "aborted");
			put_free(p);
			break;
		}
		if (!ok)
			p->state = PUT_FAILED;
		if (p->want_ready) {
			p->want_ready = 0;
			p->rc->host->ready(p->w);
		}
		break;
	default:
		/* Aborted: the host has let go of the put. */
		if (p->aborted) {
			forget(p->rc, p->tmp_rel, "aborted");
			put_free(p);
		}
		break;
	}
}

static void
rcat_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_put	*p = arg;

	(void)code;
	p->cmd = NULL;
	if (!ok)
		snprintf(p->err, sizeof(p->err), "rclone rcat: %s", err);
	upload_ended(p, ok);
}

static void
on_flushed(void *arg, struct zb_io *cw)
{
	struct rc_put	*p = arg;

	p->cw = cw;
	p->state = PUT_FLUSHED;
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
	    " bytes handed to rclone", p->key, p->bytes);
	if (p->upload_over) {
		if (!p->upload_ok)
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

/*
 * A large put of a committed object that the host has as a local file
 * (a copy from a `local' sink): its descriptor, or -1 (stream the bytes).
 */
static int
put_file_open(struct rc_put *p)
{
	const struct zb_host_api *h = p->rc->host;

	if (p->size <= RCLONE_SMALL_MAX || h->struct_size <
	    offsetof(struct zb_host_api, put_file) + sizeof(h->put_file))
		return -1;
	return h->put_file(p->w);
}

/*
 * The path rclone opens for the file of descriptor fd: the descriptor's
 * own (/proc/self/fd), when it names that same regular file (device and
 * inode).  0, or -1: no usable path (no /proc, an unlinked file).
 */
static int
file_source(struct rc_put *p, int fd)
{
	struct stat	 fst, st;
	char		 link[64], path[PATH_MAX];
	ssize_t		 n;

	if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode) ||
	    fst.st_size != p->size)
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 1 || (size_t)n >= sizeof(path) - 1)
		return -1;
	path[n] = '\0';
	if (path[0] != '/' || stat(path, &st) == -1 ||
	    st.st_dev != fst.st_dev || st.st_ino != fst.st_ino)
		return -1;
	p->src_path = strdup(path);
	p->src_dev = fst.st_dev;
	p->src_ino = fst.st_ino;
	return p->src_path != NULL ? 0 : -1;
}

/* Room for len more of the host's bytes: not too far ahead of rclone. */
static int
file_room(const struct rc_put *p, size_t len)
{
	return p->job == NULL ||
	    p->bytes + len <= p->sent + RCLONE_FILE_AHEAD;
}

static void
job_progress(void *arg, uint64_t bytes)
{
	struct rc_put	*p = arg;

	p->sent = bytes;
	if (p->want_ready && p->state == PUT_FILE && file_room(p,
	    RCLONE_FILE_AHEAD / 2)) {
		p->want_ready = 0;
		rclone_job_want_progress(p->job, 0);
		p->rc->host->ready(p->w);
	}
}

static void
job_end(void *arg, int ok, const char *err)
{
	struct rc_put	*p = arg;
	struct stat	 st;

	p->job = NULL;
	if (!ok)
		snprintf(p->err, sizeof(p->err), "rclone copyfile: %s", err);
	else if (stat(p->src_path, &st) == -1 || st.st_dev != p->src_dev ||
	    st.st_ino != p->src_ino) {
		/* Not the file the host checks: the upload is not it. */
		snprintf(p->err, sizeof(p->err), "the origin's file %s was "
		    "replaced while rclone read it", p->src_path);
		ok = 0;
	}
	upload_ended(p, ok);
}

/* rclone copies the origin's file to the temporary: 0, or -1. */
static int
file_start(struct rc_put *p)
{
	char		*dir, *slash;

	dir = strdup(p->src_path);
	if (dir == NULL)
		return -1;
	slash = strrchr(dir, '/');
	*slash = '\0';
	p->job = rclone_job_copyfile(p->rc, dir[0] != '\0' ? dir : "/",
	    slash + 1, p->tmp_rel, p->what, job_progress, job_end, p);
	free(dir);
	if (p->job == NULL)
		return -1;
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: rclone copies "
	    "the origin's file %s", p->key, p->src_path);
	return 0;
}

static int
file_write(struct rc_put *p, const struct zb_chunk *c)
{
	if (p->bytes + c->len > (uint64_t)p->size) {
		p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: more "
		    "than the %" PRId64 " bytes announced", p->key, p->size);
		return ZB_ERR;
	}
	if (!file_room(p, c->len)) {
		p->want_ready = 1;	/* job_progress */
		rclone_job_want_progress(p->job, 1);
		return ZB_AGAIN;
	}
	p->bytes += c->len;
	return ZB_OK;
}

/*
 * The host checked every byte: once the rest of the file is in the pipe
 * and rcat exited, verify and move.  The SHA-256 compared with the
 * remote's is the host's, of the same file.
 */
static int
file_commit(struct rc_put *p)
{
	const char	*sha;

	if (p->bytes != (uint64_t)p->size) {
		snprintf(p->err, sizeof(p->err), "%" PRIu64 " bytes, not the %"
		    PRId64 " announced", p->bytes, p->size);
		p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: %s",
		    p->key, p->err);
		p->aborted = 1;		/* no done from us: ZB_ERR */
		if (p->job != NULL)
			rclone_job_stop(p->job);	/* job_end frees */
		else {
			forget(p->rc, p->tmp_rel, "failed put");
			put_free(p);
		}
		return ZB_ERR;
	}
	sha = p->rc->host->put_sha256(p->w);
	snprintf(p->sha, sizeof(p->sha), "%s", sha != NULL ? sha : "");
	p->cw = p->w;
	p->state = PUT_FLUSHED;
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
	    " bytes checked, from the origin's file", p->key, p->bytes);
	if (p->upload_over) {
		if (!p->upload_ok)
			put_finish(p, ZB_ERR, p->err);
		else
			put_verify(p);
	}
	return ZB_AGAIN;
}

/*
 * A slot is ours: rclone copies the origin's file, or rcat starts and
 * the host's writer opens on its stdin.
 */
static void
put_start(void *arg)
{
	struct rc_put		*p = arg;
	struct rclone		*rc = p->rc;
	struct zb_fd_writer_spec fs;
	struct rc_cmd_spec	 spec;
	const char		*argv[] = { "rcat", p->tmp_path, NULL, NULL,
				    NULL };
	char			 size[24];
	int			 fd = -1, rv;

	p->slot = 1;
	fd = put_file_open(p);
	if (fd != -1) {
		rv = file_source(p, fd);
		close(fd);
		fd = -1;
		if (rv == 0) {
			if (file_start(p) == 0)
				p->state = PUT_FILE;
			else {
				p->slot = 0;
				rclone_slot_release(rc);
				snprintf(p->err, sizeof(p->err),
				    "out of memory");
				p->state = PUT_FAILED;
			}
			goto wake;
		}
	}
	if (p->size >= 0) {
		snprintf(size, sizeof(size), "%" PRId64, p->size);
		argv[2] = "--size";
		argv[3] = size;
	}
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
		else if (p->state == PUT_FILE) {
			/* Committed with no byte written: not its size. */
			rclone_job_stop(p->job);	/* job_end frees */
			p->aborted = 1;
			p->rc->host->done(p->w, ZB_ERR, "committed before "
			    "the bytes announced");
		} else if (inner_commit(p) == ZB_ERR) {
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

	if (p->state == PUT_FILE)
		return file_write(p, c);
	if (p->state == PUT_FAILED || (p->iops == NULL && p->state !=
	    PUT_WAITING && p->state != PUT_BUFFERING)) {
		p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: %s",
		    p->key, p->err[0] != '\0' ? p->err : "rclone is gone");
		return ZB_ERR;
	}
	if (p->state == PUT_WAITING) {
		p->want_ready = 1;
		return ZB_AGAIN;
	}
	if (p->state == PUT_BUFFERING) {
		if (p->bytes + c->len > (uint64_t)p->size) {
			p->rc->host->log(p->rc->inst, ZB_LOG_ERROR, "put %s: "
			    "more than the %" PRId64 " bytes announced",
			    p->key, p->size);
			return ZB_ERR;
		}
		if (p->rc->host->buf_add(&p->mem, c->data, c->len) != 0)
			return ZB_ERR;
		p->bytes += c->len;
		return ZB_OK;
	}
	rv = p->iops->write(p->ictx, c);
	if (rv == ZB_OK) {
		p->bytes += c->len;
		if (p->md != NULL)
			EVP_DigestUpdate(p->md, c->data, c->len);
	}
	return rv;
}

static int
inner_commit(struct rc_put *p)
{
	unsigned char	 d[32];
	unsigned int	 n;
	const char	*sha;

	if (p->md != NULL) {
		EVP_DigestFinal_ex(p->md, d, &n);
		rclone_hex(d, sizeof(d), p->sha);
	} else {
		/* NULL: a host that did not hash (then the size decides). */
		sha = p->rc->host->put_sha256(p->w);
		snprintf(p->sha, sizeof(p->sha), "%s", sha != NULL ? sha : "");
	}
	return p->iops->commit(p->ictx);
}

/*
 * A small put of known size (a marker, a sidecar, a manifest): one
 * operations/uploadfile of the bytes as a multipart/form-data file part
 * named as the temporary; rclone uploads it from memory and compares
 * the size itself.  Then the same verify and move as an rcat's.
 */
static void
upload_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_put	*p = arg;
	char		 msg[800];

	(void)root;
	if (!ok) {
		snprintf(msg, sizeof(msg), "rclone uploadfile %s: %s", p->key,
		    err);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	if (p->aborted) {
		put_finish(p, ZB_ERR, "aborted");
		return;
	}
	if (p->in_place) {
		/* rclone compared the size; nothing to move. */
		p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
		    " bytes written in place", p->key, p->bytes);
		put_finish(p, ZB_OK, NULL);
		return;
	}
	put_verify(p);
}

/*
 * The request of a small put: the query (?fs=...&remote=DIR) in *q, and
 * in *b one multipart/form-data file part named as the temporary, with
 * the bytes kept in memory (freed here); ctype gets the Content-Type.
 * 0, or -1 when a buffer could not be built.
 */
static int
small_request(struct rc_put *p, struct zb_buf *q, struct zb_buf *b,
    char *ctype, size_t ctypelen)
{
	const struct zb_host_api *h = p->rc->host;
	char			 boundary[40];
	unsigned char		 rnd[12];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	memcpy(boundary, "zb-", 3);
	rclone_hex(rnd, sizeof(rnd), boundary + 3);
	snprintf(ctype, ctypelen, "multipart/form-data; boundary=%s",
	    boundary);
	memset(q, 0, sizeof(*q));
	h->buf_init(q, 64 * 1024);
	h->buf_add(q, "?fs=", 4);
	rclone_rcd_query_str(p->rc, q, p->rc->remote);
	h->buf_add(q, "&remote=", 8);
	rclone_rcd_query_str(p->rc, q, p->dir_rel);
	memset(b, 0, sizeof(*b));
	h->buf_init(b, (size_t)p->size + 64 * 1024);
	/* tmp_base: a key's name (no quote, no line break) and a tag. */
	h->buf_printf(b, "--%s\r\nContent-Disposition: form-data; "
	    "name=\"file0\"; filename=\"%s\"\r\nContent-Type: "
	    "application/octet-stream\r\n\r\n", boundary, p->tmp_base);
	if (p->mem.len > 0)
		h->buf_add(b, p->mem.data, p->mem.len);
	h->buf_printf(b, "\r\n--%s--\r\n", boundary);
	h->buf_free(&p->mem);
	if (q->failed || q->data == NULL) {
		h->buf_free(q);
		h->buf_free(b);
		return -1;
	}
	return 0;
}

/* The upload of a small put's bytes (kept in memory): 0, or -1. */
static int
small_upload(struct rc_put *p)
{
	struct zb_buf	 q, b;
	char		 ctype[80];

	if (small_request(p, &q, &b, ctype, sizeof(ctype)) == -1)
		return -1;
	p->state = PUT_SENDING;
	rclone_rcd_post(p->rc, "operations/uploadfile", q.data, ctype, &b,
	    p->what, upload_done, p);
	p->rc->host->buf_free(&q);
	return 0;
}

/*
 * A put in place (host->put_in_place: a marker, a sidecar) goes under
 * its final name without a temporary and a move, which saves five
 * requests to the remote; it still refuses to replace an object: one
 * listing of its directory first (rclone's "directory not found": a new
 * one, empty), and the upload only when nothing has its name (a writer
 * between the two would be replaced: the core never has two writers of
 * one key).  A failed one is deleted (put_finish: tmp_rel is the key).
 */
static void
probe_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_put		*p = arg;
	const struct zb_host_api *h = p->rc->host;
	const struct zb_json	*list, *it, *name;
	char			 msg[800];
	int			 taken = 0;

	if (!ok && strstr(err, "directory not found") == NULL) {
		snprintf(msg, sizeof(msg), "rclone list %s: %s", p->key, err);
		if (!p->aborted)
			h->done(p->cw, ZB_ERR, msg);
		put_free(p);
		return;
	}
	list = ok ? h->json_get(root, "list") : NULL;
	if (ok && (list == NULL || list->type != ZB_JSON_ARRAY))
		taken = 1;	/* cannot tell: do not write */
	for (it = list != NULL ? list->child : NULL; it != NULL;
	    it = it->next) {
		name = it->type == ZB_JSON_OBJECT ? h->json_get(it, "Name") :
		    NULL;
		if (name == NULL || name->type != ZB_JSON_STRING ||
		    strcmp(name->str, p->base) == 0)
			taken = 1;
	}
	if (p->aborted || taken) {
		/* Not ours to delete: the put never wrote. */
		if (!p->aborted)
			p->rc->host->done(p->cw, ZB_ERR, "an object of that "
			    "name exists already");
		put_free(p);
		return;
	}
	if (small_upload(p) == -1) {
		p->rc->host->done(p->cw, ZB_ERR, "out of memory");
		put_free(p);
	}
}

static void
probe(struct rc_put *p)
{
	struct zb_buf	 b;

	p->state = PUT_PROBING;
	rclone_rcd_body(p->rc, &b, p->dir_rel);
	p->rc->host->buf_printf(&b, ",\"opt\":{\"noMimeType\":true,"
	    "\"noModTime\":true}}");
	rclone_rcd_call(p->rc, "operations/list", &b, p->what, probe_done, p);
}

static int
small_send(struct rc_put *p)
{
	const struct zb_host_api *h = p->rc->host;
	const char		*sha;

	if (p->bytes != (uint64_t)p->size) {
		h->log(p->rc->inst, ZB_LOG_ERROR, "put %s: %" PRIu64 " bytes, "
		    "not the %" PRId64 " announced", p->key, p->bytes, p->size);
		p->aborted = 1;		/* no done: we return ZB_ERR */
		put_free(p);
		return ZB_ERR;
	}
	sha = h->put_sha256(p->w);
	snprintf(p->sha, sizeof(p->sha), "%s", sha != NULL ? sha : "");
	if (p->in_place) {
		probe(p);	/* then small_upload */
		return ZB_AGAIN;
	}
	if (small_upload(p) == -1) {
		p->aborted = 1;
		put_free(p);
		return ZB_ERR;
	}
	return ZB_AGAIN;
}

static int
put_commit(void *wctx)
{
	struct rc_put	*p = wctx;
	int		 rv;

	p->committing = 1;
	p->cw = p->w;
	if (p->state == PUT_BUFFERING)
		return small_send(p);
	if (p->state == PUT_FILE)
		return file_commit(p);
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
			forget(p->rc, p->tmp_rel, "failed put");
			put_free(p);
		}
		return ZB_ERR;
	}
	rv = inner_commit(p);
	if (rv == ZB_ERR) {
		/* The adapter called on_abort (the child is killed). */
		p->aborted = 1;
		if (p->cmd == NULL) {
			forget(p->rc, p->tmp_rel, "failed put");
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
	case PUT_BUFFERING:
		put_free(p);
		return;
	case PUT_SENDING:
		return;		/* upload_done ends it */
	case PUT_PROBING:
		return;		/* probe_done ends it */
	case PUT_UPLOADING:
	case PUT_FILE:
	case PUT_FLUSHED:
	case PUT_FAILED:
		if (p->iops != NULL)
			p->iops->abort(p->ictx);	/* kills rcat */
		p->iops = NULL;
		if (p->cmd != NULL)
			rc_cmd_kill(p->cmd);	/* rcat_exit frees */
		else if (p->job != NULL)
			rclone_job_stop(p->job);	/* job_end frees */
		else {
			forget(p->rc, p->tmp_rel, "aborted");
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
move_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_put	*p = arg;
	char		 msg[800];

	(void)root;
	if (!ok) {
		snprintf(msg, sizeof(msg), "rclone movefile %s: %s", p->key,
		    err);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	put_finish(p, ZB_OK, NULL);
}

/* Into place; never over an object of that name (--ignore-existing). */
static void
put_move(struct rc_put *p)
{
	struct rclone	*rc = p->rc;
	struct zb_buf	 b;

	p->state = PUT_MOVING;
	memset(&b, 0, sizeof(b));
	rc->host->buf_init(&b, 64 * 1024);
	rc->host->buf_add(&b, "{", 1);
	rclone_rcd_fs(rc, &b, "srcFs");
	rc->host->buf_printf(&b, ",\"srcRemote\":");
	rc->host->buf_json_str(&b, p->tmp_rel);
	rc->host->buf_add(&b, ",", 1);
	rclone_rcd_fs(rc, &b, "dstFs");
	rc->host->buf_printf(&b, ",\"dstRemote\":");
	rc->host->buf_json_str(&b, p->key);
	rc->host->buf_printf(&b, ",\"_config\":{\"IgnoreExisting\":true}}");
	rclone_rcd_call(rc, "operations/movefile", &b, p->what, move_done, p);
}

/* One item of operations/list: {"Name":..., "Size":..., "Hashes":...}. */
static void
verify_item(struct rc_put *p, const struct zb_json *it)
{
	const struct zb_host_api *h = p->rc->host;
	const struct zb_json	*name, *size, *dir, *hashes, *sha;
	int64_t			 n;

	name = h->json_get(it, "Name");
	size = h->json_get(it, "Size");
	dir = h->json_get(it, "IsDir");
	if (name == NULL || name->type != ZB_JSON_STRING || size == NULL ||
	    h->json_int(size, &n) != ZB_OK) {
		p->bad_line = 1;
		return;
	}
	if (dir != NULL && dir->type == ZB_JSON_BOOL && dir->boolean)
		return;
	if (strcmp(name->str, p->tmp_base) == 0) {
		p->tmp_seen = 1;
		p->tmp_size = n;
		hashes = h->json_get(it, "Hashes");
		sha = hashes != NULL && hashes->type == ZB_JSON_OBJECT ?
		    h->json_get(hashes, "sha256") : NULL;
		if (sha != NULL && sha->type == ZB_JSON_STRING &&
		    strlen(sha->str) == 64)
			snprintf(p->tmp_sha, sizeof(p->tmp_sha), "%s",
			    sha->str);
	} else if (strcmp(name->str, p->base) == 0)
		p->final_seen = 1;
}

/* What the listing says of the upload: 0, or -1 with the reason. */
static int
verify_check(struct rc_put *p, char *msg, size_t len)
{
	if (p->bad_line)
		snprintf(msg, len, "cannot read rclone's listing of the upload");
	else if (!p->tmp_seen)
		snprintf(msg, len, "%s: the uploaded temporary %s is not on "
		    "the remote", p->key, p->tmp_base);
	else if (p->tmp_size != (int64_t)p->bytes)
		snprintf(msg, len, "%s: the remote has %" PRId64 " bytes, %"
		    PRIu64 " were written", p->key, p->tmp_size, p->bytes);
	else if (p->tmp_sha[0] != '\0' && p->sha[0] != '\0' &&
	    strcasecmp(p->tmp_sha, p->sha) != 0)
		snprintf(msg, len, "%s: the remote's SHA-256 is %s, %s was "
		    "written", p->key, p->tmp_sha, p->sha);
	else if (p->final_seen)
		snprintf(msg, len, "%s: an object of that name exists already",
		    p->key);
	else
		return 0;
	return -1;
}

static void
verify_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_put		*p = arg;
	const struct zb_json	*list, *it;
	char			 msg[800];

	if (!ok) {
		snprintf(msg, sizeof(msg), "rclone list %s: %s", p->key, err);
		put_finish(p, ZB_ERR, msg);
		return;
	}
	list = p->rc->host->json_get(root, "list");
	if (list == NULL || list->type != ZB_JSON_ARRAY)
		p->bad_line = 1;
	else
		for (it = list->child; it != NULL; it = it->next)
			if (it->type == ZB_JSON_OBJECT)
				verify_item(p, it);
			else
				p->bad_line = 1;
	if (verify_check(p, msg, sizeof(msg)) == -1) {
		put_finish(p, ZB_ERR, msg);
		return;
	}
	p->rc->host->log(p->rc->inst, ZB_LOG_DEBUG, "put %s: %" PRIu64
	    " bytes%s verified", p->key, p->bytes, p->tmp_sha[0] != '\0' &&
	    p->sha[0] != '\0' ? " and SHA-256" : "");
	put_move(p);
}

/*
 * The temporary's size (and SHA-256 where the remote has one) and the
 * absence of the final name, from one listing of the directory (an
 * artifact's directory holds a handful of objects).
 */
static void
put_verify(struct rc_put *p)
{
	struct rclone	*rc = p->rc;
	struct zb_buf	 b;

	p->state = PUT_VERIFYING;
	rclone_rcd_body(rc, &b, p->dir_rel);
	rc->host->buf_printf(&b, ",\"opt\":{\"filesOnly\":true,"
	    "\"showHash\":true,\"hashTypes\":[\"sha256\"],"
	    "\"noMimeType\":true,\"noModTime\":true}}");
	rclone_rcd_call(rc, "operations/list", &b, p->what, verify_done, p);
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
	char		*dir = NULL;

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
	rc->busy++;
	p->w = p->cw = w;
	p->state = PUT_WAITING;
	p->waiter.start = put_start;
	p->waiter.arg = p;
	p->size = -1;
	if (rc->host->struct_size >= offsetof(struct zb_host_api, put_sha256) +
	    sizeof(rc->host->put_sha256)) {
		p->size = rc->host->put_size(w);
	} else if ((p->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1)
		goto fail;
	p->key = strdup(key);
	slash = strrchr(key, '/');
	p->base = strdup(slash != NULL ? slash + 1 : key);
	dir = slash != NULL ? strndup(key, (size_t)(slash - key)) : strdup("");
	if (p->key == NULL || p->base == NULL || dir == NULL)
		goto fail;
	p->in_place = p->size >= 0 && p->size <= RCLONE_SMALL_MAX &&
	    rc->host->struct_size >= offsetof(struct zb_host_api,
	    put_in_place) + sizeof(rc->host->put_in_place) &&
	    rc->host->put_in_place(w);
	/* In place, the "temporary" is the object itself. */
	if (p->in_place)
		p->tmp_base = strdup(p->base);
	else if (asprintf(&p->tmp_base, ".%s" RCLONE_TMP_TAG
	    "%02x%02x%02x%02x", p->base, rnd[0], rnd[1], rnd[2],
	    rnd[3]) == -1)
		p->tmp_base = NULL;
	if (p->tmp_base == NULL)
		goto fail;
	if (asprintf(&p->tmp_rel, "%s%s%s", dir, dir[0] != '\0' ? "/" : "",
	    p->tmp_base) == -1) {
		p->tmp_rel = NULL;
		goto fail;
	}
	p->dir_rel = dir;
	dir = NULL;
	p->tmp_path = rclone_path(rc, p->tmp_rel);
	if (p->tmp_path == NULL)
		goto fail;
	snprintf(p->what, sizeof(p->what), "put %s", key);
	*ops = &put_ops;
	*wctx = p;
	if (p->size >= 0 && p->size <= RCLONE_SMALL_MAX &&
	    strchr(p->tmp_base, '"') == NULL) {
		/* No rclone process: the bytes go in one request. */
		rc->host->buf_init(&p->mem, (size_t)p->size + 1);
		p->state = PUT_BUFFERING;
		return ZB_OK;
	}
	rclone_slot_wait(rc, &p->waiter);
	return ZB_OK;
fail:
	free(dir);
	put_free(p);
	return ZB_ERR;
}
