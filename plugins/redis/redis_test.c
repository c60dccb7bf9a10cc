/*
 * redis_test.c - `test-restore': load the RDB into a throwaway
 * redis-server and compare its keys per database with the manifest.
 *
 * The RDB goes to dump.rdb in a private directory (mkdtemp, 0700).  At
 * commit, redis-server runs there with no TCP port at all: it listens on
 * a unix socket inside that directory, so no other local user can reach
 * the restored data and no port can be taken meanwhile.  It is polled
 * (redis_info.c) until it has loaded the file, then INFO keyspace is
 * compared with the facts "keyspace" and "expires" of the backup: equal
 * counts pass; fewer keys pass with a warning when the difference is at
 * most the number of keys that had an expiry (they may have expired
 * since); anything else, and any database the manifest does not know,
 * fails.  Then the server is stopped (SIGTERM, SIGKILL after the
 * timeout), and only once it has exited is the directory removed and
 * host->done() called.  abort() kills the server and removes the
 * directory too; if the server is still running, the struct lives until
 * its exit is reported.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"

#define POLL_MS		100
#define MIN_DBS		16

struct rtest {
	struct redis		*r;
	struct zb_io		*w;
	char			 dir[128];	/* fits a sun_path */
	char			 rdb[160];
	char			 sock[160];
	int			 fd;
	pid_t			 pid;
	int			 running;
	int			 stopping;	/* SIGTERM sent */
	int			 aborted;
	int			 decided;	/* status and msg are final */
	int			 status;
	char			 msg[1024];
	struct info_query	*q;
	struct event		*tick;
	uint64_t		 deadline;
	uint64_t		 bytes;
};

static void	decide(struct rtest *, int, const char *, ...) ZB_PRINTF(3, 4);

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
arm(struct rtest *t, uint64_t ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(t->tick, &tv);
}

