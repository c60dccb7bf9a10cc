/*
 * pg.c - the `postgresql' source: one pg_dump -Fc stream per database and
 * a globals stream, with exact row counts taken on the dump's snapshot.
 *
 * This file holds the descriptor, the options, the instance and the plan:
 * which databases a run dumps, found over libpq on the event loop.
 */
#include "zb-build.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static const struct zb_option pg_options[] = {
	{ "conninfo", ZB_OPT_STRING, NULL, 1,
	    "libpq connection: key=value words or a postgresql:// URI "
	    "(its dbname is the maintenance database)", 0, 0 },
	{ "password", ZB_OPT_SECRET, NULL, 0,
	    "password of the conninfo's user (use password_file)", 0, 0 },
	{ "databases", ZB_OPT_LIST, "all", 0,
	    "databases to dump: all, or a list of names", 0, 0 },
	{ "exclude_databases", ZB_OPT_LIST, NULL, 0,
	    "databases to leave out of `all'", 0, 0 },
	{ "globals", ZB_OPT_BOOL, "yes", 0,
	    "also dump roles and tablespaces (pg_dumpall --globals-only)",
	    0, 0 },
	{ "maintenance_db", ZB_OPT_STRING, NULL, 0,
	    "database for discovery and CREATE/DROP DATABASE (default: the "
	    "conninfo's dbname, else postgres)", 0, 0 },
	{ "dump_compression", ZB_OPT_INT, "0", 0,
	    "pg_dump -Z level; 0 leaves compression to the job", 0, 9 },
	{ "timeout", ZB_OPT_DURATION, "30s", 0,
	    "connect timeout", 100, 86400000 },
	{ "pg_dump", ZB_OPT_STRING, "pg_dump", 0, "pg_dump program", 0, 0 },
	{ "pg_dumpall", ZB_OPT_STRING, "pg_dumpall", 0,
	    "pg_dumpall program", 0, 0 },
	{ "pg_restore", ZB_OPT_STRING, "pg_restore", 0,
	    "pg_restore program", 0, 0 },
	{ "psql", ZB_OPT_STRING, "psql", 0,
	    "psql program (restores globals)", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

const char *
pg_prog(struct pg_src *pg, const char *which)
{
	return pg->host->cfg_str(pg->inst, which);
}

static void
free_kw(struct pg_src *pg)
{
	size_t	 i;

	for (i = 0; i < pg->nkw; i++) {
		free(pg->kw[i]);
		free(pg->val[i]);
	}
	free(pg->kw);
	free(pg->val);
	pg->kw = pg->val = NULL;
	pg->nkw = 0;
}

static const char *
kw_get(const struct pg_src *pg, const char *k)
{
	size_t	 i;

	for (i = 0; i < pg->nkw; i++)
		if (strcmp(pg->kw[i], k) == 0)
			return pg->val[i];
	return NULL;
}

/*
 * Split conninfo into keywords: dbname becomes the default maintenance
 * database, a password moves to pg->password.
 */
static int
parse_conninfo(struct pg_src *pg, const char *conninfo, char **dbname)
{
	PQconninfoOption	*opts, *o;
	char			*err = NULL;
	size_t			 n = 0;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		pg->host->cfg_error(pg->inst, "conninfo", "%s",
		    err != NULL ? err : "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		n++;
	pg->kw = calloc(n + 1, sizeof(*pg->kw));
	pg->val = calloc(n + 1, sizeof(*pg->val));
	if (pg->kw == NULL || pg->val == NULL) {
		PQconninfoFree(opts);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "dbname") == 0) {
			*dbname = strdup(o->val);
			continue;
		}
		if (strcmp(o->keyword, "password") == 0) {
			pg->host->log(pg->inst, ZB_LOG_WARN, "conninfo holds a "
			    "password: put it in password_file instead");
			pg->passlen = strlen(o->val);
			pg->password = strdup(o->val);
			continue;
		}
		pg->kw[pg->nkw] = strdup(o->keyword);
		pg->val[pg->nkw++] = strdup(o->val);
	}
	PQconninfoFree(opts);
	return 0;
}

