/*
 * n8n_backup.c - the `workflows' stream: every workflow of the instance
 * as one JSON document,
 *
 *	{"format":"zentoria-backupd/n8n-workflows","version":1,
 *	 "workflows":[
 *	<workflow as GET /workflows/{id} gave it>,
 *	...
 *	],"credentials":[{"id":..,"name":..,"type":..},...] | null}
 *
 * in id order, so that two backups of the same instance are the same
 * bytes.  The list API pages in the database's order, not by id, so the
 * stream makes two passes: it pages through GET /workflows (limit =
 * page_size, then nextCursor) keeping only the ids, sorts them, then
 * GETs each workflow by id and pushes it as it comes.  Memory is one page
 * plus the ids, never the whole instance.  Credential metadata (names
 * and types; the API never returns the secrets) is listed between the
 * passes.  A workflow deleted between the passes (404) is left out with
 * a warning.
 *
 * Owns struct n8n_backup: the producer (pause/resume/close) and its
 * one request in flight.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

#define PUSH_SLICE	65536
#define MAX_TAGS	10000

enum phase { LIST, CREDS, FETCH, TAIL, FINISHED };

struct n8n_backup {
	struct n8n		*n;
	const struct zb_host_api *host;
	struct zb_io		*s;
	struct zb_http_req	*req;
	enum phase		 phase;
	char			*cursor;
	char			**ids;
	size_t			 nids, capids, idx;
	char			**creds;	/* one JSON object each */
	size_t			 ncreds, capcreds;
	int			 creds_listed;
	char			**tags;		/* distinct names */
	size_t			 ntags, captags;
	int64_t			 nwf, nactive;
	struct zb_buf		 out;
	size_t			 outoff;
	int			 paused, ended, header;
};

static void	next_step(struct n8n_backup *);