/* Remove the scratch directory and what redis-server left in it. */
static void
remove_dir(struct rtest *t)
{
	struct dirent	*de;
	DIR		*d;
	char		 p[sizeof(t->dir) + sizeof(de->d_name) + 2];

	if (t->dir[0] == '\0')
		return;
	d = opendir(t->dir);
	if (d != NULL) {
		for (de = readdir(d); de != NULL; de = readdir(d)) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", t->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
	t->dir[0] = '\0';
}

static void
test_free(struct rtest *t)
{
	if (t->q != NULL)
		info_cancel(t->q);
	if (t->tick != NULL)
		event_free(t->tick);
	if (t->fd != -1)
		close(t->fd);
	remove_dir(t);
	free(t);
}

static void
decide(struct rtest *t, int status, const char *fmt, ...)
{
	va_list	 ap;

	if (t->decided)
		return;
	t->decided = 1;
	t->status = status;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
}

/* Report, once the server is gone; t is freed. */
static void
report(struct rtest *t)
{
	const struct zb_host_api *h = t->r->host;
	struct zb_io		*w = t->w;
	int			 status = t->status;
	char			 msg[sizeof(t->msg)];

	memcpy(msg, t->msg, sizeof(msg));
	test_free(t);
	if (status == ZB_OK)
		h->done(w, ZB_OK, NULL);
	else
		h->done(w, ZB_ERR, msg);
}

static void
stop_server(struct rtest *t)
{
	if (t->q != NULL) {
		info_cancel(t->q);
		t->q = NULL;
	}
	if (!t->running) {
		report(t);
		return;
	}
	t->stopping = 1;
	t->r->host->kill_child(t->pid, SIGTERM);
	arm(t, t->r->timeout_ms);	/* then SIGKILL */
}

struct cmp {
	struct rtest		*t;
	const struct redis_info	*in;
	size_t			 off;
	int			 bad;
	int			 maxdb;
	char			 msg[1024];
};

static const struct redis_db *
find_db(const struct redis_info *in, int db)
{
	size_t	 i;

	for (i = 0; i < in->ndbs; i++)
		if (in->dbs[i].db == db)
			return &in->dbs[i];
	return NULL;
}

static void
cmp_add(struct cmp *c, const char *fmt, ...) ZB_PRINTF(2, 3);

static void
cmp_add(struct cmp *c, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (c->off >= sizeof(c->msg) - 1)
		return;
	if (c->off > 0 && c->off + 2 < sizeof(c->msg)) {
		memcpy(c->msg + c->off, "; ", 3);
		c->off += 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(c->msg + c->off, sizeof(c->msg) - c->off, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->off += (size_t)n;
	if (c->off >= sizeof(c->msg))
		c->off = sizeof(c->msg) - 1;
	c->bad = 1;
}

/* One manifest database: "dbN" -> keys. */
static void
cmp_one(void *arg, const char *key, const char *val)
{
	struct cmp		*c = arg;
	const struct zb_host_api *h = c->t->r->host;
	const struct redis_db	*d;
	const char		*e;
	long long		 want, have, exp = 0;
	int			 db;

	want = strtoll(val, NULL, 10);	/* val is reused by fact_get */
	if (strncmp(key, "db", 2) != 0)
		return;
	db = (int)strtol(key + 2, NULL, 10);
	d = find_db(c->in, db);
	have = d != NULL ? d->keys : 0;
	e = h->fact_get(c->t->w, "expires", key);
	if (e != NULL)
		exp = strtoll(e, NULL, 10);
	if (have == want)
		h->log(c->t->r->inst, ZB_LOG_INFO, "test restore: %s: %lld "
		    "keys restored, manifest says %lld: ok", key, have, want);
	else if (have < want && want - have <= exp)
		h->log(c->t->r->inst, ZB_LOG_WARN, "test restore: %s: %lld "
		    "keys restored, manifest says %lld: accepted, %lld of "
		    "them had an expiry and may have expired since the "
		    "backup", key, have, want, exp);
	else {
		h->log(c->t->r->inst, ZB_LOG_INFO, "test restore: %s: %lld "
		    "keys restored, manifest says %lld (%lld with an "
		    "expiry): MISMATCH", key, have, want, exp);
		cmp_add(c, "%s: %lld keys restored, manifest says %lld", key,
		    have, want);
	}
}

static void
compare(struct rtest *t, const struct redis_info *in)
{
	const struct zb_host_api *h = t->r->host;
	const char		*v;
	struct cmp		 c;
	char			 key[24];
	size_t			 i, n;

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.in = in;
	v = h->fact_get(t->w, NULL, "redis_version");
	h->log(t->r->inst, ZB_LOG_INFO, "test restore: backup of redis %s "
	    "loaded by redis %s (%llu bytes of RDB)", v != NULL ? v : "(?)",
	    in->version[0] ? in->version : "(?)",
	    (unsigned long long)t->bytes);
	n = h->fact_each(t->w, "keyspace", cmp_one, &c);
	for (i = 0; i < in->ndbs; i++) {
		snprintf(key, sizeof(key), "db%d", in->dbs[i].db);
		if (h->fact_get(t->w, "keyspace", key) != NULL)
			continue;
		h->log(t->r->inst, ZB_LOG_INFO, "test restore: %s: %lld keys "
		    "restored, not in the manifest: MISMATCH", key,
		    (long long)in->dbs[i].keys);
		cmp_add(&c, "%s: %lld keys restored, the manifest has no %s",
		    key, (long long)in->dbs[i].keys, key);
	}
	if (c.bad)
		decide(t, ZB_ERR, "%s", c.msg);
	else {
		h->log(t->r->inst, ZB_LOG_INFO, "test restore: %zu "
		    "database(s) match the manifest", n);
		decide(t, ZB_OK, "ok");
	}
}

static void	poll_server(evutil_socket_t, short, void *);

static void
on_info(void *arg, int status, const char *err, const struct redis_info *in)
{
	struct rtest	*t = arg;

	t->q = NULL;
	if (status == ZB_OK)
		compare(t, in);
	else if (status == ZB_RETRY && mono_ms() < t->deadline) {
		arm(t, POLL_MS);
		return;
	} else
		decide(t, ZB_ERR, "redis-server did not come up: %s", err);
	stop_server(t);
}

static void
poll_server(evutil_socket_t fd, short what, void *arg)
{
	struct rtest		*t = arg;
	struct redis_target	 tg;

	if (t->stopping) {
		t->r->host->log(t->r->inst, ZB_LOG_WARN, "test restore: "
		    "redis-server %d ignored SIGTERM; killing it", (int)t->pid);
		t->r->host->kill_child(t->pid, SIGKILL);
		return;
	}
	memset(&tg, 0, sizeof(tg));
	tg.name = "scratch redis-server";
	tg.path = t->sock;
	tg.timeout_ms = t->r->timeout_ms;
	t->q = info_start(t->r, &tg, on_info, t);
	if (t->q == NULL) {
		decide(t, ZB_ERR, "out of memory");
		stop_server(t);
	}
}

static void
on_exit_cb(void *arg, int status, const char *last_err)
{
	struct rtest	*t = arg;
	char		 how[64];

	t->running = 0;
	if (t->aborted) {
		test_free(t);
		return;
	}
	if (!t->decided) {
		if (WIFEXITED(status))
			snprintf(how, sizeof(how), "exit status %d",
			    WEXITSTATUS(status));
		else
			snprintf(how, sizeof(how), "signal %d",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		decide(t, ZB_ERR, "redis-server ended (%s) before it "
		    "answered: %s", how, last_err != NULL && *last_err ?
		    last_err : "no message");
	}
	evtimer_del(t->tick);
	if (t->q != NULL) {
		info_cancel(t->q);
		t->q = NULL;
	}
	report(t);
}

/* Largest database index in the manifest, plus one; at least 16. */
static void
count_db(void *arg, const char *key, const char *val)
{
	int	*n = arg;
	int	 db;

	if (strncmp(key, "db", 2) == 0) {
		db = (int)strtol(key + 2, NULL, 10);
		if (db >= 0 && db < REDIS_MAX_DBS && db + 1 > *n)
			*n = db + 1;
	}
}

static int
start_server(struct rtest *t)
{
	struct zb_spawn_req	 req;
	struct zb_child_fds	 fds;
	char			 dbs[16];
	int			 ndb = MIN_DBS;
	char *const		 argv[] = {
		(char *)t->r->server, "--port", "0", "--bind", "127.0.0.1",
		"--unixsocket", t->sock, "--unixsocketperm", "700",
		"--dir", t->dir, "--dbfilename", "dump.rdb",
		"--appendonly", "no", "--save", "", "--databases", dbs,
		"--daemonize", "no", "--logfile", "/dev/stderr",
		"--loglevel", "warning", NULL
	};

	t->r->host->fact_each(t->w, "keyspace", count_db, &ndb);
	snprintf(dbs, sizeof(dbs), "%d", ndb);
	memset(&req, 0, sizeof(req));
	req.path = t->r->server;
	req.argv = argv;
	req.on_exit = on_exit_cb;
	req.arg = t;
	if (t->r->host->spawn(t->r->inst, &req, &fds) != ZB_OK)
		return -1;
	t->pid = fds.pid;
	t->running = 1;
	t->r->host->log(t->r->inst, ZB_LOG_INFO, "test restore: %s started "
	    "as pid %d on %s (%d databases)", t->r->server, (int)t->pid,
	    t->sock, ndb);
	return 0;
}

static int
test_write(void *wctx, const struct zb_chunk *chunk)
{
	struct rtest	*t = wctx;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < chunk->len) {
		n = write(t->fd, chunk->data + off, chunk->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			t->r->host->log(t->r->inst, ZB_LOG_ERROR, "%s: %s",
			    t->rdb, strerror(errno));
			return ZB_ERR;
		}
		off += (size_t)n;
	}
	t->bytes += chunk->len;
	return ZB_OK;
}

static int
test_commit(void *wctx)
{
	struct rtest	*t = wctx;

	if (close(t->fd) == -1) {
		t->fd = -1;
		t->r->host->log(t->r->inst, ZB_LOG_ERROR, "%s: %s", t->rdb,
		    strerror(errno));
		test_free(t);
		return ZB_ERR;
	}
	t->fd = -1;
	if (start_server(t) == -1) {
		test_free(t);
		return ZB_ERR;
	}
	t->deadline = mono_ms() + t->r->timeout_ms;
	arm(t, 50);
	return ZB_AGAIN;
}

static void
test_abort(void *wctx)
{
	struct rtest	*t = wctx;

	t->aborted = 1;
	evtimer_del(t->tick);
	if (t->q != NULL) {
		info_cancel(t->q);
		t->q = NULL;
	}
	if (t->running) {
		/* freed when its exit is reported */
		t->r->host->kill_child(t->pid, SIGKILL);
		return;
	}
	test_free(t);
}

static const struct zb_writer_ops test_ops = {
	test_write, test_commit, test_abort
};

int
test_open(struct redis *r, struct zb_io *w, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct rtest	*t;
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return ZB_ERR;
	t->r = r;
	t->w = w;
	t->fd = -1;
	n = snprintf(t->dir, sizeof(t->dir), "%s/zb-redis-test.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)
	    - 12) {
		r->host->log(r->inst, ZB_LOG_ERROR, "test restore: TMPDIR %s "
		    "is too long for a unix socket path", tmp);
		free(t);
		return ZB_ERR;
	}
	if (mkdtemp(t->dir) == NULL) {
		r->host->log(r->inst, ZB_LOG_ERROR, "test restore: mkdtemp "
		    "in %s: %s", tmp, strerror(errno));
		free(t);
		return ZB_ERR;
	}
	snprintf(t->rdb, sizeof(t->rdb), "%s/dump.rdb", t->dir);
	snprintf(t->sock, sizeof(t->sock), "%s/redis.sock", t->dir);
	t->fd = open(t->rdb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	t->tick = evtimer_new(r->host->evbase(), poll_server, t);
	if (t->fd == -1 || t->tick == NULL) {
		r->host->log(r->inst, ZB_LOG_ERROR, "test restore: %s: %s",
		    t->rdb, strerror(errno));
		test_free(t);
		return ZB_ERR;
	}
	r->host->log(r->inst, ZB_LOG_INFO, "test restore: writing the RDB "
	    "to %s", t->rdb);
	*ops = &test_ops;
	*wctx = t;
	return ZB_OK;
}
