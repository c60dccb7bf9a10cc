/*
 * writers.c - writers the core provides itself.
 *
 * The file writer never leaves a complete-looking file behind a failure:
 * bytes go to ".NAME.zb-XXXXXX" in the target's directory, and only a
 * commit (after the caller checked every hash) fsyncs and renames it into
 * place, on a worker thread so that a long fsync does not stall the loop.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "reactor.h"
#include "util.h"
#include "writers.h"

static int
null_write(void *wctx, const struct zb_chunk *c)
{
	return ZB_OK;
}

static int
null_commit(void *wctx)
{
	return ZB_OK;
}

static void
null_abort(void *wctx)
{
}

const struct zb_writer_ops null_writer_ops = {
	null_write, null_commit, null_abort
};

static int
mem_write(void *wctx, const struct zb_chunk *c)
{
	return buf_add(wctx, c->data, c->len) == 0 ? ZB_OK : ZB_ERR;
}

const struct zb_writer_ops mem_writer_ops = {
	mem_write, null_commit, null_abort
};

struct file_writer {
	struct zb_io	*io;
	char		*prefix;
	char		*path;
	char		*tmp;
	int		 fd;
	int		 force;
	int		 committing;	/* the worker owns fw until done */
	int		 aborted;	/* abort came during the commit */
	int		 err;		/* errno from the worker */
	const char	*step;
};

static void
fw_free(struct file_writer *fw)
{
	if (fw->fd != -1)
		close(fw->fd);
	free(fw->prefix);
	free(fw->path);
	free(fw->tmp);
	free(fw);
}

static int
fw_write(void *wctx, const struct zb_chunk *c)
{
	struct file_writer	*fw = wctx;

	if (write_all(fw->fd, c->data, c->len) == -1) {
		log_warn("%s write %s", fw->prefix, fw->tmp);
		return ZB_ERR;
	}
	return ZB_OK;
}

/* Worker thread: make the file durable and put it in place. */
static int
fw_finish(void *arg)
{
	struct file_writer	*fw = arg;
	int			 rc;

	fw->step = "fsync";
	if (fsync(fw->fd) == -1)
		goto fail;
	fw->step = "rename";
	if (fw->force)
		rc = rename(fw->tmp, fw->path);
	else
		rc = renameat2(AT_FDCWD, fw->tmp, AT_FDCWD, fw->path,
		    RENAME_NOREPLACE);
	if (rc == -1)
		goto fail;
	fw->step = "fsync directory";
	if (fsync_dir_of(fw->path) == -1)
		goto fail;
	return 0;
fail:
	fw->err = errno;
	return -1;
}

static void
fw_finished(void *arg, int result)
{
	struct file_writer	*fw = arg;
	char			 msg[1024];

	if (fw->aborted) {
		/* Too late for the rename to be undone by the caller. */
		unlink(result == 0 ? fw->path : fw->tmp);
		fw_free(fw);
		return;
	}
	if (result == 0) {
		log_info("%s wrote %s", fw->prefix, fw->path);
		io_done(fw->io, ZB_OK, NULL);
	} else {
		snprintf(msg, sizeof(msg), "%s %s: %s", fw->step, fw->path,
		    strerror(fw->err));
		unlink(fw->tmp);
		io_done(fw->io, ZB_ERR, msg);
	}
	fw_free(fw);
}

static int
fw_commit(void *wctx)
{
	struct file_writer	*fw = wctx;

	fw->committing = 1;
	if (reactor_offload(fw_finish, fw_finished, fw) == -1) {
		log_warn("%s worker thread", fw->prefix);
		unlink(fw->tmp);
		fw_free(fw);
		return ZB_ERR;
	}
	return ZB_AGAIN;
}

static void
fw_abort(void *wctx)
{
	struct file_writer	*fw = wctx;

	if (fw->committing) {
		fw->aborted = 1;	/* fw_finished cleans up */
		return;
	}
	unlink(fw->tmp);
	fw_free(fw);
}

static const struct zb_writer_ops file_writer_ops = {
	fw_write, fw_commit, fw_abort
};

int
file_writer_open(struct zb_io *w, const char *prefix, const char *path,
    int force, const struct zb_writer_ops **ops, void **wctx)
{
	struct file_writer	*fw;
	struct stat		 st;
	const char		*slash;

	if (!force && lstat(path, &st) == 0) {
		log_warnx("%s %s exists; refusing to overwrite it (use "
		    "--force)", prefix, path);
		return ZB_ERR;
	}
	fw = xcalloc(1, sizeof(*fw));
	fw->io = w;
	fw->prefix = xstrdup(prefix);
	fw->path = xstrdup(path);
	fw->force = force;
	slash = strrchr(path, '/');
	if (slash != NULL)
		fw->tmp = xasprintf("%.*s/.%s.zb-XXXXXX", (int)(slash - path),
		    path, slash + 1);
	else
		fw->tmp = xasprintf(".%s.zb-XXXXXX", path);
	fw->fd = mkostemp(fw->tmp, O_CLOEXEC);
	if (fw->fd == -1) {
		log_warn("%s cannot create %s", prefix, fw->tmp);
		fw_free(fw);
		return ZB_ERR;
	}
	*ops = &file_writer_ops;
	*wctx = fw;
	return ZB_OK;
}
