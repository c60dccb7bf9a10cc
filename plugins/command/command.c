/*
 * command.c - the `command' source: the standard output of a shell
 * command is the stream.
 *
 * Backup runs `/bin/sh -c COMMAND' through host->spawn (own process
 * group, stderr logged by the host).  Its stdout pipe is read on the loop
 * and pushed; pausing stops reading, so the command blocks on a full
 * pipe.  The stream succeeds only if the command exits 0 after EOF.
 *
 * Restore feeds the stream to `/bin/sh -c RESTORE_COMMAND' on its stdin,
 * or writes it to a file with `--to PATH'.  A restore command is only
 * given EOF at commit, after the host has checked every hash; on abort it
 * is killed first, so it never sees a clean end of a bad stream.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zentoria/plugin.h>

#define READ_SIZE	(64 * 1024)

struct command {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
};

/* One running child, for backup (reading) or restore (writing). */
struct cmd_child {
	struct command		*c;
	struct zb_io		*io;
	pid_t			 pid;
	int			 fd;		/* stdout or stdin pipe */
	struct event		*ev;
	int			 exited;
	int			 status;
	char			*last_err;
	int			 eof;		/* backup: stdout EOF */
	int			 closed;	/* host is done with us */
	int			 committing;	/* restore: waiting for exit */
	int			 failed;
	unsigned char		*buf;
	/* restore: the chunk being written and how far */
	const struct zb_chunk	*cur;
	size_t			 off;
};

static const struct zb_option command_options[] = {
	{ "command", ZB_OPT_STRING, NULL, 1,
	    "shell command whose standard output is backed up", 0, 0 },
	{ "restore_command", ZB_OPT_STRING, NULL, 0,
	    "shell command that gets the stream on standard input at restore",
	    0, 0 },
	{ "stream", ZB_OPT_STRING, "output", 0,
	    "name of the stream (part of the artifact id)", 0, 0 },
	{ "extension", ZB_OPT_STRING, "out", 0,
	    "file extension of the stored data (before .zst)", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static int
command_init(const struct zb_host_api *host, struct zb_inst *inst,
    void **ctx)
{
	struct command	*c;

	if (host->cfg_str(inst, "command")[0] == '\0')
		return host->cfg_error(inst, "command", "is empty");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ZB_ERR;
	c->host = host;
	c->inst = inst;
	*ctx = c;
	return ZB_OK;
}

static void
command_fini(void *ctx)
{
	free(ctx);
}

static int
command_plan(void *ctx, struct zb_io *run)
{
	struct command	*c = ctx;

	if (c->host->add_stream(run, c->host->cfg_str(c->inst, "stream"),
	    c->host->cfg_str(c->inst, "extension")) != ZB_OK)
		return ZB_ERR;
	c->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

static void
child_free(struct cmd_child *k)
{
	if (k->ev != NULL)
		event_free(k->ev);
	if (k->fd != -1)
		close(k->fd);
	free(k->last_err);
	free(k->buf);
	free(k);
}

static void
describe(const struct cmd_child *k, char *msg, size_t len)
{
	const char	*tail = k->last_err != NULL && *k->last_err ?
	    k->last_err : "no message on stderr";

	if (WIFEXITED(k->status))
		snprintf(msg, len, "command exited with status %d (%s)",
		    WEXITSTATUS(k->status), tail);
	else if (WIFSIGNALED(k->status))
		snprintf(msg, len, "command was killed by signal %d (%s)",
		    WTERMSIG(k->status), tail);
	else
		snprintf(msg, len, "command ended abnormally");
}

static int
exit_ok(const struct cmd_child *k)
{
	return WIFEXITED(k->status) && WEXITSTATUS(k->status) == 0;
}

/* ---- backup ------------------------------------------------------------- */

static void
backup_maybe_done(struct cmd_child *k)
{
	char	 msg[1024];

	if (!k->eof || !k->exited || k->closed || k->failed)
		return;
	if (exit_ok(k)) {
		k->c->host->done(k->io, ZB_OK, NULL);
		return;
	}
	describe(k, msg, sizeof(msg));
	k->failed = 1;
	k->c->host->done(k->io, ZB_ERR, msg);
}

static void
backup_read(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_child	*k = arg;
	ssize_t			 n;
	char			 msg[256];

	n = read(k->fd, k->buf, READ_SIZE);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		snprintf(msg, sizeof(msg), "read from command: %s",
		    strerror(errno));
		k->failed = 1;
		k->c->host->done(k->io, ZB_ERR, msg);
		return;
	}
	if (n == 0) {
		event_del(k->ev);
		k->eof = 1;
		backup_maybe_done(k);
		return;
	}
	/* ZB_AGAIN: the host has called pause() already. */
	if (k->c->host->push(k->io, k->buf, n) == ZB_ERR)
		event_del(k->ev);
}

static void
on_exit_cb(void *arg, int status, const char *last_err)
{
	struct cmd_child	*k = arg;

	k->exited = 1;
	k->status = status;
	k->last_err = strdup(last_err != NULL ? last_err : "");
	if (k->closed) {
		child_free(k);
		return;
	}
	if (k->committing) {
		/* restore: the commit's outcome */
		char	 msg[1024];

		if (exit_ok(k)) {
			k->c->host->done(k->io, ZB_OK, NULL);
		} else {
			describe(k, msg, sizeof(msg));
			k->c->host->done(k->io, ZB_ERR, msg);
		}
		child_free(k);
		return;
	}
	if (k->ev != NULL && k->buf != NULL)
		backup_maybe_done(k);
}

static void
backup_pause(void *pctx)
{
	struct cmd_child	*k = pctx;

	if (!k->eof)
		event_del(k->ev);
}

static void
backup_resume(void *pctx)
{
	struct cmd_child	*k = pctx;

	if (!k->eof && !k->failed)
		event_add(k->ev, NULL);
}

static void
backup_close(void *pctx)
{
	struct cmd_child	*k = pctx;

	k->closed = 1;
	event_del(k->ev);
	if (!k->exited) {
		/* Aborted: stop it; free once it has been reaped. */
		k->c->host->kill_child(k->pid, SIGTERM);
		close(k->fd);
		k->fd = -1;
		return;
	}
	child_free(k);
}

static const struct zb_producer_ops backup_ops = {
	backup_pause, backup_resume, backup_close
};

static struct cmd_child *
start(struct command *c, struct zb_io *io, const char *cmd, int for_restore)
{
	struct zb_spawn_req	 req;
	struct zb_child_fds	 fds;
	struct cmd_child	*k;
	char			*argv[] = { "sh", "-c", (char *)cmd, NULL };

	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->c = c;
	k->io = io;
	k->fd = -1;
	memset(&req, 0, sizeof(req));
	req.path = "/bin/sh";
	req.argv = argv;
	req.want_stdin = for_restore;
	req.want_stdout = !for_restore;
	req.on_exit = on_exit_cb;
	req.arg = k;
	if (c->host->spawn(c->inst, &req, &fds) != ZB_OK) {
		free(k);
		return NULL;
	}
	k->pid = fds.pid;
	k->fd = for_restore ? fds.stdin_fd : fds.stdout_fd;
	return k;
}

static int
command_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct command		*c = ctx;
	struct cmd_child	*k;

	k = start(c, s, c->host->cfg_str(c->inst, "command"), 0);
	if (k == NULL)
		return ZB_ERR;
	k->buf = malloc(READ_SIZE);
	k->ev = event_new(c->host->evbase(), k->fd, EV_READ | EV_PERSIST,
	    backup_read, k);
	if (k->buf == NULL || k->ev == NULL) {
		c->host->kill_child(k->pid, SIGKILL);
		k->closed = 1;	/* freed when reaped */
		return ZB_ERR;
	}
	event_add(k->ev, NULL);
	*ops = &backup_ops;
	*pctx = k;
	return ZB_OK;
}

/* ---- restore ------------------------------------------------------------- */

static void
restore_writable(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_child	*k = arg;
	ssize_t			 n;

	n = write(k->fd, k->cur->data + k->off, k->cur->len - k->off);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		event_add(k->ev, NULL);
		return;
	}
	if (n == -1) {
		/* EPIPE: the command quit; write() reports it next time. */
		k->failed = 1;
		k->c->host->ready(k->io);
		return;
	}
	k->off += n;
	if (k->off < k->cur->len) {
		event_add(k->ev, NULL);
		return;
	}
	k->c->host->ready(k->io);	/* the same chunk comes back: done */
}

