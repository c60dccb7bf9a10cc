/*
 * s3_src_restore.c - the `s3' source's restore: a bucket tar back into a
 * bucket (`restore ID [--to BUCKET] [--force]'), or, for a --to with a
 * '/', the tar itself into a file (the host's file writer).
 *
 * The host verifies the stream's SHA-256 only at its end and calls commit
 * after that, so nothing may reach the bucket before commit: write()
 * spools the tar into a private temporary file (mode 0600, unlinked as
 * soon as it is created, so that nothing is left behind whatever
 * happens).  commit then reads the spool with libarchive on the loop, in
 * two passes:
 *
 *  1. check: every member is one this plugin writes (a file, or an empty
 *     directory for a folder marker), at most 5 GiB (a single PutObject;
 *     no multipart here), with sane metadata; and, unless --force, none
 *     of the keys exists in a target bucket that is not empty (HEAD per
 *     key).  Nothing is written before this pass passed.
 *  2. put: per member, its Content-MD5 is computed over the spool (a few
 *     MiB per turn of the loop, from a timer), then the reader is placed
 *     back at the member's header and the PutObject body streams from
 *     archive_read_data through the request's read callback.  A retried
 *     PUT places the reader back at the header again.
 *
 * Owns struct restore.  Invariants: at most one request or timer of ours
 * is pending; after done() or abort() nothing of ours runs.
 */
#include "zb-build.h"

#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_buf.h"
#include "s3.h"
#include "s3_src.h"

#define MAX_SINGLE_PUT	(5ULL * 1024 * 1024 * 1024)	/* PutObject's limit */
#define HASH_BUF	(256 * 1024)
#define HASH_PER_TURN	(16 * HASH_BUF)		/* then let the loop run */
#define READ_BLOCK	(64 * 1024)
#define PROGRESS_EVERY	1000

enum phase { P_SPOOL, P_CHECK, P_HASH, P_PUT };

struct restore {
	struct s3		*s3;
	struct zb_io		*w;
	char			*bucket;	/* the target */
	int			 force;
	int			 fd;		/* the spool */
	uint64_t		 spooled;
	locale_t		 loc;

	struct s3_req		*probe;		/* is the target empty? */
	int			 probed;
	int			 nonempty;
	char			*error;		/* of the probe */

	enum phase		 phase;
	struct archive		*ar;
	off_t			 base;		/* spool offset of ar's start */
	off_t			 hdrpos;	/* of the member in hand */
	char			*key;
	struct s3_req		*req;		/* HEAD or PUT */
	struct zb_timer		*timer;		/* hashing */
	EVP_MD_CTX		*md;
	unsigned char		*buf;
	uint64_t		 size, done_bytes;
	char			 md5[25];
	int64_t			 members, nobjects;
	uint64_t		 nbytes;
};

static void	check_next(struct restore *);
static void	put_next(struct restore *);

/* ---- helpers ---------------------------------------------------------- */

static void
reader_close(struct restore *r)
{
	locale_t	 old;

	if (r->ar == NULL)
		return;
	old = s3_src_enter(r->loc);
	archive_read_free(r->ar);
	s3_src_leave(old);
	r->ar = NULL;
}

static void
restore_free(struct restore *r)
{
	s3_req_cancel(r->probe);
	s3_req_cancel(r->req);
	if (r->timer != NULL)
		r->s3->host->timer_del(r->timer);
	reader_close(r);
	if (r->fd != -1)
		close(r->fd);
	if (r->loc != (locale_t)0)
		freelocale(r->loc);
	EVP_MD_CTX_free(r->md);
	free(r->buf);
	free(r->key);
	free(r->error);
	free(r->bucket);
	free(r);
}

/* The end of a commit: free r, then report. */
static void
end(struct restore *r, int status, const char *msg)
{
	struct zb_io			*w = r->w;
	const struct zb_host_api	*host = r->s3->host;
	char				*m = msg != NULL ?
					    s3_src_text(xstrdup(msg)) : NULL;

	if (status == ZB_OK)
		s3_log(r->s3, ZB_LOG_INFO, "restored %lld objects (%llu bytes) "
		    "into s3://%s", (long long)r->nobjects,
		    (unsigned long long)r->nbytes, r->bucket);
	else if (r->nobjects > 0)
		s3_log(r->s3, ZB_LOG_WARN, "s3://%s: %lld objects were "
		    "restored before the failure", r->bucket,
		    (long long)r->nobjects);
	restore_free(r);
	host->done(w, status, m);
	free(m);
}

