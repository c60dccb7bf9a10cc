/*
 * pg_restore.c - restoring the `postgresql' source's streams.
 *
 * A database dump is never restored into its target directly: a scratch
 * database is created (TEMPLATE template0, with the dumped database's
 * encoding and locale from the manifest), pg_restore --exit-on-error
 * reads the stream on its stdin, and only at commit - after the host has
 * checked every hash and pg_restore exited 0 - is the scratch database
 * renamed to the target (an existing target, allowed only when it holds
 * no tables or with --force, is dropped first).  On any failure or abort
 * the scratch database is dropped, so a half-restored database never
 * carries the target's name.
 *
 * Targets: DBNAME on the source's server (default: the dumped database's
 * own name), a postgresql:// URI naming another server and database, or
 * a path containing '/' for the dump file itself.
 *
 * test-restore uses the same scratch database, compares its row counts
 * with the manifest (pg_test.c) and drops it.
 *
 * The globals stream (pg_dumpall's SQL) is small: it is collected in
 * memory and, at commit, run through psql (restore) or checked for every
 * role of the manifest (test-restore); --to PATH writes it to a file.
 *
 * pg_restore's stdin is the host's fd writer (host->fd_writer), wrapped:
 * this file's writer answers ZB_AGAIN until the scratch database exists,
 * then passes every chunk on to it.  psql's stdin for the globals keeps a
 * small loop of its own: the script is written from memory during the
 * commit, when the stream has no chunk left to offer (the adapter's
 * ZB_AGAIN and ready() protocol has nothing to drive it).
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "pg.h"

#define GLOBALS_MAX	(64 * 1024 * 1024)

struct rst {
	struct pg_src		*pg;
	const struct zb_host_api *host;
	struct zb_io		*w;
	int			 test;
	int			 globals;	/* the globals stream */
	char			*conninfo;	/* another server, or NULL */
	char			*maint;		/* its maintenance database */
	char			*target_db;
	char			*scratch;
	int			 target_exists;
	int			 force;
	enum { AT_MAINT, AT_TARGET, AT_MAINT_AGAIN, AT_SCRATCH, AT_RENAME } step;
	int			 created;	/* scratch exists */
	struct pg_conn		*conn;
	char			**env;		/* for the child */
	/* the child: pg_restore, or psql for globals */
	pid_t			 pid;
	int			 fd;		/* psql's stdin (globals) */
	struct event		*ev;
	/* pg_restore's stdin: the host's fd writer */
	const struct zb_writer_ops *fops;
	void			*fctx;
	int			 spawned, exited, status;
	char			*last_err;
	/* writer */
	int			 accepting;	/* pg_restore is running */
	int			 blocked;	/* write returned ZB_AGAIN */
	char			*failure;	/* set: fail at the next call */
	int			 committing;
	int			 closed;	/* aborted or finished */
	int			 holds;		/* child, dropper */
	/* globals */
	char			*sql;
	size_t			 sqllen, sqlsize, sqloff;
};

static void	finish(struct rst *, int, const char *);
static void	release(struct rst *);

static const char *
fact(struct rst *r, const char *key)
{
	const struct zb_host_api *h = r->host;

	if (h->struct_size < offsetof(struct zb_host_api, fact_each) +
	    sizeof(h->fact_each))
		return NULL;
	return h->fact_get(r->w, NULL, key);
}

static void
rst_free(struct rst *r)
{
	if (r->fctx != NULL)
		r->fops->abort(r->fctx);
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->fd != -1)
		close(r->fd);
	pg_conn_close(r->conn);
	pg_env_free(r->env);
	free(r->conninfo);
	free(r->maint);
	free(r->target_db);
	free(r->scratch);
	free(r->last_err);
	free(r->failure);
	if (r->sql != NULL)
		explicit_bzero(r->sql, r->sqllen);
	free(r->sql);
	free(r);
}

