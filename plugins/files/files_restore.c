/*
 * files_restore.c - the restore side of the files source: the loop
 * writes the tar bytes the host hands its writer into a socketpair, and
 * a worker extracts them into a fresh sibling of the target,
 * <target>.zb-restore-XXXXXX, which it renames onto the target only once
 * the host has committed, which the host does after the SHA-256 of every
 * byte matched the manifest; so the target never holds a partial tree.
 * Owns struct restore and the target checks.
 *
 * The extraction blocks on the file system, so it runs on a worker thread
 * started with host->offload().  The worker never calls the host: it
 * reads its blocking end of the socketpair and leaves its first error and
 * its warnings in a struct report.  The loop's end is the host's fd
 * writer (host->fd_writer, ABI 1.5), wrapped by this file's writer ops: a
 * full socket is ZB_AGAIN until it is writable, a gone worker EPIPE (the
 * daemon ignores SIGPIPE), and commit and abort close it (end of file)
 * only after `committed' or `stop' tells the worker what that EOF means.
 *
 * Invariants:
 *  - a struct restore is freed on the loop, once the host has let go of
 *    it (abort, or a commit that called done()), the worker's done
 *    callback has run, and no host call of ours is on the stack
 *    (busy == 0);
 *  - no member with an absolute name or a `..' component is extracted:
 *    extract_one() refuses it before it is prefixed with the tmpdir;
 *  - unless the source's restore_devices / restore_setid say otherwise,
 *    no device node is created and no set-user-ID or set-group-ID bit is
 *    set: extract_filter() drops the one and clears the other from every
 *    member before libarchive sees it.  A sink writer can plant an
 *    archive (it needs no more than the sink's credentials), and a root
 *    restore would otherwise make its setuid-root binary or its
 *    world-writable /dev/mem for it;
 *  - nothing here changes the process's working directory or runs
 *    libarchive code that would: extraction refuses paths of PATH_MAX or
 *    more.
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
#include <limits.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <zentoria/plugin.h>

#include "files.h"
#include "files_restore.h"
#include "files_util.h"

enum target_kind {
	TARGET_NEW = 0,		/* does not exist */
	TARGET_EMPTY,		/* an empty directory */
	TARGET_REPLACE		/* anything else, and --force was given */
};

/* One restore: the loop writes tar bytes (fd writer), a worker extracts. */
struct restore {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	struct zb_io		*w;
	/* the loop end: the host's fd writer, which closes it */
	const struct zb_writer_ops *fops;
	void			*fctx;
	int			 rfd;		/* worker end, it closes it */
	struct archive		*out;		/* archive_write_disk */
	char			*target;	/* absolute */
	char			*parent;	/* its dir, symlinks resolved */
	char			*tmpdir;	/* <target>.zb-restore-XXXXXX */
	int			 kind;		/* enum target_kind */
	struct stat		 tst;		/* the old target, if any */
	int			 keep_devices;	/* restore_devices = yes */
	int			 keep_setid;	/* restore_setid = yes */
	size_t			 ndevices;	/* worker: devices skipped */
	size_t			 nsetid;	/* worker: set-id cleared */
	atomic_int		 stop;		/* abort() was called */
	atomic_int		 committed;	/* commit(): EOF is success */
	struct report		 rep;

	/* Loop only. */
	int			 blocked;	/* write said ZB_AGAIN */
	int			 commit_req;
	int			 broken;	/* the worker's end is gone */
	int			 logged;	/* the failure was logged */
	int			 worker_done;
	int			 worker_ok;
	int			 finished;	/* done() was called */
	int			 aborted;
	int			 busy;		/* inside a host call */
};

static int	restore_write(void *, const struct zb_chunk *);
static int	restore_commit(void *);
static void	restore_abort(void *);

static const struct zb_writer_ops restore_ops = {
	.write = restore_write,
	.commit = restore_commit,
	.abort = restore_abort
};

