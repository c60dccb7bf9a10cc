/*
 * rclone_list.c - list, list_pending, remove and remove_pending: `rclone
 * lsjson -R --files-only' of the prefix's directory, read line by line
 * (memory stays bounded however many objects there are), and
 * operations/deletefile on the sink's rclone rcd.  A name starting with '.' is never an object: temporaries
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

static int	list_lsjson(struct rc_list *);

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

/* One file of the listing: an object, or (list_pending) a temporary. */
static void
list_entry(struct rc_list *l, const struct rc_entry *ep)
{
	struct rc_entry		 e = *ep;
	struct zb_list_entry	 le;
	struct zb_pending_entry	 pe;
	const char		*base;
	char			*key, *target;
	size_t			 tl;

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
list_line(void *arg, char *line)
{
	struct rc_list		*l = arg;
	struct rc_entry		 e;
	int			 rv;

	rv = rc_json_entry(line, &e);
	if (rv == -1)
		l->bad++;
	if (rv == 1 && !e.is_dir)
		list_entry(l, &e);
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

/*
 * The listing from the sink's rclone rcd (operations/list): no process
 * to start, the remote's connections and directory cache kept.  Its
 * answer is one document, read whole; a listing over the rcd's answer
 * limit (a tier of tens of thousands of objects) is made again by
 * lsjson, whose lines are read one by one.
 */
/* One item of operations/list; Path is from the remote's top, the
 * listed directory included (lsjson's is below the directory). */
static void
list_rcd_item(struct rc_list *l, const struct zb_json *it)
{
	const struct zb_host_api *h = l->rc->host;
	const struct zb_json	*path, *size, *mt, *dir;
	struct rc_entry		 e;

	path = h->json_get(it, "Path");
	size = h->json_get(it, "Size");
	mt = h->json_get(it, "ModTime");
	dir = h->json_get(it, "IsDir");
	memset(&e, 0, sizeof(e));
	if (path == NULL || path->type != ZB_JSON_STRING || size == NULL ||
	    h->json_int(size, &e.size) != ZB_OK ||
	    strncmp(path->str, l->dir, strlen(l->dir)) != 0) {
		l->bad++;
		return;
	}
	if (dir != NULL && dir->type == ZB_JSON_BOOL && dir->boolean)
		return;
	e.path = (char *)path->str + strlen(l->dir);
	e.mtime = mt != NULL && mt->type == ZB_JSON_STRING ?
	    rc_json_time(mt->str) : 0;
	list_entry(l, &e);
}

static void
list_rcd_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_list		*l = arg;
	const struct zb_host_api *h = l->rc->host;
	const struct zb_json	*list, *it;
	char			 msg[800];

	if (!ok && strstr(err, "response over") != NULL) {
		h->log(l->rc->inst, ZB_LOG_DEBUG, "list %s: a big listing, "
		    "read by lsjson", l->dir);
		if (list_lsjson(l) != ZB_OK) {
			h->done(l->io, ZB_ERR, "cannot start rclone lsjson");
			list_free(l);
		}
		return;
	}
	if (!ok) {
		if (strstr(err, "directory not found") != NULL)
			h->done(l->io, ZB_OK, NULL);
		else {
			snprintf(msg, sizeof(msg), "rclone lsjson: %s", err);
			h->done(l->io, ZB_ERR, msg);
		}
		list_free(l);
		return;
	}
	list = h->json_get(root, "list");
	if (list == NULL || list->type != ZB_JSON_ARRAY)
		l->bad++;
	for (it = list != NULL ? list->child : NULL; it != NULL;
	    it = it->next)
		list_rcd_item(l, it);
	if (l->bad > 0) {
		snprintf(msg, sizeof(msg), "rclone lsjson: %d item%s not "
		    "understood", l->bad, l->bad == 1 ? "" : "s");
		h->done(l->io, ZB_ERR, msg);
	} else
		h->done(l->io, ZB_OK, NULL);
	list_free(l);
}

static void
list_rcd(struct rc_list *l)
{
	struct rclone	*rc = l->rc;
	struct zb_buf	 b;
	char		*dir;
	size_t		 n = strlen(l->dir);

	dir = strndup(l->dir, n > 0 ? n - 1 : 0);	/* no trailing / */
	rclone_rcd_body(rc, &b, dir != NULL ? dir : "");
	rc->host->buf_printf(&b, ",\"opt\":{\"recurse\":true,"
	    "\"filesOnly\":true,\"noMimeType\":true}}");
	if (dir == NULL)
		b.failed = 1;
	free(dir);
	rclone_rcd_call(rc, "operations/list", &b, l->pending ?
	    "list_pending" : "list", list_rcd_done, l);
}

static int
list_common(struct rclone *rc, struct zb_io *io, const char *prefix,
    int pending)
{
	struct rc_list		*l;
	const char		*slash;
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
	list_rcd(l);
	return ZB_OK;
}

/* The listing from `rclone lsjson', line by line. */
static int
list_lsjson(struct rc_list *l)
{
	struct rclone		*rc = l->rc;
	struct rc_cmd_spec	 spec;
	char			*path;

	path = rclone_path(rc, l->dir);
	if (path == NULL)
		return ZB_ERR;
	{
		const char	*argv[] = { "lsjson", "-R", "--files-only",
				    "--no-mimetype", path, NULL };

		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.on_line = list_line;
		spec.on_exit = list_exit;
		spec.arg = l;
		spec.what = l->pending ? "list_pending" : "list";
		spec.quiet = 1;
		if (rc_cmd_start(rc, &spec, NULL, NULL) == NULL) {
			free(path);
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
remove_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_remove	*r = arg;
	char			 msg[800];

	(void)root;
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

/* operations/deletefile on the sink's rclone rcd (rclone_rcd.c). */
static int
remove_path(struct rclone *rc, struct zb_io *io, const char *key,
    const char *rel)
{
	struct rc_remove	*r;
	char			 what[160];

	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->key = strdup(key)) == NULL) {
		free(r);
		return ZB_ERR;
	}
	r->rc = rc;
	r->io = io;
	snprintf(what, sizeof(what), "remove %s", rel);
	rclone_rcd_deletefile(rc, rel, what, remove_done, r);
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
