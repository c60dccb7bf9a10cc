/*
 * rclone_run.c - one rclone child: its argv (binary, --config, logging,
 * the common flags, then the subcommand), its environment (every
 * inherited RCLONE_* variable removed with `env -u', RCLONE_CONFIG_PASS
 * added when configured: never in argv), its log (rclone's --log-file
 * is a pipe of ours, read here and logged at the level rclone gave each
 * line), an optional stdout line reader, and its exit.
 *
 * rclone's stderr goes into that pipe through `sh -c 'exec "$@"
 * 2>/dev/fd/N''; rclone's own --log-file cannot be a pipe (it seeks,
 * and says so on stderr).  The pipe's write end is made inheritable only around
 * the spawn and closed right after it; should another child inherit it
 * meanwhile, the log is drained without waiting for end of file once
 * rclone exited.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rclone.h"

#define LINE_MAX_LOG	1024
#define OUT_LINE_MAX	(64 * 1024)	/* one lsjson entry */

struct rc_cmd {
	struct rclone	*rc;
	char		 what[160];
	pid_t		 pid;
	int		 log_fd;
	struct event	*log_ev;
	char		 log_line[LINE_MAX_LOG];
	size_t		 log_len;
	char		 last_err[512];
	int		 last_level;	/* of the previous line */
	int		 quiet;
	int		 out_fd;
	struct event	*out_ev;
	char		*out_line;
	size_t		 out_len;
	int		 out_overflow;
	int		 exited;
	int		 status;
	int		 detached;
	void		(*on_line)(void *, char *);
	void		(*on_exit)(void *, int, int, const char *);
	void		*arg;
	void		(*on_log)(void *arg, const char *msg);
};

int
rc_log_level(const char *line, const char **msg)
{
	static const struct {
		const char	*word;
		int		 level;
	} levels[] = {
		{ "CRITICAL", ZB_LOG_ERROR },
		{ "ERROR", ZB_LOG_ERROR },
		{ "NOTICE", ZB_LOG_WARN },
		{ "INFO", ZB_LOG_INFO },
		{ "DEBUG", ZB_LOG_DEBUG },
	};
	const char	*p = line, *q;
	size_t		 i, n;

	/* "2026/12/06 18:10:48 " (rclone's date,time), if there. */
	if (strlen(p) >= 20 && p[4] == '/' && p[7] == '/' && p[10] == ' ' &&
	    p[13] == ':' && p[16] == ':') {
		p += 19;
		while (*p != ' ' && *p != '\0')		/* .micro seconds */
			p++;
		while (*p == ' ')
			p++;
	}
	*msg = p;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		n = strlen(levels[i].word);
		if (strncmp(p, levels[i].word, n) != 0)
			continue;
		q = p + n;
		while (*q == ' ')
			q++;
		if (*q != ':')
			continue;
		q++;
		while (*q == ' ')
			q++;
		*msg = q;
		return levels[i].level;
	}
	return -1;
}

static void
log_flush(struct rc_cmd *c)
{
	struct rclone	*rc = c->rc;
	const char	*msg;
	int		 level;

	if (c->log_len == 0)
		return;
	c->log_line[c->log_len] = '\0';
	c->log_len = 0;
	level = rc_log_level(c->log_line, &msg);
	if (level == -1 && msg != c->log_line)
		level = ZB_LOG_ERROR;	/* dated: "Failed to ...", fatal */
	else if (level == -1)
		level = c->last_level;	/* a line of a block (stats) */
	c->last_level = level;
	if (level == ZB_LOG_ERROR && *msg != '\0')
		snprintf(c->last_err, sizeof(c->last_err), "%s", msg);
	if (c->quiet && level < ZB_LOG_INFO)
		level = ZB_LOG_DEBUG;	/* the caller judges the outcome */
	if (*msg != '\0')
		rc->host->log(rc->inst, level, "rclone %s: %s", c->what, msg);
	if (c->on_log != NULL && !c->detached)
		c->on_log(c->arg, msg);
}

/* Read what the log holds; 1 at end of file (or an error), else 0. */
static int
log_drain(struct rc_cmd *c)
{
	char	 buf[4096];
	ssize_t	 n, i;

	for (;;) {
		n = read(c->log_fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			log_flush(c);
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				log_flush(c);
				continue;
			}
			if (c->log_len == sizeof(c->log_line) - 1)
				log_flush(c);
			c->log_line[c->log_len++] = buf[i];
		}
	}
}

static void	maybe_finish(struct rc_cmd *);

static void
close_log(struct rc_cmd *c)
{
	if (c->log_ev != NULL)
		event_free(c->log_ev);
	c->log_ev = NULL;
	if (c->log_fd != -1)
		close(c->log_fd);
	c->log_fd = -1;
}

static void
close_out(struct rc_cmd *c)
{
	if (c->out_ev != NULL)
		event_free(c->out_ev);
	c->out_ev = NULL;
	if (c->out_fd != -1)
		close(c->out_fd);
	c->out_fd = -1;
}

