/*
 * local.c - the `local' sink: artifacts as files under a directory.
 *
 * Objects are files below `path'; a key "a/b/data.tar" is the file
 * path/a/b/data.tar.  A put writes ".NAME.zb-XXXXXX" in the final
 * directory and, at commit, fsyncs it, renames it into place (never over
 * an existing object) and fsyncs the directory; that part runs on a
 * worker thread (host->offload) so a long fsync does not stall the loop.
 * Files are created 0600 and directories 0700.  Temporary names are never
 * listed as objects, so a crash mid-write leaves nothing that looks like
 * one; list_pending (ABI 1.3) shows them as pending puts (key: the object
 * they were for, handle: the temporary's name), so that prune can remove
 * those of dead runs.
 *
 * Directories: put_open creates the missing directories of a key (on the
 * loop; mkdir is quick) and remembers them; the commit, on the worker,
 * fsyncs the parent of each before the put is reported done, so a
 * committed object never sits in a directory whose own entry a crash can
 * lose.  A directory another put of this instance created and has not
 * yet made durable (l->unsynced > 0) is treated as if this put had
 * created it.
 *
 * A get is the host's fd producer (host->fd_producer, ABI 1.5) on the
 * opened file.  A put keeps its own writer: the commit must fsync the
 * still open file before the rename, which the fd writer's commit (close
 * first) cannot do, and a regular file never answers EAGAIN.
 */
#include "zb-build.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zentoria/plugin.h>

#define READ_CHUNK	(256 * 1024)
#define MAX_DEPTH	16

struct local {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			*root;
	/*
	 * Puts that created directories whose entries are not known to be
	 * durable yet; one that failed or was aborted stays counted, to be
	 * safe.
	 */
	int			 unsynced;
};

struct local_put {
	struct local		*l;
	struct zb_io		*io;
	char			*path;		/* final */
	char			*tmp;
	int			 fd;
	int			 committing;
	int			 aborted;	/* abort came during commit */
	int			 err;
	const char		*step;
	size_t			*newdirs;	/* ends, in path, of directories */
	size_t			 nnewdirs;	/* whose parent needs an fsync */
	int			 created;	/* counted in l->unsynced */
	off_t			 written;
	off_t			 flushed;	/* writeback started up to */
};

/*
 * Writeback of a put's file is started every this many bytes, so that
 * the disk writes while the stream goes on and the commit's fsync finds
 * little left: else the kernel holds up to a tenth of RAM dirty, and a
 * stream slower than the disk (hashing without SHA-NI, a slow source)
 * ends with seconds of fsync.
 */
#define LOCAL_FLUSH_AFTER	(8 * 1024 * 1024)

/* A get: the fd producer's callbacks, to name the file on an error. */
struct local_get {
	struct local		*l;
	struct zb_io		*io;
	char			*path;
};

static const struct zb_option local_options[] = {
	{ "path", ZB_OPT_PATH, NULL, 1,
	    "directory the artifacts are stored under", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static int
local_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct local	*l;
	struct stat	 st;
	const char	*path = host->cfg_str(inst, "path");

	if (path[0] != '/')
		return host->cfg_error(inst, "path", "must be an absolute "
		    "path");
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		return host->cfg_error(inst, "path", "%s is not a directory",
		    path);
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return ZB_ERR;
	l->host = host;
	l->inst = inst;
	l->root = strdup(path);
	if (l->root == NULL) {
		free(l);
		return ZB_ERR;
	}
	*ctx = l;
	return ZB_OK;
}

static void
local_fini(void *ctx)
{
	struct local	*l = ctx;

	free(l->root);
	free(l);
}

/* Keys come from the core, but a bad one must never escape the root. */
static int
key_ok(const char *key)
{
	const char	*p = key;
	size_t		 n;

	if (*key == '\0' || *key == '/')
		return 0;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.') || p[0] == '.')
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

static char *
key_path(struct local *l, const char *key)
{
	char	*p;

	if (!key_ok(key)) {
		l->host->log(l->inst, ZB_LOG_ERROR, "refusing object key '%s'",
		    key);
		return NULL;
	}
	if (asprintf(&p, "%s/%s", l->root, key) == -1)
		return NULL;
	return p;
}

/*
 * mkdir -p for the directories of p->path, mode 0700, noting in
 * p->newdirs those whose parent the commit must fsync.
 */
static int
make_parents(struct local_put *p)
{
	char	*path = p->path, *s;
	size_t	 n = 0;

	for (s = path; *s != '\0'; s++)
		if (*s == '/')
			n++;
	p->newdirs = calloc(n, sizeof(*p->newdirs));
	if (p->newdirs == NULL)
		return -1;
	for (s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0700) == 0) {
			p->newdirs[p->nnewdirs++] = (size_t)(s - path);
			/* Counted at once: a failed open stays counted. */
			if (!p->created)
				p->l->unsynced++;
			p->created = 1;
		} else if (errno != EEXIST) {
			*s = '/';
			return -1;
		} else if (p->l->unsynced > 0)
			p->newdirs[p->nnewdirs++] = (size_t)(s - path);
		*s = '/';
	}
	return 0;
}