/* A tar member we will not extract, whatever the flags below say. */
static int
member_unsafe(const char *name)
{
	return name[0] == '\0' || name[0] == '/' || has_dot_component(name, 0);
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

/*
 * What the source's options do not let a restore make: device nodes
 * (skipped) and set-id bits (cleared), one warning naming each member.
 * FIFOs are kept, as by tar(1): they grant nothing.  A hard link whose
 * target is missing once a device node was skipped is taken to point to
 * it and skipped too.  Returns 1 to skip the member, else 0.
 */
static int
extract_filter(struct restore *r, struct archive_entry *e, const char *vb)
{
	const char	*lname = archive_entry_hardlink(e);
	char		 vl[FILES_NAMELEN];
	struct stat	 st;
	mode_t		 perm = archive_entry_perm(e);
	int		 type = archive_entry_filetype(e);

	if (!r->keep_devices && lname == NULL &&
	    (type == AE_IFCHR || type == AE_IFBLK)) {
		report_warn(&r->rep, "%s: %s device node not restored "
		    "(restore_devices = yes restores it)", vb,
		    type == AE_IFCHR ? "character" : "block");
		r->ndevices++;
		return 1;
	}
	if (lname != NULL && r->ndevices > 0 && lstat(lname, &st) == -1 &&
	    errno == ENOENT) {
		report_warn(&r->rep, "%s: hard link to \"%s\", which was not "
		    "restored; skipped", vb, vis(lname + strlen(r->tmpdir) + 1,
		    vl, sizeof(vl)));
		return 1;
	}
	if (!r->keep_setid && (perm & (S_ISUID | S_ISGID)) != 0) {
		report_warn(&r->rep, "%s: %s cleared (restore_setid = yes "
		    "keeps them)", vb, (perm & S_ISUID) == 0 ?
		    "set-group-ID bit" : (perm & S_ISGID) == 0 ?
		    "set-user-ID bit" : "set-user-ID and set-group-ID bits");
		archive_entry_set_perm(e, perm & ~(mode_t)(S_ISUID | S_ISGID));
		r->nsetid++;
	}
	return 0;
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
	/* The rest of the member's data is skipped by the next header. */
	if (extract_filter(r, e, vb) == 1)
		return 0;
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
	/* The per-member warnings may have been more than the queue held. */
	if (r->ndevices > 0 || r->nsetid > 0)
		report_warn(&r->rep, "%zu device node%s not restored, set-id "
		    "bits cleared on %zu member%s", r->ndevices,
		    r->ndevices == 1 ? "" : "s", r->nsetid,
		    r->nsetid == 1 ? "" : "s");
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
	if (r->fctx != NULL)
		r->fops->abort(r->fctx);
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

/* End of file for the worker (set `committed' or `stop' first). */
static void
restore_eof(struct restore *r)
{
	if (r->fctx != NULL) {
		r->fops->abort(r->fctx);	/* closes the loop end */
		r->fctx = NULL;
	}
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
 * Take a chunk: the fd writer writes what the socket takes and answers
 * ZB_AGAIN for the rest, calling ready() once it is writable again.
 */
static int
restore_write(void *wctx, const struct zb_chunk *c)
{
	struct restore	*r = wctx;
	int		 rc;

	r->blocked = 0;
	if (r->broken || r->worker_done || r->fctx == NULL)
		return restore_failed(r);
	report_flush(&r->rep, r->host, r->inst);
	rc = r->fops->write(r->fctx, c);
	if (rc == ZB_ERR)
		return restore_failed(r);	/* the worker's reason */
	r->blocked = rc == ZB_AGAIN;
	return rc;
}

static void
restore_finish(struct restore *r)
{
	char	 msg[FILES_MSGLEN];

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
		restore_eof(r);
		if (r->blocked) {
			r->blocked = 0;
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
	if (r->fctx != NULL) {
		/* Closes the loop end: the worker's verdict decides. */
		(void)r->fops->commit(r->fctx);
		r->fctx = NULL;
	}
	if (r->worker_done) {
		restore_finish(r);
		restore_release(r);
	}
	return ZB_AGAIN;
}

static void
restore_abort(void *wctx)
{
	struct restore	*r = wctx;

	r->aborted = 1;
	atomic_store(&r->stop, 1);
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
	struct zb_fd_writer_spec spec;
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
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = sv[1];		/* the adapter's from here on */
	if (h->fd_writer(r->w, &spec, &r->fops, &r->fctx) != ZB_OK) {
		r->fctx = NULL;
		h->log(r->inst, ZB_LOG_ERROR, "cannot watch the stream "
		    "socket");
		return -1;
	}
	return 0;
}

int
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
	r->rfd = -1;
	r->keep_devices = f->restore_devices;
	r->keep_setid = f->restore_setid;
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
