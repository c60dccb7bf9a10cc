/*
 * s3_list.c - the sink's list, remove and cleanup.
 *
 * list: ListObjectsV2 pages, followed by their continuation tokens.
 * remove: the host removes one object per call; removes that arrive in
 * the same turn of the loop are sent as one DeleteObjects request (up to
 * 1000 keys, with the Content-MD5 S3 requires), and each caller gets the
 * outcome for its own key.  A key whose delete Object Lock refused is
 * looked at with a HEAD (until when?) and ends with ZB_ERR_RETAINED.
 * list_pending (ABI 1.3): ListMultipartUploads under the prefix, each
 * upload reported with its key and upload id; remove_pending aborts one.
 * cleanup (hosts before ABI 1.3): ListMultipartUploads under the prefix,
 * and AbortMultipartUpload
 * for every upload initiated before the cut-off: what a crash mid-upload
 * leaves behind (it is invisible to list, but it is billed).
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3_buf.h"
#include "s3.h"

/* ---- list ------------------------------------------------------------------------ */

struct lister {
	struct s3	*s3;
	struct zb_io	*l;
	char		*prefix;	/* full */
	char		*token;		/* continuation */
	size_t		 n;
};

static int	list_page(struct lister *);

static void
lister_free(struct lister *ls)
{
	free(ls->prefix);
	free(ls->token);
	free(ls);
}

static void
list_end(struct lister *ls, int status, const char *msg)
{
	struct zb_io			*l = ls->l;
	const struct zb_host_api	*host = ls->s3->host;

	lister_free(ls);
	host->done(l, status, msg);
}

static void
on_page(void *arg, struct s3_resp *r)
{
	struct lister		*ls = arg;
	struct s3_xml		 doc = { r->body, r->len }, c;
	struct zb_list_entry	 e;
	size_t			 pos = 0, plen = strlen(ls->s3->prefix);
	char			*key, *size, *mod, *trunc;

	if (!s3_ok(r) || r->body == NULL) {
		list_end(ls, ZB_ERR, r->error[0] ? r->error : "empty listing");
		return;
	}
	while (s3_xml_next(&doc, "Contents", &pos, &c)) {
		key = s3_xml_text(&c, "Key");
		size = s3_xml_text(&c, "Size");
		mod = s3_xml_text(&c, "LastModified");
		if (key != NULL && strncmp(key, ls->s3->prefix, plen) == 0 &&
		    key[plen] != '\0') {
			memset(&e, 0, sizeof(e));
			e.key = key + plen;
			e.size = size != NULL ? strtoull(size, NULL, 10) : 0;
			e.mtime = mod != NULL ? s3_parse_time(mod) : 0;
			ls->s3->host->list_add(ls->l, &e);
			ls->n++;
		}
		free(key);
		free(size);
		free(mod);
	}
	trunc = s3_xml_text(&doc, "IsTruncated");
	free(ls->token);
	ls->token = s3_xml_text(&doc, "NextContinuationToken");
	if (trunc != NULL && strcmp(trunc, "true") == 0) {
		free(trunc);
		if (ls->token == NULL || ls->token[0] == '\0') {
			list_end(ls, ZB_ERR, "truncated listing without a "
			    "continuation token");
			return;
		}
		if (list_page(ls) == -1)
			list_end(ls, ZB_ERR, "cannot request the next page");
		return;
	}
	free(trunc);
	s3_log(ls->s3, ZB_LOG_DEBUG, "listed %zu objects under s3://%s/%s",
	    ls->n, ls->s3->bucket, ls->prefix);
	list_end(ls, ZB_OK, NULL);
}

static int
list_page(struct lister *ls)
{
	struct s3_req_spec	 s;

	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.query[s.nquery].name = "list-type";
	s.query[s.nquery++].value = "2";
	s.query[s.nquery].name = "prefix";
	s.query[s.nquery++].value = ls->prefix;
	if (ls->token != NULL) {
		s.query[s.nquery].name = "continuation-token";
		s.query[s.nquery++].value = ls->token;
	}
	s.resp_max = S3_XML_MAX;
	s.done = on_page;
	s.arg = ls;
	return s3_req_start(ls->s3, &s) != NULL ? 0 : -1;
}

int
s3_list(struct s3 *s3, struct zb_io *l, const char *prefix)
{
	struct lister	*ls = xcalloc(1, sizeof(*ls));

	ls->s3 = s3;
	ls->l = l;
	ls->prefix = s3_full_key(s3, prefix);
	if (list_page(ls) == -1) {
		lister_free(ls);
		return ZB_ERR;
	}
	return ZB_OK;
}

