/*
 * child.c - child processes with non-blocking pipes, reaped on the loop.
 *
 * Each child runs in its own process group, so that killing it also
 * reaches what `sh -c' started.  Its stderr is read on the loop and logged
 * line by line; the last line is kept for the owner's error message.
 * SIGCHLD is watched through libevent; a child is reported to its owner
 * only when it has exited AND its stderr reached EOF, so that none of its
 * last words are lost.
 *
 * Interrupt (SIGINT/SIGTERM, reactor.c): every child's group gets
 * SIGTERM, and SIGKILL REACTOR_INTERRUPT_GRACE_MS later if it is still
 * there; a SIGTERM a plugin sends after that becomes SIGKILL.  When the
 * process ends at once (second signal, hard deadline), the groups in
 * `pgids' (a plain array a signal handler can read) get SIGKILL.
 */
#include "zb-build.h"

#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "reactor.h"
#include "util.h"

#define ERRLINE_MAX	512	/* longest stderr line logged as one */
#define PGIDS_MAX	256	/* children the last words can reach */
#define CHILD_PIPE_SIZE	(1024 * 1024)	/* stdin and stdout pipes */

extern char **environ;

struct child {
	TAILQ_ENTRY(child)	 entry;
	pid_t			 pid;
	char			*prefix;
	int			 err_fd;
	struct event		*err_ev;
	char			 line[ERRLINE_MAX];
	size_t			 line_len;
	char			 last[ERRLINE_MAX];
	int			 exited;
	int			 status;
	void			(*on_exit)(void *, int, const char *);
	void			*arg;
};

static TAILQ_HEAD(, child)	 children = TAILQ_HEAD_INITIALIZER(children);
static struct event		*sigchld_ev;
static int			 nchildren;
static struct zb_timer		*kill_timer;	/* interrupt: SIGKILL */
static int			 killing;	/* interrupt grace over */
static volatile pid_t		 pgids[PGIDS_MAX];

static void
pgid_note(pid_t pid, int alive)
{
	size_t	 i;

	for (i = 0; i < PGIDS_MAX; i++) {
		if (pgids[i] == (alive ? 0 : pid)) {
			pgids[i] = alive ? pid : 0;
			return;
		}
	}
}

/* Async-signal-safe (reactor_last_words). */
static void
kill_all_now(void)
{
	size_t	 i;
	pid_t	 p;

	for (i = 0; i < PGIDS_MAX; i++) {
		p = pgids[i];
		if (p > 0)
			kill(-p, SIGKILL);
	}
}

/*
 * Also the groups of children that exited but are not reported yet: what
 * they started may still hold their stderr open.
 */
void
child_kill_all(int sig)
{
	struct child	*c;

	TAILQ_FOREACH(c, &children, entry)
		kill(-c->pid, sig);
}

static void
on_kill_timer(void *arg)
{
	kill_timer = NULL;
	killing = 1;
	if (nchildren > 0)
		log_warnx("interrupted: %d child process%s still there 1 s "
		    "after SIGTERM: SIGKILL", nchildren, nchildren == 1 ? "" :
		    "es");
	child_kill_all(SIGKILL);
}

static void
on_interrupt(int sig, void *arg)
{
	if (nchildren > 0)
		log_info("interrupted: stopping %d child process%s",
		    nchildren, nchildren == 1 ? "" : "es");
	child_kill_all(SIGTERM);
	if (kill_timer == NULL && !killing)
		kill_timer = reactor_timer_add(REACTOR_INTERRUPT_GRACE_MS,
		    on_kill_timer, NULL);
}

void
child_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status 0x%x", status);
}

static void
flush_line(struct child *c)
{
	if (c->line_len == 0)
		return;
	c->line[c->line_len] = '\0';
	log_info("%s child %d: %s", c->prefix, (int)c->pid, c->line);
	memcpy(c->last, c->line, c->line_len + 1);
	c->line_len = 0;
}

static void
maybe_report(struct child *c)
{
	if (!c->exited || c->err_fd != -1)
		return;
	TAILQ_REMOVE(&children, c, entry);
	nchildren--;
	pgid_note(c->pid, 0);
	if (c->on_exit != NULL)
		c->on_exit(c->arg, c->status, c->last);
	free(c->prefix);
	free(c);
}

static void
on_stderr(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c = arg;
	char		 buf[4096];
	ssize_t		 n, i;

	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		flush_line(c);
		event_free(c->err_ev);
		c->err_ev = NULL;
		close(c->err_fd);
		c->err_fd = -1;
		maybe_report(c);
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			flush_line(c);
			continue;
		}
		if (c->line_len == sizeof(c->line) - 1)
			flush_line(c);
		c->line[c->line_len++] = buf[i];
	}
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		TAILQ_FOREACH(c, &children, entry) {
			/* maybe_report may free c: leave the loop after it. */
			if (c->pid != pid)
				continue;
			c->exited = 1;
			c->status = status;
			maybe_report(c);
			break;
		}
	}
}

