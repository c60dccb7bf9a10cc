/*
 * toolkit_fd.c - the fd producer and the fd writer of ABI 1.5 (a stream
 * read from, or written into, a non-blocking file descriptor with the
 * stream's backpressure).
 *
 * The producer reads one slice per loop turn while the stream is not
 * paused, and stops reading (the event is removed, so a child writing the
 * other end blocks on its full pipe) from pause() to resume().  A regular
 * file cannot be polled: it is read from an event made active by hand,
 * one slice per loop turn, so that other work still runs in between.
 *
 * The writer writes each chunk as far as the fd takes it and answers
 * ZB_AGAIN with the offset kept; EV_WRITE then calls host->ready() and
 * the same chunk comes back.  commit() closes the fd (the reader sees end
 * of file); with on_commit the plugin decides the outcome later, through
 * a handle of the adapter's own (`proxy') that forwards to the writer and
 * frees the adapter when done() comes.  abort() calls on_abort before it
 * closes the fd, so that a child killed there never sees a clean end of a
 * bad stream.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "io.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "stream.h"
#include "toolkit.h"
#include "util.h"

#define FD_SLICE_DEFAULT	(64 * 1024)	/* when io is not a stream */
#define FD_ERR_MAX		512

/* "[source:x] stream" for messages. */
static char *
io_label(const struct zb_io *io)
{
	const char	*prefix = io->inst != NULL ? io->inst->prefix : "";
	const char	*name = NULL;

	if (io->vt->stream_name != NULL)
		name = io->vt->stream_name(io);
	if (name == NULL || *name == '\0')
		return xstrdup(prefix);
	return xasprintf("%s%s%s", prefix, *prefix != '\0' ? " " : "", name);
}

static int
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- the fd producer --------------------------------------------------- */

struct fd_producer {
	struct zb_io			*s;
	char				*label;
	struct zb_fd_producer_spec	 spec;
	int				 fd;
	int				 regular;	/* not pollable */
	struct event			*ev;
	unsigned char			*buf;
	size_t				 slice;
	int				 paused;
	int				 ended;		/* on_end/done given */
	int				 torn;		/* push said ZB_ERR */
};

static void
prod_arm(struct fd_producer *p)
{
	if (p->paused || p->ended || p->torn)
		return;
	if (p->regular)
		event_active(p->ev, EV_READ, 0);
	else
		event_add(p->ev, NULL);
}

static void
prod_end(struct fd_producer *p, int status, const char *msg)
{
	p->ended = 1;
	event_del(p->ev);
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->spec.on_end != NULL)
		p->spec.on_end(p->spec.arg, status, msg);
	else
		io_done(p->s, status, msg);
}

static void
prod_read(evutil_socket_t fd, short what, void *arg)
{
	struct fd_producer	*p = arg;
	char			 err[FD_ERR_MAX];
	unsigned char		*dst;
	size_t			 want, room;
	ssize_t			 n;
	int			 rc;

	(void)fd;
	(void)what;
	if (p->paused || p->ended || p->torn)
		return;
	/* Straight into the stream's chunk when it is one: no copy. */
	want = p->slice;
	dst = stream_push_room(p->s, &room);
	if (dst != NULL && room < want)
		want = room;
	n = read(p->fd, dst != NULL ? dst : p->buf, want);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		if (p->regular)
			prod_arm(p);
		return;
	}
	if (n == -1) {
		snprintf(err, sizeof(err), "read error: %s", strerror(errno));
		prod_end(p, ZB_ERR, err);
		return;
	}
	if (n == 0) {
		prod_end(p, ZB_OK, NULL);
		return;
	}
	if (p->spec.on_data != NULL) {
		err[0] = '\0';
		rc = p->spec.on_data(p->spec.arg, dst != NULL ? dst : p->buf,
		    (size_t)n, err, sizeof(err));
		if (rc != ZB_OK) {
			prod_end(p, ZB_ERR, err[0] != '\0' ? err :
			    "the data was refused");
			return;
		}
	}
	/* ZB_AGAIN: pause() has been called already. */
	rc = dst != NULL ? stream_push_filled(p->s, (size_t)n) :
	    io_push(p->s, p->buf, (size_t)n);
	if (rc == ZB_ERR) {
		/* The stream is being torn down; close() follows. */
		p->torn = 1;
		event_del(p->ev);
		return;
	}
	if (p->regular)
		prod_arm(p);
}

static void
prod_pause(void *pctx)
{
	struct fd_producer	*p = pctx;

	p->paused = 1;
	event_del(p->ev);
}

static void
prod_resume(void *pctx)
{
	struct fd_producer	*p = pctx;

	p->paused = 0;
	prod_arm(p);
}

static void
prod_close(void *pctx)
{
	struct fd_producer	*p = pctx;

	event_del(p->ev);
	if (p->spec.on_close != NULL)
		p->spec.on_close(p->spec.arg);
	if (p->fd != -1)
		close(p->fd);
	event_free(p->ev);
	free(p->buf);
	free(p->label);
	free(p);
}

