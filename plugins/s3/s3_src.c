/*
 * s3_src.c - the `s3' plugin as a source: whole buckets as tar streams.
 *
 * plan declares one stream per bucket (`buckets = a, b', or `all': the
 * buckets ListBuckets names), named after the bucket, extension tar.  A
 * stream is a pax tar of the bucket's objects whose keys start with the
 * `prefix' option (a plain key prefix here, not the sink's folder).  The
 * objects are listed a ListObjectsV2 page at a time and fetched with
 * streamed GETs one after another; a GET's body goes through the tar
 * writer into host->push as it arrives, so no object is ever held in
 * memory.  Owns struct backup (one stream) and struct planner.
 *
 * Invariants:
 *  - every tar header is written from the listing's Size, and an object
 *    whose GET gives other bytes fails the stream (If-Match pins the GET
 *    to the listed ETag, so a replaced object answers 412);
 *  - while the host has the stream paused nothing new starts: on_data
 *    answers CURL_WRITEFUNC_PAUSE, and the next object or page waits for
 *    resume();
 *  - host->done is never called from inside a curl callback: an error
 *    there is kept and reported from the request's done callback;
 *  - a failed or closed stream never ends in a valid tar trailer;
 *  - libarchive runs under a C.UTF-8 LC_CTYPE (uselocale, undone before
 *    each call returns), because it converts names from the thread's
 *    locale and S3 keys are UTF-8.
 */
#include "zb-build.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3_buf.h"
#include "s3.h"
#include "s3_src.h"

#define TAR_BLOCK	(64 * 1024)	/* bytes per push: under a chunk */
#define TAR_RECORD	10240		/* tar(1)'s record, for the end */

struct s3_src_obj {
	char		*key;
	char		*etag;		/* as listed, quotes included */
	uint64_t	 size;
	time_t		 mtime;
};

struct backup {
	struct s3		*s3;
	struct zb_io		*s;
	char			*bucket;
	char			*prefix;	/* raw option value */
	struct archive		*tar;
	locale_t		 loc;		/* C.UTF-8, or 0: raw names */

	struct s3_req		*list;		/* ListObjectsV2 in flight */
	char			*token;		/* next page, if truncated */
	int			 truncated;
	struct s3_src_obj	*objs;		/* this page */
	size_t			 nobjs, next;

	struct s3_src_obj	*cur;		/* being fetched */
	struct s3_req		*get;
	uint64_t		 got;		/* bytes of cur in the tar */
	int			 header_done;
	int			 resumes;
	char			*error;		/* from a curl callback */

	struct zb_timer		*step_timer;
	int			 paused;	/* by the host */
	int			 curl_paused;	/* on_data answered PAUSE */
	int			 torn_down;	/* push said ZB_ERR */
	int			 finished;	/* done() was called */
	int			 closing;	/* refuse further tar output */
	int64_t			 nobjects;
	uint64_t		 nbytes;
	int64_t			 nvanished;
};

static void	step(struct backup *);

/* ---- names, locale ---------------------------------------------------- */

int
s3_src_bucket_ok(const char *b)
{
	size_t	 n = strlen(b), i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') ||
		    (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
		    b[i] == '.'))
			return 0;
	return b[0] != '.' && b[0] != '-';
}

