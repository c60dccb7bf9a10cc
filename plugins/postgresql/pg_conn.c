/*
 * pg_conn.c - libpq connections driven by the event loop.
 *
 * Connect with PQconnectStartParams and PQconnectPoll, re-reading
 * PQsocket after every poll; then PQsetnonblocking, PQsendQuery, PQflush
 * until it reports 0 (waiting for writable and readable while it says 1),
 * and PQconsumeInput / PQisBusy / PQgetResult on readable.  No libpq call
 * here ever waits for the server.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pg.h"

struct pg_conn {
	struct pg_src	*pg;
	PGconn		*conn;
	struct event	*ev;		/* the socket */
	struct event	*later;		/* deferred failure report */
	struct zb_timer	*timer;		/* connect timeout */
	int		 connected;
	pg_ready_cb	 ready;
	void		*ready_arg;
	/* the statement in flight */
	pg_result_cb	 cb;
	void		*cb_arg;
	PGresult	*last;
	char		*err;
	/*
	 * A callback may close the connection: inside one, closing only
	 * marks it dead, and the event handler frees it on the way out.
	 */
	int		 dispatching;
	int		 dead;
};

static void	conn_free(struct pg_conn *);

static void	on_socket(evutil_socket_t, short, void *);

/* libpq's message without its trailing newline. */
static char *
pq_message(const char *m)
{
	char	*s = strdup(m != NULL && *m != '\0' ? m : "unknown error");
	size_t	 n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static int
watch(struct pg_conn *c, short what)
{
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = event_new(c->pg->host->evbase(), PQsocket(c->conn), what,
	    on_socket, c);
	if (c->ev == NULL)
		return -1;
	return event_add(c->ev, NULL);
}

/* Report the end of a connect attempt exactly once. */
static void
connect_done(struct pg_conn *c, const char *err)
{
	pg_ready_cb	 cb = c->ready;

	if (c->timer != NULL) {
		c->pg->host->timer_del(c->timer);
		c->timer = NULL;
	}
	c->ready = NULL;
	if (cb != NULL)
		cb(c->ready_arg, err);
}

static void
connect_fail(struct pg_conn *c, const char *why)
{
	char	*m = pq_message(why);

	connect_done(c, m != NULL ? m : "out of memory");
	free(m);
}

static void
poll_connect(struct pg_conn *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_OK:
		c->connected = 1;
		if (PQsetnonblocking(c->conn, 1) != 0) {
			connect_fail(c, PQerrorMessage(c->conn));
			return;
		}
		if (c->ev != NULL) {
			event_free(c->ev);
			c->ev = NULL;
		}
		connect_done(c, NULL);
		return;
	case PGRES_POLLING_READING:
		if (watch(c, EV_READ) == -1)
			connect_fail(c, "cannot watch the connection");
		return;
	case PGRES_POLLING_WRITING:
		if (watch(c, EV_WRITE) == -1)
			connect_fail(c, "cannot watch the connection");
		return;
	default:
		connect_fail(c, PQerrorMessage(c->conn));
		return;
	}
}

static void
query_end(struct pg_conn *c)
{
	pg_result_cb	 cb = c->cb;
	PGresult	*res = c->last;
	char		*err = c->err;

	c->cb = NULL;
	c->last = NULL;
	c->err = NULL;
	if (c->ev != NULL)
		event_del(c->ev);
	if (err == NULL && res == NULL)
		err = strdup("the server sent no result");
	cb(c->cb_arg, err != NULL ? NULL : res, err);
	PQclear(res);
	free(err);
}

static void
query_fail(struct pg_conn *c, const char *why)
{
	if (c->err == NULL)
		c->err = pq_message(why);
	query_end(c);
}

/* Collect results until libpq would wait; end the statement at NULL. */
static void
query_read(struct pg_conn *c)
{
	PGresult	*r;
	int		 st;

	if (PQconsumeInput(c->conn) == 0) {
		query_fail(c, PQerrorMessage(c->conn));
		return;
	}
	while (!PQisBusy(c->conn)) {
		r = PQgetResult(c->conn);
		if (r == NULL) {
			query_end(c);
			return;
		}
		st = PQresultStatus(r);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
		    c->err == NULL)
			c->err = pq_message(PQresultErrorMessage(r));
		PQclear(c->last);
		c->last = r;
	}
}

static void
query_flush(struct pg_conn *c)
{
	switch (PQflush(c->conn)) {
	case 0:
		if (watch(c, EV_READ | EV_PERSIST) == -1)
			query_fail(c, "cannot watch the connection");
		return;
	case 1:
		if (watch(c, EV_READ | EV_WRITE | EV_PERSIST) == -1)
			query_fail(c, "cannot watch the connection");
		return;
	default:
		query_fail(c, PQerrorMessage(c->conn));
	}
}

static void
dispatch(struct pg_conn *c, short what)
{
	if (!c->connected) {
		poll_connect(c);
		return;
	}
	if (c->cb == NULL)
		return;
	if (what & EV_READ) {
		query_read(c);
		if (c->cb == NULL || c->dead)
			return;
	}
	if (what & EV_WRITE)
		query_flush(c);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn	*c = arg;

	(void)fd;
	c->dispatching = 1;
	dispatch(c, what);
	c->dispatching = 0;
	if (c->dead)
		conn_free(c);
}

