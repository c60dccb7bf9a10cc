/*
 * pg_dump.c - the backup streams of the `postgresql' source.
 *
 * A database stream opens a connection to the database, starts a
 * REPEATABLE READ, READ ONLY transaction and exports its snapshot; then
 * pg_dump -Fc --snapshot=... runs as a child whose stdout is the stream,
 * while the same connection lists the tables pg_dump dumps data for.
 * Their rows are counted in the archive as it streams past (pg_scan.c:
 * with -Z0 a table's data is COPY text, a line per row), so the counts in
 * the manifest are exactly what the dump holds and cost no second read
 * of every table on the server.  When the archive cannot be read so (a
 * compressed dump, an archive version the scanner does not know, or
 * anything it finds amiss), the rows are counted with count(*) on the
 * same snapshot instead.  The transaction stays open until pg_dump has
 * exited and the rows are counted (the snapshot must outlive pg_dump's
 * own SET TRANSACTION SNAPSHOT, and serves the count(*) fallback).
 *
 * The globals stream is pg_dumpall --globals-only (roles, tablespaces);
 * the role names go to the manifest.
 *
 * The child's stdout is read by the host's fd producer (host->fd_producer),
 * created once the child runs; this file's producer ops wrap it (the
 * stream exists before the child does) and pass pause/resume/close on.
 *
 * A stream succeeds only when the child exited 0, its output began with a
 * valid custom-format header (databases), and every query succeeded.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"

struct pg_table {
	char			*name;		/* schema.table, the manifest's */
	char			*nsp, *rel;
};

struct dump {
	struct pg_src		*pg;
	struct zb_io		*s;
	char			*db;		/* NULL: the globals stream */
	struct pg_conn		*conn;
	char			**env;
	pid_t			 pid;
	/* the host's fd producer on the child's stdout, once it runs */
	const struct zb_producer_ops *fops;
	void			*fctx;
	int			 refused;	/* on_data said why */
	/* the archive header, until it is complete */
	unsigned char		 head[PG_ARCHIVE_HEAD_MAX];
	size_t			 headlen;
	int			 head_ok;
	/* the tables whose rows are counted, and how */
	struct pg_table		*tables;
	int			 ntables, listed;
	struct pg_scan		*scan;
	char			 why[256];	/* set: count with SQL */
	int			 counting;	/* the count(*) query is sent */
	int			 spawned, eof, exited, status;
	char			*last_err;
	int			 queried;	/* facts query answered */
	int			 paused, ended, closed;
};

static void	counts_maybe(struct dump *);

static void
dump_free(struct dump *d)
{
	int	 i;

	if (d->fctx != NULL)
		d->fops->close(d->fctx);
	for (i = 0; i < d->ntables; i++) {
		free(d->tables[i].name);
		free(d->tables[i].nsp);
		free(d->tables[i].rel);
	}
	free(d->tables);
	pg_scan_free(d->scan);
	pg_conn_close(d->conn);
	pg_env_free(d->env);
	free(d->last_err);
	free(d->db);
	free(d);
}

static const char *
what(const struct dump *d)
{
	return d->db != NULL ? "pg_dump" : "pg_dumpall";
}

/* End the stream once (the host then calls close). */
static void
dump_end(struct dump *d, int status, const char *msg)
{
	if (d->ended || d->closed)
		return;
	d->ended = 1;
	if (d->fctx != NULL && !d->eof)
		d->fops->pause(d->fctx);	/* read no more */
	if (status != ZB_OK && d->spawned && !d->exited)
		d->pg->host->kill_child(d->pid, SIGTERM);
	d->pg->host->done(d->s, status, msg);
}

