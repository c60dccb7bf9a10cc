/*
 * files.c - the `files' source: one tar stream of a set of paths, and the
 * restore of such a stream into a directory.
 *
 * Backup walks each configured path with archive_read_disk and writes a
 * pax tar whose members are named <basename of the path>/<relative path>.
 * Restore extracts such a tar into a fresh sibling directory,
 * <target>.zb-restore-XXXXXX, and renames it onto the target only when the
 * host commits, which it does after the SHA-256 of every byte matched the
 * manifest; so the target never holds a partial tree.
 *
 * Both directions block on the file system, so the walk and the extraction
 * run on a worker thread started with host->offload().  A worker never
 * calls the host.  It exchanges tar bytes with the loop over a socketpair
 * (blocking on its end, non-blocking on the loop's; send(MSG_NOSIGNAL)
 * keeps a closed peer from raising SIGPIPE) and leaves its first error and
 * its warnings in a struct report under a mutex.  Everything else runs on
 * the loop.
 *
 * Invariants:
 *  - a context is freed on the loop, once the host has let go of it
 *    (close, abort or a completed commit), the worker's done callback has
 *    run, and no host call of ours is on the stack (busy == 0);
 *  - no member name is absolute or has a `..' component: on the way out by
 *    construction, on the way in by a check before extraction;
 *  - nothing here changes the process's working directory or runs
 *    libarchive code that would: the disk reader skips the metadata it
 *    would chdir(2) for, and extraction refuses paths of PATH_MAX or more.
 */

/* Absent in the standalone check build, which passes the same -D flags. */
#ifdef HAVE_CONFIG_H
#include "zb-build.h"
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <zentoria/plugin.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"0.1.0"
#endif

#define FILES_IOBUF		(64 * 1024)	/* bytes per read or send */
#define FILES_MSGLEN		1024		/* one error or warning */
#define FILES_NAMELEN		512		/* a name quoted in a message */
#define FILES_MAXWARN		64		/* warnings queued at once */
#define FILES_MAXDEPTH		2048		/* directory depth in rmtree */
#define FILES_TAR_RECORD	10240		/* tar(1)'s default record */

#ifdef O_NOATIME
#define FILES_O_NOATIME		O_NOATIME
#else
#define FILES_O_NOATIME		0
#endif

/* One configured [source:NAME] with plugin = files. */
struct files {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			**paths;	/* absolute, normalized */
	size_t			 npaths;
	char			**excludes;
	size_t			 nexcludes;
	char			*stream;
	int			 one_fs;
};

/*
 * What a worker tells the loop.  The worker fills it under mtx; the loop
 * logs the warnings as they arrive and reads err once the worker ended.
 */
struct report {
	pthread_mutex_t		 mtx;
	char			 err[FILES_MSGLEN];	/* first error, or "" */
	char			*warn[FILES_MAXWARN];
	size_t			 nwarn;
	size_t			 dropped;	/* warnings the queue lost */
};

/* One backup stream: a walk on a worker, read by the loop from rfd. */
struct backup {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	struct zb_io		*s;
	struct event		*ev;		/* EV_READ on rfd */
	int			 rfd;		/* loop end, O_NONBLOCK */
	int			 wfd;		/* worker end, it closes it */
	/* Copies: a reload may free the instance while the walk runs. */
	char			**paths;
	size_t			 npaths;
	char			**excludes;
	size_t			 nexcludes;
	int			 one_fs;
	atomic_int		 stop;		/* close() was called */
	struct report		 rep;

	/* Written by the worker, read on the loop after its done callback. */
	int64_t			 nfiles;
	int64_t			 ndirs;
	int64_t			 nsymlinks;
	int64_t			 nbytes;

	/* Loop only. */
	unsigned char		*buf;
	int			 eof;		/* rfd reached end of file */
	int			 worker_done;
	int			 worker_ok;
	int			 closed;	/* close() was called */
	int			 finished;	/* done() was called */
	int			 busy;		/* inside a host call */
};

/* Worker state of one backup walk. */
struct walk {
	struct backup		*b;
	struct archive		*disk;
	struct archive		*tar;
	struct archive_entry_linkresolver *links;
	const char		*root;		/* the configured path */
	size_t			 rootlen;
	const char		*top;		/* basename of root */
	int			 seen_root;	/* root entry came back */
	int			 binary;	/* no UTF-8 locale: raw names */
	int			 failed;	/* tar_send() refuses all */
	unsigned char		*buf;
};

enum target_kind {
	TARGET_NEW = 0,		/* does not exist */
	TARGET_EMPTY,		/* an empty directory */
	TARGET_REPLACE		/* anything else, and --force was given */
};

/* One restore: the loop writes tar bytes to wfd, a worker extracts them. */
struct restore {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	struct zb_io		*w;
	struct event		*ev;		/* EV_WRITE on wfd if blocked */
	int			 wfd;		/* loop end, O_NONBLOCK, -1 */
	int			 rfd;		/* worker end, it closes it */
	struct archive		*out;		/* archive_write_disk */
	char			*target;	/* absolute */
	char			*parent;	/* its dir, symlinks resolved */
	char			*tmpdir;	/* <target>.zb-restore-XXXXXX */
	int			 kind;		/* enum target_kind */
	struct stat		 tst;		/* the old target, if any */
	atomic_int		 stop;		/* abort() was called */
	atomic_int		 committed;	/* commit(): EOF is success */
	struct report		 rep;

	/* Loop only. */
	const struct zb_chunk	*held;		/* ref'd after a short send */
	size_t			 held_off;
	int			 want_ready;	/* we owe the host a ready() */
	int			 commit_req;
	int			 broken;	/* the worker's end is gone */
	int			 logged;	/* the failure was logged */
	int			 worker_done;
	int			 worker_ok;
	int			 finished;	/* done() was called */
	int			 aborted;
	int			 busy;		/* inside a host call */
};

static void	report_err(struct report *, const char *, ...)
		    ZB_PRINTF(2, 3);
static void	report_warn(struct report *, const char *, ...)
		    ZB_PRINTF(2, 3);

static void	backup_pause(void *);
static void	backup_resume(void *);
static void	backup_close(void *);
static int	restore_write(void *, const struct zb_chunk *);
static int	restore_commit(void *);
static void	restore_abort(void *);

static const struct zb_producer_ops backup_ops = {
	.pause = backup_pause,
	.resume = backup_resume,
	.close = backup_close
};

static const struct zb_writer_ops restore_ops = {
	.write = restore_write,
	.commit = restore_commit,
	.abort = restore_abort
};

/* ---- small helpers ---------------------------------------------------- */

/*
 * Length of the printable UTF-8 character at p, or 0 for a control byte or
 * a byte that does not start valid UTF-8.  Log lines must be text: the
 * journal keeps a line with invalid UTF-8 as an unreadable blob, and a
 * newline in a file name would forge a line.
 */