static void
on_later(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn	*c = arg;

	(void)fd;
	(void)what;
	c->dispatching = 1;
	connect_fail(c, PQerrorMessage(c->conn));
	c->dispatching = 0;
	if (c->dead)
		conn_free(c);
}

static void
on_timeout(void *arg)
{
	struct pg_conn	*c = arg;
	char		 m[128];

	c->timer = NULL;
	snprintf(m, sizeof(m), "no connection after %.1f s (timeout)",
	    (double)c->pg->timeout_ms / 1000);
	c->dispatching = 1;
	connect_done(c, m);
	c->dispatching = 0;
	if (c->dead)
		conn_free(c);
}

static void
on_notice(void *arg, const char *msg)
{
	struct pg_conn	*c = arg;
	char		*m = pq_message(msg);

	if (m != NULL)
		c->pg->host->log(c->pg->inst, ZB_LOG_DEBUG, "server: %s", m);
	free(m);
}

struct pg_conn *
pg_conn_open(struct pg_src *pg, const char *conninfo, const char *dbname,
    pg_ready_cb ready, void *arg)
{
	struct pg_conn		 *c;
	PQconninfoOption	 *opts = NULL, *o;
	const char		**kw, **val;
	size_t			  n = 0, i;
	char			 *perr = NULL;
	int			  has_password = 0;
	struct timeval		  now = { 0, 0 };

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->pg = pg;
	c->ready = ready;
	c->ready_arg = arg;
	if (conninfo != NULL && (opts = PQconninfoParse(conninfo, &perr)) ==
	    NULL) {
		PQfreemem(perr);
		free(c);
		return NULL;
	}
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		n++;
	kw = calloc(pg->nkw + n + 4, sizeof(*kw));
	val = calloc(pg->nkw + n + 4, sizeof(*val));
	if (kw == NULL || val == NULL) {
		free(kw);
		free(val);
		PQconninfoFree(opts);
		free(c);
		return NULL;
	}
	n = 0;
	if (opts != NULL) {
		for (o = opts; o->keyword != NULL; o++) {
			if (o->val == NULL || *o->val == '\0' ||
			    strcmp(o->keyword, "dbname") == 0)
				continue;
			if (strcmp(o->keyword, "password") == 0)
				has_password = 1;
			kw[n] = o->keyword;
			val[n++] = o->val;
		}
	} else
		for (i = 0; i < pg->nkw; i++) {
			kw[n] = pg->kw[i];
			val[n++] = pg->val[i];
		}
	kw[n] = "dbname";
	val[n++] = dbname;
	if (pg->password != NULL && !has_password) {
		kw[n] = "password";
		val[n++] = pg->password;
	}
	kw[n] = "application_name";
	val[n++] = "zentoria-backupd";
	c->conn = PQconnectStartParams(kw, val, 0);
	free(kw);
	free(val);
	PQconninfoFree(opts);
	if (c->conn == NULL) {
		free(c);
		return NULL;
	}
	PQsetNoticeProcessor(c->conn, on_notice, c);
	c->timer = pg->host->timer_add((uint64_t)pg->timeout_ms,
	    on_timeout, c);
	if (PQstatus(c->conn) == CONNECTION_BAD || PQsocket(c->conn) < 0) {
		/* Report on the loop, as promised. */
		c->later = evtimer_new(pg->host->evbase(), on_later, c);
		if (c->later == NULL) {
			pg_conn_close(c);
			return NULL;
		}
		evtimer_add(c->later, &now);
		return c;
	}
	if (watch(c, EV_WRITE) == -1) {
		pg_conn_close(c);
		return NULL;
	}
	return c;
}

int
pg_conn_query(struct pg_conn *c, const char *sql, pg_result_cb cb,
    void *arg)
{
	if (!c->connected || c->cb != NULL)
		return -1;
	if (PQsendQuery(c->conn, sql) == 0)
		return -1;
	c->cb = cb;
	c->cb_arg = arg;
	query_flush(c);
	return 0;
}

void
pg_conn_close(struct pg_conn *c)
{
	if (c == NULL)
		return;
	if (c->dispatching) {
		/* freed by the handler that is running a callback of ours */
		c->dead = 1;
		c->cb = NULL;
		c->ready = NULL;
		if (c->ev != NULL)
			event_del(c->ev);
		return;
	}
	conn_free(c);
}

static void
conn_free(struct pg_conn *c)
{
	if (c->timer != NULL)
		c->pg->host->timer_del(c->timer);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->later != NULL)
		event_free(c->later);
	PQclear(c->last);
	free(c->err);
	PQfinish(c->conn);
	free(c);
}

PGconn *
pg_conn_pq(struct pg_conn *c)
{
	return c->conn;
}

char *
pg_conn_ident(struct pg_conn *c, const char *s)
{
	return PQescapeIdentifier(c->conn, s, strlen(s));
}

char *
pg_conn_literal(struct pg_conn *c, const char *s)
{
	return PQescapeLiteral(c->conn, s, strlen(s));
}