static void
on_log(evutil_socket_t fd, short what, void *arg)
{
	struct rc_cmd	*c = arg;

	(void)fd;
	(void)what;
	if (log_drain(c)) {
		close_log(c);
		maybe_finish(c);
	}
}

static void
out_flush(struct rc_cmd *c)
{
	if (c->out_overflow) {
		c->rc->host->log(c->rc->inst, ZB_LOG_WARN, "rclone %s: an "
		    "output line over %d bytes was skipped", c->what,
		    OUT_LINE_MAX);
		c->out_overflow = 0;
	} else if (c->on_line != NULL && !c->detached) {
		c->out_line[c->out_len] = '\0';
		c->on_line(c->arg, c->out_line);
	}
	c->out_len = 0;
}

static void
on_out(evutil_socket_t fd, short what, void *arg)
{
	struct rc_cmd	*c = arg;
	char		 buf[16384];
	ssize_t		 n, i;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				out_flush(c);
				continue;
			}
			if (c->out_len == OUT_LINE_MAX - 1) {
				c->out_overflow = 1;
				c->out_len = 0;
			}
			c->out_line[c->out_len++] = buf[i];
		}
	}
	if (c->out_len > 0)
		out_flush(c);
	close_out(c);
	maybe_finish(c);
}

static void
cmd_free(struct rc_cmd *c)
{
	struct rclone	*rc = c->rc;

	close_log(c);
	close_out(c);
	free(c->out_line);
	free(c);
	rclone_unref(rc);
}

static void
maybe_finish(struct rc_cmd *c)
{
	int	 ok, code;

	if (!c->exited || c->out_fd != -1)
		return;
	/* The child is gone: what the log holds is all there is. */
	if (c->log_fd != -1) {
		log_drain(c);
		close_log(c);
	}
	if (WIFEXITED(c->status))
		code = WEXITSTATUS(c->status);
	else if (WIFSIGNALED(c->status))
		code = 128 + WTERMSIG(c->status);
	else
		code = 255;
	ok = code == 0;
	if (!ok && c->last_err[0] == '\0')
		snprintf(c->last_err, sizeof(c->last_err), "rclone exited with "
		    "status %d", code);
	if (!c->detached && c->on_exit != NULL)
		c->on_exit(c->arg, ok, code, c->last_err);
	cmd_free(c);
}

static void
on_child_exit(void *arg, int status, const char *last_err)
{
	struct rc_cmd	*c = arg;

	/* rclone's stderr is our log pipe; what comes here is sh's. */
	if (last_err != NULL && last_err[0] != '\0' && c->last_err[0] == '\0')
		snprintf(c->last_err, sizeof(c->last_err), "%s", last_err);
	c->exited = 1;
	c->status = status;
	maybe_finish(c);
}

/* "--flag=" NUMBER suffix */
static char *
dup_num(const char *flag, long long v, const char *suffix)
{
	char	*s;

	if (asprintf(&s, "%s%lld%s", flag, v, suffix) == -1)
		return NULL;
	return s;
}