/* Free once closed and nothing (child, worker) refers to r any more. */
static void
release(struct rst *r)
{
	if (r->closed && r->holds == 0)
		rst_free(r);
}

static void
stop_child(struct rst *r)
{
	if (r->ev != NULL)
		event_del(r->ev);
	/* Kill before closing stdin: no clean EOF for a bad stream. */
	if (r->spawned && !r->exited)
		r->host->kill_child(r->pid, SIGKILL);
	if (r->fctx != NULL) {
		r->fops->abort(r->fctx);	/* closes the pipe */
		r->fctx = NULL;
	}
	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
}

/*
 * Something failed.  Before commit: remember it for the next write (a
 * waiting write is woken to return it).  During commit: end the commit.
 */
static void
fail(struct rst *r, const char *fmt, ...) ZB_PRINTF(2, 3);

static void
fail(struct rst *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->closed)
		return;
	if (r->committing) {
		finish(r, ZB_ERR, msg);
		return;
	}
	if (r->failure == NULL)
		r->failure = strdup(msg);
	stop_child(r);
	if (r->blocked) {
		r->blocked = 0;
		r->host->ready(r->w);
	}
}

/* ---- dropping the scratch database, on a worker thread ------------------- */

struct dropper {
	struct rst	*r;
	char		**env;
	char		*maint, *db;
	char		 err[512];
	int		 status;	/* the commit's outcome, to report */
	char		*msg;
	int		 report;	/* call done() afterwards */
};

/*
 * DROP DATABASE ... WITH (FORCE) also ends a pg_restore session whose
 * client was killed but whose backend has not noticed yet.  A blocking
 * session on a worker thread, because this also runs after abort(),
 * when nothing on the loop waits for us any more (the host does wait
 * for offloaded work before it finalises the plugin).
 */