static int
grow(char ***v, size_t *cap, size_t n)
{
	char	**nv;
	size_t	  nc;

	if (n < *cap)
		return 0;
	nc = *cap == 0 ? 256 : *cap * 2;
	nv = realloc(*v, nc * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

static void
strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void	fail(struct n8n_backup *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
fail(struct n8n_backup *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];
	int	 n;

	if (b->ended)
		return;
	b->ended = 1;
	b->phase = FINISHED;
	/* The job's line shows the message: name the source in it. */
	n = snprintf(msg, sizeof(msg), "%s: ", b->host->inst_name(b->n->inst));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	b->host->done(b->s, ZB_ERR, msg);
}

/* A failed answer: its line, naming what was asked. */
static void
fail_resp(struct n8n_backup *b, const char *what,
    const struct zb_http_resp *r)
{
	fail(b, "%s: %s", what, r->error[0] != '\0' ? r->error :
	    "failed");
}

static int
ok_status(const struct zb_http_resp *r)
{
	return r->curlcode == 0 && r->status >= 200 && r->status < 300;
}

/* Push what is in out; 1 when it all went, 0 when paused or torn down. */
static int
flush(struct n8n_backup *b)
{
	size_t	 n;
	int	 rc;

	while (b->outoff < b->out.len) {
		n = b->out.len - b->outoff;
		if (n > PUSH_SLICE)
			n = PUSH_SLICE;
		rc = b->host->push(b->s, b->out.data + b->outoff, n);
		if (rc == ZB_ERR) {
			b->ended = 1;	/* torn down: close() follows */
			b->phase = FINISHED;
			return 0;
		}
		b->outoff += n;
		if (rc == ZB_AGAIN)
			return 0;	/* paused: resume() goes on */
	}
	b->out.len = 0;
	b->outoff = 0;
	if (b->out.data != NULL)
		b->out.data[0] = '\0';
	return 1;
}

static void
start(struct n8n_backup *b, const char *path,
    void (*cb)(void *, const struct zb_http_resp *))
{
	b->req = n8n_api(b->n, b->n->url, "GET", path, NULL, 0, cb, b);
	if (b->req == NULL)
		fail(b, "GET %s/api/v1/%s: the request could not be started",
		    b->n->url, path);
}

static void
on_list(void *arg, const struct zb_http_resp *r)
{
	struct n8n_backup	*b = arg;
	struct n8n_page		 pg;
	const struct zb_json	*it;
	const char		*id;
	char			 err[256];

	b->req = NULL;
	if (!ok_status(r)) {
		fail_resp(b, "listing the workflows", r);
		return;
	}
	if (n8n_page_parse(b->host, r->body, r->body_len, &pg, err,
	    sizeof(err)) != ZB_OK) {
		fail(b, "listing the workflows: %s", err);
		return;
	}
	for (it = pg.data->child; it != NULL; it = it->next) {
		id = n8n_json_str(b->host, it, "id");
		if (id == NULL || !n8n_id_ok(id)) {
			n8n_page_free(b->host, &pg);
			fail(b, "listing the workflows: an item has no usable "
			    "\"id\"");
			return;
		}
		if (b->nids >= N8N_MAX_IDS ||
		    grow(&b->ids, &b->capids, b->nids) == -1) {
			n8n_page_free(b->host, &pg);
			fail(b, "listing the workflows: over a million "
			    "workflows, or out of memory");
			return;
		}
		b->ids[b->nids] = strdup(id);
		if (b->ids[b->nids] == NULL) {
			n8n_page_free(b->host, &pg);
			fail(b, "listing the workflows: out of memory (or over "
			    "a million workflows)");
			return;
		}
		b->nids++;
	}
	free(b->cursor);
	b->cursor = pg.next != NULL ? strdup(pg.next) : NULL;
	n8n_page_free(b->host, &pg);
	if (b->cursor == NULL)
		b->phase = b->n->credentials ? CREDS : FETCH;
	next_step(b);
}

static void
on_creds(void *arg, const struct zb_http_resp *r)
{
	struct n8n_backup	*b = arg;
	struct n8n_page		 pg;
	const struct zb_json	*it;
	struct zb_buf		 o;
	const char		*k[3] = { "id", "name", "type" }, *v;
	char			 err[256];
	int			 i;

	b->req = NULL;
	if (r->curlcode == 0 && (r->status == 403 || r->status == 404 ||
	    r->status == 405)) {
		/* An older n8n, or a key whose user is not the owner. */
		b->host->log(b->n->inst, ZB_LOG_WARN, "credential names are "
		    "not recorded: GET /api/v1/credentials: %s", r->error);
		b->creds_listed = 0;
		b->phase = FETCH;
		next_step(b);
		return;
	}
	if (!ok_status(r)) {
		fail_resp(b, "listing the credentials", r);
		return;
	}
	if (n8n_page_parse(b->host, r->body, r->body_len, &pg, err,
	    sizeof(err)) != ZB_OK) {
		fail(b, "listing the credentials: %s", err);
		return;
	}
	b->creds_listed = 1;
	for (it = pg.data->child; it != NULL; it = it->next) {
		b->host->buf_init(&o, 1 << 20);
		b->host->buf_add(&o, "{", 1);
		for (i = 0; i < 3; i++) {
			v = n8n_json_str(b->host, it, k[i]);
			b->host->buf_printf(&o, "%s\"%s\":", i > 0 ? "," : "",
			    k[i]);
			if (v != NULL)
				b->host->buf_json_str(&o, v);
			else
				b->host->buf_add(&o, "null", 4);
		}
		b->host->buf_add(&o, "}", 1);
		if (o.failed || b->ncreds >= N8N_MAX_IDS ||
		    grow(&b->creds, &b->capcreds, b->ncreds) == -1) {
			b->host->buf_free(&o);
			n8n_page_free(b->host, &pg);
			fail(b, "listing the credentials: out of memory");
			return;
		}
		b->creds[b->ncreds++] = o.data;	/* ours now */
	}
	free(b->cursor);
	b->cursor = pg.next != NULL ? strdup(pg.next) : NULL;
	n8n_page_free(b->host, &pg);
	if (b->cursor == NULL)
		b->phase = FETCH;
	next_step(b);
}

static void
add_tags(struct n8n_backup *b, const struct zb_json *wf)
{
	const struct zb_json	*tags, *t;
	const char		*name;
	size_t			 i;

	tags = b->host->json_get(wf, "tags");
	if (tags == NULL || tags->type != ZB_JSON_ARRAY)
		return;
	for (t = tags->child; t != NULL; t = t->next) {
		name = n8n_json_str(b->host, t, "name");
		if (name == NULL || b->ntags >= MAX_TAGS)
			continue;
		for (i = 0; i < b->ntags; i++)
			if (strcmp(b->tags[i], name) == 0)
				break;
		if (i < b->ntags || grow(&b->tags, &b->captags, b->ntags) ==
		    -1)
			continue;
		b->tags[b->ntags] = strdup(name);
		if (b->tags[b->ntags] != NULL)
			b->ntags++;
	}
}

static void
on_workflow(void *arg, const struct zb_http_resp *r)
{
	struct n8n_backup	*b = arg;
	const struct zb_json	*wf;
	const char		*id = b->ids[b->idx], *got;
	char			 err[256], what[128];

	b->req = NULL;
	snprintf(what, sizeof(what), "GET workflow %s", id);
	if (r->curlcode == 0 && r->status == 404) {
		b->host->log(b->n->inst, ZB_LOG_WARN, "workflow %s was "
		    "deleted while the backup ran; left out", id);
		b->idx++;
		next_step(b);
		return;
	}
	if (!ok_status(r)) {
		fail_resp(b, what, r);
		return;
	}
	wf = r->body == NULL ? NULL : b->host->json_parse(r->body,
	    r->body_len, err, sizeof(err));
	if (wf == NULL) {
		fail(b, "%s: the answer is not JSON: %s", what, err);
		return;
	}
	if (n8n_wf_check(b->host, wf, err, sizeof(err)) != ZB_OK ||
	    (got = n8n_json_str(b->host, wf, "id")) == NULL ||
	    strcmp(got, id) != 0) {
		b->host->json_free(wf);
		fail(b, "%s: the answer is not that workflow", what);
		return;
	}
	if (b->nwf > 0)
		b->host->buf_add(&b->out, ",\n", 2);
	b->host->buf_add(&b->out, r->body + wf->raw_off, wf->raw_len);
	b->nwf++;
	if (n8n_json_true(b->host, wf, "active"))
		b->nactive++;
	add_tags(b, wf);
	b->host->json_free(wf);
	b->idx++;
	if (b->out.failed) {
		fail(b, "%s: the document grew over max_response", what);
		return;
	}
	next_step(b);
}

static void
tail(struct n8n_backup *b)
{
	size_t	 i;

	b->host->buf_add(&b->out, "\n],\"credentials\":", 17);
	if (!b->creds_listed)
		b->host->buf_add(&b->out, "null", 4);
	else {
		qsort(b->creds, b->ncreds, sizeof(*b->creds), n8n_strcmp);
		b->host->buf_add(&b->out, "[", 1);
		for (i = 0; i < b->ncreds; i++) {
			if (i > 0)
				b->host->buf_add(&b->out, ",\n", 2);
			b->host->buf_add(&b->out, b->creds[i],
			    strlen(b->creds[i]));
		}
		b->host->buf_add(&b->out, "]", 1);
	}
	b->host->buf_add(&b->out, "}\n", 2);
}

static void
facts_and_done(struct n8n_backup *b)
{
	struct zb_buf	 t;
	size_t		 i;

	qsort(b->tags, b->ntags, sizeof(*b->tags), n8n_strcmp);
	b->host->buf_init(&t, 1 << 20);
	for (i = 0; i < b->ntags; i++) {
		if (i > 0)
			b->host->buf_add(&t, ", ", 2);
		b->host->buf_add(&t, b->tags[i], strlen(b->tags[i]));
	}
	b->host->fact_int(b->s, NULL, "workflows", b->nwf);
	b->host->fact_int(b->s, NULL, "active", b->nactive);
	b->host->fact_int(b->s, NULL, "tags_count", (int64_t)b->ntags);
	b->host->fact_str(b->s, NULL, "tags", t.data != NULL ? t.data : "");
	if (b->creds_listed)
		b->host->fact_int(b->s, NULL, "credentials",
		    (int64_t)b->ncreds);
	b->host->buf_free(&t);
	b->host->log(b->n->inst, ZB_LOG_INFO, "%lld workflows (%lld "
	    "active), %zu tags", (long long)b->nwf, (long long)b->nactive,
	    b->ntags);
	b->ended = 1;
	b->phase = FINISHED;
	b->host->done(b->s, ZB_OK, NULL);
}

/* Sort the ids and drop duplicates (a list that moved under the pages). */
static void
sort_ids(struct n8n_backup *b)
{
	size_t	 i, j;

	qsort(b->ids, b->nids, sizeof(*b->ids), n8n_strcmp);
	for (i = j = 0; i < b->nids; i++) {
		if (j > 0 && strcmp(b->ids[j - 1], b->ids[i]) == 0) {
			free(b->ids[i]);
			continue;
		}
		b->ids[j++] = b->ids[i];
	}
	b->nids = j;
}

static void
next_step(struct n8n_backup *b)
{
	char	*path, p[128];

	if (b->ended || b->req != NULL || b->paused)
		return;
	if (!flush(b))
		return;		/* resume() or close() comes */
	switch (b->phase) {
	case LIST:
	case CREDS:
		path = n8n_api_list_path(b->phase == LIST ? "workflows" :
		    "credentials", b->n->page_limit, b->cursor,
		    b->phase == LIST);
		if (path == NULL) {
			fail(b, "out of memory");
			return;
		}
		start(b, path, b->phase == LIST ? on_list : on_creds);
		free(path);
		return;
	case FETCH:
		if (!b->header) {
			b->header = 1;
			sort_ids(b);
			b->host->buf_printf(&b->out, "{\"format\":\"%s\","
			    "\"version\":1,\"workflows\":[\n", N8N_FORMAT);
			if (!flush(b))
				return;
		}
		if (b->idx < b->nids) {
			snprintf(p, sizeof(p), "workflows/%s", b->ids[b->idx]);
			start(b, p, on_workflow);
			return;
		}
		tail(b);
		b->phase = TAIL;
		/* FALLTHROUGH */
	case TAIL:
		if (flush(b))
			facts_and_done(b);
		return;
	case FINISHED:
		return;
	}
}

static void
bk_pause(void *pctx)
{
	struct n8n_backup	*b = pctx;

	b->paused = 1;
}

static void
bk_resume(void *pctx)
{
	struct n8n_backup	*b = pctx;

	b->paused = 0;
	next_step(b);
}

static void
bk_close(void *pctx)
{
	struct n8n_backup	*b = pctx;

	if (b->req != NULL)
		b->host->http_request_cancel(b->req);
	b->host->buf_free(&b->out);
	strv_free(b->ids, b->nids);
	strv_free(b->creds, b->ncreds);
	strv_free(b->tags, b->ntags);
	free(b->cursor);
	free(b);
}

static const struct zb_producer_ops backup_ops = {
	.pause = bk_pause,
	.resume = bk_resume,
	.close = bk_close,
};

int
n8n_backup_open(struct n8n *n, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct n8n_backup	*b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return ZB_ERR;
	b->n = n;
	b->host = n->host;
	b->s = s;
	b->phase = LIST;
	n->host->buf_init(&b->out, n->max_response + 4096);
	*ops = &backup_ops;
	*pctx = b;
	/* The first request (a failure to start it calls done: close()
	 * follows); its answer comes from the loop, later. */
	next_step(b);
	return ZB_OK;
}