/* Start reading the spool at byte off (a member's header, or 0). */
static int
reader_open(struct restore *r, off_t off)
{
	locale_t	 old;
	int		 rc = 0;

	reader_close(r);
	if (lseek(r->fd, off, SEEK_SET) == -1)
		return -1;
	r->base = off;
	r->ar = archive_read_new();
	if (r->ar == NULL)
		return -1;
	old = s3_src_enter(r->loc);
	if (archive_read_support_format_tar(r->ar) != ARCHIVE_OK ||
	    archive_read_open_fd(r->ar, r->fd, READ_BLOCK) != ARCHIVE_OK) {
		s3_log(r->s3, ZB_LOG_ERROR, "restore spool: %s",
		    archive_error_string(r->ar));
		rc = -1;
	}
	s3_src_leave(old);
	return rc;
}

/*
 * The next member's header: 1 with the entry, 0 at the end, -1 on error
 * (msg filled).  Keeps its key in r->key, its size in r->size.
 */
static int
next_member(struct restore *r, struct archive_entry **ep, char *msg,
    size_t len)
{
	struct archive_entry	*e;
	const char		*name, *n, *v;
	size_t			 vl;
	locale_t		 old;
	int			 rc;

	old = s3_src_enter(r->loc);
	rc = archive_read_next_header(r->ar, &e);
	s3_src_leave(old);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		snprintf(msg, len, "restore spool: %s",
		    archive_error_string(r->ar));
		return -1;
	}
	r->hdrpos = r->base + (off_t)archive_read_header_position(r->ar);
	free(r->key);
	r->key = NULL;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &n, (const void **)&v, &vl) ==
	    ARCHIVE_OK)
		if (strcmp(n, S3_SRC_XATTR_KEY) == 0 && r->key == NULL) {
			r->key = xmalloc(vl + 1);
			memcpy(r->key, v, vl);
			r->key[vl] = '\0';
		}
	if (r->key == NULL) {
		old = s3_src_enter(r->loc);
		name = archive_entry_pathname_utf8(e);
		if (name == NULL)
			name = archive_entry_pathname(e);
		s3_src_leave(old);
		if (name == NULL || name[0] == '\0') {
			snprintf(msg, len, "restore spool: a member without a "
			    "name");
			return -1;
		}
		if (archive_entry_filetype(e) == AE_IFDIR &&
		    name[strlen(name) - 1] != '/')
			r->key = xasprintf("%s/", name);
		else
			r->key = xstrdup(name);
	}
	r->size = archive_entry_size_is_set(e) ?
	    (uint64_t)archive_entry_size(e) : 0;
	if (archive_entry_filetype(e) == AE_IFDIR)
		r->size = 0;
	*ep = e;
	return 1;
}

/*
 * Has an earlier xattr of e the name n?  The pax reader gives every
 * xattr twice, from its SCHILY.xattr and its LIBARCHIVE.xattr record.
 */
static int
xattr_seen(struct archive_entry *e, const char *n)
{
	const char	*m;
	const void	*v;
	size_t		 vl;
	int		 seen = 0;

	/* The caller's iteration is restarted and wound forward to n. */
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &m, &v, &vl) == ARCHIVE_OK) {
		if (m == n)
			break;
		if (strcmp(m, n) == 0)
			seen = 1;
	}
	return seen;
}

static int
header_value_ok(const char *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return 0;
	return 1;
}

/* Pass 1 on one member: is it something we can put back?  0, or -1. */
static int
member_ok(struct restore *r, struct archive_entry *e, char *msg, size_t len)
{
	const char	*n, *v;
	size_t		 vl, nmeta = 0, ml = strlen(S3_SRC_XATTR_META);
	int		 t = archive_entry_filetype(e);

	if (t != AE_IFREG && t != AE_IFDIR) {
		snprintf(msg, len, "%s: not a member of an s3 bucket tar (a "
		    "file or folder marker)", r->key);
		return -1;
	}
	if (r->size > MAX_SINGLE_PUT) {
		snprintf(msg, len, "%s: %llu bytes: objects over 5 GiB need "
		    "a multipart upload, which restore does not do", r->key,
		    (unsigned long long)r->size);
		return -1;
	}
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &n, (const void **)&v, &vl) ==
	    ARCHIVE_OK) {
		if (strncmp(n, S3_SRC_XATTR_META, ml) == 0 &&
		    !xattr_seen(e, n))
			nmeta++;
		if ((strncmp(n, S3_SRC_XATTR_META, ml) == 0 &&
		    (n[ml] == '\0' || strpbrk(n + ml, " :\r\n") != NULL)) ||
		    !header_value_ok(v, vl)) {
			snprintf(msg, len, "%s: metadata %s cannot be sent "
			    "as a header", r->key, n);
			return -1;
		}
	}
	if (nmeta > S3_MAX_HEADERS - 4) {
		snprintf(msg, len, "%s: more than %d metadata entries",
		    r->key, S3_MAX_HEADERS - 4);
		return -1;
	}
	return 0;
}

