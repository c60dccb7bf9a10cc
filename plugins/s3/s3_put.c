/*
 * s3_put.c - the sink's put: one object from a stream.
 *
 * Bytes are copied into part buffers of part_size.  A stream that ends
 * before the first buffer is full becomes one PutObject.  Otherwise a
 * multipart upload is created when the first buffer fills, and every full
 * buffer is uploaded as a part while the next one fills; at most
 * max_uploads buffers exist at once (one filling, the rest uploading), so
 * part_size x max_uploads bounds the memory, and a full house makes
 * write() answer ZB_AGAIN: the stream's backpressure then pauses the
 * source.  commit uploads the last part and completes the upload; a
 * failure or abort aborts the multipart upload, so that no partial
 * object ever becomes visible.
 *
 * Every object the sink writes is new: none may replace an object of
 * another copy.  put_open asks HeadObject whether the key exists, and no
 * upload starts before the answer is 404 (a 200 fails the put); the
 * PutObject or CompleteMultipartUpload then carries If-None-Match: *, so
 * a server that implements conditional writes (AWS since 2024) also
 * refuses a key that appeared after the HEAD (412, or 409 for a
 * concurrent conditional write: both fail the put, a multipart upload is
 * aborted).  A server that answers 501 to the header is asked once more
 * without it, and the plugin stops sending it: the HEAD then is the
 * only check.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_buf.h"
#include "s3.h"

#define MAX_PARTS	10000		/* S3's limit */

struct put;

struct part {
	struct put	*put;
	int		 num;		/* 1.. */
	char		*data;
	size_t		 len;
	struct s3_req	*req;
};

struct put {
	struct s3		*s3;
	struct zb_io		*w;
	char			*key;
	char			 where[512];
	char			*upload_id;
	struct s3_req		*head;		/* HeadObject: exists? */
	struct s3_req		*create;	/* CreateMultipartUpload */
	struct s3_req		*final;		/* PutObject or Complete */
	struct part		*fill;		/* filling */
	struct part		*waiting[64];	/* full, no upload id yet */
	size_t			 nwaiting;
	struct part		**busy;		/* uploading */
	int			 nbusy;
	int			 nbuffers;	/* fill + waiting + busy */
	char			**etags;	/* by part number */
	int			 nparts;	/* parts started */
	uint64_t		 total;
	const struct zb_chunk	*cur;		/* chunk taken in pieces */
	size_t			 off;
	int			 blocked;
	int			 committing;
	int			 checked;	/* the key was not there */
	int			 cond;		/* If-None-Match sent */
	int			 closed;	/* aborted or reported */
	char			*error;
};

static void	start_part(struct put *, struct part *);
static void	complete(struct put *);
static void	single_put(struct put *);

static const char *
content_type(const char *key)
{
	size_t	 n = strlen(key);

	if (n > 5 && strcmp(key + n - 5, ".json") == 0)
		return "application/json";
	if (n > 7 && strcmp(key + n - 7, ".sha256") == 0)
		return "text/plain";
	return "application/octet-stream";
}

static void
part_free(struct part *p)
{
	if (p == NULL)
		return;
	s3_req_cancel(p->req);
	free(p->data);
	free(p);
}

static void
put_free(struct put *u)
{
	size_t	 i;
	int	 j;

	part_free(u->fill);
	for (i = 0; i < u->nwaiting; i++)
		part_free(u->waiting[i]);
	for (j = 0; j < u->nbusy; j++)
		part_free(u->busy[j]);
	s3_req_cancel(u->head);
	s3_req_cancel(u->create);
	s3_req_cancel(u->final);
	for (j = 0; j < u->nparts + 1 && u->etags != NULL; j++)
		free(u->etags[j]);
	free(u->etags);
	free(u->busy);
	free(u->upload_id);
	free(u->key);
	free(u->error);
	free(u);
}