static int
drop_work(void *arg)
{
	struct dropper	*d = arg;
	PGconn		*c;
	PGresult	*res;
	char		*id, *q = NULL;

	c = pg_connect_env(d->env, d->maint);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		snprintf(d->err, sizeof(d->err), "%s", c != NULL ?
		    PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return -1;
	}
	id = PQescapeIdentifier(c, d->db, strlen(d->db));
	if (id == NULL || asprintf(&q, "DROP DATABASE IF EXISTS %s WITH "
	    "(FORCE)", id) == -1) {
		snprintf(d->err, sizeof(d->err), "out of memory");
		PQfreemem(id);
		PQfinish(c);
		return -1;
	}
	PQfreemem(id);
	res = PQexec(c, q);
	free(q);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		snprintf(d->err, sizeof(d->err), "%s",
		    PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
	return d->err[0] != '\0' ? -1 : 0;
}

static void
drop_done(void *arg, int rc)
{
	struct dropper	*d = arg;
	struct rst	*r = d->r;
	struct zb_io	*w = r->w;
	const struct zb_host_api *host = r->host;
	size_t		 n = strlen(d->err);

	while (n > 0 && (d->err[n - 1] == '\n' || d->err[n - 1] == ' '))
		d->err[--n] = '\0';
	if (rc != 0)
		host->log(r->pg->inst, ZB_LOG_ERROR, "cannot drop the scratch "
		    "database \"%s\": %s: drop it by hand", d->db, d->err);
	else
		host->log(r->pg->inst, ZB_LOG_INFO, "dropped the scratch "
		    "database \"%s\"", d->db);
	r->holds--;
	r->closed = 1;
	release(r);	/* r may be gone now: w and host were saved */
	if (d->report)
		host->done(w, d->status, d->msg);
	pg_env_free(d->env);
	free(d->maint);
	free(d->db);
	free(d->msg);
	free(d);
}

/*
 * Drop the scratch database if it exists; then, if report, end the
 * commit with status/msg.  r is freed once everything is over.
 */
static void
drop_scratch(struct rst *r, int report, int status, const char *msg)
{
	struct dropper	*d;

	if (r->created && (d = calloc(1, sizeof(*d))) != NULL) {
		d->r = r;
		d->report = report;
		d->status = status;
		d->msg = msg != NULL ? strdup(msg) : NULL;
		d->env = pg_env_child(r->pg, r->conninfo, r->maint);
		d->maint = strdup(r->maint);
		d->db = strdup(r->scratch);
		if (d->env != NULL && d->maint != NULL && d->db != NULL &&
		    r->host->offload(r->pg->inst, drop_work, drop_done, d) ==
		    ZB_OK) {
			r->created = 0;
			r->holds++;
			return;
		}
		pg_env_free(d->env);
		free(d->maint);
		free(d->db);
		free(d->msg);
		free(d);
	}
	if (r->created)
		r->host->log(r->pg->inst, ZB_LOG_ERROR, "cannot drop the "
		    "scratch database \"%s\": drop it by hand", r->scratch);
	r->closed = 1;
	if (report) {
		struct zb_io			*w = r->w;
		const struct zb_host_api	*host = r->host;

		release(r);
		host->done(w, status, msg);
		return;
	}
	release(r);
}

/* End the commit: tidy up, then report. */
static void
finish(struct rst *r, int status, const char *msg)
{
	if (r->closed)
		return;
	pg_conn_close(r->conn);
	r->conn = NULL;
	stop_child(r);
	drop_scratch(r, 1, status, msg);
}

/* ---- the child ----------------------------------------------------------- */

static void
describe_exit(struct rst *r, const char *prog, char *msg, size_t len)
{
	const char	*tail = r->last_err != NULL && *r->last_err ?
	    r->last_err : "no message on stderr";

	if (WIFSIGNALED(r->status))
		snprintf(msg, len, "%s was killed by signal %d (%s)", prog,
		    WTERMSIG(r->status), tail);
	else
		snprintf(msg, len, "%s exited with status %d (%s)", prog,
		    WEXITSTATUS(r->status), tail);
}

static void	after_restore(struct rst *);

static void
on_child_exit(void *arg, int status, const char *last_err)
{
	struct rst	*r = arg;
	char		 msg[1024];
	int		 ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	r->exited = 1;
	r->status = status;
	r->holds--;
	free(r->last_err);
	r->last_err = strdup(last_err != NULL ? last_err : "");
	if (r->closed) {
		release(r);
		return;
	}
	if (!ok) {
		describe_exit(r, r->globals ? "psql" : "pg_restore", msg,
		    sizeof(msg));
		fail(r, "%s", msg);
		return;
	}
	/* Before commit: more input would now fail with EPIPE. */
	if (r->committing)
		after_restore(r);
}

static void	on_writable(evutil_socket_t, short, void *);

static int
spawn(struct rst *r, const char *prog, char **argv, const char *db)
{
	struct zb_spawn_req	 req;
	struct zb_child_fds	 fds;
	struct zb_fd_writer_spec spec;

	pg_env_free(r->env);
	r->env = pg_env_child(r->pg, r->conninfo, db);
	if (r->env == NULL)
		return -1;
	memset(&req, 0, sizeof(req));
	req.path = prog;
	req.argv = argv;
	req.envp_add = r->env;
	req.want_stdin = 1;
	req.on_exit = on_child_exit;
	req.arg = r;
	if (r->host->spawn(r->pg->inst, &req, &fds) != ZB_OK)
		return -1;
	r->spawned = 1;
	r->holds++;
	r->pid = fds.pid;
	if (!r->globals) {
		memset(&spec, 0, sizeof(spec));
		spec.struct_size = sizeof(spec);
		spec.fd = fds.stdin_fd;		/* the adapter's from here on */
		if (r->host->fd_writer(r->w, &spec, &r->fops, &r->fctx) !=
		    ZB_OK) {
			r->fctx = NULL;
			return -1;
		}
		return 0;
	}
	r->fd = fds.stdin_fd;
	r->ev = event_new(r->host->evbase(), r->fd, EV_WRITE, on_writable, r);
	return r->ev != NULL ? 0 : -1;
}

/* ---- preparing the scratch database ---------------------------------------- */

static void
on_created(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;
	char		*argv[] = { "pg_restore", "--exit-on-error",
	    "--no-password", "-d", r->scratch, NULL };

	(void)res;
	if (err != NULL) {
		fail(r, "cannot create the scratch database \"%s\": %s",
		    r->scratch, err);
		return;
	}
	r->created = 1;
	if (spawn(r, r->host->cfg_str(r->pg->inst, "pg_restore"), argv,
	    r->scratch) == -1) {
		fail(r, "cannot start pg_restore");
		return;
	}
	r->host->log(r->pg->inst, ZB_LOG_INFO, "restoring %s into the scratch "
	    "database \"%s\"", r->host->stream_name(r->w), r->scratch);
	r->accepting = 1;
	if (r->blocked) {
		r->blocked = 0;
		r->host->ready(r->w);
	}
}

static void
create_scratch(struct rst *r)
{
	const char	*enc = fact(r, "encoding"), *col = fact(r, "lc_collate"),
			*ctype = fact(r, "lc_ctype");
	char		*id, *e = NULL, *c = NULL, *t = NULL, *q;
	PGconn		*pq = pg_conn_pq(r->conn);

	id = PQescapeIdentifier(pq, r->scratch, strlen(r->scratch));
	if (enc != NULL)
		e = PQescapeLiteral(pq, enc, strlen(enc));
	if (col != NULL)
		c = PQescapeLiteral(pq, col, strlen(col));
	if (ctype != NULL)
		t = PQescapeLiteral(pq, ctype, strlen(ctype));
	if (id == NULL || asprintf(&q, "CREATE DATABASE %s TEMPLATE template0"
	    "%s%s%s%s%s%s", id, e ? " ENCODING " : "", e ? e : "",
	    c ? " LC_COLLATE " : "", c ? c : "", t ? " LC_CTYPE " : "",
	    t ? t : "") == -1)
		q = NULL;
	PQfreemem(id);
	PQfreemem(e);
	PQfreemem(c);
	PQfreemem(t);
	if (q == NULL || pg_conn_query(r->conn, q, on_created, r) == -1)
		fail(r, "cannot send CREATE DATABASE");
	free(q);
}

static void	connect_to(struct rst *, int step);

static void
on_tables(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;
	long long	 n;

	if (err != NULL) {
		fail(r, "looking into \"%s\": %s", r->target_db, err);
		return;
	}
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0) {
		fail(r, "database \"%s\" exists and holds %lld table%s: give "
		    "--force to replace it, or restore --to another name",
		    r->target_db, n, n == 1 ? "" : "s");
		return;
	}
	r->host->log(r->pg->inst, ZB_LOG_INFO, "database \"%s\" exists but "
	    "holds no tables: it will be replaced", r->target_db);
	connect_to(r, AT_MAINT_AGAIN);
}