/* ---- pass 1: check ---------------------------------------------------- */

static void
on_head(void *arg, struct s3_resp *resp)
{
	struct restore	*r = arg;
	char		 msg[1400];

	r->req = NULL;
	if (resp->status == 404) {
		check_next(r);
		return;
	}
	if (s3_ok(resp))
		snprintf(msg, sizeof(msg), "s3://%s/%s exists; refusing to "
		    "overwrite objects (use --force)", r->bucket, r->key);
	else
		snprintf(msg, sizeof(msg), "%s", resp->error);
	end(r, ZB_ERR, msg);
}

static void
check_next(struct restore *r)
{
	struct archive_entry	*e;
	struct s3_req_spec	 s;
	char			 msg[1400];
	int			 rc;

	for (;;) {
		rc = next_member(r, &e, msg, sizeof(msg));
		if (rc == -1 || (rc == 1 && member_ok(r, e, msg,
		    sizeof(msg)) == -1)) {
			end(r, ZB_ERR, msg);
			return;
		}
		if (rc == 0)
			break;
		r->members++;
		if (!r->nonempty || r->force)
			continue;
		memset(&s, 0, sizeof(s));
		s.method = "HEAD";
		s.bucket = r->bucket;
		s.key = r->key;
		s.done = on_head;
		s.arg = r;
		r->req = s3_req_start(r->s3, &s);
		if (r->req == NULL)
			end(r, ZB_ERR, "cannot start a HEAD request");
		return;
	}
	s3_log(r->s3, ZB_LOG_INFO, "restoring %lld objects into s3://%s%s",
	    (long long)r->members, r->bucket, r->nonempty ?
	    (r->force ? " (not empty; --force: overwriting)" :
	    " (not empty; none of the keys exists)") : "");
	if (reader_open(r, 0) == -1) {
		end(r, ZB_ERR, "cannot read the restore spool again");
		return;
	}
	r->phase = P_HASH;
	put_next(r);
}

/* ---- pass 2: put ------------------------------------------------------ */