static char **
build_env(char *const *add)
{
	char	**env;
	size_t	 n = 0, m = 0, i, j, klen;

	while (environ[n] != NULL)
		n++;
	while (add != NULL && add[m] != NULL)
		m++;
	env = xcalloc(n + m + 1, sizeof(*env));
	for (i = 0, j = 0; i < n; i++) {
		size_t	 k;
		int	 replaced = 0;

		for (k = 0; k < m; k++) {
			klen = strcspn(add[k], "=");
			if (strncmp(environ[i], add[k], klen) == 0 &&
			    environ[i][klen] == '=')
				replaced = 1;
		}
		if (!replaced)
			env[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		env[j++] = add[i];
	env[j] = NULL;
	return env;
}

/*
 * A data pipe holds CHILD_PIPE_SIZE instead of the kernel's 64 KiB, so
 * that one read() takes up to a stream chunk and a child writing fast
 * (pg_dump, tar) is woken less often: fewer syscalls and context switches
 * per MiB.  Above /proc/sys/fs/pipe-max-size (1 MiB by default) or the
 * user's pipe page quota the kernel refuses, and the pipe stays as it is.
 */
static void
widen_pipe(int fd, const char *prefix)
{
#ifdef F_SETPIPE_SZ
	if (fd != -1 && fcntl(fd, F_SETPIPE_SZ, CHILD_PIPE_SIZE) == -1)
		log_debug("%s F_SETPIPE_SZ %d: %s", prefix, CHILD_PIPE_SIZE,
		    strerror(errno));
#else
	(void)fd;
	(void)prefix;
#endif
}

/* In the child: wire the pipes and exec; never returns. */
static void
child_exec(const struct zb_spawn_req *req, char **env, int in_fd,
    int out_fd, int err_fd)
{
	sigset_t	 none;
	int		 devnull;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	devnull = open("/dev/null", O_RDWR);
	if (dup2(in_fd != -1 ? in_fd : devnull, 0) == -1 ||
	    dup2(out_fd != -1 ? out_fd : devnull, 1) == -1 ||
	    dup2(err_fd, 2) == -1)
		_exit(127);
	if (devnull > 2)
		close(devnull);		/* no stray descriptor in the program */
	execvpe(req->path, req->argv, env);
	dprintf(2, "cannot execute %s: %s\n", req->path, strerror(errno));
	_exit(127);
}

int
child_spawn(const char *prefix, const struct zb_spawn_req *req,
    struct zb_child_fds *fds)
{
	struct child	*c;
	int		 in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2];
	char		**env;
	pid_t		 pid;

	if (sigchld_ev == NULL) {
		sigchld_ev = evsignal_new(reactor_base(), SIGCHLD, on_sigchld,
		    NULL);
		evsignal_add(sigchld_ev, NULL);
	}
	reactor_on_interrupt(on_interrupt, NULL);
	reactor_last_words(kill_all_now);
	if ((req->want_stdin && pipe2(in, O_CLOEXEC) == -1) ||
	    (req->want_stdout && pipe2(out, O_CLOEXEC) == -1) ||
	    pipe2(err, O_CLOEXEC) == -1) {
		log_warn("%s pipe", prefix);
		goto fail;
	}
	widen_pipe(in[1], prefix);
	widen_pipe(out[0], prefix);
	env = build_env(req->envp_add);
	pid = fork();
	if (pid == -1) {
		log_warn("%s fork", prefix);
		free(env);
		close(err[0]);
		close(err[1]);
		goto fail;
	}
	if (pid == 0)
		child_exec(req, env, in[0], out[1], err[1]);
	free(env);
	setpgid(pid, pid);	/* both sides: no race with kill */

	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->prefix = xstrdup(prefix);
	c->on_exit = req->on_exit;
	c->arg = req->arg;
	c->err_fd = err[0];
	close(err[1]);
	evutil_make_socket_nonblocking(c->err_fd);
	c->err_ev = event_new(reactor_base(), c->err_fd, EV_READ | EV_PERSIST,
	    on_stderr, c);
	event_add(c->err_ev, NULL);
	TAILQ_INSERT_TAIL(&children, c, entry);
	nchildren++;
	pgid_note(pid, 1);
	if (killing)		/* started after the grace: no more */
		kill(-pid, SIGKILL);

	fds->pid = pid;
	fds->stdin_fd = in[1];
	fds->stdout_fd = out[0];
	if (in[0] != -1) {
		close(in[0]);
		evutil_make_socket_nonblocking(in[1]);
	}
	if (out[1] != -1) {
		close(out[1]);
		evutil_make_socket_nonblocking(out[0]);
	}
	log_debug("%s started %s as pid %d", prefix, req->path, (int)pid);
	return 0;
fail:
	if (in[0] != -1) {
		close(in[0]);
		close(in[1]);
	}
	if (out[0] != -1) {
		close(out[0]);
		close(out[1]);
	}
	return -1;
}

void
child_kill(pid_t pid, int sig)
{
	struct child	*c;

	TAILQ_FOREACH(c, &children, entry) {
		if (c->pid == pid && !c->exited) {
			/* After the interrupt's grace nothing waits longer. */
			kill(-pid, killing ? SIGKILL : sig);
			return;
		}
	}
}

int
child_count(void)
{
	return nchildren;
}