static void
dump_maybe_done(struct dump *d)
{
	char		 msg[1024];
	const char	*tail;

	if (!d->eof || !d->exited || !d->queried || d->ended)
		return;
	tail = d->last_err != NULL && *d->last_err ? d->last_err :
	    "no message on stderr";
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
		if (WIFSIGNALED(d->status))
			snprintf(msg, sizeof(msg), "%s of \"%s\" was killed by "
			    "signal %d (%s)", what(d), d->db ? d->db : "globals",
			    WTERMSIG(d->status), tail);
		else
			snprintf(msg, sizeof(msg), "%s of \"%s\" exited with "
			    "status %d (%s)", what(d), d->db ? d->db :
			    "globals", WEXITSTATUS(d->status), tail);
		dump_end(d, ZB_ERR, msg);
		return;
	}
	if (d->db != NULL && !d->head_ok) {
		dump_end(d, ZB_ERR, "pg_dump wrote no custom-format header");
		return;
	}
	/* The snapshot has served: end the transaction with the session. */
	pg_conn_close(d->conn);
	d->conn = NULL;
	dump_end(d, ZB_OK, NULL);
}

/*
 * Count the rows in the archive from here on, or say why not.  Both run
 * inside the fd producer's on_data, where the stream must not end: the
 * count(*) that replaces the scan starts from counts_maybe, called when
 * the tables are listed, at the end of the output and at pg_dump's exit.
 */
static void
scan_start(struct dump *d, const struct pg_archive_head *h)
{
	const char	*why;

	if (d->why[0] != '\0')
		return;		/* count(*) runs already */
	d->scan = pg_scan_new(h, &why);
	if (d->scan == NULL) {
		snprintf(d->why, sizeof(d->why), "%s; archive version %d.%d.%d "
		    "from %s", why, h->vmaj, h->vmin, h->vrev, h->dump_version);
		d->pg->host->log(d->pg->inst, ZB_LOG_WARN, "\"%s\": cannot "
		    "count rows in the archive (%s): counting with count(*) "
		    "on the dump's snapshot", d->db, d->why);
	}
}

static void
scan_feed(struct dump *d, const unsigned char *p, size_t n)
{
	if (d->scan == NULL || d->why[0] != '\0' || n == 0)
		return;
	if (pg_scan_feed(d->scan, p, n) == -1) {
		snprintf(d->why, sizeof(d->why), "%s", pg_scan_error(d->scan));
		d->pg->host->log(d->pg->inst, ZB_LOG_WARN, "\"%s\": "
		    "cannot count rows in the archive (%s): counting with "
		    "count(*) on the dump's snapshot", d->db, d->why);
	}
}

/* Check the custom-format header as it arrives; 0, or -1 (msg set). */
static int
check_head(struct dump *d, const unsigned char *p, size_t n, char *msg,
    size_t msglen)
{
	struct pg_archive_head	 h;
	const char		*err;
	size_t			 take;
	int			 rc;
	char			 v[16];

	take = sizeof(d->head) - d->headlen;
	if (take > n)
		take = n;
	memcpy(d->head + d->headlen, p, take);
	d->headlen += take;
	rc = pg_archive_head(d->head, d->headlen, &h, &err);
	if (rc == 0 && d->headlen < sizeof(d->head))
		return 0;
	if (rc != 1) {
		snprintf(msg, msglen, "output of pg_dump for \"%s\": %s",
		    d->db, rc == 0 ? "archive header too long" : err);
		return -1;
	}
	d->head_ok = 1;
	d->pg->host->fact_str(d->s, NULL, "pg_dump_version", h.dump_version);
	snprintf(v, sizeof(v), "%d.%d.%d", h.vmaj, h.vmin, h.vrev);
	d->pg->host->fact_str(d->s, NULL, "archive_version", v);
	d->pg->host->fact_str(d->s, NULL, "format", "custom");
	scan_start(d, &h);
	/* what came after the head: in d->head, and the rest of p */
	scan_feed(d, d->head + h.len, d->headlen - h.len);
	scan_feed(d, p + take, n - take);
	return 0;
}

/* The fd producer's on_data: the header, before any byte is pushed. */
static int
dump_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct dump	*d = arg;

	if (d->db == NULL)
		return ZB_OK;
	if (d->head_ok)
		scan_feed(d, p, n);
	else if (check_head(d, p, n, err, errlen) == -1) {
		d->refused = 1;
		return ZB_ERR;
	}
	return ZB_OK;
}