/* ---- remove: DeleteObjects batches ----------------------------------------- */

struct rm_op {
	struct zb_io	*op;
	char		*key;		/* full */
};

struct s3_delq {
	struct rm_op	*ops;
	size_t		 n;
	struct zb_timer	*timer;
};

struct batch {
	struct s3	*s3;
	struct rm_op	*ops;
	size_t		 n;
	char		*xml;
};

static void	flush(void *);

/*
 * The refusals of a delete that mean "a retention rule protects this
 * object" rather than "not allowed": AWS (a locked version) answers
 * 403 AccessDenied "Access Denied because object protected by object
 * lock."; MinIO answers "Object is WORM protected and cannot be
 * overwritten".  A plain AccessDenied (no permission) is not one.
 */
static int
lock_refusal(const char *code, const char *msg)
{
	static const char *const says[] = { "object lock", "worm protected" };
	size_t	 i, n;
	const char *p;

	if (code == NULL || msg == NULL || (strcmp(code, "AccessDenied") != 0 &&
	    strcmp(code, "InvalidRequest") != 0))
		return 0;
	for (i = 0; i < sizeof(says) / sizeof(says[0]); i++) {
		n = strlen(says[i]);
		for (p = msg; *p != '\0'; p++)
			if (strncasecmp(p, says[i], n) == 0)
				return 1;
	}
	return 0;
}

/* A header value fit for a message: printable, bounded. */
static void
printable(char *out, size_t outlen, const char *v)
{
	size_t	 i;

	for (i = 0; v[i] != '\0' && i + 1 < outlen; i++)
		out[i] = v[i] > ' ' && v[i] < 0x7f ? v[i] : '?';
	out[i] = '\0';
}

struct held {
	struct s3	*s3;
	struct zb_io	*op;
	char		*key;		/* full */
};

/*
 * After the HEAD of a refused key: done(ZB_ERR_RETAINED) saying until
 * when, from the x-amz-object-lock-* headers the HEAD answered with.
 */
static void
on_held_head(void *arg, struct s3_resp *r)
{
	struct held	*h = arg;
	const char	*mode = NULL, *until = NULL, *hold = NULL;
	char		 m[700], u[64], md[32];
	int		 legal;

	if (s3_ok(r)) {
		mode = s3_resp_header(r, "x-amz-object-lock-mode");
		until = s3_resp_header(r, "x-amz-object-lock-retain-until-date");
		hold = s3_resp_header(r, "x-amz-object-lock-legal-hold");
	}
	legal = hold != NULL && strcasecmp(hold, "ON") == 0;
	if (until != NULL) {
		printable(u, sizeof(u), until);
		printable(md, sizeof(md), mode != NULL ? mode : "?");
		snprintf(m, sizeof(m), "retained until %s (%s)%s", u, md,
		    legal ? " and by a legal hold" : "");
	} else if (legal)
		snprintf(m, sizeof(m), "retained by a legal hold");
	else
		snprintf(m, sizeof(m), "retained by Object Lock (until when "
		    "is not known: %s)", s3_ok(r) ? "no retention headers" :
		    r->error[0] ? r->error : "HEAD failed");
	h->s3->host->done(h->op, ZB_ERR_RETAINED, m);
	free(h->key);
	free(h);
}

/*
 * key's delete was refused by Object Lock: ask when the lock ends (HEAD;
 * it needs s3:GetObjectRetention and s3:GetObjectLegalHold to show it),
 * then end op with ZB_ERR_RETAINED.
 */
static void
held(struct s3 *s3, struct zb_io *op, const char *key)
{
	struct s3_req_spec	 s;
	struct held		*h;

	h = xcalloc(1, sizeof(*h));
	h->s3 = s3;
	h->op = op;
	h->key = xstrdup(key);
	memset(&s, 0, sizeof(s));
	s.method = "HEAD";
	s.key = h->key;
	s.keep_headers = 1;
	s.done = on_held_head;
	s.arg = h;
	if (s3_req_start(s3, &s) == NULL)
		on_held_head(h, &(struct s3_resp){ .curlcode = -1,
		    .error = "cannot start the HEAD" });
}