static size_t
text_len(const unsigned char *p)
{
	size_t	 i, n;

	if (p[0] < 0x20 || p[0] == 0x7f)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* Make s text in place: every byte text_len() rejects becomes '?'. */
static void
text_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n;

	while (*p != '\0') {
		n = text_len(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

/* Copy name into buf for a message, cleaned and cut to fit with "...". */
static const char *
vis(const char *name, char *buf, size_t len)
{
	const unsigned char	*p;
	size_t			 k, n = 0;

	p = (const unsigned char *)(name == NULL ? "" : name);
	while (*p != '\0') {
		k = text_len(p);
		if (n + (k == 0 ? 1 : k) + 1 > len)
			break;
		if (k == 0) {
			buf[n++] = '?';
			p++;
			continue;
		}
		memcpy(buf + n, p, k);
		n += k;
		p += k;
	}
	if (*p != '\0' && len > 4) {
		if (n > len - 4)
			n = len - 4;
		while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* a + "/" + b in a new string; just a copy of a when b is empty. */
static char *
path_join(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);
	char	*p;

	p = malloc(la + lb + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	if (lb > 0) {
		p[la] = '/';
		memcpy(p + la + 1, b, lb);
		la += lb + 1;
	}
	p[la] = '\0';
	return p;
}

/* Does path have a component "..", or with dots_too also "."? */
static int
has_dot_component(const char *path, int dots_too)
{
	const char	*c = path;
	size_t		 l;

	while (*c != '\0') {
		while (*c == '/')
			c++;
		l = strcspn(c, "/");
		if (l == 2 && c[0] == '.' && c[1] == '.')
			return 1;
		if (dots_too && l == 1 && c[0] == '.')
			return 1;
		c += l;
	}
	return 0;
}

/* A tar member we will not extract, whatever the flags below say. */
static int
member_unsafe(const char *name)
{
	return name[0] == '\0' || name[0] == '/' || has_dot_component(name, 0);
}

static void
strv_free(char **v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **
strv_dup(char *const *v, size_t n)
{
	char	**c;
	size_t	  i;

	c = calloc(n + 1, sizeof(*c));
	if (c == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (c[i] == NULL) {
			strv_free(c, i);
			return NULL;
		}
	}
	return c;
}

static int
set_nonblock(int fd)
{
	int	 fl;

	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/*
 * Give the calling worker thread a UTF-8 LC_CTYPE.  pax headers carry
 * UTF-8 names and libarchive converts from the thread's locale, which in
 * the daemon is "C": every non-ASCII name would fail to convert.  Only
 * this thread changes, and utf8_leave() undoes it before the thread goes
 * back to the host.  Returns (locale_t)0 when no UTF-8 locale exists.
 */
static locale_t
utf8_enter(locale_t *old)
{
	locale_t	 loc;

	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc != (locale_t)0)
		*old = uselocale(loc);
	return loc;
}

static void
utf8_leave(locale_t loc, locale_t old)
{
	if (loc == (locale_t)0)
		return;
	(void)uselocale(old);
	freelocale(loc);
}

/*
 * Remove dir/name and everything below it, without following symlinks
 * and without chdir(2).  Directories are made accessible first, since a
 * restored tree may hold ones without write or search permission.
 */
static int
rmtree_at(int dir, const char *name, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, rv = 0;

	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > FILES_MAXDEPTH)
		return -1;
	(void)fchmodat(dir, name, 0700, 0);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rmtree_at(dirfd(d), de->d_name, depth + 1) == -1)
			rv = -1;
	}
	if (errno != 0)
		rv = -1;
	closedir(d);
	if (unlinkat(dir, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rv = -1;
	return rv;
}

/* 1 if path is a directory without entries, 0 if not, -1 on error. */
static int
dir_empty(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 rv = 1;

	d = opendir(path);
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rv = -1;
			break;
		}
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			rv = 0;
			break;
		}
	}
	closedir(d);
	return rv;
}

/* ---- worker reports ----------------------------------------------------- */

static int
report_init(struct report *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (pthread_mutex_init(&rep->mtx, NULL) != 0)
		return -1;
	return 0;
}

static void
report_fini(struct report *rep)
{
	size_t	 i;

	for (i = 0; i < rep->nwarn; i++)
		free(rep->warn[i]);
	pthread_mutex_destroy(&rep->mtx);
}

/* Keep only the first error: later ones are its consequences. */
static void
report_err(struct report *rep, const char *fmt, ...)
{
	va_list	 ap;

	pthread_mutex_lock(&rep->mtx);
	if (rep->err[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(rep->err, sizeof(rep->err), fmt, ap);
		va_end(ap);
		text_clean(rep->err);
	}
	pthread_mutex_unlock(&rep->mtx);
}

static void
report_warn(struct report *rep, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	m = malloc(FILES_MSGLEN);
	if (m != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(m, FILES_MSGLEN, fmt, ap);
		va_end(ap);
		text_clean(m);
	}
	pthread_mutex_lock(&rep->mtx);
	if (m != NULL && rep->nwarn < FILES_MAXWARN) {
		rep->warn[rep->nwarn++] = m;
		m = NULL;
	} else
		rep->dropped++;
	pthread_mutex_unlock(&rep->mtx);
	free(m);
}

/* Loop: log the queued warnings outside the lock. */
static void
report_flush(struct report *rep, const struct zb_host_api *host,
    struct zb_inst *inst)
{
	char	*w[FILES_MAXWARN];
	size_t	 i, n, dropped;

	pthread_mutex_lock(&rep->mtx);
	n = rep->nwarn;
	memcpy(w, rep->warn, n * sizeof(w[0]));
	rep->nwarn = 0;
	dropped = rep->dropped;
	rep->dropped = 0;
	pthread_mutex_unlock(&rep->mtx);
	for (i = 0; i < n; i++) {
		host->log(inst, ZB_LOG_WARN, "%s", w[i]);
		free(w[i]);
	}
	if (dropped > 0)
		host->log(inst, ZB_LOG_WARN, "%zu more warnings not shown",
		    dropped);
}

static void
report_errcopy(struct report *rep, char *buf, size_t len)
{
	pthread_mutex_lock(&rep->mtx);
	(void)snprintf(buf, len, "%s", rep->err);
	pthread_mutex_unlock(&rep->mtx);
}

/* ---- configuration ------------------------------------------------------ */

/* Collapse repeated slashes and drop trailing ones. */
static char *
path_normalize(const char *in)
{
	size_t	 i, n = 0;
	char	*out;

	out = malloc(strlen(in) + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; in[i] != '\0'; i++) {
		if (in[i] == '/' && n > 0 && out[n - 1] == '/')
			continue;
		out[n++] = in[i];
	}
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	return out;
}

static const char *
path_base(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

static int
check_path(struct files *f, size_t i, const char *given)
{
	const struct zb_host_api *h = f->host;
	const char	*p = f->paths[i];
	struct stat	 st;
	size_t		 j;

	if (strcmp(p, "/") == 0)
		return h->cfg_error(f->inst, "path",
		    "/ itself cannot be a path; list the directories under it");
	if (has_dot_component(p, 1))
		return h->cfg_error(f->inst, "path",
		    "%s: `.' and `..' components are not allowed", given);
	if (stat(p, &st) == -1)
		return h->cfg_error(f->inst, "path", "%s: %s", given,
		    strerror(errno));
	/* Members are named after the basename: two equal ones would mix. */
	for (j = 0; j < i; j++) {
		if (strcmp(path_base(f->paths[j]), path_base(p)) == 0)
			return h->cfg_error(f->inst, "path",
			    "%s and %s would both be stored as %s/",
			    f->paths[j], p, path_base(p));
	}
	return ZB_OK;
}

static int
init_paths(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*p;
	size_t		 i, n;

	n = h->cfg_list_len(f->inst, "path");
	if (n == 0)
		return h->cfg_error(f->inst, "path",
		    "name at least one absolute path");
	f->paths = calloc(n, sizeof(*f->paths));
	if (f->paths == NULL)
		return h->cfg_error(f->inst, "path", "out of memory");
	for (i = 0; i < n; i++) {
		p = h->cfg_list_item(f->inst, "path", i);
		if (p == NULL || p[0] != '/')
			return h->cfg_error(f->inst, "path",
			    "%s: not an absolute path", p == NULL ? "" : p);
		f->paths[i] = path_normalize(p);
		if (f->paths[i] == NULL)
			return h->cfg_error(f->inst, "path", "out of memory");
		f->npaths = i + 1;
		if (check_path(f, i, p) != ZB_OK)
			return ZB_ERR;
	}
	return ZB_OK;
}

static int
init_excludes(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*p;
	size_t		 i, n;

	n = h->cfg_list_len(f->inst, "exclude");
	if (n == 0)
		return ZB_OK;
	f->excludes = calloc(n, sizeof(*f->excludes));
	if (f->excludes == NULL)
		return h->cfg_error(f->inst, "exclude", "out of memory");
	for (i = 0; i < n; i++) {
		p = h->cfg_list_item(f->inst, "exclude", i);
		if (p == NULL || p[0] == '\0')
			return h->cfg_error(f->inst, "exclude",
			    "empty pattern");
		/* Patterns see paths relative to the root, never "/...". */
		if (p[0] == '/')
			return h->cfg_error(f->inst, "exclude",
			    "%s: patterns match relative paths; drop the "
			    "leading /", p);
		f->excludes[i] = strdup(p);
		if (f->excludes[i] == NULL)
			return h->cfg_error(f->inst, "exclude",
			    "out of memory");
		f->nexcludes = i + 1;
	}
	return ZB_OK;
}

/* The stream name becomes a directory on every sink: keep it tame. */
static int
init_stream(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*s;

	s = h->cfg_str(f->inst, "stream");
	if (s == NULL)
		s = "files";
	if (s[0] == '\0' || s[0] == '.' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(s))
		return h->cfg_error(f->inst, "stream",
		    "%s: use letters, digits, `.', `_' and `-', not starting "
		    "with `.'", s);
	f->stream = strdup(s);
	if (f->stream == NULL)
		return h->cfg_error(f->inst, "stream", "out of memory");
	return ZB_OK;
}

static void
files_fini(void *ctx)
{
	struct files	*f = ctx;

	if (f == NULL)
		return;
	strv_free(f->paths, f->npaths);
	strv_free(f->excludes, f->nexcludes);
	free(f->stream);
	free(f);
}

static int
files_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct files	*f;

	/* Everything used here exists since ABI 1.0, up to offload(). */
	if (host->struct_size < offsetof(struct zb_host_api, offload) +
	    sizeof(host->offload)) {
		host->log(inst, ZB_LOG_ERROR, "host API table too small");
		return ZB_ERR;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		host->log(inst, ZB_LOG_ERROR, "out of memory");
		return ZB_ERR;
	}
	f->host = host;
	f->inst = inst;
	if (init_paths(f) != ZB_OK || init_excludes(f) != ZB_OK ||
	    init_stream(f) != ZB_OK) {
		files_fini(f);
		return ZB_ERR;
	}
	f->one_fs = host->cfg_bool(inst, "one_file_system");
	*ctx = f;
	return ZB_OK;
}

static int
files_plan(void *ctx, struct zb_io *run)
{
	struct files	*f = ctx;

	if (f->host->add_stream(run, f->stream, "tar") != ZB_OK)
		f->host->done(run, ZB_ERR, "cannot declare the tar stream");
	else
		f->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

/* ---- backup: worker ----------------------------------------------------- */

/* archive_write callback: hand a block to the loop, blocking when full. */
static la_ssize_t
tar_send(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct walk	*w = arg;
	struct backup	*b = w->b;
	const char	*p = buf;
	size_t		 left = len;
	ssize_t		 n;

	if (w->failed) {
		archive_set_error(a, ECANCELED, "the stream has failed");
		return -1;
	}
	while (left > 0) {
		if (atomic_load(&b->stop)) {
			archive_set_error(a, ECANCELED,
			    "the stream was closed");
			return -1;
		}
		n = send(b->wfd, p, left, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			archive_set_error(a, errno, "stream socket");
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (la_ssize_t)len;
}

/*
 * The disk reader.  ACLs, xattrs, file flags and hole detection are
 * skipped: extraction does not restore them, and gathering them makes
 * libarchive chdir(2) for files it cannot open, which would move every
 * thread of the daemon.  Before 3.6 hole detection cannot be turned off;
 * file flags then stay on, since their open(2) is what spares that chdir.
 * Symlinks are hybrid: a configured path may be one, nothing below it is
 * followed.
 */
static int
walk_open_disk(struct walk *w)
{
	int	 flags;

	flags = ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_XATTR;
#ifdef ARCHIVE_READDISK_NO_SPARSE
	flags |= ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_FFLAGS;
#endif
	if (w->b->one_fs)
		flags |= ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS;
	if (archive_read_disk_set_behavior(w->disk, flags) != ARCHIVE_OK ||
	    archive_read_disk_set_symlink_hybrid(w->disk) != ARCHIVE_OK ||
	    archive_read_disk_set_standard_lookup(w->disk) != ARCHIVE_OK) {
		report_err(&w->b->rep, "file walk: %s",
		    archive_error_string(w->disk));
		return -1;
	}
	return 0;
}

/*
 * The tar writer.  Full pax, not "restricted": restricted drops the
 * nanoseconds of an mtime unless another field forces an extended
 * header.  Blocks of FILES_IOBUF, padded at the end to tar's record.
 */
static int
walk_open_tar(struct walk *w)
{
	if (archive_write_set_format_pax(w->tar) != ARCHIVE_OK ||
	    (w->binary && archive_write_set_format_option(w->tar, "pax",
	    "hdrcharset", "BINARY") != ARCHIVE_OK) ||
	    archive_write_add_filter_none(w->tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->tar, FILES_IOBUF) !=
	    ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->tar, FILES_TAR_RECORD) !=
	    ARCHIVE_OK ||
	    archive_write_open(w->tar, w, NULL, tar_send, NULL) != ARCHIVE_OK) {
		report_err(&w->b->rep, "tar writer: %s",
		    archive_error_string(w->tar));
		return -1;
	}
	archive_entry_linkresolver_set_strategy(w->links,
	    archive_format(w->tar));
	return 0;
}

static int
walk_open(struct walk *w)
{
	w->buf = malloc(FILES_IOBUF);
	w->disk = archive_read_disk_new();
	w->tar = archive_write_new();
	w->links = archive_entry_linkresolver_new();
	if (w->buf == NULL || w->disk == NULL || w->tar == NULL ||
	    w->links == NULL) {
		report_err(&w->b->rep, "out of memory");
		return -1;
	}
	if (walk_open_disk(w) == -1 || walk_open_tar(w) == -1)
		return -1;
	return 0;
}

static void
walk_close(struct walk *w, int ok)
{
	/*
	 * A failed stream must not end in a valid-looking trailer, so
	 * tar_send() refuses it.  Closing anyway, rather than calling
	 * archive_write_fail(), is what frees the block buffer: released
	 * libarchive (3.6 to 3.8) frees it only there.
	 */
	if (w->tar != NULL && !ok) {
		w->failed = 1;
		(void)archive_write_close(w->tar);
	}
	if (w->tar != NULL)
		archive_write_free(w->tar);
	if (w->disk != NULL)
		archive_read_free(w->disk);
	if (w->links != NULL)
		archive_entry_linkresolver_free(w->links);
	free(w->buf);
}

static int
excluded(const struct backup *b, const char *rel)
{
	const char	*base = path_base(rel);
	size_t		 i;

	for (i = 0; i < b->nexcludes; i++) {
		if (fnmatch(b->excludes[i], rel, 0) == 0 ||
		    fnmatch(b->excludes[i], base, 0) == 0)
			return 1;
	}
	return 0;
}

/*
 * Name the member <top>/<rel>, or skip the entry.  Returns 0 with *relp
 * set, 1 to skip, -1 on error.
 */
static int
walk_name(struct walk *w, struct archive_entry *e, const char **relp)
{
	struct backup	*b = w->b;
	const char	*src = archive_entry_sourcepath(e), *rel;
	char		*name, vb[FILES_NAMELEN];

	if (src == NULL || strncmp(src, w->root, w->rootlen) != 0 ||
	    (src[w->rootlen] != '\0' && src[w->rootlen] != '/')) {
		report_err(&b->rep, "%s: unexpected path from the file walk",
		    vis(src, vb, sizeof(vb)));
		return -1;
	}
	rel = src + w->rootlen;
	if (*rel == '/')
		rel++;
	if (*rel != '\0' && excluded(b, rel))
		return 1;
	if (archive_entry_filetype(e) == AE_IFSOCK) {
		report_warn(&b->rep, "%s: socket skipped",
		    vis(src, vb, sizeof(vb)));
		return 1;
	}
	name = path_join(w->top, rel);
	if (name == NULL) {
		report_err(&b->rep, "out of memory");
		return -1;
	}
	archive_entry_copy_pathname(e, name);
	free(name);
	/* Only mtime is restored; the others would cost a pax header. */
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_sparse_clear(e);
	*relp = rel;
	return 0;
}

/*
 * Descend into a directory.  It is opened here once first: the walk
 * reports a directory it cannot open without errno, and "gone" must be
 * told from "forbidden".  Returns 0, 1 to skip the entry, -1 on error.
 */
static int
walk_dir(struct walk *w, struct archive_entry *e, const char *rel)
{
	struct backup	*b = w->b;
	const char	*src = archive_entry_sourcepath(e);
	char		 vb[FILES_NAMELEN];
	int		 fd, flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

	/* Not with one_file_system on another mount: kept, but empty. */
	if (!archive_read_disk_can_descend(w->disk))
		return 0;
	if (*rel != '\0')
		flags |= O_NOFOLLOW;
	fd = open(src, flags);
	if (fd == -1 && (errno == ENOENT || errno == ENOTDIR ||
	    errno == ELOOP)) {
		report_warn(&b->rep, "%s: vanished during the backup",
		    vis(src, vb, sizeof(vb)));
		return 1;
	}
	if (fd == -1) {
		report_err(&b->rep, "cannot read directory %s: %s",
		    vis(src, vb, sizeof(vb)), strerror(errno));
		return -1;
	}
	close(fd);
	if (archive_read_disk_descend(w->disk) != ARCHIVE_OK) {
		report_err(&b->rep, "%s: %s", vis(src, vb, sizeof(vb)),
		    archive_error_string(w->disk));
		return -1;
	}
	return 0;
}

/*
 * Open a regular file for its data.  We read it ourselves rather than
 * through the walk so that a file swapped for another one (or a symlink
 * to one) after it was listed is noticed by its inode and never archived
 * under the old name.  Returns 0 with *fdp set, 1 to skip, -1 on error.
 */
static int
walk_file(struct walk *w, struct archive_entry *e, const char *rel,
    int *fdp)
{
	struct backup	*b = w->b;
	const char	*src = archive_entry_sourcepath(e);
	struct stat	 st;
	char		 vb[FILES_NAMELEN];
	int		 fd, flags;

	flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	if (*rel != '\0')
		flags |= O_NOFOLLOW;
	fd = open(src, flags | FILES_O_NOATIME);
	if (fd == -1 && errno == EPERM && FILES_O_NOATIME != 0)
		fd = open(src, flags);
	if (fd == -1 && (errno == ENOENT || errno == ELOOP)) {
		report_warn(&b->rep, "%s: vanished during the backup",
		    vis(src, vb, sizeof(vb)));
		return 1;
	}
	if (fd == -1 || fstat(fd, &st) == -1) {
		report_err(&b->rep, "cannot read %s: %s",
		    vis(src, vb, sizeof(vb)), strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_dev != archive_entry_dev(e) ||
	    (int64_t)st.st_ino != archive_entry_ino64(e)) {
		report_warn(&b->rep, "%s: replaced during the backup; skipped",
		    vis(src, vb, sizeof(vb)));
		close(fd);
		return 1;
	}
	*fdp = fd;
	return 0;
}

static int
walk_copy(struct walk *w, struct archive_entry *e, int fd)
{
	struct backup	*b = w->b;
	int64_t		 left = archive_entry_size(e);
	ssize_t		 n;
	size_t		 want;
	char		 vb[FILES_NAMELEN];

	while (left > 0) {
		if (atomic_load(&b->stop)) {
			report_err(&b->rep, "the stream was closed");
			return -1;
		}
		want = left < FILES_IOBUF ? (size_t)left : FILES_IOBUF;
		n = read(fd, w->buf, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			report_err(&b->rep, "cannot read %s: %s",
			    vis(archive_entry_sourcepath(e), vb, sizeof(vb)),
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		if (archive_write_data(w->tar, w->buf, (size_t)n) < 0) {
			report_err(&b->rep, "tar writer: %s",
			    archive_error_string(w->tar));
			return -1;
		}
		b->nbytes += n;
		left -= n;
	}
	/* The header promised the size: the writer pads with zeros. */
	if (left > 0)
		report_warn(&b->rep, "%s: shrank while being read; the rest "
		    "is stored as zeros",
		    vis(archive_entry_sourcepath(e), vb, sizeof(vb)));
	return 0;
}

static int
walk_write(struct walk *w, struct archive_entry *e, int fd)
{
	struct backup		*b = w->b;
	struct archive_entry	*le = e, *spare = NULL;
	char			 vb[FILES_NAMELEN];
	int			 r;

	/* The tar strategy only ever turns a later link into a hard link. */
	archive_entry_linkify(w->links, &le, &spare);
	if (le != e || spare != NULL) {
		report_err(&b->rep, "hard link resolver deferred an entry");
		return -1;
	}
	r = archive_write_header(w->tar, e);
	if (r == ARCHIVE_WARN)
		report_warn(&b->rep, "%s: %s",
		    vis(archive_entry_sourcepath(e), vb, sizeof(vb)),
		    archive_error_string(w->tar));
	else if (r != ARCHIVE_OK) {
		report_err(&b->rep, "%s: %s",
		    vis(archive_entry_sourcepath(e), vb, sizeof(vb)),
		    archive_error_string(w->tar));
		return -1;
	}
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		b->ndirs++;
		break;
	case AE_IFLNK:
		b->nsymlinks++;
		break;
	case AE_IFREG:
		b->nfiles++;
		break;
	}
	if (fd != -1 && archive_entry_hardlink(e) == NULL)
		return walk_copy(w, e, fd);
	return 0;
}

static int
walk_entry(struct walk *w, struct archive_entry *e)
{
	const char	*rel;
	int		 fd = -1, r;

	r = walk_name(w, e, &rel);
	if (r == 0 && archive_entry_filetype(e) == AE_IFDIR)
		r = walk_dir(w, e, rel);
	else if (r == 0 && archive_entry_filetype(e) == AE_IFREG &&
	    archive_entry_size(e) > 0)
		r = walk_file(w, e, rel, &fd);
	if (r == 0)
		r = walk_write(w, e, fd);
	if (fd != -1)
		close(fd);
	return r == -1 ? -1 : 0;
}

/*
 * The walk could not return an entry.  Something that vanished after its
 * directory was listed is a warning; anything else fails the stream.
 */
static int
walk_failed(struct walk *w)
{
	static const char	 visit[] = ": Couldn't visit directory";
	struct backup		*b = w->b;
	const char		*msg = archive_error_string(w->disk);
	struct stat		 st;
	char			*path, vb[FILES_NAMELEN];
	size_t			 len;

	if (msg == NULL)
		msg = "file walk failed";
	len = strlen(msg);
	if (w->seen_root && archive_errno(w->disk) == ENOENT) {
		report_warn(&b->rep, "%s (vanished during the backup)",
		    vis(msg, vb, sizeof(vb)));
		return 0;
	}
	/* This one comes without errno; its message names the directory. */
	if (w->seen_root && len > sizeof(visit) - 1 &&
	    strcmp(msg + len - (sizeof(visit) - 1), visit) == 0) {
		path = strndup(msg, len - (sizeof(visit) - 1));
		if (path != NULL && lstat(path, &st) == -1 &&
		    errno == ENOENT) {
			report_warn(&b->rep, "%s: vanished during the backup",
			    vis(path, vb, sizeof(vb)));
			free(path);
			return 0;
		}
		free(path);
	}
	report_err(&b->rep, "%s", vis(msg, vb, sizeof(vb)));
	return -1;
}

static int
walk_root(struct walk *w, const char *root)
{
	struct backup		*b = w->b;
	struct archive_entry	*e;
	char			 vb[FILES_NAMELEN];
	int			 r, rv = -1;

	w->root = root;
	w->rootlen = strlen(root);
	w->top = path_base(root);
	w->seen_root = 0;
	if (archive_read_disk_open(w->disk, root) != ARCHIVE_OK) {
		report_err(&b->rep, "%s: %s", vis(root, vb, sizeof(vb)),
		    archive_error_string(w->disk));
		return -1;
	}
	e = archive_entry_new();
	if (e == NULL)
		report_err(&b->rep, "out of memory");
	while (e != NULL) {
		if (atomic_load(&b->stop)) {
			report_err(&b->rep, "the stream was closed");
			break;
		}
		r = archive_read_next_header2(w->disk, e);
		if (r == ARCHIVE_EOF) {
			rv = 0;
			break;
		}
		if (r == ARCHIVE_FAILED) {
			if (walk_failed(w) == -1)
				break;
			continue;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			report_err(&b->rep, "%s: %s", vis(root, vb, sizeof(vb)),
			    archive_error_string(w->disk));
			break;
		}
		if (r == ARCHIVE_WARN)
			report_warn(&b->rep, "%s",
			    vis(archive_error_string(w->disk), vb, sizeof(vb)));
		w->seen_root = 1;
		if (walk_entry(w, e) == -1)
			break;
	}
	archive_entry_free(e);
	archive_read_close(w->disk);
	return rv;
}

/* Worker: the whole tar, into wfd.  Calls nothing of the host. */
static int
backup_work(void *arg)
{
	struct backup	*b = arg;
	struct walk	 w;
	locale_t	 loc, old = (locale_t)0;
	size_t		 i;
	int		 rv = -1;

	memset(&w, 0, sizeof(w));
	w.b = b;
	loc = utf8_enter(&old);
	/* Then names are stored as the raw bytes, with hdrcharset=BINARY. */
	w.binary = loc == (locale_t)0;
	if (walk_open(&w) == 0) {
		for (i = 0; i < b->npaths; i++) {
			if (walk_root(&w, b->paths[i]) == -1)
				break;
		}
		if (i == b->npaths && archive_write_close(w.tar) != ARCHIVE_OK)
			report_err(&b->rep, "tar writer: %s",
			    archive_error_string(w.tar));
		else if (i == b->npaths)
			rv = 0;
	}
	walk_close(&w, rv == 0);
	utf8_leave(loc, old);
	/* End of file for the loop, success or not. */
	close(b->wfd);
	b->wfd = -1;
	return rv;
}

/* ---- backup: loop ------------------------------------------------------- */

static void
backup_free(struct backup *b)
{
	if (b->ev != NULL)
		event_free(b->ev);
	if (b->rfd != -1)
		close(b->rfd);
	if (b->wfd != -1)
		close(b->wfd);
	strv_free(b->paths, b->npaths);
	strv_free(b->excludes, b->nexcludes);
	report_fini(&b->rep);
	free(b->buf);
	free(b);
}

static void
backup_release(struct backup *b)
{
	if (b->closed && b->worker_done && b->busy == 0)
		backup_free(b);
}

/* Finish once both the bytes and the worker's verdict are in. */
static void
backup_settle(struct backup *b)
{
	const struct zb_host_api *h = b->host;
	char		 msg[FILES_MSGLEN];

	if (!b->eof || !b->worker_done || b->finished || b->closed)
		return;
	b->finished = 1;
	report_flush(&b->rep, h, b->inst);
	report_errcopy(&b->rep, msg, sizeof(msg));
	b->busy++;
	if (b->worker_ok && msg[0] == '\0') {
		h->fact_int(b->s, NULL, "files", b->nfiles);
		h->fact_int(b->s, NULL, "directories", b->ndirs);
		h->fact_int(b->s, NULL, "symlinks", b->nsymlinks);
		h->fact_int(b->s, NULL, "file_bytes", b->nbytes);
		h->done(b->s, ZB_OK, NULL);
	} else
		h->done(b->s, ZB_ERR, msg[0] != '\0' ? msg : "backup failed");
	b->busy--;
}

static void
backup_readable(evutil_socket_t fd, short what, void *arg)
{
	struct backup	*b = arg;
	ssize_t		 n;
	int		 r;

	n = read(b->rfd, b->buf, FILES_IOBUF);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		/* Unblock the worker: it then fails on its next send. */
		report_err(&b->rep, "stream socket: %s", strerror(errno));
		atomic_store(&b->stop, 1);
		(void)shutdown(b->rfd, SHUT_RDWR);
	}
	if (n <= 0) {
		b->eof = 1;
		event_del(b->ev);
		backup_settle(b);
		backup_release(b);
		return;
	}
	b->busy++;
	r = b->host->push(b->s, b->buf, (size_t)n);
	/* ZB_AGAIN: paused until resume(); ZB_ERR: close() follows. */
	if (r != ZB_OK && !b->closed)
		event_del(b->ev);
	if (!b->closed)
		report_flush(&b->rep, b->host, b->inst);
	b->busy--;
	backup_release(b);
}

/* Loop: the worker has returned. */
static void
backup_done(void *arg, int result)
{
	struct backup	*b = arg;

	b->worker_done = 1;
	b->worker_ok = result == 0;
	backup_settle(b);
	backup_release(b);
}

static void
backup_pause(void *pctx)
{
	struct backup	*b = pctx;

	/* The worker blocks on the full socket: that is the backpressure. */
	if (b->ev != NULL)
		event_del(b->ev);
}

static void
backup_resume(void *pctx)
{
	struct backup	*b = pctx;

	if (b->ev != NULL && !b->eof && !b->closed)
		event_add(b->ev, NULL);
}

static void
backup_close(void *pctx)
{
	struct backup	*b = pctx;

	b->closed = 1;
	atomic_store(&b->stop, 1);
	if (b->ev != NULL) {
		event_free(b->ev);
		b->ev = NULL;
	}
	/* A worker blocked in send() gets EPIPE and ends. */
	if (b->rfd != -1) {
		close(b->rfd);
		b->rfd = -1;
	}
	backup_release(b);
}

static struct backup *
backup_new(struct files *f, struct zb_io *s)
{
	struct backup	*b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->rfd = b->wfd = -1;
	if (report_init(&b->rep) == -1) {
		free(b);
		return NULL;
	}
	b->host = f->host;
	b->inst = f->inst;
	b->s = s;
	b->one_fs = f->one_fs;
	b->npaths = f->npaths;
	b->nexcludes = f->nexcludes;
	b->paths = strv_dup(f->paths, f->npaths);
	b->excludes = strv_dup(f->excludes, f->nexcludes);
	b->buf = malloc(FILES_IOBUF);
	if (b->paths == NULL || b->excludes == NULL || b->buf == NULL) {
		backup_free(b);
		return NULL;
	}
	return b;
}

static int
files_stream_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct files	*f = ctx;
	struct backup	*b;
	int		 sv[2];

	b = backup_new(f, s);
	if (b == NULL) {
		f->host->log(f->inst, ZB_LOG_ERROR, "out of memory");
		return ZB_ERR;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		f->host->log(f->inst, ZB_LOG_ERROR, "socketpair: %s",
		    strerror(errno));
		backup_free(b);
		return ZB_ERR;
	}
	b->rfd = sv[0];
	b->wfd = sv[1];
	b->ev = event_new(f->host->evbase(), b->rfd, EV_READ | EV_PERSIST,
	    backup_readable, b);
	if (set_nonblock(b->rfd) == -1 || b->ev == NULL ||
	    event_add(b->ev, NULL) == -1) {
		f->host->log(f->inst, ZB_LOG_ERROR, "cannot watch the stream "
		    "socket");
		backup_free(b);
		return ZB_ERR;
	}
	if (f->host->offload(f->inst, backup_work, backup_done, b) != ZB_OK) {
		f->host->log(f->inst, ZB_LOG_ERROR, "cannot start the walk");
		backup_free(b);
		return ZB_ERR;
	}
	*ops = &backup_ops;
	*pctx = b;
	return ZB_OK;
}

/* ---- restore: worker ---------------------------------------------------- */

static void
rmtree_report(struct restore *r, const char *path)
{
	char	 vb[FILES_NAMELEN];

	if (rmtree_at(AT_FDCWD, path, 0) == -1)
		report_warn(&r->rep, "could not remove %s: %s",
		    vis(path, vb, sizeof(vb)), strerror(errno));
}

/* Point the entry (and its hard link) into the temporary directory. */
static int
extract_rename(struct restore *r, struct archive_entry *e, const char *vb)
{
	const char	*lname = archive_entry_hardlink(e);
	char		*full;

	full = path_join(r->tmpdir, archive_entry_pathname(e));
	if (full != NULL && strlen(full) >= PATH_MAX) {
		report_err(&r->rep, "refusing tar member \"%s\": name too "
		    "long", vb);
		free(full);
		return -1;
	}
	if (full == NULL) {
		report_err(&r->rep, "out of memory");
		return -1;
	}
	archive_entry_copy_pathname(e, full);
	free(full);
	if (lname == NULL)
		return 0;
	full = path_join(r->tmpdir, lname);
	if (full == NULL || strlen(full) >= PATH_MAX) {
		report_err(&r->rep, "refusing tar member \"%s\": hard link "
		    "name too long", vb);
		free(full);
		return -1;
	}
	archive_entry_copy_hardlink(e, full);
	free(full);
	return 0;
}

static int
extract_data(struct restore *r, struct archive *in, const char *vb)
{
	const void	*buf;
	size_t		 len;
	la_int64_t	 off;
	la_ssize_t	 n;
	int		 rc;

	for (;;) {
		if (atomic_load(&r->stop)) {
			report_err(&r->rep, "the restore was aborted");
			return -1;
		}
		rc = archive_read_data_block(in, &buf, &len, &off);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK) {
			report_err(&r->rep, "reading %s from the stream: %s",
			    vb, archive_error_string(in));
			return -1;
		}
		n = archive_write_data_block(r->out, buf, len, off);
		if (n == ARCHIVE_WARN)
			report_warn(&r->rep, "%s: %s", vb,
			    archive_error_string(r->out));
		else if (n < 0) {
			report_err(&r->rep, "cannot restore %s: %s", vb,
			    archive_error_string(r->out));
			return -1;
		}
	}
}

static int
extract_one(struct restore *r, struct archive *in, struct archive_entry *e)
{
	const char	*name = archive_entry_pathname(e);
	const char	*lname = archive_entry_hardlink(e);
	char		 vb[FILES_NAMELEN], vl[FILES_NAMELEN];
	int		 rc;

	vis(name, vb, sizeof(vb));
	/* libarchive checks too; this names the member and stops at once. */
	if (name == NULL || member_unsafe(name)) {
		report_err(&r->rep, "refusing tar member \"%s\": absolute or "
		    "with a `..' component", vb);
		return -1;
	}
	if (lname != NULL && member_unsafe(lname)) {
		report_err(&r->rep, "refusing tar member \"%s\": hard link to "
		    "\"%s\", absolute or with a `..' component", vb,
		    vis(lname, vl, sizeof(vl)));
		return -1;
	}
	if (extract_rename(r, e, vb) == -1)
		return -1;
	rc = archive_write_header(r->out, e);
	if (rc == ARCHIVE_WARN)
		report_warn(&r->rep, "%s: %s", vb,
		    archive_error_string(r->out));
	else if (rc != ARCHIVE_OK) {
		report_err(&r->rep, "cannot restore %s: %s", vb,
		    archive_error_string(r->out));
		return -1;
	}
	if (extract_data(r, in, vb) == -1)
		return -1;
	rc = archive_write_finish_entry(r->out);
	if (rc == ARCHIVE_WARN)
		report_warn(&r->rep, "%s: %s", vb,
		    archive_error_string(r->out));
	else if (rc != ARCHIVE_OK) {
		report_err(&r->rep, "cannot restore %s: %s", vb,
		    archive_error_string(r->out));
		return -1;
	}
	return 0;
}

static int
extract_all(struct restore *r, struct archive *in)
{
	struct archive_entry	*e;
	char			 vb[FILES_NAMELEN];
	int			 rc;

	for (;;) {
		if (atomic_load(&r->stop)) {
			report_err(&r->rep, "the restore was aborted");
			return -1;
		}
		rc = archive_read_next_header(in, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc == ARCHIVE_WARN)
			report_warn(&r->rep, "%s",
			    vis(archive_error_string(in), vb, sizeof(vb)));
		else if (rc != ARCHIVE_OK) {
			report_err(&r->rep, "reading the tar stream: %s",
			    vis(archive_error_string(in), vb, sizeof(vb)));
			return -1;
		}
		if (extract_one(r, in, e) == -1)
			return -1;
	}
	/* Directory modes and times are set here, deepest first. */
	rc = archive_write_close(r->out);
	if (rc == ARCHIVE_WARN)
		report_warn(&r->rep, "%s", archive_error_string(r->out));
	else if (rc != ARCHIVE_OK) {
		report_err(&r->rep, "finishing the restore: %s",
		    archive_error_string(r->out));
		return -1;
	}
	return 0;
}

/* Read past the end-of-archive blocks until the loop closes its end. */
static int
drain(struct restore *r)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		n = read(r->rfd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			report_err(&r->rep, "stream socket: %s",
			    strerror(errno));
			return -1;
		}
	}
}

/* Flush the extracted tree to disk before its name can appear. */
static int
place_sync(struct restore *r)
{
	int	 fd, rv;

	fd = open(r->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		report_err(&r->rep, "%s: %s", r->tmpdir, strerror(errno));
		return -1;
	}
#ifdef __linux__
	rv = syncfs(fd);
#else
	sync();
	rv = 0;
#endif
	if (rv == -1)
		report_err(&r->rep, "syncing %s: %s", r->tmpdir,
		    strerror(errno));
	close(fd);
	return rv;
}

/* A replaced directory hands its mode and owner to the restored one. */
static void
place_adopt(struct restore *r)
{
	if (r->kind == TARGET_NEW || !S_ISDIR(r->tst.st_mode))
		return;
	if (geteuid() == 0 &&
	    chown(r->tmpdir, r->tst.st_uid, r->tst.st_gid) == -1)
		report_warn(&r->rep, "chown %s: %s", r->tmpdir,
		    strerror(errno));
	if (chmod(r->tmpdir, r->tst.st_mode & 07777) == -1)
		report_warn(&r->rep, "chmod %s: %s", r->tmpdir,
		    strerror(errno));
}

/* Make room for the rename; a replaced target is moved to *aside. */
static int
place_clear(struct restore *r, char **aside)
{
	char	*dir, *old;
	size_t	 len;

	if (r->kind == TARGET_NEW)
		return 0;
	if (r->kind == TARGET_EMPTY) {
		if (rmdir(r->target) == 0)
			return 0;
		report_err(&r->rep, "cannot replace %s: %s", r->target,
		    strerror(errno));
		return -1;
	}
	len = strlen(r->target) + sizeof(".zb-old-XXXXXX");
	dir = malloc(len);
	if (dir == NULL) {
		report_err(&r->rep, "out of memory");
		return -1;
	}
	(void)snprintf(dir, len, "%s.zb-old-XXXXXX", r->target);
	old = NULL;
	if (mkdtemp(dir) != NULL)
		old = path_join(dir, "old");
	if (old == NULL || rename(r->target, old) == -1) {
		report_err(&r->rep, "cannot move %s aside: %s", r->target,
		    strerror(errno));
		(void)rmdir(dir);
		free(old);
		free(dir);
		return -1;
	}
	free(old);
	*aside = dir;
	return 0;
}

/* The rename failed: put back what place_clear() moved. */
static void
place_undo(struct restore *r, char *aside)
{
	char	*old;

	if (r->kind == TARGET_EMPTY)
		(void)mkdir(r->target, r->tst.st_mode & 07777);
	if (aside == NULL)
		return;
	old = path_join(aside, "old");
	if (old == NULL || rename(old, r->target) == -1 || rmdir(aside) == -1)
		report_warn(&r->rep, "the old %s is left in %s", r->target,
		    aside);
	free(old);
}

/* Worker, after a committed stream: move the tree onto the target. */
static int
restore_place(struct restore *r)
{
	char	*aside = NULL;
	int	 fd, rv = 0;

	if (!atomic_load(&r->committed) || atomic_load(&r->stop)) {
		report_err(&r->rep, "the restore was aborted");
		rmtree_report(r, r->tmpdir);
		return -1;
	}
	place_adopt(r);
	if (place_sync(r) == -1 || place_clear(r, &aside) == -1) {
		rmtree_report(r, r->tmpdir);
		return -1;
	}
	if (rename(r->tmpdir, r->target) == -1) {
		report_err(&r->rep, "cannot rename %s to %s: %s", r->tmpdir,
		    r->target, strerror(errno));
		place_undo(r, aside);
		free(aside);
		rmtree_report(r, r->tmpdir);
		return -1;
	}
	fd = open(r->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		report_err(&r->rep, "syncing %s: %s", r->parent,
		    strerror(errno));
		rv = -1;
	}
	if (fd != -1)
		close(fd);
	if (aside != NULL) {
		rmtree_report(r, aside);
		free(aside);
	}
	return rv;
}

/* Worker: extract the stream read from rfd.  Calls nothing of the host. */
static int
restore_work(void *arg)
{
	struct restore	*r = arg;
	struct archive	*in;
	locale_t	 loc, old = (locale_t)0;
	int		 rv = -1;

	loc = utf8_enter(&old);
	in = archive_read_new();
	if (in == NULL)
		report_err(&r->rep, "out of memory");
	else if (archive_read_support_format_tar(in) != ARCHIVE_OK ||
	    archive_read_open_fd(in, r->rfd, FILES_IOBUF) != ARCHIVE_OK)
		report_err(&r->rep, "tar reader: %s", archive_error_string(in));
	else if (extract_all(r, in) == 0 && drain(r) == 0)
		rv = 0;
	if (in != NULL)
		archive_read_free(in);
	utf8_leave(loc, old);
	/* First unblock the loop: a write after a failure gets EPIPE. */
	close(r->rfd);
	r->rfd = -1;
	archive_write_free(r->out);
	r->out = NULL;
	if (rv == 0)
		return restore_place(r);
	rmtree_report(r, r->tmpdir);
	return -1;
}

/* ---- restore: loop ------------------------------------------------------ */

static void
restore_free(struct restore *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->wfd != -1)
		close(r->wfd);
	if (r->rfd != -1)
		close(r->rfd);
	if (r->out != NULL)
		archive_write_free(r->out);
	report_fini(&r->rep);
	free(r->target);
	free(r->parent);
	free(r->tmpdir);
	free(r);
}

static void
restore_release(struct restore *r)
{
	if ((r->finished || r->aborted) && r->worker_done && r->busy == 0)
		restore_free(r);
}

static void
restore_unhold(struct restore *r)
{
	if (r->held != NULL) {
		r->host->chunk_unref(r->held);
		r->held = NULL;
	}
}

/* End of file for the worker. */
static void
restore_eof(struct restore *r)
{
	if (r->ev != NULL)
		event_del(r->ev);
	if (r->wfd != -1) {
		close(r->wfd);
		r->wfd = -1;
	}
}

/* Send what the socket takes now: a count, or -1 if the worker is gone. */
static ssize_t
restore_send(struct restore *r, const unsigned char *p, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		n = send(r->wfd, p + off, len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			r->broken = 1;
			return -1;
		}
		off += (size_t)n;
	}
	return (ssize_t)off;
}

