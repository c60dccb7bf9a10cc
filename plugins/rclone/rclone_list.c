/*
 * rclone_list.c - list, list_pending, remove and remove_pending: `rclone
 * lsjson -R --files-only' of the prefix's directory, read line by line
 * (memory stays bounded however many objects there are), and `rclone
 * deletefile'.  A name starting with '.' is never an object: temporaries
 * (.NAME.zb-XXXXXXXX) are what list_pending reports.  A directory that
 * does not exist (rclone's exit status 3) lists as empty, and an object
 * that is gone already counts as removed.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rclone.h"

#define RCLONE_EXIT_DIR_NOT_FOUND	3

struct rc_list {
	struct rclone	*rc;
	struct zb_io	*io;
	char		*prefix;
	char		*dir;		/* "" or "a/b/" */
	int		 pending;
	int		 bad;
};

static void
list_free(struct rc_list *l)
{
	free(l->prefix);
	free(l->dir);
	free(l);
}

static int
hidden(const char *key)
{
	const char	*p = key;

	for (;;) {
		if (*p == '.')
			return 1;
		p = strchr(p, '/');
		if (p == NULL)
			return 0;
		p++;
	}
}

static void
list_line(void *arg, char *line)
{
	struct rc_list		*l = arg;
	struct rc_entry		 e;
	struct zb_list_entry	 le;
	struct zb_pending_entry	 pe;
	const char		*base;
	char			*key, *target;
	size_t			 tl;
	int			 rv;

	rv = rc_json_entry(line, &e);
	if (rv == -1)
		l->bad++;
	if (rv != 1 || e.is_dir)
		return;
	if (asprintf(&key, "%s%s", l->dir, e.path) == -1)
		return;
	base = strrchr(key, '/');
	base = base != NULL ? base + 1 : key;
	if (!l->pending) {
		if (!hidden(key) && strncmp(key, l->prefix,
		    strlen(l->prefix)) == 0) {
			le.key = key;
			le.size = e.size > 0 ? (uint64_t)e.size : 0;
			le.mtime = e.mtime;
			l->rc->host->list_add(l->io, &le);
		}
		free(key);
		return;
	}
	tl = rclone_tmp_target_len(base);
	if (tl == 0) {
		free(key);
		return;
	}
	if (asprintf(&target, "%.*s%.*s", (int)(base - key), key, (int)tl,
	    base + 1) != -1) {
		if (!hidden(target) && strncmp(target, l->prefix,
		    strlen(l->prefix)) == 0) {
			pe.key = target;
			pe.handle = base;
			pe.size = e.size > 0 ? (uint64_t)e.size : 0;
			pe.mtime = e.mtime;
			l->rc->host->pending_add(l->io, &pe);
		}
		free(target);
	}
	free(key);
}

static void
list_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_list	*l = arg;
	char		 msg[700];

	if (!ok && code != RCLONE_EXIT_DIR_NOT_FOUND) {
		snprintf(msg, sizeof(msg), "rclone lsjson: %s", err);
		l->rc->host->done(l->io, ZB_ERR, msg);
	} else if (l->bad > 0) {
		snprintf(msg, sizeof(msg), "rclone lsjson: %d line%s not "
		    "understood", l->bad, l->bad == 1 ? "" : "s");
		l->rc->host->done(l->io, ZB_ERR, msg);
	} else
		l->rc->host->done(l->io, ZB_OK, NULL);
	list_free(l);
}

static int
list_common(struct rclone *rc, struct zb_io *io, const char *prefix,
    int pending)
{
	struct rc_cmd_spec	 spec;
	struct rc_list		*l;
	const char		*slash;
	char			*path;
	int			 ok;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return ZB_ERR;
	l->rc = rc;
	l->io = io;
	l->pending = pending;
	l->prefix = strdup(prefix);
	slash = strrchr(prefix, '/');
	l->dir = slash != NULL ? strndup(prefix, (size_t)(slash - prefix) + 1) :
	    strdup("");
	if (l->prefix == NULL || l->dir == NULL) {
		list_free(l);
		return ZB_ERR;
	}
	if (l->dir[0] != '\0') {
		l->dir[strlen(l->dir) - 1] = '\0';
		ok = rclone_key_ok(l->dir);
		l->dir[strlen(l->dir)] = '/';
		if (!ok) {
			rc->host->log(rc->inst, ZB_LOG_ERROR, "refusing "
			    "prefix '%s'", prefix);
			list_free(l);
			return ZB_ERR;
		}
	}
	path = rclone_path(rc, l->dir);
	if (path == NULL) {
		list_free(l);
		return ZB_ERR;
	}
	{
		const char	*argv[] = { "lsjson", "-R", "--files-only",
				    "--no-mimetype", path, NULL };

		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.on_line = list_line;
		spec.on_exit = list_exit;
		spec.arg = l;
		spec.what = pending ? "list_pending" : "list";
		spec.quiet = 1;
		if (rc_cmd_start(rc, &spec, NULL, NULL) == NULL) {
			free(path);
			list_free(l);
			return ZB_ERR;
		}
	}
	free(path);
	return ZB_OK;
}