/* fsync the directory that holds path; 0, or -1 with errno set. */
static int
fsync_parent(const char *path)
{
	char	*dir = strdup(path), *slash;
	int	 fd, rc = -1;

	if (dir == NULL)
		return -1;
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

/* ---- put ------------------------------------------------------------------ */

static void
put_free(struct local_put *p)
{
	if (p->fd != -1)
		close(p->fd);
	free(p->path);
	free(p->tmp);
	free(p->newdirs);
	free(p);
}

static int
put_write(void *wctx, const struct zb_chunk *c)
{
	struct local_put	*p = wctx;
	const unsigned char	*d = c->data;
	size_t			 left = c->len;
	ssize_t			 n;

	while (left > 0) {
		n = write(p->fd, d, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			p->l->host->log(p->l->inst, ZB_LOG_ERROR, "write %s: %s",
			    p->tmp, strerror(errno));
			return ZB_ERR;
		}
		d += n;
		left -= n;
		p->written += n;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	if (p->written - p->flushed >= LOCAL_FLUSH_AFTER) {
		/* Starts the writes, waits for none; failure is harmless
		 * (the commit's fsync still makes it durable). */
		(void)sync_file_range(p->fd, p->flushed,
		    p->written - p->flushed, SYNC_FILE_RANGE_WRITE);
		p->flushed = p->written;
	}
#endif
	return ZB_OK;
}

/* Worker thread: durable, then visible, never over an existing object. */
static int
put_finish(void *arg)
{
	struct local_put	*p = arg;
	char			*dir;
	int			 rc;

	p->step = "fsync";
	if (fsync(p->fd) == -1)
		goto fail;
	p->step = "rename";
	if (renameat2(AT_FDCWD, p->tmp, AT_FDCWD, p->path,
	    RENAME_NOREPLACE) == -1)
		goto fail;
	p->step = "fsync directory";
	if (fsync_parent(p->path) == -1)
		goto fail;
	/* The entries of the directories put_open created, deepest first. */
	while (p->nnewdirs > 0) {
		p->nnewdirs--;
		dir = strndup(p->path, p->newdirs[p->nnewdirs]);
		if (dir == NULL)
			goto fail;
		rc = fsync_parent(dir);
		free(dir);
		if (rc == -1)
			goto fail;
	}
	return 0;
fail:
	p->err = errno;
	return -1;
}

static void
put_finished(void *arg, int result)
{
	struct local_put	*p = arg;
	char			 msg[1024];

	if (p->aborted) {
		/* Too late: take back what became visible. */
		unlink(result == 0 ? p->path : p->tmp);
		put_free(p);
		return;
	}
	if (result == 0) {
		if (p->created)
			p->l->unsynced--;
		p->l->host->done(p->io, ZB_OK, NULL);
	} else {
		snprintf(msg, sizeof(msg), "%s %s: %s", p->step, p->path,
		    p->err == EEXIST ? "an object of that name exists already" :
		    strerror(p->err));
		unlink(p->tmp);
		p->l->host->done(p->io, ZB_ERR, msg);
	}
	put_free(p);
}

static int
put_commit(void *wctx)
{
	struct local_put	*p = wctx;

	p->committing = 1;
	if (p->l->host->offload(p->l->inst, put_finish, put_finished, p) !=
	    ZB_OK) {
		unlink(p->tmp);
		put_free(p);
		return ZB_ERR;
	}
	return ZB_AGAIN;
}

static void
put_abort(void *wctx)
{
	struct local_put	*p = wctx;

	if (p->committing) {
		p->aborted = 1;		/* put_finished cleans up */
		return;
	}
	unlink(p->tmp);
	put_free(p);
}

static const struct zb_writer_ops put_ops = {
	put_write, put_commit, put_abort
};

static int
local_put_open(void *ctx, struct zb_io *w, const char *key,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct local		*l = ctx;
	struct local_put	*p;
	char			*slash;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ZB_ERR;
	p->l = l;
	p->io = w;
	p->fd = -1;
	p->path = key_path(l, key);
	if (p->path == NULL)
		goto fail;
	if (make_parents(p) == -1) {
		l->host->log(l->inst, ZB_LOG_ERROR, "cannot create the "
		    "directories of %s: %s", p->path, strerror(errno));
		goto fail;
	}
	slash = strrchr(p->path, '/');
	if (asprintf(&p->tmp, "%.*s/.%s.zb-XXXXXX", (int)(slash - p->path),
	    p->path, slash + 1) == -1) {
		p->tmp = NULL;
		goto fail;
	}
	p->fd = mkostemp(p->tmp, O_CLOEXEC);	/* mode 0600 */
	if (p->fd == -1) {
		l->host->log(l->inst, ZB_LOG_ERROR, "cannot create %s: %s",
		    p->tmp, strerror(errno));
		goto fail;
	}
	*ops = &put_ops;
	*wctx = p;
	return ZB_OK;
fail:
	put_free(p);
	return ZB_ERR;
}

/* ---- get ------------------------------------------------------------------ */

static void
get_end(void *arg, int status, const char *msg)
{
	struct local_get	*g = arg;
	char			 err[1024];

	if (status == ZB_OK) {
		g->l->host->done(g->io, ZB_OK, NULL);
		return;
	}
	snprintf(err, sizeof(err), "%s: %s", g->path, msg);
	g->l->host->done(g->io, status, err);
}

static void
get_close(void *arg)
{
	struct local_get	*g = arg;

	free(g->path);
	free(g);
}

/*
 * Reads are plain read(2)s of READ_CHUNK on the loop, one per loop
 * iteration (the fd producer's way with a regular file): local files
 * answer from the page cache or the disk within milliseconds, and
 * yielding between reads keeps other streams moving.
 */
static int
local_get_open(void *ctx, struct zb_io *s, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct local			*l = ctx;
	struct local_get		*g;
	struct zb_fd_producer_spec	 spec;
	int				 fd;

	if (l->host->struct_size < offsetof(struct zb_host_api, fd_producer) +
	    sizeof(l->host->fd_producer)) {
		l->host->log(l->inst, ZB_LOG_ERROR, "the daemon is too old for "
		    "this plugin (it needs plugin ABI 1.5)");
		return ZB_ERR;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return ZB_ERR;
	g->l = l;
	g->io = s;
	g->path = key_path(l, key);
	if (g->path == NULL) {
		free(g);
		return ZB_ERR;
	}
	fd = open(g->path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		l->host->log(l->inst, ZB_LOG_ERROR, "cannot open %s: %s",
		    g->path, strerror(errno));
		get_close(g);
		return ZB_ERR;
	}
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = fd;			/* the adapter's from here on */
	spec.slice = READ_CHUNK;
	spec.on_end = get_end;
	spec.on_close = get_close;
	spec.arg = g;
	if (l->host->fd_producer(s, &spec, ops, pctx) != ZB_OK) {
		get_close(g);
		return ZB_ERR;
	}
	return ZB_OK;
}

/*
 * ABI 1.7: the object as a file, for a copy to a sink that has a tool
 * read it itself (rclone rcat's stdin).  The file is the committed
 * object: written once under a temporary name, renamed into place, never
 * changed again.
 */
static int
local_get_file(void *ctx, const char *key)
{
	struct local	*l = ctx;
	struct stat	 sb;
	char		*path;
	int		 fd, e;

	path = key_path(l, key);
	if (path == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	e = errno;
	free(path);
	if (fd == -1) {
		errno = e;
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* ---- list and remove -------------------------------------------------------- */

static int
is_temporary(const char *name)
{
	return name[0] == '.';
}

/*
 * ".NAME.zb-XXXXXX" (as put_open makes them): the length of NAME, or 0
 * for any other name.
 */
static size_t
temporary_target_len(const char *name)
{
	size_t	 n = strlen(name);
	const char *tail;

	if (name[0] != '.' || n < sizeof(".x.zb-XXXXXX") - 1)
		return 0;
	tail = name + n - (sizeof(".zb-XXXXXX") - 1);
	if (strncmp(tail, ".zb-", 4) != 0 || strchr(name, '/') != NULL)
		return 0;
	return (size_t)(tail - name) - 1;
}

struct walk {
	struct local	*l;
	struct zb_io	*io;
	const char	*prefix;
	int		 pending;	/* list temporaries, not objects */
};

static void
walk_file(struct walk *w, const char *rel, const char *name,
    const char *key, const struct stat *st)
{
	struct zb_list_entry	 e;
	struct zb_pending_entry	 pe;
	char			*target;
	size_t			 tl;

	if (!w->pending) {
		if (is_temporary(name) ||
		    strncmp(key, w->prefix, strlen(w->prefix)) != 0)
			return;
		e.key = key;
		e.size = st->st_size;
		e.mtime = st->st_mtime;
		w->l->host->list_add(w->io, &e);
		return;
	}
	tl = temporary_target_len(name);
	if (tl == 0)
		return;
	if (asprintf(&target, "%s%s%.*s", rel, *rel ? "/" : "", (int)tl,
	    name + 1) == -1)
		return;
	if (strncmp(target, w->prefix, strlen(w->prefix)) == 0) {
		pe.key = target;
		pe.handle = name;
		pe.size = st->st_size;
		pe.mtime = st->st_mtime;
		w->l->host->pending_add(w->io, &pe);
	}
	free(target);
}

static int
walk(struct walk *w, const char *dir, const char *rel, int depth)
{
	struct dirent		*de;
	struct stat		 st;
	DIR			*d;
	char			*path, *key;
	int			 rc = 0;

	if (depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) == -1)
			break;
		if (asprintf(&key, "%s%s%s", rel, *rel ? "/" : "",
		    de->d_name) == -1) {
			free(path);
			break;
		}
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && !is_temporary(de->d_name))
				rc = walk(w, path, key, depth + 1);
			else if (S_ISREG(st.st_mode))
				walk_file(w, rel, de->d_name, key, &st);
		}
		free(path);
		free(key);
	}
	closedir(d);
	return rc;
}

static int
list_common(struct local *l, struct zb_io *io, const char *prefix,
    int pending)
{
	struct walk	 w = { l, io, prefix, pending };

	if (walk(&w, l->root, "", 0) == -1) {
		l->host->done(io, ZB_ERR, strerror(errno));
		return ZB_OK;
	}
	l->host->done(io, ZB_OK, NULL);
	return ZB_OK;
}

static int
local_list(void *ctx, struct zb_io *io, const char *prefix)
{
	return list_common(ctx, io, prefix, 0);
}

static int
local_list_pending(void *ctx, struct zb_io *io, const char *prefix)
{
	struct local	*l = ctx;

	if (l->host->struct_size < offsetof(struct zb_host_api, pending_add) +
	    sizeof(l->host->pending_add))
		return ZB_ERR;
	return list_common(l, io, prefix, 1);
}

/* Unlink path, then the directories left empty, up to the root. */
static int
unlink_and_prune(struct local *l, char *path)
{
	char	*slash;

	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	for (;;) {
		slash = strrchr(path, '/');
		if (slash == NULL || (size_t)(slash - path) <= strlen(l->root))
			break;
		*slash = '\0';
		if (rmdir(path) == -1)
			break;
	}
	return 0;
}

static int
local_remove(void *ctx, struct zb_io *io, const char *key)
{
	struct local	*l = ctx;
	char		*path;

	path = key_path(l, key);
	if (path == NULL)
		return ZB_ERR;
	if (unlink_and_prune(l, path) == -1)
		l->host->done(io, ZB_ERR, strerror(errno));
	else
		l->host->done(io, ZB_OK, NULL);
	free(path);
	return ZB_OK;
}

/* handle: the temporary's name, as list_pending gave it for key. */
static int
local_remove_pending(void *ctx, struct zb_io *io, const char *key,
    const char *handle)
{
	struct local	*l = ctx;
	const char	*base;
	char		*path, *tmp, *slash;
	size_t		 tl;

	base = strrchr(key, '/');
	base = base != NULL ? base + 1 : key;
	tl = temporary_target_len(handle);
	if (tl == 0 || tl != strlen(base) ||
	    strncmp(handle + 1, base, tl) != 0) {
		l->host->log(l->inst, ZB_LOG_ERROR, "%s: not a temporary "
		    "of this key", key);
		return ZB_ERR;
	}
	path = key_path(l, key);
	if (path == NULL)
		return ZB_ERR;
	slash = strrchr(path, '/');
	if (asprintf(&tmp, "%.*s/%s", (int)(slash - path), path,
	    handle) == -1) {
		free(path);
		return ZB_ERR;
	}
	free(path);
	if (unlink_and_prune(l, tmp) == -1)
		l->host->done(io, ZB_ERR, strerror(errno));
	else
		l->host->done(io, ZB_OK, NULL);
	free(tmp);
	return ZB_OK;
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SINK,
	.caps = ZB_CAP_PAUSE,
	.name = "local",
	.version = PACKAGE_VERSION,
	.description = "store artifacts as files in a local directory",
	.options = local_options,
	.init = local_init,
	.fini = local_fini,
	.put_open = local_put_open,
	.get_open = local_get_open,
	.list = local_list,
	.remove = local_remove,
	.list_pending = local_list_pending,
	.remove_pending = local_remove_pending,
	.get_file = local_get_file,
};