static int
restore_failed(struct restore *r)
{
	char	 msg[FILES_MSGLEN];

	r->broken = 1;
	report_flush(&r->rep, r->host, r->inst);
	if (!r->logged) {
		report_errcopy(&r->rep, msg, sizeof(msg));
		r->host->log(r->inst, ZB_LOG_ERROR, "restore failed: %s",
		    msg[0] != '\0' ? msg : "the extraction ended early");
		r->logged = 1;
	}
	return ZB_ERR;
}

/*
 * Take a chunk.  A chunk the socket takes in full is done with.  One it
 * takes part of is referenced and finished from restore_writable(), and
 * we say ZB_OK; while that is pending, or when the socket took nothing,
 * we say ZB_AGAIN having consumed nothing, and call ready() later.
 */
static int
restore_write(void *wctx, const struct zb_chunk *c)
{
	struct restore	*r = wctx;
	ssize_t		 n;

	if (r->broken || r->worker_done || r->wfd == -1)
		return restore_failed(r);
	report_flush(&r->rep, r->host, r->inst);
	if (r->held != NULL || r->want_ready) {
		r->want_ready = 1;
		return ZB_AGAIN;
	}
	n = restore_send(r, c->data, c->len);
	if (n == -1)
		return restore_failed(r);
	if ((size_t)n == c->len)
		return ZB_OK;
	if (n > 0) {
		r->host->chunk_ref(c);
		r->held = c;
		r->held_off = (size_t)n;
	} else
		r->want_ready = 1;
	event_add(r->ev, NULL);
	return n > 0 ? ZB_OK : ZB_AGAIN;
}