static int
pg_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct pg_src	*pg;
	const char	*host_s, *port;
	char		*dbname = NULL, *secret = NULL;
	size_t		 slen = 0;

	/* pg_dump.c and pg_restore.c use the fd adapters of ABI 1.5. */
	if (host->struct_size < offsetof(struct zb_host_api, fd_writer) +
	    sizeof(host->fd_writer)) {
		host->log(inst, ZB_LOG_ERROR, "the daemon is too old for this "
		    "plugin (it needs plugin ABI 1.5)");
		return ZB_ERR;
	}
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return ZB_ERR;
	pg->host = host;
	pg->inst = inst;
	pg->timeout_ms = host->cfg_int(inst, "timeout");	/* ms */
	if (parse_conninfo(pg, host->cfg_str(inst, "conninfo"), &dbname) == -1)
		goto fail;
	if (host->secret(inst, "password", &secret, &slen) != ZB_OK)
		goto fail;
	if (secret != NULL) {
		host->secret_free(pg->password, pg->passlen);
		pg->password = secret;
		pg->passlen = slen;
	}
	if (host->cfg_str(inst, "maintenance_db") != NULL) {
		free(dbname);
		dbname = strdup(host->cfg_str(inst, "maintenance_db"));
	}
	pg->maintenance_db = dbname != NULL ? dbname : strdup("postgres");
	host_s = kw_get(pg, "host");
	if (host_s == NULL)
		host_s = kw_get(pg, "hostaddr");
	port = kw_get(pg, "port");
	if (asprintf(&pg->where, "%s%s%s", host_s != NULL ? host_s :
	    "the local socket", port != NULL ? " port " : "",
	    port != NULL ? port : "") == -1)
		pg->where = NULL;
	if (pg->maintenance_db == NULL || pg->where == NULL)
		goto fail;
	*ctx = pg;
	return ZB_OK;
fail:
	free_kw(pg);
	host->secret_free(pg->password, pg->passlen);
	free(pg->maintenance_db);
	free(pg);
	return ZB_ERR;
}

static void
pg_fini(void *ctx)
{
	struct pg_src	*pg = ctx;

	free_kw(pg);
	pg->host->secret_free(pg->password, pg->passlen);
	free(pg->maintenance_db);
	free(pg->where);
	free(pg->server_version);
	free(pg);
}

/* ---- plan: which databases ------------------------------------------------ */

struct plan {
	struct pg_src	*pg;
	struct zb_io	*run;
	struct pg_conn	*conn;
};

static int
list_has(struct pg_src *pg, const char *key, const char *name)
{
	size_t	 i, n = pg->host->cfg_list_len(pg->inst, key);

	for (i = 0; i < n; i++)
		if (strcmp(pg->host->cfg_list_item(pg->inst, key, i), name) ==
		    0)
			return 1;
	return 0;
}

