/*
 * pg_env.c - connection settings for pg_dump, pg_restore and psql.
 *
 * Children get the source's settings as the PG* environment variables
 * libpq documents for each conninfo keyword, never as argv (which every
 * user of the machine can read in ps).
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static int
add(char **env, size_t *n, const char *name, const char *val)
{
	size_t	 len = strlen(name) + strlen(val) + 2;

	if ((env[*n] = malloc(len)) == NULL)
		return -1;
	snprintf(env[*n], len, "%s=%s", name, val);
	(*n)++;
	return 0;
}

/* The environment variable libpq reads for keyword, or NULL. */
static const char *
envvar(const PQconninfoOption *defs, const char *keyword)
{
	for (; defs->keyword != NULL; defs++)
		if (strcmp(defs->keyword, keyword) == 0)
			return defs->envvar;
	return NULL;
}

char **
pg_env_child(struct pg_src *pg, const char *conninfo, const char *dbname)
{
	PQconninfoOption	*defs, *opts = NULL, *o;
	const char		*password = pg->password, *var;
	char			**env;
	size_t			 n = 0, max, i;
	int			 bad = 0;

	defs = PQconndefaults();
	if (defs == NULL)
		return NULL;
	if (conninfo != NULL && (opts = PQconninfoParse(conninfo, NULL)) ==
	    NULL) {
		PQconninfoFree(defs);
		return NULL;
	}
	max = pg->nkw + 4;
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		max++;
	env = calloc(max, sizeof(*env));
	if (env == NULL) {
		PQconninfoFree(defs);
		PQconninfoFree(opts);
		return NULL;
	}
	if (opts != NULL) {
		for (o = opts; o->keyword != NULL && !bad; o++) {
			if (o->val == NULL || *o->val == '\0' ||
			    strcmp(o->keyword, "dbname") == 0)
				continue;
			if (strcmp(o->keyword, "password") == 0) {
				password = o->val;
				continue;
			}
			var = envvar(defs, o->keyword);
			if (var != NULL)
				bad = add(env, &n, var, o->val);
		}
	} else
		for (i = 0; i < pg->nkw && !bad; i++) {
			var = envvar(defs, pg->kw[i]);
			if (var != NULL)
				bad = add(env, &n, var, pg->val[i]);
		}
	if (!bad && dbname != NULL)
		bad = add(env, &n, "PGDATABASE", dbname);
	if (!bad)
		bad = add(env, &n, "PGAPPNAME", "zentoria-backupd");
	if (!bad && password != NULL)
		bad = add(env, &n, "PGPASSWORD", password);
	PQconninfoFree(defs);
	PQconninfoFree(opts);
	if (bad) {
		pg_env_free(env);
		return NULL;
	}
	return env;
}

void
pg_env_free(char **env)
{
	size_t	 i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
}

PGconn *
pg_connect_env(char **env, const char *dbname)
{
	PQconninfoOption	*defs, *o;
	const char		**kw, **val;
	size_t			 n = 0, i, len;
	PGconn			*c;

	for (i = 0; env[i] != NULL; i++)
		n++;
	defs = PQconndefaults();
	if (defs == NULL)
		return NULL;
	kw = calloc(n + 3, sizeof(*kw));
	val = calloc(n + 3, sizeof(*val));
	if (kw == NULL || val == NULL) {
		free(kw);
		free(val);
		PQconninfoFree(defs);
		return NULL;
	}
	n = 0;
	for (i = 0; env[i] != NULL; i++)
		for (o = defs; o->keyword != NULL; o++) {
			if (o->envvar == NULL ||
			    strcmp(o->keyword, "dbname") == 0)
				continue;
			len = strlen(o->envvar);
			if (strncmp(env[i], o->envvar, len) == 0 &&
			    env[i][len] == '=') {
				kw[n] = o->keyword;
				val[n++] = env[i] + len + 1;
				break;
			}
		}
	kw[n] = "dbname";
	val[n++] = dbname;
	c = PQconnectdbParams(kw, val, 0);
	free(kw);
	free(val);
	PQconninfoFree(defs);
	return c;
}