static size_t
on_read(void *arg, char *buf, size_t n)
{
	struct restore	*r = arg;
	la_ssize_t	 got;

	got = archive_read_data(r->ar, buf, n);
	if (got <= 0) {
		s3_log(r->s3, ZB_LOG_ERROR, "s3://%s/%s: reading the spool: "
		    "%s", r->bucket, s3_src_text(r->key), got < 0 ?
		    archive_error_string(r->ar) : "the member ended early");
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

/* Back to the start of the member in hand's data. */
static int
rewind_member(struct restore *r)
{
	struct archive_entry	*e;
	char			 msg[300];
	off_t			 pos = r->hdrpos;

	if (reader_open(r, pos) == -1 ||
	    next_member(r, &e, msg, sizeof(msg)) != 1)
		return -1;
	return 0;
}

static int
on_rewind(void *arg)
{
	return rewind_member(arg);
}

static void
on_put(void *arg, struct s3_resp *resp)
{
	struct restore	*r = arg;
	char		 msg[1400];

	r->req = NULL;
	if (!s3_ok(resp)) {
		snprintf(msg, sizeof(msg), "%s", resp->error[0] ?
		    resp->error : "PutObject failed");
		end(r, ZB_ERR, msg);
		return;
	}
	r->nobjects++;
	r->nbytes += r->size;
	s3_log(r->s3, ZB_LOG_DEBUG, "restored s3://%s/%s (%llu bytes)",
	    r->bucket, s3_src_text(r->key), (unsigned long long)r->size);
	if (r->nobjects % PROGRESS_EVERY == 0)
		s3_log(r->s3, ZB_LOG_INFO, "s3://%s: %lld of %lld objects "
		    "restored", r->bucket, (long long)r->nobjects,
		    (long long)r->members);
	r->phase = P_HASH;
	put_next(r);
}

static void
start_put(struct restore *r)
{
	struct archive_entry	*e;
	struct s3_req_spec	 s;
	const char		*n, *v;
	char			 msg[300];
	size_t			 vl, i, ml = strlen(S3_SRC_XATTR_META);
	char			*hv[S3_MAX_HEADERS];

	if (reader_open(r, r->hdrpos) == -1 ||
	    next_member(r, &e, msg, sizeof(msg)) != 1) {
		end(r, ZB_ERR, "cannot read the restore spool again");
		return;
	}
	memset(&s, 0, sizeof(s));
	s.method = "PUT";
	s.bucket = r->bucket;
	s.key = r->key;
	s.headers[s.nheaders].name = "content-md5";
	s.headers[s.nheaders++].value = r->md5;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &n, (const void **)&v, &vl) ==
	    ARCHIVE_OK && s.nheaders < S3_MAX_HEADERS) {
		if (xattr_seen(e, n))
			continue;
		if (strcmp(n, S3_SRC_XATTR_CTYPE) == 0)
			s.headers[s.nheaders].name = xstrdup("content-type");
		else if (strncmp(n, S3_SRC_XATTR_META, ml) == 0)
			s.headers[s.nheaders].name = xasprintf("x-amz-meta-%s",
			    n + ml);
		else
			continue;
		hv[s.nheaders] = xmalloc(vl + 1);
		memcpy(hv[s.nheaders], v, vl);
		hv[s.nheaders][vl] = '\0';
		s.headers[s.nheaders].value = hv[s.nheaders];
		s.nheaders++;
	}
	s.bodylen = r->size;
	s.on_read = on_read;
	s.on_rewind = on_rewind;
	s.done = on_put;
	s.arg = r;
	r->phase = P_PUT;
	r->req = s3_req_start(r->s3, &s);	/* copies the headers */
	for (i = 1; i < s.nheaders; i++) {
		free((char *)s.headers[i].name);
		free(hv[i]);
	}
	if (r->req == NULL)
		end(r, ZB_ERR, "cannot start PutObject");
}