static void
on_deleted(void *arg, struct s3_resp *r)
{
	struct batch	*b = arg;
	struct s3_xml	 doc = { r->body, r->len }, e;
	size_t		 i, pos = 0;
	char		*key, *code, *msg, m[700];
	int		 failed, locked;

	for (i = 0; i < b->n; i++) {
		failed = !s3_ok(r) || (r->body != NULL &&
		    strstr(r->body, "<DeleteResult") == NULL);
		if (failed) {
			/* A server that refuses the whole batch for a lock. */
			msg = r->body != NULL ? s3_xml_text(&doc, "Message") :
			    NULL;
			locked = b->n == 1 && lock_refusal(r->code, msg);
			free(msg);
			if (locked)
				held(b->s3, b->ops[i].op, b->ops[i].key);
			else
				b->s3->host->done(b->ops[i].op, ZB_ERR,
				    r->error[0] ? r->error :
				    "DeleteObjects failed");
			continue;
		}
		/* Quiet mode: only the keys that failed are listed. */
		pos = 0;
		locked = 0;
		while (s3_xml_next(&doc, "Error", &pos, &e)) {
			key = s3_xml_text(&e, "Key");
			if (key != NULL && strcmp(key, b->ops[i].key) == 0) {
				code = s3_xml_text(&e, "Code");
				msg = s3_xml_text(&e, "Message");
				snprintf(m, sizeof(m), "delete s3://%s/%s: %s%s%s",
				    b->s3->bucket, key, code ? code : "error",
				    msg ? ": " : "", msg ? msg : "");
				locked = lock_refusal(code, msg);
				free(code);
				free(msg);
				failed = 1;
			}
			free(key);
			if (failed)
				break;
		}
		if (locked)
			held(b->s3, b->ops[i].op, b->ops[i].key);
		else
			b->s3->host->done(b->ops[i].op, failed ? ZB_ERR :
			    ZB_OK, failed ? m : NULL);
	}
	for (i = 0; i < b->n; i++)
		free(b->ops[i].key);
	free(b->ops);
	free(b->xml);
	free(b);
}

static void
flush(void *arg)
{
	struct s3		*s3 = arg;
	struct s3_delq		*q = s3->delq;
	struct s3_req_spec	 s;
	struct batch		*b;
	struct zb_buf		 x;
	char			 md5[25], *k;
	size_t			 i;

	q->timer = NULL;
	while (q->n > 0) {
		b = xcalloc(1, sizeof(*b));
		b->s3 = s3;
		b->n = q->n < S3_DELETE_BATCH ? q->n : S3_DELETE_BATCH;
		b->ops = xcalloc(b->n, sizeof(*b->ops));
		memcpy(b->ops, q->ops, b->n * sizeof(*b->ops));
		memmove(q->ops, q->ops + b->n, (q->n - b->n) * sizeof(*q->ops));
		q->n -= b->n;
		s3_buf_init(&x, S3_XML_MAX);
		s3_buf_puts(&x, "<Delete><Quiet>true</Quiet>");
		for (i = 0; i < b->n; i++) {
			k = s3_xml_escape(b->ops[i].key);
			s3_buf_printf(&x, "<Object><Key>%s</Key></Object>", k);
			free(k);
		}
		s3_buf_puts(&x, "</Delete>");
		if (x.failed) {
			s3_buf_free(&x);
			on_deleted(b, &(struct s3_resp){ .curlcode = -1,
			    .error = "delete batch too large" });
			continue;
		}
		b->xml = s3_buf_take(&x);
		s3_content_md5(b->xml, strlen(b->xml), md5);
		memset(&s, 0, sizeof(s));
		s.method = "POST";
		s.query[0].name = "delete";
		s.nquery = 1;
		s.headers[0].name = "content-md5";
		s.headers[0].value = md5;
		s.headers[1].name = "content-type";
		s.headers[1].value = "application/xml";
		s.nheaders = 2;
		s.body = b->xml;
		s.bodylen = strlen(b->xml);
		s.sign_body = 1;
		s.resp_max = S3_XML_MAX;
		s.done = on_deleted;
		s.arg = b;
		if (s3_req_start(s3, &s) == NULL)
			on_deleted(b, &(struct s3_resp){ .curlcode = -1,
			    .error = "cannot start DeleteObjects" });
	}
}

int
s3_remove(struct s3 *s3, struct zb_io *op, const char *key)
{
	struct s3_delq	*q;

	if (s3->delq == NULL)
		s3->delq = xcalloc(1, sizeof(*s3->delq));
	q = s3->delq;
	q->ops = xreallocarray(q->ops, q->n + 1, sizeof(*q->ops));
	q->ops[q->n].op = op;
	q->ops[q->n++].key = s3_full_key(s3, key);
	if (q->timer == NULL)
		q->timer = s3->host->timer_add(0, flush, s3);
	return ZB_OK;
}