static const struct zb_producer_ops fd_producer_ops = {
	prod_pause, prod_resume, prod_close
};

int
toolkit_fd_producer(struct zb_io *s, const struct zb_fd_producer_spec *spec,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct fd_producer	*p;
	struct stat		 sb;
	size_t			 chunk, n;
	int			 fd = spec != NULL ? spec->fd : -1;

	if (spec == NULL || spec->struct_size < offsetof(struct
	    zb_fd_producer_spec, slice) || fd < 0) {
		log_warnx("%s fd_producer: plugin bug: no spec, struct_size "
		    "or fd", s->inst != NULL ? s->inst->prefix : "");
		if (fd >= 0)
			close(fd);
		return ZB_ERR;
	}
	p = xcalloc(1, sizeof(*p));
	n = spec->struct_size < sizeof(p->spec) ? spec->struct_size :
	    sizeof(p->spec);
	memcpy(&p->spec, spec, n);
	p->s = s;
	p->fd = fd;
	p->label = io_label(s);
	chunk = stream_io_chunk_size(s);
	if (chunk == 0)
		chunk = FD_SLICE_DEFAULT;
	/* More than a chunk per push would overrun the budget. */
	p->slice = p->spec.slice == 0 || p->spec.slice > chunk ? chunk :
	    p->spec.slice;
	if (fstat(fd, &sb) == -1 || set_nonblock(fd) == -1) {
		log_warn("%s: fd_producer: fd %d", p->label, fd);
		goto fail;
	}
	p->regular = S_ISREG(sb.st_mode);
	p->buf = xmalloc(p->slice);
	p->ev = event_new(reactor_base(), p->regular ? -1 : fd,
	    p->regular ? 0 : EV_READ | EV_PERSIST, prod_read, p);
	if (p->ev == NULL) {
		log_warnx("%s: fd_producer: cannot create an event", p->label);
		goto fail;
	}
	if (!p->regular && event_add(p->ev, NULL) == -1) {
		log_warnx("%s: fd_producer: fd %d cannot be polled", p->label,
		    fd);
		goto fail;
	}
	if (p->regular)
		prod_arm(p);
	*ops = &fd_producer_ops;
	*pctx = p;
	return ZB_OK;

fail:
	if (p->ev != NULL)
		event_free(p->ev);
	close(fd);
	free(p->buf);
	free(p->label);
	free(p);
	return ZB_ERR;
}

/* ---- the fd writer ----------------------------------------------------- */

struct fd_writer {
	struct zb_io			 proxy;	/* first: on_commit's handle */
	struct zb_io			*w;
	char				*label;
	struct zb_fd_writer_spec	 spec;
	int				 fd;
	struct event			*ev;	/* EV_WRITE, while blocked */
	const struct zb_chunk		*cur;	/* partly written */
	size_t				 off;
	uint64_t			 bytes;
	int				 committing;	/* on_commit called */
	int				 in_commit;	/* inside commit() */
	int				 done_seen;
};

static void
fdw_free(struct fd_writer *fw)
{
	if (fw->ev != NULL)
		event_free(fw->ev);
	if (fw->fd != -1)
		close(fw->fd);
	free(fw->label);
	free(fw);
}

static void
fdw_writable(evutil_socket_t fd, short what, void *arg)
{
	struct fd_writer	*fw = arg;

	(void)fd;
	(void)what;
	if (fw->w->vt->ready != NULL)
		fw->w->vt->ready(fw->w);	/* the same chunk comes back */
}

static int
fdw_write(void *wctx, const struct zb_chunk *c)
{
	struct fd_writer	*fw = wctx;
	ssize_t			 n;

	if (fw->fd == -1 || fw->committing)
		return ZB_ERR;
	if (fw->cur != c) {
		fw->cur = c;
		fw->off = 0;
	}
	while (fw->off < c->len) {
		n = write(fw->fd, c->data + fw->off, c->len - fw->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (event_add(fw->ev, NULL) == -1) {
				log_warnx("%s: fd_writer: fd %d cannot be "
				    "polled", fw->label, fw->fd);
				return ZB_ERR;
			}
			return ZB_AGAIN;
		}
		if (n == -1 && errno == EPIPE) {
			log_warnx("%s: the reader closed its end of the pipe "
			    "after %" PRIu64 " bytes (EPIPE): it quit before "
			    "the end of the stream", fw->label, fw->bytes);
			return ZB_ERR;
		}
		if (n == -1) {
			log_warnx("%s: write error after %" PRIu64 " bytes: %s",
			    fw->label, fw->bytes, strerror(errno));
			return ZB_ERR;
		}
		fw->off += (size_t)n;
		fw->bytes += (uint64_t)n;
	}
	fw->cur = NULL;
	return ZB_OK;
}