static void
restore_writable(evutil_socket_t fd, short what, void *arg)
{
	struct restore	*r = arg;
	ssize_t		 n;

	if (r->held != NULL) {
		n = restore_send(r, r->held->data + r->held_off,
		    r->held->len - r->held_off);
		if (n >= 0)
			r->held_off += (size_t)n;
		if (n == -1 || r->held_off == r->held->len)
			restore_unhold(r);
		if (r->held != NULL)
			return;
	}
	event_del(r->ev);
	if (r->commit_req)
		restore_eof(r);
	if (r->want_ready) {
		r->want_ready = 0;
		r->busy++;
		r->host->ready(r->w);
		r->busy--;
		restore_release(r);
	}
}

static void
restore_finish(struct restore *r)
{
	char	 msg[FILES_MSGLEN];

	restore_unhold(r);
	restore_eof(r);
	r->finished = 1;
	report_flush(&r->rep, r->host, r->inst);
	report_errcopy(&r->rep, msg, sizeof(msg));
	r->busy++;
	if (r->worker_ok)
		r->host->done(r->w, ZB_OK, NULL);
	else
		r->host->done(r->w, ZB_ERR,
		    msg[0] != '\0' ? msg : "restore failed");
	r->busy--;
}

/* Loop: the worker has returned. */
static void
restore_done(void *arg, int result)
{
	struct restore	*r = arg;

	r->worker_done = 1;
	r->worker_ok = result == 0;
	if (r->aborted)
		report_flush(&r->rep, r->host, r->inst);
	else if (r->commit_req)
		restore_finish(r);
	else {
		/* Failed before commit: the next write() says so. */
		r->broken = 1;
		restore_unhold(r);
		if (r->ev != NULL)
			event_del(r->ev);
		if (r->want_ready) {
			r->want_ready = 0;
			r->busy++;
			r->host->ready(r->w);
			r->busy--;
		}
	}
	restore_release(r);
}