static void
on_exists(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;

	if (err != NULL) {
		fail(r, "looking for database \"%s\": %s", r->target_db, err);
		return;
	}
	r->target_exists = PQntuples(res) > 0;
	if (r->target_exists && !r->force) {
		/* Allowed only if it holds no tables: look inside. */
		connect_to(r, AT_TARGET);
		return;
	}
	if (r->target_exists)
		r->host->log(r->pg->inst, ZB_LOG_WARN, "database \"%s\" exists "
		    "and will be replaced (--force)", r->target_db);
	create_scratch(r);
}

static void	after_counts(void *, PGresult *, const char *);
static void	rename_scratch(struct rst *);
static void	on_dropped(void *, PGresult *, const char *);

static void
on_connected(void *arg, const char *err)
{
	struct rst	*r = arg;
	const char	*db = r->step == AT_TARGET ? r->target_db :
	    r->step == AT_SCRATCH ? r->scratch : r->maint;
	char		*lit, *q = NULL;

	if (err != NULL) {
		fail(r, "cannot connect to \"%s\": %s", db, err);
		return;
	}
	switch (r->step) {
	case AT_MAINT:
		if (r->test) {
			create_scratch(r);
			return;
		}
		lit = pg_conn_literal(r->conn, r->target_db);
		if (lit == NULL || asprintf(&q, "SELECT 1 FROM pg_database "
		    "WHERE datname = %s", lit) == -1)
			q = NULL;
		PQfreemem(lit);
		if (q == NULL || pg_conn_query(r->conn, q, on_exists, r) == -1)
			fail(r, "cannot send a query");
		free(q);
		return;
	case AT_TARGET:
		if (pg_conn_query(r->conn, "SELECT count(*) FROM pg_class c "
		    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
		    "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> "
		    "'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
		    on_tables, r) == -1)
			fail(r, "cannot send a query");
		return;
	case AT_MAINT_AGAIN:
		create_scratch(r);
		return;
	case AT_SCRATCH:
		if (pg_conn_query(r->conn, PG_COUNT_SQL, after_counts, r) == -1)
			fail(r, "cannot send the row count query");
		return;
	case AT_RENAME:
		rename_scratch(r);
		return;
	}
}