void
s3_delq_free(struct s3 *s3)
{
	if (s3->delq == NULL)
		return;
	if (s3->delq->timer != NULL)
		s3->host->timer_del(s3->delq->timer);
	free(s3->delq->ops);
	free(s3->delq);
	s3->delq = NULL;
}

/* ---- cleanup: stale multipart uploads -------------------------------------- */

struct cleaner {
	struct s3	*s3;
	struct zb_io	*op;
	int		 report;	/* list_pending: report, abort none */
	time_t		 cutoff;
	char		*prefix;
	char		*key_marker, *id_marker;
	char		**keys, **ids;	/* to abort */
	size_t		 n, next;
	size_t		 aborted, failed;
	char		 err[600];	/* the listing failed */
};

static int	uploads_page(struct cleaner *);
static void	abort_next(struct cleaner *);

static void
cleaner_end(struct cleaner *c)
{
	struct zb_io			*op = c->op;
	const struct zb_host_api	*host = c->s3->host;
	char				 m[700];
	size_t				 i, failed = c->failed;

	if (c->report)
		failed = 0;
	if (c->aborted > 0 || failed > 0)
		s3_log(c->s3, failed ? ZB_LOG_WARN : ZB_LOG_INFO,
		    "s3://%s/%s: aborted %zu stale multipart upload%s%s",
		    c->s3->bucket, c->prefix, c->aborted,
		    c->aborted == 1 ? "" : "s", failed ? ", some failed" : "");
	if (c->err[0] != '\0') {
		snprintf(m, sizeof(m), "%s", c->err);
		failed++;
	} else
		snprintf(m, sizeof(m), "%zu multipart upload%s could not be "
		    "aborted", failed, failed == 1 ? "" : "s");
	for (i = 0; i < c->n; i++) {
		free(c->keys[i]);
		free(c->ids[i]);
	}
	free(c->keys);
	free(c->ids);
	free(c->prefix);
	free(c->key_marker);
	free(c->id_marker);
	free(c);
	host->done(op, failed ? ZB_ERR : ZB_OK, failed ? m : NULL);
}

static void
on_abort(void *arg, struct s3_resp *r)
{
	struct cleaner	*c = arg;

	if (s3_ok(r) || strcmp(r->code, "NoSuchUpload") == 0)
		c->aborted++;
	else {
		s3_log(c->s3, ZB_LOG_ERROR, "%s", r->error);
		c->failed++;
	}
	abort_next(c);
}