static int
restore_write(void *wctx, const struct zb_chunk *chunk)
{
	struct cmd_child	*k = wctx;
	ssize_t			 n;

	if (k->failed) {
		k->c->host->log(k->c->inst, ZB_LOG_ERROR, "the restore command "
		    "stopped reading its input");
		return ZB_ERR;
	}
	if (k->cur != chunk) {
		k->cur = chunk;
		k->off = 0;
	}
	while (k->off < chunk->len) {
		n = write(k->fd, chunk->data + k->off, chunk->len - k->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			event_add(k->ev, NULL);
			return ZB_AGAIN;
		}
		if (n == -1) {
			k->c->host->log(k->c->inst, ZB_LOG_ERROR, "write to the "
			    "restore command: %s", strerror(errno));
			return ZB_ERR;
		}
		k->off += n;
	}
	k->cur = NULL;
	return ZB_OK;
}

static int
restore_commit(void *wctx)
{
	struct cmd_child	*k = wctx;

	/* EOF for the command; its exit status decides. */
	event_del(k->ev);
	close(k->fd);
	k->fd = -1;
	k->committing = 1;
	if (k->exited) {
		on_exit_cb(k, k->status, k->last_err);
		return ZB_AGAIN;
	}
	return ZB_AGAIN;
}

static void
restore_abort(void *wctx)
{
	struct cmd_child	*k = wctx;

	k->closed = 1;
	event_del(k->ev);
	if (k->exited) {
		child_free(k);
		return;
	}
	/* Kill before closing stdin: no clean EOF for a bad stream. */
	k->c->host->kill_child(k->pid, SIGKILL);
	close(k->fd);
	k->fd = -1;
}

static const struct zb_writer_ops restore_ops = {
	restore_write, restore_commit, restore_abort
};

static int
command_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct command		*c = ctx;
	struct cmd_child	*k;
	const char		*cmd = c->host->cfg_str(c->inst,
	    "restore_command");

	if (req->target != NULL)
		return c->host->file_writer(w, req->target, req->force, ops,
		    wctx);
	if (cmd == NULL) {
		c->host->log(c->inst, ZB_LOG_ERROR, "no restore_command is "
		    "configured: give --to FILE to write the stream to a file");
		return ZB_ERR;
	}
	k = start(c, w, cmd, 1);
	if (k == NULL)
		return ZB_ERR;
	k->ev = event_new(c->host->evbase(), k->fd, EV_WRITE,
	    restore_writable, k);
	if (k->ev == NULL) {
		restore_abort(k);
		return ZB_ERR;
	}
	*ops = &restore_ops;
	*wctx = k;
	return ZB_OK;
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "command",
	.version = PACKAGE_VERSION,
	.description = "back up the standard output of a shell command",
	.options = command_options,
	.init = command_init,
	.fini = command_fini,
	.plan = command_plan,
	.stream_open = command_stream_open,
	.restore_open = command_restore_open,
};