char *
s3_src_text(char *s)
{
	unsigned char	*p;

	/* Keys are arbitrary: one must not forge a log line. */
	for (p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

locale_t
s3_src_utf8(void)
{
	return newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t
s3_src_enter(locale_t loc)
{
	return loc != (locale_t)0 ? uselocale(loc) : (locale_t)0;
}

void
s3_src_leave(locale_t old)
{
	if (old != (locale_t)0)
		(void)uselocale(old);
}

/* %XX and '+' decoding of encoding-type=url keys (caller frees). */
static char *
url_decode(const char *s)
{
	char		*out = xmalloc(strlen(s) + 1), *q = out, hex[3];

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*q++ = ' ';
		else if (*s == '%' && s[1] != '\0' && s[2] != '\0' &&
		    strchr("0123456789abcdefABCDEF", s[1]) != NULL &&
		    strchr("0123456789abcdefABCDEF", s[2]) != NULL) {
			hex[0] = s[1];
			hex[1] = s[2];
			hex[2] = '\0';
			*q++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else
			*q++ = *s;
	}
	*q = '\0';
	return out;
}

/* ---- plan ------------------------------------------------------------- */

int
s3_src_check(const struct zb_host_api *host, struct zb_inst *inst)
{
	size_t		 i, n = host->cfg_list_len(inst, "buckets");
	const char	*b;

	for (i = 0; i < n; i++) {
		b = host->cfg_list_item(inst, "buckets", i);
		if (strcmp(b, "all") == 0 && n == 1)
			continue;
		if (strcmp(b, "all") == 0)
			return host->cfg_error(inst, "buckets", "`all' stands "
			    "alone");
		if (!s3_src_bucket_ok(b))
			return host->cfg_error(inst, "buckets", "%s: not a "
			    "bucket name (3-63 of a-z 0-9 . -)", b);
	}
	return ZB_OK;
}

struct planner {
	struct s3	*s3;
	struct zb_io	*run;
};

static void
on_buckets(void *arg, struct s3_resp *r)
{
	struct planner			*p = arg;
	struct zb_io			*run = p->run;
	const struct zb_host_api	*host = p->s3->host;
	struct s3_xml			 doc = { r->body, r->len }, e;
	size_t				 pos = 0, n = 0;
	char				*name, msg[700];
	int				 bad = 0;

	if (!s3_ok(r) || r->body == NULL) {
		snprintf(msg, sizeof(msg), "ListBuckets: %s", r->error[0] ?
		    r->error : "empty answer");
		free(p);
		host->done(run, ZB_ERR, msg);
		return;
	}
	while (!bad && s3_xml_next(&doc, "Bucket", &pos, &e)) {
		name = s3_xml_text(&e, "Name");
		if (name != NULL && host->add_stream(run, name, "tar") == ZB_OK)
			n++;
		else {
			snprintf(msg, sizeof(msg), "ListBuckets: cannot back "
			    "up bucket %s", name != NULL ? name : "(no name)");
			bad = 1;
		}
		free(name);
	}
	if (!bad && n == 0) {
		snprintf(msg, sizeof(msg), "ListBuckets: there are no "
		    "buckets");
		bad = 1;
	}
	if (!bad)
		s3_log(p->s3, ZB_LOG_DEBUG, "buckets = all: %zu buckets", n);
	free(p);
	host->done(run, bad ? ZB_ERR : ZB_OK, bad ? msg : NULL);
}

int
s3_src_plan(void *ctx, struct zb_io *run)
{
	struct s3		*s3 = ctx;
	const struct zb_host_api *host = s3->host;
	struct s3_req_spec	 s;
	struct planner		*p;
	size_t			 i, n = host->cfg_list_len(s3->inst, "buckets");
	const char		*b;

	if (n == 1 && strcmp(host->cfg_list_item(s3->inst, "buckets", 0),
	    "all") == 0) {
		p = xcalloc(1, sizeof(*p));
		p->s3 = s3;
		p->run = run;
		memset(&s, 0, sizeof(s));
		s.method = "GET";
		s.bucket = "";
		s.resp_max = S3_XML_MAX;
		s.done = on_buckets;
		s.arg = p;
		if (s3_req_start(s3, &s) == NULL) {
			free(p);
			return ZB_ERR;
		}
		return ZB_OK;
	}
	for (i = 0; i < n; i++) {
		b = host->cfg_list_item(s3->inst, "buckets", i);
		if (host->add_stream(run, b, "tar") != ZB_OK)
			return ZB_ERR;
	}
	host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

/* ---- backup: the tar writer ------------------------------------------- */

static la_ssize_t
tar_push(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct backup	*b = arg;
	int		 rc;

	if (b->closing || b->torn_down || b->finished) {
		archive_set_error(a, ECANCELED, "the stream has ended");
		return -1;
	}
	rc = b->s3->host->push(b->s, buf, len);
	if (rc == ZB_ERR) {
		b->torn_down = 1;
		archive_set_error(a, ECANCELED, "the stream is torn down");
		return -1;
	}
	if (rc == ZB_AGAIN)
		b->paused = 1;	/* taken; pause() was called too */
	return (la_ssize_t)len;
}

static int
tar_open(struct backup *b)
{
	locale_t	 old;
	int		 rc = 0;

	b->tar = archive_write_new();
	if (b->tar == NULL)
		return -1;
	old = s3_src_enter(b->loc);
	if (archive_write_set_format_pax(b->tar) != ARCHIVE_OK ||
	    (b->loc == (locale_t)0 && archive_write_set_format_option(b->tar,
	    "pax", "hdrcharset", "BINARY") != ARCHIVE_OK) ||
	    archive_write_add_filter_none(b->tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(b->tar, TAR_BLOCK) !=
	    ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(b->tar, TAR_RECORD) !=
	    ARCHIVE_OK ||
	    archive_write_open2(b->tar, b, NULL, tar_push, NULL, NULL) !=
	    ARCHIVE_OK) {
		s3_log(b->s3, ZB_LOG_ERROR, "s3://%s: tar writer: %s",
		    b->bucket, archive_error_string(b->tar));
		rc = -1;
	}
	s3_src_leave(old);
	return rc;
}

static void
tar_free(struct backup *b)
{
	locale_t	 old;

	if (b->tar == NULL)
		return;
	old = s3_src_enter(b->loc);
	b->closing = 1;		/* no trailer for a stream cut short */
	(void)archive_write_close(b->tar);
	archive_write_free(b->tar);
	s3_src_leave(old);
	b->tar = NULL;
}

static void
xattr(struct archive_entry *e, const char *name, const char *val)
{
	archive_entry_xattr_add_entry(e, name, val, strlen(val));
}

/*
 * The member for b->cur: name = key, the listing's size and time, the
 * content type and user metadata as xattrs.  A folder marker (a key
 * ending in '/', empty) is a directory member; a key ending in '/' with
 * data cannot be a file member of that name (readers take it for a
 * directory), so it is stored without the slashes and its real key goes
 * into user.s3.key.  Returns 0, or -1 with b->error set.
 */
static int
write_header(struct backup *b, const struct s3_resp *r)
{
	struct s3_src_obj	*o = b->cur;
	struct archive_entry	*e;
	const char		*ct;
	char			*name, *an;
	size_t			 i, n = strlen(o->key);
	locale_t		 old;
	int			 rc;

	e = archive_entry_new();
	if (e == NULL) {
		b->error = xstrdup("out of memory");
		return -1;
	}
	name = xstrdup(o->key);
	if (n > 0 && o->key[n - 1] == '/' && o->size == 0)
		archive_entry_set_filetype(e, AE_IFDIR);
	else {
		archive_entry_set_filetype(e, AE_IFREG);
		if (n > 0 && o->key[n - 1] == '/') {
			while (n > 0 && name[n - 1] == '/')
				name[--n] = '\0';
			xattr(e, S3_SRC_XATTR_KEY, o->key);
		}
	}
	old = s3_src_enter(b->loc);
	if (b->loc != (locale_t)0)
		rc = archive_entry_update_pathname_utf8(e, name) ? 0 : -1;
	else {
		archive_entry_copy_pathname(e, name);
		rc = 0;
	}
	archive_entry_set_perm(e, archive_entry_filetype(e) == AE_IFDIR ?
	    0755 : 0644);
	archive_entry_set_size(e, (la_int64_t)o->size);
	archive_entry_set_mtime(e, o->mtime, 0);
	ct = s3_resp_header(r, "content-type");
	if (ct != NULL)
		xattr(e, S3_SRC_XATTR_CTYPE, ct);
	for (i = 0; i < r->nhdrs; i++) {
		if (strncmp(r->hdrs[i].name, "x-amz-meta-", 11) != 0)
			continue;
		an = xasprintf("%s%s", S3_SRC_XATTR_META, r->hdrs[i].name + 11);
		xattr(e, an, r->hdrs[i].value);
		free(an);
	}
	if (rc == 0 && archive_write_header(b->tar, e) != ARCHIVE_OK)
		rc = -2;
	s3_src_leave(old);
	if (rc == -1)
		b->error = xasprintf("s3://%s/%s: the key is not UTF-8",
		    b->bucket, o->key);
	else if (rc == -2 && !b->torn_down)
		b->error = xasprintf("s3://%s/%s: tar header: %s", b->bucket,
		    o->key, archive_error_string(b->tar));
	archive_entry_free(e);
	free(name);
	if (rc == 0)
		b->header_done = 1;
	return rc == 0 ? 0 : -1;
}

/* ---- backup: flow ----------------------------------------------------- */

static void
objs_free(struct backup *b)
{
	size_t	 i;

	for (i = 0; i < b->nobjs; i++) {
		free(b->objs[i].key);
		free(b->objs[i].etag);
	}
	free(b->objs);
	b->objs = NULL;
	b->nobjs = b->next = 0;
}

static void
fail(struct backup *b, const char *msg)
{
	char	*m;

	if (b->finished || b->torn_down)
		return;
	b->finished = 1;
	s3_req_cancel(b->get);
	b->get = NULL;
	s3_req_cancel(b->list);
	b->list = NULL;
	m = s3_src_text(xstrdup(msg));
	b->s3->host->done(b->s, ZB_ERR, m);
	free(m);
}

static void
finish(struct backup *b)
{
	const struct zb_host_api	*host = b->s3->host;
	locale_t			 old;
	int				 rc;
	char				 msg[300];

	old = s3_src_enter(b->loc);
	rc = archive_write_close(b->tar);
	s3_src_leave(old);
	if (b->torn_down)
		return;
	if (rc != ARCHIVE_OK) {
		snprintf(msg, sizeof(msg), "s3://%s: tar writer: %s",
		    b->bucket, archive_error_string(b->tar));
		fail(b, msg);
		return;
	}
	host->fact_str(b->s, NULL, "bucket", b->bucket);
	if (b->prefix[0] != '\0')
		host->fact_str(b->s, NULL, "prefix", b->prefix);
	host->fact_int(b->s, NULL, "objects", b->nobjects);
	host->fact_int(b->s, NULL, "bytes", (int64_t)b->nbytes);
	s3_log(b->s3, ZB_LOG_INFO, "s3://%s/%s: %lld objects, %llu bytes%s",
	    b->bucket, b->prefix, (long long)b->nobjects,
	    (unsigned long long)b->nbytes, b->nvanished > 0 ?
	    " (some vanished during the backup)" : "");
	b->finished = 1;
	host->done(b->s, ZB_OK, NULL);
}

static size_t
on_data(void *arg, const char *p, size_t n)
{
	struct backup	*b = arg;
	const struct s3_resp *r;
	locale_t	 old;
	la_ssize_t	 w;

	if (b->torn_down || b->finished || b->error != NULL)
		return 0;
	if (b->paused) {
		if (!b->curl_paused)
			s3_log(b->s3, ZB_LOG_DEBUG, "s3://%s: GET paused at "
			    "byte %llu of an object", b->bucket,
			    (unsigned long long)b->got);
		b->curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (!b->header_done) {
		r = s3_req_resp(b->get);
		if (r->has_length && r->content_length + b->got !=
		    b->cur->size) {
			b->error = xasprintf("s3://%s/%s changed while it was "
			    "backed up (listed with %llu bytes, GET gives "
			    "%llu)",
			    b->bucket, b->cur->key,
			    (unsigned long long)b->cur->size,
			    (unsigned long long)r->content_length);
			return 0;
		}
		if (write_header(b, r) == -1)
			return 0;
	}
	if (n > b->cur->size - b->got) {
		b->error = xasprintf("s3://%s/%s changed while it was backed "
		    "up (more than the %llu bytes listed)", b->bucket,
		    b->cur->key, (unsigned long long)b->cur->size);
		return 0;
	}
	old = s3_src_enter(b->loc);
	w = archive_write_data(b->tar, p, n);
	s3_src_leave(old);
	if (w != (la_ssize_t)n) {
		if (!b->torn_down)
			b->error = xasprintf("s3://%s/%s: tar writer: %s",
			    b->bucket, b->cur->key,
			    archive_error_string(b->tar));
		return 0;
	}
	b->got += n;
	return n;
}

static int	start_get(struct backup *);

/* The object is complete in the tar: close its member, go on. */
static void
object_done(struct backup *b, const struct s3_resp *r)
{
	locale_t	 old;
	int		 rc;
	char		*m;

	if (!b->header_done && write_header(b, r) == -1)
		goto failed;
	if (b->got != b->cur->size) {
		b->error = xasprintf("s3://%s/%s changed while it was backed "
		    "up (listed with %llu bytes, GET gave %llu)", b->bucket,
		    b->cur->key, (unsigned long long)b->cur->size,
		    (unsigned long long)b->got);
		goto failed;
	}
	old = s3_src_enter(b->loc);
	rc = archive_write_finish_entry(b->tar);
	s3_src_leave(old);
	if (b->torn_down)
		return;
	if (rc != ARCHIVE_OK) {
		b->error = xasprintf("s3://%s/%s: tar writer: %s", b->bucket,
		    b->cur->key, archive_error_string(b->tar));
		goto failed;
	}
	b->nobjects++;
	b->nbytes += b->cur->size;
	s3_log(b->s3, ZB_LOG_DEBUG, "s3://%s/%s: %llu bytes", b->bucket,
	    s3_src_text(b->cur->key), (unsigned long long)b->cur->size);
	b->cur = NULL;
	step(b);
	return;
failed:
	if (b->torn_down)
		return;
	m = b->error;
	b->error = NULL;
	fail(b, m);
	free(m);
}

static void
on_get(void *arg, struct s3_resp *r)
{
	struct backup	*b = arg;
	char		 msg[700], *m;

	b->get = NULL;
	b->curl_paused = 0;
	if (b->torn_down || b->finished)
		return;		/* close() follows */
	if (b->error != NULL) {
		m = b->error;
		b->error = NULL;
		fail(b, m);
		free(m);
		return;
	}
	if (s3_ok(r)) {
		object_done(b, r);
		return;
	}
	if (r->status == 404 && !b->header_done) {
		/* Deleted since the listing: as if it had not been listed. */
		s3_log(b->s3, ZB_LOG_WARN, "s3://%s/%s vanished during the "
		    "backup", b->bucket, s3_src_text(b->cur->key));
		b->nvanished++;
		b->cur = NULL;
		step(b);
		return;
	}
	if (r->status == 412 || r->status == 416) {
		snprintf(msg, sizeof(msg), "s3://%s/%s changed while it was "
		    "backed up", b->bucket, b->cur->key);
		fail(b, msg);
		return;
	}
	/* A GET cut off mid-body: go on from there, pinned by If-Match. */
	if (b->got > 0 && b->resumes < b->s3->retries &&
	    (r->curlcode != CURLE_OK || r->status >= 500)) {
		b->resumes++;
		s3_log(b->s3, ZB_LOG_WARN, "%s; resuming at byte %llu (%d of "
		    "%d)", r->error, (unsigned long long)b->got, b->resumes,
		    b->s3->retries);
		if (start_get(b) == 0)
			return;
	}
	snprintf(msg, sizeof(msg), "%s", r->error[0] ? r->error :
	    "GET failed");
	fail(b, msg);
}

static int
start_get(struct backup *b)
{
	struct s3_req_spec	 s;
	char			 range[64];

	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.bucket = b->bucket;
	s.key = b->cur->key;
	if (b->cur->etag != NULL && b->cur->etag[0] != '\0') {
		s.headers[s.nheaders].name = "if-match";
		s.headers[s.nheaders++].value = b->cur->etag;
	}
	if (b->got > 0) {
		snprintf(range, sizeof(range), "bytes=%llu-",
		    (unsigned long long)b->got);
		s.headers[s.nheaders].name = "range";
		s.headers[s.nheaders++].value = range;
	}
	s.keep_headers = 1;
	s.on_data = on_data;
	s.done = on_get;
	s.arg = b;
	b->get = s3_req_start(b->s3, &s);
	return b->get != NULL ? 0 : -1;
}

static void
on_page(void *arg, struct s3_resp *r)
{
	struct backup		*b = arg;
	struct s3_xml		 doc = { r->body, r->len }, c;
	struct s3_src_obj	*o;
	size_t			 pos = 0;
	char			*key, *size, *mod, *etag, *trunc, msg[700];

	b->list = NULL;
	if (!s3_ok(r) || r->body == NULL) {
		snprintf(msg, sizeof(msg), "s3://%s: %s", b->bucket,
		    r->error[0] ? r->error : "empty listing");
		fail(b, msg);
		return;
	}
	objs_free(b);
	while (s3_xml_next(&doc, "Contents", &pos, &c)) {
		key = s3_xml_text(&c, "Key");
		size = s3_xml_text(&c, "Size");
		mod = s3_xml_text(&c, "LastModified");
		etag = s3_xml_text(&c, "ETag");
		if (key != NULL && size != NULL) {
			b->objs = xreallocarray(b->objs, b->nobjs + 1,
			    sizeof(*b->objs));
			o = &b->objs[b->nobjs++];
			o->key = url_decode(key);
			o->size = strtoull(size, NULL, 10);
			o->mtime = mod != NULL ? s3_parse_time(mod) : 0;
			if (o->mtime == -1)
				o->mtime = 0;
			o->etag = etag;
			etag = NULL;
		}
		free(key);
		free(size);
		free(mod);
		free(etag);
	}
	trunc = s3_xml_text(&doc, "IsTruncated");
	b->truncated = trunc != NULL && strcmp(trunc, "true") == 0;
	free(trunc);
	free(b->token);
	b->token = s3_xml_text(&doc, "NextContinuationToken");
	if (b->truncated && (b->token == NULL || b->token[0] == '\0')) {
		snprintf(msg, sizeof(msg), "s3://%s: truncated listing "
		    "without a continuation token", b->bucket);
		fail(b, msg);
		return;
	}
	step(b);
}

static int
list_page(struct backup *b)
{
	struct s3_req_spec	 s;

	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.bucket = b->bucket;
	s.query[s.nquery].name = "list-type";
	s.query[s.nquery++].value = "2";
	s.query[s.nquery].name = "prefix";
	s.query[s.nquery++].value = b->prefix;
	/* Keys may hold characters XML 1.0 cannot carry. */
	s.query[s.nquery].name = "encoding-type";
	s.query[s.nquery++].value = "url";
	if (b->token != NULL) {
		s.query[s.nquery].name = "continuation-token";
		s.query[s.nquery++].value = b->token;
	}
	s.resp_max = S3_XML_MAX;
	s.done = on_page;
	s.arg = b;
	b->list = s3_req_start(b->s3, &s);
	return b->list != NULL ? 0 : -1;
}

/* Start what comes next, unless paused or something is in flight. */
static void
step(struct backup *b)
{
	char	 msg[300];

	if (b->finished || b->torn_down || b->paused || b->get != NULL ||
	    b->list != NULL)
		return;
	if (b->next < b->nobjs) {
		b->cur = &b->objs[b->next++];
		b->got = 0;
		b->header_done = 0;
		b->resumes = 0;
		if (start_get(b) == -1) {
			snprintf(msg, sizeof(msg), "s3://%s: cannot start a "
			    "GET", b->bucket);
			fail(b, msg);
		}
		return;
	}
	if (b->truncated) {
		b->truncated = 0;
		if (list_page(b) == -1) {
			snprintf(msg, sizeof(msg), "s3://%s: cannot request "
			    "the next page", b->bucket);
			fail(b, msg);
		}
		return;
	}
	finish(b);
}

static void
on_step(void *arg)
{
	struct backup	*b = arg;

	b->step_timer = NULL;
	step(b);
}

static void
backup_pause(void *pctx)
{
	((struct backup *)pctx)->paused = 1;
}

static void
backup_resume(void *pctx)
{
	struct backup	*b = pctx;

	b->paused = 0;
	if (b->curl_paused && b->get != NULL) {
		b->curl_paused = 0;
		s3_req_resume(b->get);
	} else if (b->get == NULL && b->list == NULL &&
	    b->step_timer == NULL && !b->finished)
		b->step_timer = b->s3->host->timer_add(0, on_step, b);
}

static void
backup_free(struct backup *b)
{
	if (b->step_timer != NULL)
		b->s3->host->timer_del(b->step_timer);
	s3_req_cancel(b->get);
	s3_req_cancel(b->list);
	tar_free(b);
	objs_free(b);
	if (b->loc != (locale_t)0)
		freelocale(b->loc);
	free(b->token);
	free(b->error);
	free(b->bucket);
	free(b->prefix);
	free(b);
}

static void
backup_close(void *pctx)
{
	backup_free(pctx);
}

static const struct zb_producer_ops backup_ops = {
	backup_pause, backup_resume, backup_close
};

int
s3_src_open(void *ctx, struct zb_io *s, const struct zb_producer_ops **ops,
    void **pctx)
{
	struct s3	*s3 = ctx;
	struct backup	*b = xcalloc(1, sizeof(*b));
	const char	*prefix = s3->host->cfg_str(s3->inst, "prefix");

	b->s3 = s3;
	b->s = s;
	b->bucket = xstrdup(s3->host->stream_name(s));
	b->prefix = xstrdup(prefix != NULL ? prefix : "");
	b->loc = s3_src_utf8();
	if (b->loc == (locale_t)0)
		s3_log(s3, ZB_LOG_WARN, "no C.UTF-8 locale: tar member names "
		    "are written as raw bytes (hdrcharset=BINARY)");
	if (tar_open(b) == -1 || list_page(b) == -1) {
		backup_free(b);
		return ZB_ERR;
	}
	*ops = &backup_ops;
	*pctx = b;
	return ZB_OK;
}