/* The fd producer's on_end: end of the output, or a read error. */
static void
dump_eof(void *arg, int status, const char *err)
{
	struct dump	*d = arg;
	char		 msg[512];

	d->eof = 1;
	if (status != ZB_OK) {
		if (!d->refused)
			snprintf(msg, sizeof(msg), "output of %s: %s", what(d),
			    err != NULL ? err : "error");
		dump_end(d, ZB_ERR, d->refused ? err : msg);
		return;
	}
	counts_maybe(d);
	dump_maybe_done(d);
}

static void
on_child_exit(void *arg, int status, const char *last_err)
{
	struct dump	*d = arg;

	d->exited = 1;
	d->status = status;
	d->last_err = strdup(last_err != NULL ? last_err : "");
	if (d->closed) {
		dump_free(d);
		return;
	}
	counts_maybe(d);
	dump_maybe_done(d);
}

static int
spawn(struct dump *d, char *snapshot)
{
	struct pg_src		*pg = d->pg;
	struct zb_spawn_req	 req;
	struct zb_child_fds	 fds;
	struct zb_fd_producer_spec spec;
	char			 z[8], *snaparg = NULL;
	char			*dump_argv[] = { "pg_dump", "--format=custom", z,
	    "--no-password", NULL, NULL };
	char			*all_argv[] = { "pg_dumpall", "--globals-only",
	    "--no-password", "-l", pg->maintenance_db, NULL };

	d->env = pg_env_child(pg, NULL, d->db != NULL ? d->db :
	    pg->maintenance_db);
	if (d->env == NULL)
		return -1;
	snprintf(z, sizeof(z), "-Z%d", (int)pg->host->cfg_int(pg->inst,
	    "dump_compression"));
	if (snapshot != NULL) {
		if (asprintf(&snaparg, "--snapshot=%s", snapshot) == -1)
			return -1;
		dump_argv[4] = snaparg;
	}
	memset(&req, 0, sizeof(req));
	req.path = pg_prog(pg, d->db != NULL ? "pg_dump" : "pg_dumpall");
	req.argv = d->db != NULL ? dump_argv : all_argv;
	req.envp_add = d->env;
	req.want_stdout = 1;
	req.on_exit = on_child_exit;
	req.arg = d;
	if (pg->host->spawn(pg->inst, &req, &fds) != ZB_OK) {
		free(snaparg);
		return -1;
	}
	free(snaparg);
	d->spawned = 1;
	d->pid = fds.pid;
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = fds.stdout_fd;	/* the adapter's from here on */
	spec.on_data = dump_data;
	spec.on_end = dump_eof;
	spec.arg = d;
	if (pg->host->fd_producer(d->s, &spec, &d->fops, &d->fctx) != ZB_OK) {
		d->fctx = NULL;
		return -1;
	}
	if (d->paused)
		d->fops->pause(d->fctx);
	return 0;
}

static void
on_counts(void *arg, PGresult *res, const char *err)
{
	struct dump	*d = arg;
	char		 msg[1024];
	int		 i;
	long long	 rows = 0;

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "counting rows in \"%s\": %s", d->db,
		    err);
		dump_end(d, ZB_ERR, msg);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		d->pg->host->fact_int(d->s, PG_TABLES_GROUP,
		    PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL,
		    10));
		rows += strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	d->pg->host->log(d->pg->inst, ZB_LOG_INFO, "\"%s\": %d tables, %lld "
	    "rows on the dump's snapshot", d->db, PQntuples(res), rows);
	d->queried = 1;
	dump_maybe_done(d);
}