static int
restore_commit(void *wctx)
{
	struct restore	*r = wctx;

	r->commit_req = 1;
	/* Set before the EOF it explains. */
	atomic_store(&r->committed, 1);
	if (r->worker_done) {
		restore_finish(r);
		restore_release(r);
		return ZB_AGAIN;
	}
	if (r->held == NULL)
		restore_eof(r);
	return ZB_AGAIN;
}

static void
restore_abort(void *wctx)
{
	struct restore	*r = wctx;

	r->aborted = 1;
	atomic_store(&r->stop, 1);
	restore_unhold(r);
	/* The worker sees a truncated stream and removes the tree. */
	restore_eof(r);
	restore_release(r);
}

/*
 * Make the target absolute from its parent's real path, so that neither
 * `..' nor a symlink leads into it: SECURE_SYMLINKS then only ever meets
 * the restored tree's own symlinks.
 */
static int
target_resolve(struct restore *r, const char *given)
{
	const struct zb_host_api *h = r->host;
	const char	*base, *dir;
	char		*t, *slash;
	size_t		 len;
	int		 rv = -1;

	t = strdup(given);
	if (t == NULL) {
		h->log(r->inst, ZB_LOG_ERROR, "out of memory");
		return -1;
	}
	len = strlen(t);
	while (len > 1 && t[len - 1] == '/')
		t[--len] = '\0';
	slash = strrchr(t, '/');
	base = slash == NULL ? t : slash + 1;
	dir = slash == NULL ? "." : slash == t ? "/" : t;
	if (slash != NULL && slash != t)
		*slash = '\0';
	if (*base == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: name the target "
		    "directory itself", given);
		goto out;
	}
	r->parent = realpath(dir, NULL);
	if (r->parent == NULL) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: %s: %s", given, dir,
		    strerror(errno));
		goto out;
	}
	r->target = path_join(strcmp(r->parent, "/") == 0 ? "" : r->parent,
	    base);
	if (r->target == NULL)
		h->log(r->inst, ZB_LOG_ERROR, "out of memory");
	else
		rv = 0;