static void
connect_to(struct rst *r, int step)
{
	const char	*db = step == AT_TARGET ? r->target_db :
	    step == AT_SCRATCH ? r->scratch : r->maint;

	pg_conn_close(r->conn);
	r->step = step;
	r->conn = pg_conn_open(r->pg, r->conninfo, db, on_connected, r);
	if (r->conn == NULL)
		fail(r, "cannot connect: out of memory");
}

/* ---- after pg_restore exited 0 at commit -------------------------------- */

static void
on_renamed(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;

	(void)res;
	if (err != NULL) {
		fail(r, "cannot rename \"%s\" to \"%s\": %s", r->scratch,
		    r->target_db, err);
		return;
	}
	r->created = 0;		/* it is the target now */
	r->host->log(r->pg->inst, ZB_LOG_INFO, "restored into database \"%s\"",
	    r->target_db);
	finish(r, ZB_OK, NULL);
}

/* One statement each: DROP DATABASE refuses to run in a transaction. */
static void
rename_scratch(struct rst *r)
{
	char	*s, *t, *q = NULL;

	s = pg_conn_ident(r->conn, r->scratch);
	t = pg_conn_ident(r->conn, r->target_db);
	if (s != NULL && t != NULL && r->target_exists) {
		if (asprintf(&q, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		    t) == -1)
			q = NULL;
		r->target_exists = 0;
		if (q == NULL || pg_conn_query(r->conn, q, on_dropped, r) == -1)
			fail(r, "cannot send DROP DATABASE");
	} else if (s != NULL && t != NULL) {
		if (asprintf(&q, "ALTER DATABASE %s RENAME TO %s", s, t) == -1)
			q = NULL;
		if (q == NULL || pg_conn_query(r->conn, q, on_renamed, r) == -1)
			fail(r, "cannot send ALTER DATABASE");
	} else
		fail(r, "out of memory");
	PQfreemem(s);
	PQfreemem(t);
	free(q);
}

static void
on_dropped(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;

	(void)res;
	if (err != NULL) {
		fail(r, "cannot drop the database \"%s\" being replaced: %s",
		    r->target_db, err);
		return;
	}
	rename_scratch(r);
}

