/*
 * files_backup.c - the backup side of the files source: a worker walks
 * each configured path with archive_read_disk and writes one pax tar,
 * whose members are named <basename of the path>/<relative path>, into a
 * socketpair; the loop reads the other end and pushes the bytes into the
 * host stream.  Owns struct backup (one stream) and struct walk (the
 * worker's state).
 *
 * The walk blocks on the file system, so it runs on a worker thread
 * started with host->offload().  The worker never calls the host: it
 * blocks in send(MSG_NOSIGNAL) on its end of the socketpair (which is the
 * backpressure, and keeps a closed peer from raising SIGPIPE) and leaves
 * its first error and its warnings in a struct report.  The loop's end
 * is read by the host's fd producer (host->fd_producer, ABI 1.5), wrapped
 * by this file's producer ops: a struct backup also waits for the
 * worker's verdict, which the adapter knows nothing of.
 *
 * Invariants:
 *  - a struct backup is freed on the loop, once the host has called
 *    close(), the worker's done callback has run, and no host call of
 *    ours is on the stack (busy == 0);
 *  - no member name is absolute or has a `..' component, by construction;
 *  - a failed stream never ends in a valid tar trailer;
 *  - no member's data is padded: a file that shrank while it was read
 *    fails the stream (walk_resized());
 *  - nothing here changes the process's working directory: the disk
 *    reader skips the metadata it would chdir(2) for.
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
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <zentoria/plugin.h>

#include "files.h"
#include "files_backup.h"
#include "files_util.h"

#define FILES_TAR_RECORD	10240		/* tar(1)'s default record */

#ifdef O_NOATIME
#define FILES_O_NOATIME		O_NOATIME
#else
#define FILES_O_NOATIME		0
#endif

/* One backup stream: a walk on a worker, read on the loop (fd producer). */
struct backup {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	struct zb_io		*s;
	/* the loop end: the host's fd producer, which closes it */
	const struct zb_producer_ops *fops;
	void			*fctx;
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
	int			 eof;		/* the loop end's bytes ended */
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

static void	backup_pause(void *);
static void	backup_resume(void *);
static void	backup_close(void *);

static const struct zb_producer_ops backup_ops = {
	.pause = backup_pause,
	.resume = backup_resume,
	.close = backup_close
};

/* A NULL-terminated copy of the n strings of v, for strv_free(). */
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

/*
 * The file changed size while it was read: tar writes the size before
 * the data, so a file that shrank would be padded with zeros and pass
 * for a good copy; that fails the stream.  One that grew is stored as it
 * was when the walk saw it, with a warning.
 */
static int
walk_resized(struct walk *w, struct archive_entry *e, int fd, int64_t left)
{
	struct backup	*b = w->b;
	struct stat	 st;
	int64_t		 size = archive_entry_size(e), now = -1;
	char		 vb[FILES_NAMELEN];

	if (fstat(fd, &st) == 0)
		now = (int64_t)st.st_size;
	vis(archive_entry_sourcepath(e), vb, sizeof(vb));
	if (left > 0) {
		if (now >= 0)
			report_err(&b->rep, "%s: shrank from %jd to %jd bytes "
			    "while being read; the stream fails rather than "
			    "store it padded with zeros", vb, (intmax_t)size,
			    (intmax_t)now);
		else
			report_err(&b->rep, "%s: shrank from %jd bytes to "
			    "%jd read while being read; the stream fails "
			    "rather than store it padded with zeros", vb,
			    (intmax_t)size, (intmax_t)(size - left));
		return -1;
	}
	if (now > size)
		report_warn(&b->rep, "%s: grew from %jd to %jd bytes while "
		    "being read; only the first %jd are stored", vb,
		    (intmax_t)size, (intmax_t)now, (intmax_t)size);
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
	return walk_resized(w, e, fd, left);
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
	if (b->fctx != NULL)
		b->fops->close(b->fctx);
	if (b->wfd != -1)
		close(b->wfd);
	strv_free(b->paths, b->npaths);
	strv_free(b->excludes, b->nexcludes);
	report_fini(&b->rep);
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

/* The fd producer's on_data: pass the worker's warnings on as they come. */
static int
backup_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct backup	*b = arg;

	(void)p;
	(void)n;
	(void)err;
	(void)errlen;
	report_flush(&b->rep, b->host, b->inst);
	return ZB_OK;
}

/* The fd producer's on_end: the worker closed its end, or a read error. */
static void
backup_end(void *arg, int status, const char *msg)
{
	struct backup	*b = arg;

	if (status != ZB_OK) {
		/* The adapter closed our end: the worker's next send fails. */
		report_err(&b->rep, "stream socket: %s", msg != NULL ? msg :
		    "error");
		atomic_store(&b->stop, 1);
	}
	b->eof = 1;
	backup_settle(b);
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
	if (b->fctx != NULL)
		b->fops->pause(b->fctx);
}

static void
backup_resume(void *pctx)
{
	struct backup	*b = pctx;

	if (b->fctx != NULL && !b->eof && !b->closed)
		b->fops->resume(b->fctx);
}

static void
backup_close(void *pctx)
{
	struct backup	*b = pctx;

	b->closed = 1;
	atomic_store(&b->stop, 1);
	/* Closes our end: a worker blocked in send() gets EPIPE and ends. */
	if (b->fctx != NULL) {
		b->fops->close(b->fctx);
		b->fctx = NULL;
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
	b->wfd = -1;
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
	if (b->paths == NULL || b->excludes == NULL) {
		backup_free(b);
		return NULL;
	}
	return b;
}

int
files_backup_open(void *ctx, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct files			*f = ctx;
	struct backup			*b;
	struct zb_fd_producer_spec	 spec;
	int				 sv[2];

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
	b->wfd = sv[1];
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = sv[0];		/* the adapter's from here on */
	spec.slice = FILES_IOBUF;
	spec.on_data = backup_data;
	spec.on_end = backup_end;
	spec.arg = b;
	if (f->host->fd_producer(s, &spec, &b->fops, &b->fctx) != ZB_OK) {
		b->fctx = NULL;
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