out:
	free(t);
	return rv;
}

/* Decide what committing will do to the target, or refuse it. */
static int
target_check(struct restore *r, const char *given, int force)
{
	const struct zb_host_api *h = r->host;
	struct stat	 pst;
	int		 empty;

	if (target_resolve(r, given) == -1)
		return -1;
	if (stat(r->parent, &pst) == -1) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: %s: %s", given,
		    r->parent, strerror(errno));
		return -1;
	}
	if (lstat(r->target, &r->tst) == -1) {
		if (errno == ENOENT) {
			r->kind = TARGET_NEW;
			return 0;
		}
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: %s", given,
		    strerror(errno));
		return -1;
	}
	/* rename(2) cannot replace a mount point, nor cross into it. */
	if (S_ISDIR(r->tst.st_mode) && r->tst.st_dev != pst.st_dev) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: a mount point cannot "
		    "be replaced; restore into a directory inside it", given);
		return -1;
	}
	empty = S_ISDIR(r->tst.st_mode) ? dir_empty(r->target) : 0;
	if (empty == -1) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: %s", given,
		    strerror(errno));
		return -1;
	}
	if (empty == 0 && !force) {
		h->log(r->inst, ZB_LOG_ERROR, "--to %s: exists and is not an "
		    "empty directory (--force replaces it)", given);
		return -1;
	}
	r->kind = empty ? TARGET_EMPTY : TARGET_REPLACE;
	return 0;
}