static void
after_counts(void *arg, PGresult *res, const char *err)
{
	struct rst	*r = arg;
	char		*diff;

	if (err != NULL) {
		fail(r, "counting rows in the scratch database: %s", err);
		return;
	}
	diff = pg_test_counts(r->pg, r->w, res);
	if (diff != NULL) {
		finish(r, ZB_ERR, diff);
		free(diff);
		return;
	}
	r->host->log(r->pg->inst, ZB_LOG_INFO, "every row count of %s matches "
	    "the manifest (%d tables)", r->host->stream_name(r->w),
	    PQntuples(res));
	finish(r, ZB_OK, NULL);
}

static void
globals_checked(struct rst *r)
{
	char	*diff = pg_test_roles(r->pg, r->w, r->sql, r->sqllen);

	if (diff != NULL) {
		finish(r, ZB_ERR, diff);
		free(diff);
		return;
	}
	finish(r, ZB_OK, NULL);
}

/* The child exited 0 during commit. */
static void
after_restore(struct rst *r)
{
	if (r->globals) {
		r->host->log(r->pg->inst, ZB_LOG_INFO, "globals applied with "
		    "psql (errors for roles that already exist are expected "
		    "and logged above)");
		finish(r, ZB_OK, NULL);
		return;
	}
	if (r->test) {
		connect_to(r, AT_SCRATCH);
		return;
	}
	connect_to(r, AT_RENAME);
}

/* ---- writer ops ------------------------------------------------------------ */

/* The globals script into psql's stdin, at commit. */
static void
on_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct rst	*r = arg;
	ssize_t		 n;

	(void)fd;
	(void)ev;
	n = write(r->fd, r->sql + r->sqloff, r->sqllen - r->sqloff);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		event_add(r->ev, NULL);
		return;
	}
	if (n == -1) {
		fail(r, "writing to psql: %s", strerror(errno));
		return;
	}
	r->sqloff += (size_t)n;
	if (r->sqloff < r->sqllen) {
		event_add(r->ev, NULL);
		return;
	}
	close(r->fd);	/* EOF: psql finishes and exits */
	r->fd = -1;
}

static int
globals_take(struct rst *r, const struct zb_chunk *c)
{
	size_t	 want = r->sqllen + c->len;
	char	*p;

	if (want > GLOBALS_MAX) {
		r->host->log(r->pg->inst, ZB_LOG_ERROR, "the globals script is "
		    "larger than %d MiB", GLOBALS_MAX >> 20);
		return ZB_ERR;
	}
	if (want > r->sqlsize) {
		p = realloc(r->sql, want * 2);
		if (p == NULL)
			return ZB_ERR;
		r->sql = p;
		r->sqlsize = want * 2;
	}
	memcpy(r->sql + r->sqllen, c->data, c->len);
	r->sqllen += c->len;
	return ZB_OK;
}

static int
rst_write(void *wctx, const struct zb_chunk *c)
{
	struct rst	*r = wctx;
	int		 rc;

	if (r->failure != NULL) {
		r->host->log(r->pg->inst, ZB_LOG_ERROR, "%s", r->failure);
		return ZB_ERR;
	}
	if (r->globals)
		return globals_take(r, c);
	if (!r->accepting) {
		r->blocked = 1;	/* the scratch database is being made */
		return ZB_AGAIN;
	}
	if (r->fctx == NULL)
		return ZB_ERR;
	/* ZB_AGAIN: the adapter calls ready() once the pipe has room. */
	rc = r->fops->write(r->fctx, c);
	r->blocked = rc == ZB_AGAIN;
	return rc;
}