/* Hash the member in hand for Content-MD5, a slice per turn. */
static void
hash_more(void *arg)
{
	struct restore	*r = arg;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	uint64_t	 turn = 0;
	la_ssize_t	 n;
	char		 msg[1400];

	r->timer = NULL;
	while (turn < HASH_PER_TURN) {
		n = archive_read_data(r->ar, r->buf, HASH_BUF);
		if (n < 0) {
			snprintf(msg, sizeof(msg), "%s: reading the spool: %s",
			    r->key, archive_error_string(r->ar));
			end(r, ZB_ERR, msg);
			return;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(r->md, r->buf, (size_t)n);
		r->done_bytes += (uint64_t)n;
		turn += (uint64_t)n;
	}
	if (turn >= HASH_PER_TURN) {
		r->timer = r->s3->host->timer_add(0, hash_more, r);
		return;
	}
	if (r->done_bytes != r->size) {
		snprintf(msg, sizeof(msg), "%s: the member has %llu bytes, its "
		    "header says %llu", r->key,
		    (unsigned long long)r->done_bytes,
		    (unsigned long long)r->size);
		end(r, ZB_ERR, msg);
		return;
	}
	EVP_DigestFinal_ex(r->md, md, &mdlen);
	EVP_EncodeBlock((unsigned char *)r->md5, md, (int)mdlen);
	start_put(r);
}

static void
put_next(struct restore *r)
{
	struct archive_entry	*e;
	char			 msg[1400];
	int			 rc;

	/* The reader is past the last member put (or at the start). */
	rc = next_member(r, &e, msg, sizeof(msg));
	if (rc == -1) {
		end(r, ZB_ERR, msg);
		return;
	}
	if (rc == 0) {
		end(r, ZB_OK, NULL);
		return;
	}
	if (EVP_DigestInit_ex(r->md, EVP_md5(), NULL) != 1) {
		end(r, ZB_ERR, "cannot compute MD5");
		return;
	}
	r->done_bytes = 0;
	hash_more(r);
}

/* ---- the writer ------------------------------------------------------- */

static void
commit_go(struct restore *r)
{
	char	*m;

	if (r->error != NULL) {
		m = xstrdup(r->error);
		end(r, ZB_ERR, m);
		free(m);
		return;
	}
	if (reader_open(r, 0) == -1) {
		end(r, ZB_ERR, "cannot read the restore spool");
		return;
	}
	r->phase = P_CHECK;
	check_next(r);
}

static void
on_probe(void *arg, struct s3_resp *resp)
{
	struct restore	*r = arg;
	struct s3_xml	 doc = { resp->body, resp->len };
	char		*kc;

	r->probe = NULL;
	r->probed = 1;
	if (strcmp(resp->code, "NoSuchBucket") == 0)
		r->error = xasprintf("s3://%s: no such bucket (create it "
		    "first)", r->bucket);
	else if (!s3_ok(resp) || resp->body == NULL)
		r->error = xstrdup(resp->error[0] ? resp->error :
		    "ListObjectsV2 gave no answer");
	else {
		kc = s3_xml_text(&doc, "KeyCount");
		r->nonempty = (kc != NULL && strcmp(kc, "0") != 0) ||
		    (kc == NULL && strstr(resp->body, "<Contents>") != NULL);
		free(kc);
	}
	if (r->error != NULL)
		s3_log(r->s3, ZB_LOG_ERROR, "%s", r->error);
	if (r->phase == P_CHECK)	/* commit is waiting for us */
		commit_go(r);
}

static int
restore_write(void *wctx, const struct zb_chunk *c)
{
	struct restore	*r = wctx;
	size_t		 off = 0;
	ssize_t		 n;

	if (r->error != NULL)
		return ZB_ERR;	/* logged by on_probe */
	while (off < c->len) {
		n = write(r->fd, c->data + off, c->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			s3_log(r->s3, ZB_LOG_ERROR, "restore spool: %s",
			    strerror(errno));
			return ZB_ERR;
		}
		off += (size_t)n;
	}
	r->spooled += c->len;
	return ZB_OK;
}

static int
restore_commit(void *wctx)
{
	struct restore	*r = wctx;

	r->phase = P_CHECK;
	if (r->probed)
		commit_go(r);
	return ZB_AGAIN;
}

static void
restore_abort(void *wctx)
{
	restore_free(wctx);
}

static const struct zb_writer_ops restore_ops = {
	restore_write, restore_commit, restore_abort
};

static int
spool_open(struct s3 *s3)
{
	const char	*dir = getenv("TMPDIR");
	char		*tpl;
	int		 fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	tpl = xasprintf("%s/zb-s3-restore.XXXXXX", dir);
	fd = mkostemp(tpl, O_CLOEXEC);	/* mode 0600 */
	if (fd == -1)
		s3_log(s3, ZB_LOG_ERROR, "cannot create a spool file in %s: "
		    "%s", dir, strerror(errno));
	else
		(void)unlink(tpl);
	free(tpl);
	return fd;
}

int
s3_src_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	struct s3		*s3 = ctx;
	struct restore		*r;
	struct s3_req_spec	 s;
	const char		*target = req->target != NULL ? req->target :
				    req->stream;

	if (strchr(target, '/') != NULL)
		return s3->host->file_writer(w, target, req->force, ops,
		    wctx);
	if (!s3_src_bucket_ok(target)) {
		s3_log(s3, ZB_LOG_ERROR, "--to %s: not a bucket name; give a "
		    "path with a '/' to write the tar into a file", target);
		return ZB_ERR;
	}
	r = xcalloc(1, sizeof(*r));
	r->s3 = s3;
	r->w = w;
	r->bucket = xstrdup(target);
	r->force = req->force;
	r->loc = s3_src_utf8();
	r->buf = xmalloc(HASH_BUF);
	r->md = EVP_MD_CTX_new();
	r->fd = r->md != NULL ? spool_open(s3) : -1;
	if (r->fd == -1) {
		restore_free(r);
		return ZB_ERR;
	}
	/* Fail early, before the whole artifact went by, on a bad target. */
	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.bucket = r->bucket;
	s.query[s.nquery].name = "list-type";
	s.query[s.nquery++].value = "2";
	s.query[s.nquery].name = "max-keys";
	s.query[s.nquery++].value = "1";
	s.resp_max = 64 * 1024;
	s.done = on_probe;
	s.arg = r;
	r->probe = s3_req_start(s3, &s);
	if (r->probe == NULL) {
		restore_free(r);
		return ZB_ERR;
	}
	s3_log(s3, ZB_LOG_DEBUG, "restoring %s into s3://%s", req->artifact_id,
	    r->bucket);
	*ops = &restore_ops;
	*wctx = r;
	return ZB_OK;
}