static int
restore_setup(struct restore *r)
{
	const struct zb_host_api *h = r->host;
	size_t		 len;
	int		 flags, sv[2];

	len = strlen(r->target) + sizeof(".zb-restore-XXXXXX");
	r->tmpdir = malloc(len);
	if (r->tmpdir == NULL) {
		h->log(r->inst, ZB_LOG_ERROR, "out of memory");
		return -1;
	}
	(void)snprintf(r->tmpdir, len, "%s.zb-restore-XXXXXX", r->target);
	if (mkdtemp(r->tmpdir) == NULL) {
		h->log(r->inst, ZB_LOG_ERROR, "%s: %s", r->tmpdir,
		    strerror(errno));
		free(r->tmpdir);
		r->tmpdir = NULL;
		return -1;
	}
	/*
	 * Members are extracted under the absolute tmpdir, which rules out
	 * SECURE_NOABSOLUTEPATHS; extract_one() refuses absolute and `..'
	 * names itself before they are prefixed.
	 */
	flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_PERM |
	    ARCHIVE_EXTRACT_TIME;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	r->out = archive_write_disk_new();
	if (r->out == NULL ||
	    archive_write_disk_set_options(r->out, flags) != ARCHIVE_OK ||
	    archive_write_disk_set_standard_lookup(r->out) != ARCHIVE_OK) {
		h->log(r->inst, ZB_LOG_ERROR, "cannot set up extraction");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		h->log(r->inst, ZB_LOG_ERROR, "socketpair: %s",
		    strerror(errno));
		return -1;
	}
	r->rfd = sv[0];
	r->wfd = sv[1];
	r->ev = event_new(h->evbase(), r->wfd, EV_WRITE | EV_PERSIST,
	    restore_writable, r);
	if (set_nonblock(r->wfd) == -1 || r->ev == NULL) {
		h->log(r->inst, ZB_LOG_ERROR, "cannot watch the stream "
		    "socket");
		return -1;
	}
	return 0;
}