struct rc_cmd *
rc_cmd_start(struct rclone *rc, const struct rc_cmd_spec *spec,
    int *stdin_fd, int *stdout_fd)
{
	const struct zb_host_api *host = rc->host;
	struct zb_spawn_req	 req;
	struct zb_child_fds	 fds;
	struct rc_cmd		*c;
	char			*argv[2 * RCLONE_ARGS_MAX + 64];
	char			*owned[8];
	char			 script[128];
	char			*envp[8] = { NULL };
	int			 logp[2] = { -1, -1 }, rv;
	size_t			 n = 0, nowned = 0, i, nenv;
	int64_t			 t;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->rc = rc;
	snprintf(c->what, sizeof(c->what), "%s", spec->what);
	c->log_fd = c->out_fd = -1;
	c->last_level = ZB_LOG_ERROR;
	c->quiet = spec->quiet;
	c->on_line = spec->on_line;
	c->on_exit = spec->on_exit;
	c->on_log = spec->on_log;
	c->arg = spec->arg;
	if (spec->on_line != NULL) {
		c->out_line = malloc(OUT_LINE_MAX);
		if (c->out_line == NULL)
			goto fail;
	}
	if (pipe2(logp, O_CLOEXEC) == -1) {
		host->log(rc->inst, ZB_LOG_ERROR, "rclone %s: pipe: %s",
		    spec->what, strerror(errno));
		goto fail;
	}

	/*
	 * dash takes one-digit descriptors only in 2>&N.  A watched child
	 * (rcd) runs beside a `cat' of its stdin: when we close that pipe,
	 * or die, cat ends and the shell stops the child with SIGTERM to
	 * its whole process group (the host makes the shell a group
	 * leader), so that a configured `rclone' that is a wrapper script
	 * running rclone as its child stops with it.
	 */
	if (spec->watchdog)
		snprintf(script, sizeof(script), "\"$@\" 2>/dev/fd/%d & "
		    "p=$!; exec 2>/dev/null; cat >/dev/null; trap '' TERM; "
		    "kill -TERM 0; wait $p", logp[1]);
	else
		snprintf(script, sizeof(script), "exec \"$@\" 2>/dev/fd/%d",
		    logp[1]);
	argv[n++] = (char *)"sh";
	argv[n++] = (char *)"-c";
	argv[n++] = script;
	argv[n++] = (char *)"sh";
	argv[n++] = (char *)"/usr/bin/env";
	for (i = 0; i < rc->nunset && n < 2 * RCLONE_ARGS_MAX; i++) {
		argv[n++] = (char *)"-u";
		argv[n++] = rc->unset[i];
	}
	argv[n++] = (char *)"--";
	argv[n++] = rc->binary;
	argv[n++] = (char *)"--config";
	argv[n++] = rc->config;
	argv[n++] = (char *)"--ask-password=false";
	argv[n++] = (char *)"--log-level";
	argv[n++] = rc->log_level;
	argv[n++] = (char *)"--stats=0";
	argv[n++] = (char *)"--retries=1";
	if (rc->timeout_ms > 0) {
		t = (rc->timeout_ms + 999) / 1000;
		owned[nowned] = dup_num("--timeout=", t, "s");
		argv[n++] = owned[nowned++];
		owned[nowned] = dup_num("--contimeout=", t < 60 ? t : 60, "s");
		argv[n++] = owned[nowned++];
	}
	if (rc->temp_dir != NULL) {
		argv[n++] = (char *)"--temp-dir";
		argv[n++] = rc->temp_dir;
	}
	if (rc->bwlimit != NULL) {
		argv[n++] = (char *)"--bwlimit";
		argv[n++] = rc->bwlimit;
	}
	if (rc->chunk_size > 0) {
		owned[nowned] = dup_num("--onedrive-chunk-size=",
		    rc->chunk_size, "");
		argv[n++] = owned[nowned++];
	}
	for (i = 0; spec->argv[i] != NULL && i < RCLONE_ARGS_MAX; i++)
		argv[n++] = (char *)spec->argv[i];
	argv[n] = NULL;
	for (i = 0; i < nowned; i++)
		if (owned[i] == NULL)
			goto fail_argv;
	nenv = 0;
	if (rc->pass != NULL)
		envp[nenv++] = rc->pass;
	for (i = 0; spec->env != NULL && spec->env[i] != NULL &&
	    nenv + 1 < sizeof(envp) / sizeof(envp[0]); i++)
		envp[nenv++] = (char *)spec->env[i];

	memset(&req, 0, sizeof(req));
	req.path = "/bin/sh";
	req.argv = argv;
	req.envp_add = envp;
	req.want_stdin = spec->want_stdin || spec->watchdog;
	req.want_stdout = spec->want_stdout || spec->on_line != NULL;
	req.on_exit = on_child_exit;
	req.arg = c;
	/* Inheritable for the length of the spawn only. */
	if (fcntl(logp[1], F_SETFD, 0) == -1)
		goto fail_argv;
	rv = host->spawn(rc->inst, &req, &fds);
	close(logp[1]);
	logp[1] = -1;
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	nowned = 0;
	if (rv != ZB_OK)
		goto fail;
	rc->refs++;
	c->pid = fds.pid;
	c->log_fd = logp[0];
	logp[0] = -1;
	fcntl(c->log_fd, F_SETFL, fcntl(c->log_fd, F_GETFL) | O_NONBLOCK);
	c->log_ev = event_new(host->evbase(), c->log_fd, EV_READ | EV_PERSIST,
	    on_log, c);
	if (c->log_ev != NULL)
		event_add(c->log_ev, NULL);
	if (spec->on_line != NULL) {
		c->out_fd = fds.stdout_fd;
		c->out_ev = event_new(host->evbase(), c->out_fd,
		    EV_READ | EV_PERSIST, on_out, c);
		if (c->out_ev != NULL)
			event_add(c->out_ev, NULL);
	} else if (stdout_fd != NULL)
		*stdout_fd = fds.stdout_fd;
	else if (fds.stdout_fd != -1)
		close(fds.stdout_fd);
	if (stdin_fd != NULL)
		*stdin_fd = fds.stdin_fd;
	else if (fds.stdin_fd != -1)
		close(fds.stdin_fd);
	if (c->log_ev == NULL || (spec->on_line != NULL && c->out_ev == NULL)) {
		/* Cannot read it: stop it; on_child_exit frees c. */
		host->log(rc->inst, ZB_LOG_ERROR, "rclone %s: out of memory",
		    spec->what);
		close_log(c);
		close_out(c);
		host->kill_child(c->pid, SIGKILL);
	}
	return c;
fail_argv:
	for (i = 0; i < nowned; i++)
		free(owned[i]);
fail:
	if (logp[0] != -1)
		close(logp[0]);
	if (logp[1] != -1)
		close(logp[1]);
	free(c->out_line);
	free(c);
	return NULL;
}

void
rc_cmd_kill(struct rc_cmd *c)
{
	if (!c->exited)
		c->rc->host->kill_child(c->pid, SIGTERM);
}

void
rc_cmd_detach(struct rc_cmd *c)
{
	c->detached = 1;
}
