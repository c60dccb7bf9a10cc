/*
 * command.c - the `command' source: the standard output of a shell
 * command is the stream.
 *
 * Backup runs `/bin/sh -c COMMAND' through host->spawn (own process
 * group, stderr logged by the host).  Its stdout pipe is the host's fd
 * producer (host->fd_producer): pausing stops reading, so the command
 * blocks on a full pipe.  The stream succeeds only if the command exits 0
 * after EOF.
 *
 * Restore feeds the stream to `/bin/sh -c RESTORE_COMMAND' on its stdin
 * through the host's fd writer (host->fd_writer), or writes it to a file
 * with `--to PATH'.  A restore command is only given EOF at commit, after
 * the host has checked every hash, and its exit status decides; on abort
 * it is killed (SIGKILL) before its stdin is closed, so it never sees a
 * clean end of a bad stream.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#define READ_SIZE	(64 * 1024)	/* bytes per read of the output */

struct command {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
};

/* One running child, for backup (reading) or restore (writing). */
struct cmd_child {
	struct command		*c;
	struct zb_io		*io;
	pid_t			 pid;
	int			 backup;
	int			 exited;
	int			 status;
	char			*last_err;
	int			 eof;		/* backup: stdout EOF */
	int			 closed;	/* host is done with us */
	int			 failed;
	struct zb_io		*cw;		/* restore: on_commit's handle */
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
	if (host->struct_size < offsetof(struct zb_host_api, fd_writer) +
	    sizeof(host->fd_writer)) {
		host->log(inst, ZB_LOG_ERROR, "the daemon is too old for this "
		    "plugin (it needs plugin ABI 1.5)");
		return ZB_ERR;
	}
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
	free(k->last_err);
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

/* The fd producer's end of the output: EOF, or a read error. */
static void
backup_end(void *arg, int status, const char *err)
{
	struct cmd_child	*k = arg;
	char			 msg[512];

	if (status != ZB_OK) {
		snprintf(msg, sizeof(msg), "output of the command: %s",
		    err != NULL ? err : "error");
		k->failed = 1;
		k->c->host->done(k->io, ZB_ERR, msg);
		return;
	}
	k->eof = 1;
	backup_maybe_done(k);
}

/* The fd producer is being closed (the stream ended or was aborted). */
static void
backup_close(void *arg)
{
	struct cmd_child	*k = arg;

	k->closed = 1;
	if (!k->exited) {
		/* Aborted: stop it; free once it has been reaped. */
		k->c->host->kill_child(k->pid, SIGTERM);
		return;
	}
	child_free(k);
}

/* ---- restore (the fd writer's callbacks) ------------------------------- */

static void
restore_outcome(struct cmd_child *k)
{
	char	 msg[1024];

	if (exit_ok(k)) {
		k->c->host->done(k->cw, ZB_OK, NULL);
	} else {
		describe(k, msg, sizeof(msg));
		k->c->host->done(k->cw, ZB_ERR, msg);
	}
	child_free(k);
}

/* stdin is closed (EOF for the command): its exit status decides. */
static void
restore_commit(void *arg, struct zb_io *cw)
{
	struct cmd_child	*k = arg;

	k->cw = cw;
	if (k->exited)
		restore_outcome(k);
}

/* Before stdin is closed: kill, so no clean EOF for a bad stream. */
static void
restore_abort(void *arg)
{
	struct cmd_child	*k = arg;

	k->closed = 1;
	if (k->exited) {
		child_free(k);
		return;
	}
	k->c->host->kill_child(k->pid, SIGKILL);
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
	if (k->cw != NULL) {
		restore_outcome(k);
		return;
	}
	/*
	 * A restore command that quit before its commit: the next write
	 * fails (EPIPE) and the host aborts the writer.
	 */
	if (k->backup)
		backup_maybe_done(k);
}

static struct cmd_child *
start(struct command *c, struct zb_io *io, const char *cmd, int for_restore,
    int *fd)
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
	k->backup = !for_restore;
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
	*fd = for_restore ? fds.stdin_fd : fds.stdout_fd;
	return k;
}

static int
command_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct command			*c = ctx;
	struct cmd_child		*k;
	struct zb_fd_producer_spec	 spec;
	int				 fd;

	k = start(c, s, c->host->cfg_str(c->inst, "command"), 0, &fd);
	if (k == NULL)
		return ZB_ERR;
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = fd;
	spec.slice = READ_SIZE;
	spec.on_end = backup_end;
	spec.on_close = backup_close;
	spec.arg = k;
	if (c->host->fd_producer(s, &spec, ops, pctx) != ZB_OK) {
		/* The adapter closed fd. */
		c->host->kill_child(k->pid, SIGKILL);
		k->closed = 1;	/* freed when reaped */
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
command_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct command			*c = ctx;
	struct cmd_child		*k;
	struct zb_fd_writer_spec	 spec;
	const char			*cmd = c->host->cfg_str(c->inst,
	    "restore_command");
	int				 fd;

	if (req->target != NULL)
		return c->host->file_writer(w, req->target, req->force, ops,
		    wctx);
	if (cmd == NULL) {
		c->host->log(c->inst, ZB_LOG_ERROR, "no restore_command is "
		    "configured: give --to FILE to write the stream to a file");
		return ZB_ERR;
	}
	k = start(c, w, cmd, 1, &fd);
	if (k == NULL)
		return ZB_ERR;
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = fd;
	spec.on_commit = restore_commit;
	spec.on_abort = restore_abort;
	spec.arg = k;
	if (c->host->fd_writer(w, &spec, ops, wctx) != ZB_OK) {
		c->host->kill_child(k->pid, SIGKILL);
		k->closed = 1;	/* freed when reaped */
		return ZB_ERR;
	}
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
