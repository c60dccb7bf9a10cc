/*
 * pg.h - the `postgresql' source plugin: shared declarations.
 *
 * pg.c        descriptor, options, instance, discovery (plan)
 * pg_conn.c   libpq connections and queries driven by the event loop
 * pg_env.c    the environment children (pg_dump, pg_restore, psql) get:
 *             connection settings never go into argv
 * pg_dump.c   one stream per database (pg_dump -Fc on an exported
 *             snapshot, exact row counts) and the globals stream
 * pg_archive.c  the custom-format header check
 * pg_scan.c   every table's row count, read from the archive as it streams
 * pg_restore.c  restore into a database, a file, or another server
 * pg_test.c   test-restore into a scratch database
 */
#ifndef ZB_PG_H
#define ZB_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <zentoria/plugin.h>

#define PG_GLOBALS_STREAM	"globals"
#define PG_TABLES_GROUP		"tables"
#define PG_ROLES_GROUP		"roles"

/*
 * Every ordinary table that pg_dump dumps data for: extension members and
 * temporary tables are left out, as pg_dump leaves them.
 */
#define PG_TABLES_FROM \
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.relkind = 'r' AND c.relpersistence <> 't' " \
	"AND n.nspname <> 'information_schema' " \
	"AND n.nspname NOT LIKE 'pg\\_%' " \
	"AND NOT EXISTS (SELECT 1 FROM pg_depend d " \
	"WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid " \
	"AND d.deptype = 'e') ORDER BY 1"

/* Those tables, each with its exact row count (query_to_xml runs each). */
#define PG_COUNT_SQL \
	"SELECT n.nspname || '.' || c.relname, " \
	"(xpath('/row/c/text()', query_to_xml(format(" \
	"'SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), " \
	"false, true, '')))[1]::text::bigint " PG_TABLES_FROM

/* Those tables by name only, their rows counted in the dump (pg_scan.c). */
#define PG_TABLES_SQL \
	"SELECT n.nspname || '.' || c.relname, n.nspname, c.relname " \
	PG_TABLES_FROM

struct pg_src {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	/* conninfo split into keywords (NULL-terminated arrays) */
	char			**kw, **val;
	size_t			 nkw;
	char			*password;	/* NULL: none configured */
	size_t			 passlen;
	char			*maintenance_db;
	char			*where;		/* "host port N" for messages */
	int64_t			 timeout_ms;
	/* discovery results, from plan() */
	char			*server_version;
};

/* ---- pg_conn.c ---------------------------------------------------------- */

struct pg_conn;

/*
 * Called once per statement with its last result (status checked by the
 * callee: PGRES_TUPLES_OK / COMMAND_OK), or with res NULL and err set when
 * the statement or the connection failed.  res is freed after return.
 */
typedef void	(*pg_result_cb)(void *arg, PGresult *res, const char *err);
/* Called once the connection is up (err NULL) or failed. */
typedef void	(*pg_ready_cb)(void *arg, const char *err);

/*
 * Connect to dbname with the source's settings (or, when conninfo is
 * not NULL, with that URI/keyword string instead) without blocking.
 * ready runs on the loop, never before this returns.  NULL only when
 * out of memory.
 */
struct pg_conn	*pg_conn_open(struct pg_src *, const char *conninfo,
		    const char *dbname, pg_ready_cb ready, void *arg);
/* Send one statement (simple protocol); one at a time per connection. */
int		 pg_conn_query(struct pg_conn *, const char *sql,
		    pg_result_cb cb, void *arg);
/* Close at once; no callback runs after this. */
void		 pg_conn_close(struct pg_conn *);
PGconn		*pg_conn_pq(struct pg_conn *);
/* A quoted identifier / literal (caller frees with PQfreemem). */
char		*pg_conn_ident(struct pg_conn *, const char *);
char		*pg_conn_literal(struct pg_conn *, const char *);

/* ---- pg_env.c ------------------------------------------------------------- */

/*
 * The environment for a child (pg_dump, pg_restore, psql): a PG*
 * variable for every connection setting, PGDATABASE, and PGPASSWORD
 * when a password is known: libpq reads them as it reads the conninfo,
 * and unlike argv they are visible to nobody but the user and root.
 * conninfo: another server's settings instead of the source's, or NULL.
 * NULL-terminated; free with pg_env_free (wipes the password).
 */
char	**pg_env_child(struct pg_src *, const char *conninfo,
	    const char *dbname);
void	  pg_env_free(char **);

/* ---- pg_archive.c ------------------------------------------------------- */

/* What the head of a custom-format archive says. */
struct pg_archive_head {
	int	 vmaj, vmin, vrev;
	int	 intsize, offsize;	/* bytes of an Int, of a data offset */
	int	 format;		/* 1: custom */
	int	 compressed;		/* the data blocks are (-Z1..9) */
	size_t	 len;			/* bytes of the head: the TOC follows */
	char	 dbname[256];
	char	 server_version[64];
	char	 dump_version[64];
};

#define PG_ARCHIVE_HEAD_MAX	2048	/* enough for the fields we read */

/*
 * Parse the first len bytes of a dump.  1: complete (head filled), 0:
 * need more bytes, -1: not a custom-format archive (*err says why).
 */
int	pg_archive_head(const unsigned char *, size_t len,
	    struct pg_archive_head *, const char **err);

/* ---- pg_scan.c: row counts read from the archive as it streams ------------- */

struct pg_scan;

/*
 * A scanner for the bytes after head h (h->len of them), or NULL with
 * *why set: an archive version it does not know, compressed data, no
 * memory.  Then count with SQL.
 */
struct pg_scan	*pg_scan_new(const struct pg_archive_head *h,
		    const char **why);
/* The next bytes; 0, or -1 once the archive is malformed (pg_scan_error). */
int		 pg_scan_feed(struct pg_scan *, const unsigned char *, size_t);
/* At the end of the archive: 1 when it ended after a whole data block. */
int		 pg_scan_end(struct pg_scan *);
const char	*pg_scan_error(const struct pg_scan *);
/*
 * After pg_scan_end: the rows of table nsp.rel, -1 when the archive has
 * no COPY data for it.
 */
long long	 pg_scan_rows(struct pg_scan *, const char *nsp,
		    const char *rel);
void		 pg_scan_free(struct pg_scan *);

/* ---- streams ---------------------------------------------------------------- */

int	pg_dump_open(struct pg_src *, struct zb_io *s,
	    const struct zb_producer_ops **ops, void **pctx);
int	pg_restore_open(struct pg_src *, struct zb_io *w,
	    const struct zb_restore_req *, int test,
	    const struct zb_writer_ops **ops, void **wctx);

/* ---- pg_test.c: comparing a restore with the manifest ----------------------- */

/*
 * Compare the row counts of res (PG_COUNT_SQL on the restored database)
 * with the manifest's tables group of writer w.  NULL when they match,
 * else a message naming the first differences (caller frees); every
 * difference is logged.
 */
char	*pg_test_counts(struct pg_src *, struct zb_io *w, PGresult *res);
/* Every role of the manifest must be created by the globals script. */
char	*pg_test_roles(struct pg_src *, struct zb_io *w, const char *sql,
	    size_t len);

/* Open a blocking session from a child environment (worker threads). */
PGconn	*pg_connect_env(char **env, const char *dbname);

/* Program paths from the options, pg_dump etc. by default. */
const char	*pg_prog(struct pg_src *, const char *which);

#endif