int
rclone_list(void *ctx, struct zb_io *io, const char *prefix)
{
	return list_common(ctx, io, prefix, 0);
}

int
rclone_list_pending(void *ctx, struct zb_io *io, const char *prefix)
{
	struct rclone	*rc = ctx;

	if (rc->host->struct_size < offsetof(struct zb_host_api, pending_add) +
	    sizeof(rc->host->pending_add))
		return ZB_ERR;
	return list_common(rc, io, prefix, 1);
}

/* ---- remove ------------------------------------------------------------ */

struct rc_remove {
	struct rclone	*rc;
	struct zb_io	*io;
	char		*key;
};

static int
gone_already(const char *err)
{
	return strstr(err, "doesn't exist") != NULL ||
	    strstr(err, "not found") != NULL;
}

static void
remove_exit(void *arg, int ok, int code, const char *err)
{
	struct rc_remove	*r = arg;
	char			 msg[700];

	(void)code;
	if (ok || gone_already(err))
		r->rc->host->done(r->io, ZB_OK, NULL);
	else {
		snprintf(msg, sizeof(msg), "rclone deletefile %s: %s", r->key,
		    err);
		r->rc->host->done(r->io, ZB_ERR, msg);
	}
	free(r->key);
	free(r);
}

static int
remove_path(struct rclone *rc, struct zb_io *io, const char *key,
    const char *rel)
{
	struct rc_cmd_spec	 spec;
	struct rc_remove	*r;
	char			*path, what[160];

	r = calloc(1, sizeof(*r));
	path = rclone_path(rc, rel);
	if (r != NULL)
		r->key = strdup(key);
	if (r == NULL || path == NULL || r->key == NULL) {
		if (r != NULL)
			free(r->key);
		free(r);
		free(path);
		return ZB_ERR;
	}
	r->rc = rc;
	r->io = io;
	{
		const char	*argv[] = { "deletefile", path, NULL };

		snprintf(what, sizeof(what), "remove %s", rel);
		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.on_exit = remove_exit;
		spec.arg = r;
		spec.quiet = 1;
		spec.what = what;
		if (rc_cmd_start(rc, &spec, NULL, NULL) == NULL) {
			free(path);
			free(r->key);
			free(r);
			return ZB_ERR;
		}
	}
	free(path);
	return ZB_OK;
}

int
rclone_remove(void *ctx, struct zb_io *io, const char *key)
{
	struct rclone	*rc = ctx;

	if (!rclone_key_ok(key)) {
		rc->host->log(rc->inst, ZB_LOG_ERROR, "refusing object key "
		    "'%s'", key);
		return ZB_ERR;
	}
	return remove_path(rc, io, key, key);
}

/* handle: the temporary's name, as list_pending gave it for key. */
int
rclone_remove_pending(void *ctx, struct zb_io *io, const char *key,
    const char *handle)
{
	struct rclone	*rc = ctx;
	const char	*base;
	char		*rel;
	size_t		 tl;
	int		 rv;

	base = strrchr(key, '/');
	base = base != NULL ? base + 1 : key;
	tl = rclone_tmp_target_len(handle);
	if (!rclone_key_ok(key) || tl == 0 || tl != strlen(base) ||
	    strncmp(handle + 1, base, tl) != 0) {
		rc->host->log(rc->inst, ZB_LOG_ERROR, "%s: '%s' is not a "
		    "temporary of this key", key, handle);
		return ZB_ERR;
	}
	if (asprintf(&rel, "%.*s%s", (int)(base - key), key, handle) == -1)
		return ZB_ERR;
	rv = remove_path(rc, io, key, rel);
	free(rel);
	return rv;
}