/* The rows of every listed table, from the archive; 0, or -1 (d->why). */
static int
scan_counts(struct dump *d)
{
	long long	 rows, total = 0;
	int		 i;

	if (!pg_scan_end(d->scan)) {
		snprintf(d->why, sizeof(d->why), "%s", pg_scan_error(d->scan));
		return -1;
	}
	for (i = 0; i < d->ntables; i++)
		if (pg_scan_rows(d->scan, d->tables[i].nsp,
		    d->tables[i].rel) < 0) {
			snprintf(d->why, sizeof(d->why), "no COPY data for "
			    "table %s in the archive", d->tables[i].name);
			return -1;
		}
	for (i = 0; i < d->ntables; i++) {
		rows = pg_scan_rows(d->scan, d->tables[i].nsp,
		    d->tables[i].rel);
		d->pg->host->fact_int(d->s, PG_TABLES_GROUP, d->tables[i].name,
		    rows);
		total += rows;
	}
	d->pg->host->log(d->pg->inst, ZB_LOG_INFO, "\"%s\": %d tables, %lld "
	    "rows in the dump (counted as it streamed)", d->db, d->ntables,
	    total);
	return 0;
}

/*
 * Once the tables are listed: their rows from the archive when it has
 * been read whole, or with count(*) once the archive cannot tell.
 */
static void
counts_maybe(struct dump *d)
{
	if (!d->listed || d->queried || d->counting || d->ended)
		return;
	if (d->why[0] == '\0') {
		if (!d->eof || !d->exited)
			return;
		if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
			d->queried = 1;		/* pg_dump failed: no count */
			return;
		}
		if (scan_counts(d) == 0) {
			d->queried = 1;
			return;
		}
		d->pg->host->log(d->pg->inst, ZB_LOG_WARN, "\"%s\": cannot "
		    "count rows in the archive (%s): counting with count(*) "
		    "on the dump's snapshot", d->db, d->why);
	}
	d->counting = 1;
	if (pg_conn_query(d->conn, PG_COUNT_SQL, on_counts, d) == -1)
		dump_end(d, ZB_ERR, "cannot send the row count query");
}

static void
on_tables(void *arg, PGresult *res, const char *err)
{
	struct dump	*d = arg;
	struct pg_table	*t;
	char		 msg[1024];
	int		 i, n = PQntuples(res);

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "listing the tables of \"%s\": %s",
		    d->db, err);
		dump_end(d, ZB_ERR, msg);
		return;
	}
	if (n > 0 && (d->tables = calloc((size_t)n, sizeof(*t))) == NULL) {
		dump_end(d, ZB_ERR, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		t = &d->tables[d->ntables++];
		t->name = strdup(PQgetvalue(res, i, 0));
		t->nsp = strdup(PQgetvalue(res, i, 1));
		t->rel = strdup(PQgetvalue(res, i, 2));
		if (t->name == NULL || t->nsp == NULL || t->rel == NULL) {
			dump_end(d, ZB_ERR, "out of memory");
			return;
		}
	}
	d->listed = 1;
	counts_maybe(d);
	dump_maybe_done(d);
}

static void
on_snapshot(void *arg, PGresult *res, const char *err)
{
	struct dump	*d = arg;
	struct pg_src	*pg = d->pg;
	char		 msg[1024];

	if (err != NULL || PQntuples(res) != 1) {
		snprintf(msg, sizeof(msg), "exporting a snapshot of \"%s\": %s",
		    d->db, err != NULL ? err : "no row");
		dump_end(d, ZB_ERR, msg);
		return;
	}
	pg->host->fact_str(d->s, NULL, "server_version",
	    PQparameterStatus(pg_conn_pq(d->conn), "server_version"));
	pg->host->fact_str(d->s, NULL, "database", d->db);
	pg->host->fact_str(d->s, NULL, "encoding", PQgetvalue(res, 0, 1));
	pg->host->fact_str(d->s, NULL, "lc_collate", PQgetvalue(res, 0, 2));
	pg->host->fact_str(d->s, NULL, "lc_ctype", PQgetvalue(res, 0, 3));
	if (spawn(d, PQgetvalue(res, 0, 0)) == -1) {
		dump_end(d, ZB_ERR, "cannot start pg_dump");
		return;
	}
	if (pg->host->cfg_int(pg->inst, "dump_compression") != 0) {
		/* compressed data blocks: count(*), at once */
		snprintf(d->why, sizeof(d->why), "the archive's data is "
		    "compressed (dump_compression)");
		pg->host->log(pg->inst, ZB_LOG_INFO, "\"%s\": rows counted "
		    "with count(*) on the dump's snapshot: %s", d->db, d->why);
		d->counting = 1;
		if (pg_conn_query(d->conn, PG_COUNT_SQL, on_counts, d) == -1)
			dump_end(d, ZB_ERR, "cannot send the row count query");
		return;
	}
	if (pg_conn_query(d->conn, PG_TABLES_SQL, on_tables, d) == -1)
		dump_end(d, ZB_ERR, "cannot send the query listing tables");
}