static int
fdw_commit(void *wctx)
{
	struct fd_writer	*fw = wctx;
	int			 rc;

	event_del(fw->ev);
	rc = close(fw->fd);
	fw->fd = -1;
	if (rc == -1 && errno != EINTR) {
		log_warn("%s: closing the output after %" PRIu64 " bytes",
		    fw->label, fw->bytes);
		if (fw->spec.on_abort != NULL)
			fw->spec.on_abort(fw->spec.arg);
		fdw_free(fw);
		return ZB_ERR;
	}
	if (fw->spec.on_commit == NULL) {
		fdw_free(fw);
		return ZB_OK;
	}
	fw->committing = 1;
	fw->in_commit = 1;
	fw->spec.on_commit(fw->spec.arg, &fw->proxy);
	fw->in_commit = 0;
	if (fw->done_seen)
		fdw_free(fw);
	/* done() may have come already: the writer is final then. */
	return ZB_AGAIN;
}

static void
fdw_abort(void *wctx)
{
	struct fd_writer	*fw = wctx;

	event_del(fw->ev);
	/* Before the close: a child killed here sees no end of file. */
	if (fw->spec.on_abort != NULL)
		fw->spec.on_abort(fw->spec.arg);
	fdw_free(fw);
}

static const struct zb_writer_ops fd_writer_ops = {
	fdw_write, fdw_commit, fdw_abort
};

/* The handle on_commit gets: done() ends the adapter too. */
static void
proxy_done(struct zb_io *io, int status, const char *msg)
{
	struct fd_writer	*fw = (struct fd_writer *)io;

	if (!fw->committing || fw->done_seen) {
		log_warnx("%s: plugin bug: done() on an fd writer that is not "
		    "committing", fw->label);
		return;
	}
	fw->done_seen = 1;
	io_done(fw->w, status, msg);
	if (!fw->in_commit)
		fdw_free(fw);
}

static void
proxy_ready(struct zb_io *io)
{
	struct fd_writer	*fw = (struct fd_writer *)io;

	if (fw->w->vt->ready != NULL)
		fw->w->vt->ready(fw->w);
}

static void
proxy_fact(struct zb_io *io, const char *group, const char *key,
    const char *str, int64_t num, int is_num)
{
	struct fd_writer	*fw = (struct fd_writer *)io;

	if (fw->w->vt->fact != NULL)
		fw->w->vt->fact(fw->w, group, key, str, num, is_num);
}

static const char *
proxy_stream_name(const struct zb_io *io)
{
	const struct fd_writer	*fw = (const struct fd_writer *)io;

	return fw->w->vt->stream_name != NULL ?
	    fw->w->vt->stream_name(fw->w) : NULL;
}

static const char *
proxy_artifact_id(const struct zb_io *io)
{
	const struct fd_writer	*fw = (const struct fd_writer *)io;

	return fw->w->vt->artifact_id != NULL ?
	    fw->w->vt->artifact_id(fw->w) : NULL;
}

static const struct fact *
proxy_facts(const struct zb_io *io)
{
	const struct fd_writer	*fw = (const struct fd_writer *)io;

	return fw->w->vt->facts != NULL ? fw->w->vt->facts(fw->w) : NULL;
}

static const struct io_vtbl proxy_vtbl = {
	.kind = "writer",
	.done = proxy_done,
	.ready = proxy_ready,
	.fact = proxy_fact,
	.stream_name = proxy_stream_name,
	.artifact_id = proxy_artifact_id,
	.facts = proxy_facts,
};

int
toolkit_fd_writer(struct zb_io *w, const struct zb_fd_writer_spec *spec,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct fd_writer	*fw;
	size_t			 n;
	int			 fd = spec != NULL ? spec->fd : -1;

	if (spec == NULL || spec->struct_size < offsetof(struct
	    zb_fd_writer_spec, on_commit) || fd < 0) {
		log_warnx("%s fd_writer: plugin bug: no spec, struct_size or "
		    "fd", w->inst != NULL ? w->inst->prefix : "");
		if (fd >= 0)
			close(fd);
		return ZB_ERR;
	}
	fw = xcalloc(1, sizeof(*fw));
	n = spec->struct_size < sizeof(fw->spec) ? spec->struct_size :
	    sizeof(fw->spec);
	memcpy(&fw->spec, spec, n);
	fw->proxy.vt = &proxy_vtbl;
	fw->proxy.inst = w->inst;
	fw->w = w;
	fw->fd = fd;
	fw->label = io_label(w);
	if (set_nonblock(fd) == -1) {
		log_warn("%s: fd_writer: fd %d", fw->label, fd);
		fdw_free(fw);
		return ZB_ERR;
	}
	fw->ev = event_new(reactor_base(), fd, EV_WRITE, fdw_writable, fw);
	if (fw->ev == NULL) {
		log_warnx("%s: fd_writer: cannot create an event", fw->label);
		fdw_free(fw);
		return ZB_ERR;
	}
	*ops = &fd_writer_ops;
	*wctx = fw;
	return ZB_OK;
}