/* A database name that can be part of an artifact id as it is. */
static int
stream_name_ok(const char *s)
{
	if (*s == '\0' || *s == '.' || strcmp(s, PG_GLOBALS_STREAM) == 0)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

static void
plan_end(struct plan *p, int status, const char *msg)
{
	struct zb_io	*run = p->run;
	struct pg_src	*pg = p->pg;

	pg_conn_close(p->conn);
	free(p);
	pg->host->done(run, status, msg);
}

static int
all_databases(struct pg_src *pg)
{
	return pg->host->cfg_list_len(pg->inst, "databases") == 1 &&
	    strcmp(pg->host->cfg_list_item(pg->inst, "databases", 0), "all") ==
	    0;
}

static void
plan_listed(void *arg, PGresult *res, const char *err)
{
	struct plan	*p = arg;
	struct pg_src	*pg = p->pg;
	const char	*name;
	char		 msg[512];
	int		 i, n = 0, all = all_databases(pg);
	size_t		 j;

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "listing databases on %s: %s",
		    pg->where, err);
		plan_end(p, ZB_ERR, msg);
		return;
	}
	if (!all)
		for (j = 0; j < pg->host->cfg_list_len(pg->inst, "databases");
		    j++) {
			name = pg->host->cfg_list_item(pg->inst, "databases", j);
			for (i = 0; i < PQntuples(res); i++)
				if (strcmp(PQgetvalue(res, i, 0), name) == 0)
					break;
			if (i == PQntuples(res)) {
				snprintf(msg, sizeof(msg), "database \"%s\" "
				    "does not exist on %s (or does not allow "
				    "connections)", name, pg->where);
				plan_end(p, ZB_ERR, msg);
				return;
			}
		}
	for (i = 0; i < PQntuples(res); i++) {
		name = PQgetvalue(res, i, 0);
		if ((all && list_has(pg, "exclude_databases", name)) ||
		    (!all && !list_has(pg, "databases", name)))
			continue;
		if (!stream_name_ok(name)) {
			snprintf(msg, sizeof(msg), "database \"%s\" cannot "
			    "be a stream name (letters, digits, _ . - only, "
			    "not \"%s\"): list it in exclude_databases", name,
			    PG_GLOBALS_STREAM);
			plan_end(p, ZB_ERR, msg);
			return;
		}
		if (pg->host->add_stream(p->run, name, "dump") != ZB_OK) {
			plan_end(p, ZB_ERR, "cannot add a stream");
			return;
		}
		n++;
	}
	if (pg->host->cfg_bool(pg->inst, "globals") &&
	    pg->host->add_stream(p->run, PG_GLOBALS_STREAM, "sql") != ZB_OK) {
		plan_end(p, ZB_ERR, "cannot add the globals stream");
		return;
	}
	pg->host->log(pg->inst, ZB_LOG_INFO, "PostgreSQL %s on %s: %d "
	    "database%s to dump%s", pg->server_version, pg->where, n,
	    n == 1 ? "" : "s", pg->host->cfg_bool(pg->inst, "globals") ?
	    ", and the globals" : "");
	plan_end(p, ZB_OK, NULL);
}

static void
plan_connected(void *arg, const char *err)
{
	struct plan	*p = arg;
	struct pg_src	*pg = p->pg;
	const char	*v;
	char		 msg[1024];

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "cannot connect to %s (database "
		    "%s): %s", pg->where, pg->maintenance_db, err);
		plan_end(p, ZB_ERR, msg);
		return;
	}
	v = PQparameterStatus(pg_conn_pq(p->conn), "server_version");
	free(pg->server_version);
	pg->server_version = strdup(v != NULL ? v : "unknown");
	if (pg_conn_query(p->conn, "SELECT datname FROM pg_database WHERE "
	    "datallowconn AND NOT datistemplate ORDER BY datname",
	    plan_listed, p) == -1)
		plan_end(p, ZB_ERR, "cannot send a query");
}

static int
pg_plan(void *ctx, struct zb_io *run)
{
	struct pg_src	*pg = ctx;
	struct plan	*p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ZB_ERR;
	p->pg = pg;
	p->run = run;
	p->conn = pg_conn_open(pg, NULL, pg->maintenance_db, plan_connected, p);
	if (p->conn == NULL) {
		free(p);
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
pg_stream_open(void *ctx, struct zb_io *s, const struct zb_producer_ops **ops,
    void **pctx)
{
	return pg_dump_open(ctx, s, ops, pctx);
}

static int
pg_restore_entry(void *ctx, struct zb_io *w, const struct zb_restore_req *req,
    const struct zb_writer_ops **ops, void **wctx)
{
	return pg_restore_open(ctx, w, req, 0, ops, wctx);
}

static int
pg_test_entry(void *ctx, struct zb_io *w, const struct zb_restore_req *req,
    const struct zb_writer_ops **ops, void **wctx)
{
	return pg_restore_open(ctx, w, req, 1, ops, wctx);
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "postgresql",
	.version = PACKAGE_VERSION,
	.description = "PostgreSQL databases (pg_dump -Fc on an exported "
	    "snapshot, exact row counts) and globals",
	.options = pg_options,
	.init = pg_init,
	.fini = pg_fini,
	.plan = pg_plan,
	.stream_open = pg_stream_open,
	.restore_open = pg_restore_entry,
	.test_restore_open = pg_test_entry,
};