static void
on_roles(void *arg, PGresult *res, const char *err)
{
	struct dump	*d = arg;
	char		 msg[1024];
	int		 i;

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "listing roles: %s", err);
		dump_end(d, ZB_ERR, msg);
		return;
	}
	for (i = 0; i < PQntuples(res); i++)
		d->pg->host->fact_str(d->s, PG_ROLES_GROUP,
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	d->queried = 1;
	dump_maybe_done(d);
}

static void
on_connected(void *arg, const char *err)
{
	struct dump	*d = arg;
	char		 msg[1024];

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "cannot connect to \"%s\" on %s: %s",
		    d->db != NULL ? d->db : d->pg->maintenance_db,
		    d->pg->where, err);
		dump_end(d, ZB_ERR, msg);
		return;
	}
	if (d->db == NULL) {
		d->pg->host->fact_str(d->s, NULL, "server_version",
		    PQparameterStatus(pg_conn_pq(d->conn), "server_version"));
		if (spawn(d, NULL) == -1) {
			dump_end(d, ZB_ERR, "cannot start pg_dumpall");
			return;
		}
		if (pg_conn_query(d->conn, "SELECT rolname, CASE WHEN "
		    "rolcanlogin THEN 'login' ELSE 'group' END FROM pg_roles "
		    "WHERE rolname !~ '^pg_' ORDER BY 1", on_roles, d) == -1)
			dump_end(d, ZB_ERR, "cannot send a query");
		return;
	}
	if (pg_conn_query(d->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, "
	    "READ ONLY; SELECT pg_export_snapshot(), "
	    "pg_encoding_to_char(encoding), datcollate, datctype "
	    "FROM pg_database WHERE datname = current_database()",
	    on_snapshot, d) == -1)
		dump_end(d, ZB_ERR, "cannot send a query");
}

static void
dump_pause(void *pctx)
{
	struct dump	*d = pctx;

	d->paused = 1;
	if (d->fctx != NULL)
		d->fops->pause(d->fctx);
}

static void
dump_resume(void *pctx)
{
	struct dump	*d = pctx;

	d->paused = 0;
	if (d->fctx != NULL && !d->ended)
		d->fops->resume(d->fctx);
}

static void
dump_close(void *pctx)
{
	struct dump	*d = pctx;

	d->closed = 1;
	if (d->fctx != NULL) {
		d->fops->close(d->fctx);	/* closes the pipe */
		d->fctx = NULL;
	}
	if (d->spawned && !d->exited) {
		/* Aborted: stop pg_dump; free once it has been reaped. */
		d->pg->host->kill_child(d->pid, SIGTERM);
		pg_conn_close(d->conn);
		d->conn = NULL;
		return;
	}
	dump_free(d);
}

static const struct zb_producer_ops dump_ops = {
	dump_pause, dump_resume, dump_close
};

int
pg_dump_open(struct pg_src *pg, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct dump	*d;
	const char	*name = pg->host->stream_name(s);

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ZB_ERR;
	d->pg = pg;
	d->s = s;
	if (strcmp(name, PG_GLOBALS_STREAM) != 0 &&
	    (d->db = strdup(name)) == NULL) {
		free(d);
		return ZB_ERR;
	}
	d->conn = pg_conn_open(pg, NULL, d->db != NULL ? d->db :
	    pg->maintenance_db, on_connected, d);
	if (d->conn == NULL) {
		dump_free(d);
		return ZB_ERR;
	}
	*ops = &dump_ops;
	*pctx = d;
	return ZB_OK;
}