static int
rst_commit(void *wctx)
{
	struct rst	*r = wctx;
	char		*argv[] = { "psql", "-X", "-q", "--no-password", "-v",
	    "ON_ERROR_STOP=0", "-d", r->maint, NULL };
	char		*msg;

	r->committing = 1;
	if (r->failure != NULL) {
		msg = r->failure;
		r->failure = NULL;
		finish(r, ZB_ERR, msg);
		free(msg);
		return ZB_AGAIN;
	}
	if (r->globals && r->test) {
		globals_checked(r);
		return ZB_AGAIN;
	}
	if (r->globals) {
		if (spawn(r, r->host->cfg_str(r->pg->inst, "psql"), argv,
		    r->maint) == -1) {
			finish(r, ZB_ERR, "cannot start psql");
			return ZB_AGAIN;
		}
		event_add(r->ev, NULL);
		return ZB_AGAIN;
	}
	/* EOF for pg_restore; its exit decides (on_child_exit). */
	if (r->fctx == NULL || r->fops->commit(r->fctx) != ZB_OK) {
		r->fctx = NULL;
		finish(r, ZB_ERR, r->spawned ? "cannot close the input of "
		    "pg_restore" : "pg_restore was not started");
		return ZB_AGAIN;
	}
	r->fctx = NULL;
	if (r->exited)
		after_restore(r);
	return ZB_AGAIN;
}

static void
rst_abort(void *wctx)
{
	struct rst	*r = wctx;

	pg_conn_close(r->conn);
	r->conn = NULL;
	stop_child(r);
	drop_scratch(r, 0, ZB_ERR, NULL);
}

static const struct zb_writer_ops rst_ops = {
	rst_write, rst_commit, rst_abort
};

/* ---- open ------------------------------------------------------------------ */

static int
is_uri(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0;
}

/* --to postgresql://...: the server, and the database it names. */
static int
target_uri(struct rst *r, const char *uri)
{
	PQconninfoOption	*opts, *o;

	opts = PQconninfoParse(uri, NULL);
	if (opts == NULL) {
		r->host->log(r->pg->inst, ZB_LOG_ERROR, "--to: not a valid "
		    "postgresql:// URI");
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL &&
		    *o->val != '\0')
			r->target_db = strdup(o->val);
	PQconninfoFree(opts);
	if (r->target_db == NULL) {
		r->host->log(r->pg->inst, ZB_LOG_ERROR, "--to: the URI names "
		    "no database (postgresql://HOST:PORT/DBNAME)");
		return -1;
	}
	r->conninfo = strdup(uri);
	r->maint = strdup("postgres");
	return 0;
}

int
pg_restore_open(struct pg_src *pg, struct zb_io *w,
    const struct zb_restore_req *req, int test,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct rst	*r;
	const char	*stream = req->stream;
	char		 name[64];

	if (!test && req->target != NULL && !is_uri(req->target) &&
	    strchr(req->target, '/') != NULL)
		return pg->host->file_writer(w, req->target, req->force, ops,
		    wctx);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ZB_ERR;
	r->pg = pg;
	r->host = pg->host;
	r->w = w;
	r->test = test;
	r->force = req->force;
	r->fd = -1;
	r->globals = strcmp(stream, PG_GLOBALS_STREAM) == 0;
	if (!test && req->target != NULL && is_uri(req->target)) {
		if (target_uri(r, req->target) == -1) {
			rst_free(r);
			return ZB_ERR;
		}
	} else {
		if (!test && !r->globals && req->target != NULL)
			r->target_db = strdup(req->target);
		else
			r->target_db = strdup(r->globals ? pg->maintenance_db :
			    stream);
		r->maint = strdup(pg->maintenance_db);
	}
	snprintf(name, sizeof(name), "zb_%s_%ld_%lx", test ? "test" :
	    "restore", (long)getpid(), (unsigned long)random() & 0xffffff);
	r->scratch = strdup(name);
	if (r->target_db == NULL || r->maint == NULL || r->scratch == NULL) {
		rst_free(r);
		return ZB_ERR;
	}
	if (!r->globals) {
		r->step = AT_MAINT;
		r->conn = pg_conn_open(pg, r->conninfo, r->maint, on_connected,
		    r);
		if (r->conn == NULL) {
			rst_free(r);
			return ZB_ERR;
		}
	}
	*ops = &rst_ops;
	*wctx = r;
	return ZB_OK;
}