static int
files_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct files	*f = ctx;
	struct restore	*r;

	if (req->target == NULL) {
		f->host->log(f->inst, ZB_LOG_ERROR, "restoring a files "
		    "stream needs a target directory (--to DIR)");
		return ZB_ERR;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL || report_init(&r->rep) == -1) {
		f->host->log(f->inst, ZB_LOG_ERROR, "out of memory");
		free(r);
		return ZB_ERR;
	}
	r->host = f->host;
	r->inst = f->inst;
	r->w = w;
	r->rfd = r->wfd = -1;
	if (target_check(r, req->target, req->force) == -1 ||
	    restore_setup(r) == -1 ||
	    f->host->offload(f->inst, restore_work, restore_done, r) !=
	    ZB_OK) {
		/* Nothing was extracted yet: the directory is empty. */
		if (r->tmpdir != NULL)
			(void)rmdir(r->tmpdir);
		restore_free(r);
		return ZB_ERR;
	}
	*ops = &restore_ops;
	*wctx = r;
	return ZB_OK;
}

/* ---- descriptor --------------------------------------------------------- */

static const struct zb_option files_options[] = {
	{ .key = "path", .type = ZB_OPT_LIST, .required = 1,
	  .help = "absolute directories or files to back up" },
	{ .key = "exclude", .type = ZB_OPT_LIST,
	  .help = "fnmatch(3) patterns of relative paths or names to skip" },
	{ .key = "stream", .type = ZB_OPT_STRING, .def = "files",
	  .help = "name of the tar stream" },
	{ .key = "one_file_system", .type = ZB_OPT_BOOL, .def = "no",
	  .help = "do not descend into other mounted file systems" },
	{ .key = NULL }
};

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "files",
	.version = PACKAGE_VERSION,
	.description = "directories and files as one tar stream",
	.options = files_options,
	.init = files_init,
	.fini = files_fini,
	.plan = files_plan,
	.stream_open = files_stream_open,
	.restore_open = files_restore_open
};