/* Object Lock headers, when configured; also used by the multipart create. */
static void
lock_headers(struct put *u, struct s3_req_spec *s, char *until, size_t len)
{
	time_t		 t;
	struct tm	 tm;

	if (u->s3->lock_mode == NULL)
		return;
	t = time(NULL) + (time_t)u->s3->lock_days * 86400;
	gmtime_r(&t, &tm);
	strftime(until, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	s->headers[s->nheaders].name = "x-amz-object-lock-mode";
	s->headers[s->nheaders++].value = u->s3->lock_mode;
	s->headers[s->nheaders].name = "x-amz-object-lock-retain-until-date";
	s->headers[s->nheaders++].value = until;
}

/* If-None-Match: *, unless the server refused it before. */
static void
cond_header(struct put *u, struct s3_req_spec *s)
{
	u->cond = !u->s3->no_cond;
	if (!u->cond)
		return;
	s->headers[s->nheaders].name = "if-none-match";
	s->headers[s->nheaders++].value = "*";
}

/* ---- failure ----------------------------------------------------------------- */

static void
on_aborted(void *arg, struct s3_resp *r)
{
	struct put	*u = arg;

	u->final = NULL;
	if (!s3_ok(r) && strcmp(r->code, "NoSuchUpload") != 0)
		s3_log(u->s3, ZB_LOG_ERROR, "%s: cannot abort the multipart "
		    "upload (prune removes it later): %s", u->where, r->error);
	put_free(u);
}

/* Abort the multipart upload if there is one, then free u. */
static void
discard(struct put *u)
{
	struct s3_req_spec	 s;
	int			 j;
	size_t			 i;

	u->closed = 1;
	/* Nothing of ours may run any more, save the abort. */
	s3_req_cancel(u->head);
	u->head = NULL;
	s3_req_cancel(u->create);
	u->create = NULL;
	s3_req_cancel(u->final);
	u->final = NULL;
	for (j = 0; j < u->nbusy; j++)
		part_free(u->busy[j]);
	u->nbusy = 0;
	for (i = 0; i < u->nwaiting; i++)
		part_free(u->waiting[i]);
	u->nwaiting = 0;
	if (u->upload_id == NULL) {
		put_free(u);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.method = "DELETE";
	s.key = u->key;
	s.query[0].name = "uploadId";
	s.query[0].value = u->upload_id;
	s.nquery = 1;
	s.done = on_aborted;
	s.arg = u;
	u->final = s3_req_start(u->s3, &s);
	if (u->final == NULL)
		put_free(u);
}

/* Something failed: before commit the next write reports it; during
 * commit the commit ends. */
static void
fail(struct put *u, const char *msg)
{
	struct zb_io			*w = u->w;
	const struct zb_host_api	*host = u->s3->host;
	char				*m;

	if (u->closed || u->error != NULL)
		return;
	u->error = xstrdup(msg);
	if (u->committing) {
		m = xstrdup(msg);
		discard(u);	/* may free u */
		host->done(w, ZB_ERR, m);
		free(m);
		return;
	}
	if (u->blocked) {
		u->blocked = 0;
		u->s3->host->ready(w);
	}
}

/* ---- parts ------------------------------------------------------------------------ */

static struct part *
new_part(struct put *u)
{
	struct part	*p = xcalloc(1, sizeof(*p));

	p->put = u;
	p->data = malloc(u->s3->part_size);
	if (p->data == NULL) {
		free(p);
		return NULL;
	}
	u->nbuffers++;
	return p;
}

static void
unbusy(struct put *u, struct part *p)
{
	int	 j;

	for (j = 0; j < u->nbusy; j++)
		if (u->busy[j] == p) {
			u->busy[j] = u->busy[--u->nbusy];
			break;
		}
	u->nbuffers--;
}

static void
on_part(void *arg, struct s3_resp *r)
{
	struct part	*p = arg;
	struct put	*u = p->put;
	char		 msg[700];

	p->req = NULL;
	if (!s3_ok(r) || r->etag[0] == '\0') {
		snprintf(msg, sizeof(msg), "part %d: %s", p->num,
		    r->error[0] ? r->error : "no ETag in the answer");
		unbusy(u, p);
		part_free(p);
		fail(u, msg);
		return;
	}
	u->etags[p->num] = xstrdup(r->etag);
	unbusy(u, p);
	part_free(p);
	if (u->committing) {
		if (u->nbusy == 0 && u->nwaiting == 0)
			complete(u);
		return;
	}
	if (u->blocked) {
		u->blocked = 0;
		u->s3->host->ready(u->w);
	}
}

static void
upload_part(struct put *u, struct part *p)
{
	struct s3_req_spec	 s;
	char			 num[16], md5[25];

	snprintf(num, sizeof(num), "%d", p->num);
	memset(&s, 0, sizeof(s));
	s.method = "PUT";
	s.key = u->key;
	s.query[0].name = "partNumber";
	s.query[0].value = num;
	s.query[1].name = "uploadId";
	s.query[1].value = u->upload_id;
	s.nquery = 2;
	s.body = p->data;
	s.bodylen = p->len;
	if (u->s3->lock_mode != NULL) {
		s3_content_md5(p->data, p->len, md5);
		s.headers[0].name = "content-md5";
		s.headers[0].value = md5;
		s.nheaders = 1;
	}
	s.done = on_part;
	s.arg = p;
	u->busy = xreallocarray(u->busy, (size_t)u->nbusy + 1,
	    sizeof(*u->busy));
	u->busy[u->nbusy++] = p;
	p->req = s3_req_start(u->s3, &s);
	if (p->req == NULL) {
		unbusy(u, p);
		part_free(p);
		fail(u, "cannot start a part upload");
	}
}

static void
on_created(void *arg, struct s3_resp *r)
{
	struct put	*u = arg;
	struct s3_xml	 doc = { r->body, r->len };
	size_t		 i;

	u->create = NULL;
	if (s3_ok(r) && r->body != NULL)
		u->upload_id = s3_xml_text(&doc, "UploadId");
	if (u->upload_id == NULL || u->upload_id[0] == '\0') {
		fail(u, r->error[0] ? r->error : "CreateMultipartUpload gave "
		    "no UploadId");
		return;
	}
	s3_log(u->s3, ZB_LOG_DEBUG, "%s: multipart upload %s", u->where,
	    u->upload_id);
	for (i = 0; i < u->nwaiting; i++)
		upload_part(u, u->waiting[i]);
	u->nwaiting = 0;
	if (u->committing && u->nbusy == 0 && u->error == NULL)
		complete(u);
}

static void
create_upload(struct put *u)
{
	struct s3_req_spec	 s;
	char			 until[32];

	memset(&s, 0, sizeof(s));
	s.method = "POST";
	s.key = u->key;
	s.query[0].name = "uploads";
	s.nquery = 1;
	s.headers[0].name = "content-type";
	s.headers[0].value = content_type(u->key);
	s.nheaders = 1;
	lock_headers(u, &s, until, sizeof(until));
	s.resp_max = 64 * 1024;
	s.done = on_created;
	s.arg = u;
	u->create = s3_req_start(u->s3, &s);
	if (u->create == NULL)
		fail(u, "cannot start CreateMultipartUpload");
}

/* A full buffer (or the last one at commit) goes out as the next part. */
static void
start_part(struct put *u, struct part *p)
{
	if (u->nparts == MAX_PARTS) {
		part_free(p);
		u->nbuffers--;
		fail(u, "more than 10000 parts: raise part_size");
		return;
	}
	p->num = ++u->nparts;
	u->etags = xreallocarray(u->etags, (size_t)u->nparts + 1,
	    sizeof(*u->etags));
	u->etags[0] = NULL;	/* part numbers start at 1 */
	u->etags[p->num] = NULL;
	if (u->upload_id != NULL) {
		upload_part(u, p);
		return;
	}
	if (u->nwaiting == ZB_NELEM(u->waiting)) {
		part_free(p);
		u->nbuffers--;
		fail(u, "too many parts waiting for the upload id");
		return;
	}
	u->waiting[u->nwaiting++] = p;
	if (u->create == NULL && u->checked)
		create_upload(u);
}

/* ---- writer ops ---------------------------------------------------------------- */

static int
put_write(void *wctx, const struct zb_chunk *c)
{
	struct put	*u = wctx;
	size_t		 n;

	if (u->error != NULL) {
		if (strstr(u->error, u->where) != NULL)
			s3_log(u->s3, ZB_LOG_ERROR, "%s", u->error);
		else
			s3_log(u->s3, ZB_LOG_ERROR, "%s: %s", u->where,
			    u->error);
		return ZB_ERR;
	}
	if (u->cur != c) {
		u->cur = c;
		u->off = 0;
	}
	while (u->off < c->len) {
		if (u->fill == NULL) {
			if (u->nbuffers >= u->s3->max_uploads) {
				u->blocked = 1;	/* all buffers busy */
				return ZB_AGAIN;
			}
			u->fill = new_part(u);
			if (u->fill == NULL) {
				s3_log(u->s3, ZB_LOG_ERROR, "%s: out of memory "
				    "for a part buffer", u->where);
				return ZB_ERR;
			}
		}
		n = c->len - u->off;
		if (n > u->s3->part_size - u->fill->len)
			n = u->s3->part_size - u->fill->len;
		memcpy(u->fill->data + u->fill->len, c->data + u->off, n);
		u->fill->len += n;
		u->off += n;
		u->total += n;
		if (u->fill->len == u->s3->part_size) {
			struct part	*p = u->fill;

			u->fill = NULL;
			start_part(u, p);
			if (u->error != NULL)
				return ZB_ERR;
		}
	}
	u->cur = NULL;
	return ZB_OK;
}

/* The message for a put that failed for good (caller frees). */
static char *
final_error(struct put *u, const struct s3_resp *r)
{
	const char	*again = r->attempts > 1 ? "; an earlier attempt of "
	    "this request may have stored it" : "";

	if (r->status == 412 || strcmp(r->code, "PreconditionFailed") == 0)
		return xasprintf("%s already exists: refusing to replace "
		    "another copy (HTTP %ld %s%s)", u->where, r->status,
		    r->code, again);
	if (strcmp(r->code, "ConditionalRequestConflict") == 0)
		return xasprintf("%s is being written by another request: "
		    "refusing to replace another copy (HTTP %ld %s)", u->where,
		    r->status, r->code);
	return xstrdup(r->error[0] ? r->error : "the upload did not complete");
}

static void
on_final(void *arg, struct s3_resp *r)
{
	struct put	*u = arg;
	struct zb_io	*w = u->w;
	const struct zb_host_api *host = u->s3->host;
	int		 ok = s3_ok(r);

	u->final = NULL;
	if (!ok && u->cond && r->status == 501) {
		/* The HEAD in put_open checked the key; say so once. */
		if (!u->s3->no_cond)
			s3_log(u->s3, ZB_LOG_WARN, "%s: the server does not "
			    "implement If-None-Match on writes (%s): relying "
			    "on the HEAD before each upload from now on",
			    u->where, r->error);
		u->s3->no_cond = 1;
		if (u->nparts == 0)
			single_put(u);
		else
			complete(u);
		return;
	}
	if (!ok) {
		char	*m = final_error(u, r);

		u->error = xstrdup(m);
		discard(u);
		host->done(w, ZB_ERR, m);
		free(m);
		return;
	}
	s3_log(u->s3, ZB_LOG_DEBUG, "%s: stored, %llu bytes in %d part%s",
	    u->where, (unsigned long long)u->total, u->nparts > 0 ? u->nparts :
	    1, u->nparts > 1 ? "s" : "");
	u->closed = 1;
	free(u->upload_id);
	u->upload_id = NULL;
	put_free(u);
	host->done(w, ZB_OK, NULL);
}

static void
complete(struct put *u)
{
	struct s3_req_spec	 s;
	struct zb_buf		 b;
	int			 i;

	s3_buf_init(&b, (size_t)u->nparts * 200 + 256);
	s3_buf_puts(&b, "<CompleteMultipartUpload>");
	for (i = 1; i <= u->nparts; i++)
		s3_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s"
		    "</ETag></Part>", i, u->etags[i]);
	s3_buf_puts(&b, "</CompleteMultipartUpload>");
	if (b.failed) {
		s3_buf_free(&b);
		fail(u, "cannot build CompleteMultipartUpload");
		return;
	}
	/* The body must live as long as the request: keep it in fill. */
	part_free(u->fill);
	u->fill = xcalloc(1, sizeof(*u->fill));
	u->fill->len = b.len;
	u->fill->data = s3_buf_take(&b);
	memset(&s, 0, sizeof(s));
	s.method = "POST";
	s.key = u->key;
	s.query[0].name = "uploadId";
	s.query[0].value = u->upload_id;
	s.nquery = 1;
	s.headers[0].name = "content-type";
	s.headers[0].value = "application/xml";
	s.nheaders = 1;
	cond_header(u, &s);
	s.body = u->fill->data;
	s.bodylen = u->fill->len;
	s.sign_body = 1;
	s.resp_max = 64 * 1024;
	s.done = on_final;
	s.arg = u;
	u->final = s3_req_start(u->s3, &s);
	if (u->final == NULL)
		fail(u, "cannot start CompleteMultipartUpload");
}

static void
single_put(struct put *u)
{
	struct s3_req_spec	 s;
	char			 md5[25], until[32];

	if (u->fill == NULL)
		u->fill = xcalloc(1, sizeof(*u->fill));	/* empty object */
	memset(&s, 0, sizeof(s));
	s.method = "PUT";
	s.key = u->key;
	s.headers[0].name = "content-type";
	s.headers[0].value = content_type(u->key);
	s.nheaders = 1;
	if (u->s3->lock_mode != NULL) {
		s3_content_md5(u->fill->data != NULL ? u->fill->data : "",
		    u->fill->len, md5);
		s.headers[1].name = "content-md5";
		s.headers[1].value = md5;
		s.nheaders = 2;
		lock_headers(u, &s, until, sizeof(until));
	}
	cond_header(u, &s);
	s.body = u->fill->data;
	s.bodylen = u->fill->len;
	s.done = on_final;
	s.arg = u;
	u->final = s3_req_start(u->s3, &s);
	if (u->final == NULL)
		fail(u, "cannot start PutObject");
}

/* ---- the key must be new ------------------------------------------------- */

static void
on_head(void *arg, struct s3_resp *r)
{
	struct put	*u = arg;
	char		*m;

	u->head = NULL;
	if (r->status == 404) {
		u->checked = 1;
		s3_log(u->s3, ZB_LOG_DEBUG, "%s: not there yet (HEAD 404)",
		    u->where);
		if (u->error != NULL)
			return;		/* the next write or commit says so */
		if (u->nwaiting > 0)
			create_upload(u);
		else if (u->committing && u->nparts == 0)
			single_put(u);
		return;
	}
	if (s3_ok(r))
		m = xasprintf("%s already exists: refusing to replace another "
		    "copy", u->where);
	else
		m = xasprintf("%s: cannot tell whether the key exists, so "
		    "nothing is written%s", r->error[0] ? r->error : u->where,
		    r->status == 403 ? " (a HEAD answer has no error code: "
		    "wrong credentials, or no permission to read objects)" :
		    "");
	fail(u, m);	/* may free u */
	free(m);
}

/* HeadObject before anything is uploaded: 404 lets the upload start. */
static void
check_key(struct put *u)
{
	struct s3_req_spec	 s;

	memset(&s, 0, sizeof(s));
	s.method = "HEAD";
	s.key = u->key;
	s.done = on_head;
	s.arg = u;
	u->head = s3_req_start(u->s3, &s);
	if (u->head == NULL)
		fail(u, "cannot start HeadObject");
}

static int
put_commit(void *wctx)
{
	struct put			*u = wctx;
	struct zb_io			*w = u->w;
	const struct zb_host_api	*host = u->s3->host;
	struct part			*p;
	char				*m;

	u->committing = 1;
	if (u->error != NULL) {
		m = xstrdup(u->error);
		discard(u);	/* may free u */
		host->done(w, ZB_ERR, m);
		free(m);
		return ZB_AGAIN;
	}
	if (u->nparts == 0) {
		if (u->checked)
			single_put(u);	/* else on_head starts it */
		return ZB_AGAIN;
	}
	if (u->fill != NULL && u->fill->len > 0) {
		p = u->fill;
		u->fill = NULL;
		start_part(u, p);
	}
	if (u->error == NULL && u->upload_id != NULL && u->nbusy == 0 &&
	    u->nwaiting == 0)
		complete(u);
	return ZB_AGAIN;
}

static void
put_abort(void *wctx)
{
	discard(wctx);
}

static const struct zb_writer_ops put_ops = {
	put_write, put_commit, put_abort
};

int
s3_put_open(struct s3 *s3, struct zb_io *w, const char *key,
    const struct zb_writer_ops **ops, void **wctx)
{
	struct put	*u = xcalloc(1, sizeof(*u));

	u->s3 = s3;
	u->w = w;
	u->key = s3_full_key(s3, key);
	s3_where(s3, u->key, u->where, sizeof(u->where));
	check_key(u);
	*ops = &put_ops;
	*wctx = u;
	return ZB_OK;
}
