/*
 * pg_test.c - test-restore: is what was restored what was backed up?
 *
 * The manifest holds, per database, every table's exact row count on the
 * dump's snapshot (group "tables"), and for the globals every role
 * (group "roles").  A restored scratch database must have exactly those
 * tables with exactly those counts; a globals script must create every
 * role.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define SHOW_MAX	5	/* differences named in the message */

struct cmp {
	struct pg_src	*pg;
	PGresult	*res;
	char		*seen;		/* per result row: in the manifest */
	int		 ndiff;
	char		 msg[1024];
	const char	*sql;		/* roles: the script */
	size_t		 sqllen;
};

static void
diff(struct cmp *c, const char *fmt, ...) ZB_PRINTF(2, 3);

static void
diff(struct cmp *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 one[512];
	size_t	 n = strlen(c->msg);

	va_start(ap, fmt);
	vsnprintf(one, sizeof(one), fmt, ap);
	va_end(ap);
	c->pg->host->log(c->pg->inst, ZB_LOG_WARN, "test-restore: %s", one);
	if (c->ndiff++ < SHOW_MAX)
		snprintf(c->msg + n, sizeof(c->msg) - n, "%s%s",
		    n > 0 ? "; " : "", one);
}

static void
check_table(void *arg, const char *table, const char *want)
{
	struct cmp	*c = arg;
	int		 i;

	for (i = 0; i < PQntuples(c->res); i++)
		if (strcmp(PQgetvalue(c->res, i, 0), table) == 0)
			break;
	if (i == PQntuples(c->res)) {
		diff(c, "table %s (%s rows in the manifest) was not restored",
		    table, want);
		return;
	}
	c->seen[i] = 1;
	if (strcmp(PQgetvalue(c->res, i, 1), want) != 0)
		diff(c, "table %s: %s rows restored, the manifest says %s",
		    table, PQgetvalue(c->res, i, 1), want);
}

static char *
result(struct cmp *c)
{
	char	*m;

	if (c->ndiff == 0)
		return NULL;
	if (asprintf(&m, "%d difference%s from the manifest: %s%s", c->ndiff,
	    c->ndiff == 1 ? "" : "s", c->msg, c->ndiff > SHOW_MAX ? "; ..." :
	    "") == -1)
		return strdup("differences from the manifest");
	return m;
}

char *
pg_test_counts(struct pg_src *pg, struct zb_io *w, PGresult *res)
{
	struct cmp	 c;
	int		 i;
	char		*m;

	memset(&c, 0, sizeof(c));
	c.pg = pg;
	c.res = res;
	c.seen = calloc((size_t)PQntuples(res) + 1, 1);
	if (c.seen == NULL)
		return strdup("out of memory");
	pg->host->fact_each(w, PG_TABLES_GROUP, check_table, &c);
	for (i = 0; i < PQntuples(res); i++)
		if (!c.seen[i])
			diff(&c, "table %s (%s rows) was restored but is not in "
			    "the manifest", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1));
	m = result(&c);
	free(c.seen);
	return m;
}

/* Does the script hold CREATE ROLE name; (as pg_dumpall quotes it)? */
static int
creates(const char *sql, size_t len, const char *stmt)
{
	return memmem(sql, len, stmt, strlen(stmt)) != NULL;
}

static void
check_role(void *arg, const char *role, const char *kind)
{
	struct cmp	*c = arg;
	char		*plain = NULL, *quoted = NULL, *q;
	const char	*p;
	size_t		 n = strlen(role);

	(void)kind;
	/* quoted as pg_dumpall's fmtId does: in "", every " doubled */
	quoted = malloc(2 * n + 16);
	if (quoted != NULL) {
		memcpy(quoted, "CREATE ROLE \"", 13);
		q = quoted + 13;
		for (p = role; *p != '\0'; p++) {
			*q++ = *p;
			if (*p == '"')
				*q++ = '"';
		}
		memcpy(q, "\";", 3);
	}
	if (asprintf(&plain, "CREATE ROLE %s;", role) == -1)
		plain = NULL;
	if (plain == NULL || quoted == NULL)
		diff(c, "out of memory");
	else if (!creates(c->sql, c->sqllen, plain) &&
	    !creates(c->sql, c->sqllen, quoted))
		diff(c, "role %s is not created by the globals script", role);
	free(plain);
	free(quoted);
}

char *
pg_test_roles(struct pg_src *pg, struct zb_io *w, const char *sql,
    size_t len)
{
	struct cmp	 c;
	size_t		 n;

	memset(&c, 0, sizeof(c));
	c.pg = pg;
	c.sql = sql != NULL ? sql : "";
	c.sqllen = len;
	n = pg->host->fact_each(w, PG_ROLES_GROUP, check_role, &c);
	if (n == 0)
		diff(&c, "the manifest records no roles");
	if (c.ndiff == 0)
		pg->host->log(pg->inst, ZB_LOG_INFO, "the globals script "
		    "creates all %zu roles of the manifest", n);
	return result(&c);
}