static void
abort_next(struct cleaner *c)
{
	struct s3_req_spec	 s;

	if (c->next == c->n) {
		cleaner_end(c);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.method = "DELETE";
	s.key = c->keys[c->next];
	s.query[0].name = "uploadId";
	s.query[0].value = c->ids[c->next];
	s.nquery = 1;
	s.done = on_abort;
	s.arg = c;
	s3_log(c->s3, ZB_LOG_INFO, "aborting the stale multipart upload of "
	    "s3://%s/%s", c->s3->bucket, c->keys[c->next]);
	c->next++;
	if (s3_req_start(c->s3, &s) == NULL) {
		c->failed++;
		abort_next(c);
	}
}

static void
report_pending(struct cleaner *c, const char *key, const char *id, time_t t)
{
	struct zb_pending_entry	 e;
	size_t			 plen = strlen(c->s3->prefix);

	if (strncmp(key, c->s3->prefix, plen) != 0)
		return;
	memset(&e, 0, sizeof(e));
	e.key = key + plen;
	e.handle = id;
	/* When it was started: ListParts could tell the newest part, at a
	 * request per upload; prune asks the run's marker instead. */
	e.mtime = t;
	c->s3->host->pending_add(c->op, &e);
}

static void
on_uploads(void *arg, struct s3_resp *r)
{
	struct cleaner	*c = arg;
	struct s3_xml	 doc = { r->body, r->len }, u;
	size_t		 pos = 0;
	char		*key, *id, *init, *trunc;
	time_t		 t;

	if (r->status == 501 || strcmp(r->code, "NotImplemented") == 0) {
		/* s3rver, for one: then it cannot keep uploads either. */
		s3_log(c->s3, ZB_LOG_INFO, "s3://%s: the server cannot list "
		    "multipart uploads (NotImplemented): no cleanup",
		    c->s3->bucket);
		cleaner_end(c);
		return;
	}
	if (!s3_ok(r) || r->body == NULL) {
		snprintf(c->err, sizeof(c->err), "listing multipart uploads: "
		    "%s", r->error[0] ? r->error : "empty answer");
		cleaner_end(c);
		return;
	}
	while (s3_xml_next(&doc, "Upload", &pos, &u)) {
		key = s3_xml_text(&u, "Key");
		id = s3_xml_text(&u, "UploadId");
		init = s3_xml_text(&u, "Initiated");
		t = init != NULL ? s3_parse_time(init) : -1;
		free(init);
		if (c->report && key != NULL && id != NULL && t != -1)
			report_pending(c, key, id, t);
		if (c->report || key == NULL || id == NULL || t == -1 ||
		    t > c->cutoff) {
			free(key);
			free(id);
			continue;
		}
		c->keys = xreallocarray(c->keys, c->n + 1, sizeof(*c->keys));
		c->ids = xreallocarray(c->ids, c->n + 1, sizeof(*c->ids));
		c->keys[c->n] = key;
		c->ids[c->n++] = id;
	}
	trunc = s3_xml_text(&doc, "IsTruncated");
	if (trunc != NULL && strcmp(trunc, "true") == 0) {
		free(c->key_marker);
		free(c->id_marker);
		c->key_marker = s3_xml_text(&doc, "NextKeyMarker");
		c->id_marker = s3_xml_text(&doc, "NextUploadIdMarker");
		free(trunc);
		if (uploads_page(c) == 0)
			return;
		snprintf(c->err, sizeof(c->err), "cannot request the next "
		    "page of multipart uploads");
		cleaner_end(c);
		return;
	}
	free(trunc);
	abort_next(c);
}

static int
uploads_page(struct cleaner *c)
{
	struct s3_req_spec	 s;

	memset(&s, 0, sizeof(s));
	s.method = "GET";
	s.query[s.nquery].name = "uploads";
	s.query[s.nquery++].value = NULL;
	s.query[s.nquery].name = "prefix";
	s.query[s.nquery++].value = c->prefix;
	if (c->key_marker != NULL) {
		s.query[s.nquery].name = "key-marker";
		s.query[s.nquery++].value = c->key_marker;
	}
	if (c->id_marker != NULL) {
		s.query[s.nquery].name = "upload-id-marker";
		s.query[s.nquery++].value = c->id_marker;
	}
	s.resp_max = S3_XML_MAX;
	s.done = on_uploads;
	s.arg = c;
	return s3_req_start(c->s3, &s) != NULL ? 0 : -1;
}

int
s3_list_pending(struct s3 *s3, struct zb_io *l, const char *prefix)
{
	struct cleaner	*c = xcalloc(1, sizeof(*c));

	c->s3 = s3;
	c->op = l;
	c->report = 1;
	c->prefix = s3_full_key(s3, prefix);
	if (uploads_page(c) == -1) {
		free(c->prefix);
		free(c);
		return ZB_ERR;
	}
	return ZB_OK;
}

struct pending_abort {
	struct s3	*s3;
	struct zb_io	*op;
};

static void
on_pending_abort(void *arg, struct s3_resp *r)
{
	struct pending_abort	*a = arg;
	struct zb_io		*op = a->op;
	const struct zb_host_api *host = a->s3->host;
	int			 ok;

	ok = s3_ok(r) || strcmp(r->code, "NoSuchUpload") == 0;
	free(a);
	host->done(op, ok ? ZB_OK : ZB_ERR, ok ? NULL : r->error);
}

int
s3_remove_pending(struct s3 *s3, struct zb_io *op, const char *key,
    const char *handle)
{
	struct pending_abort	*a;
	struct s3_req_spec	 s;
	char			*full;
	void			*q;

	if (handle == NULL || handle[0] == '\0')
		return ZB_ERR;
	a = xcalloc(1, sizeof(*a));
	a->s3 = s3;
	a->op = op;
	full = s3_full_key(s3, key);
	memset(&s, 0, sizeof(s));
	s.method = "DELETE";
	s.key = full;
	s.query[0].name = "uploadId";
	s.query[0].value = handle;
	s.nquery = 1;
	s.done = on_pending_abort;
	s.arg = a;
	q = s3_req_start(s3, &s);
	free(full);
	if (q == NULL) {
		free(a);
		return ZB_ERR;
	}
	return ZB_OK;
}

int
s3_cleanup(struct s3 *s3, struct zb_io *op, int64_t older_than_s)
{
	struct cleaner	*c = xcalloc(1, sizeof(*c));

	c->s3 = s3;
	c->op = op;
	c->cutoff = time(NULL) - (time_t)older_than_s;
	c->prefix = xstrdup(s3->prefix);
	if (uploads_page(c) == -1) {
		free(c->prefix);
		free(c);
		return ZB_ERR;
	}
	return ZB_OK;
}
