/*
 * n8n_apply.c - a restore into an n8n: the backup's workflows created
 * (or, with --force, updated by name), their tags applied and their
 * active state restored, with a report.
 *
 *  1. List the target's workflows (all pages).  Pair each backed-up
 *     workflow with a target workflow of the same name (in order, each
 *     used once).  Any pair without --force: refuse, before anything is
 *     created.
 *  2. Tags: list the target's tags, create the missing ones by name.
 *  3. Per workflow: POST /workflows (or PUT /workflows/{id}) with the
 *     portable body (n8n_body.c); PUT /workflows/{id}/tags with the
 *     target's tag ids; POST .../activate when it was active (a create
 *     is always inactive), or .../deactivate when an updated target
 *     workflow was active and the backup's was not.  A failed step fails
 *     that workflow (logged) and the restore goes on with the next; a
 *     401 or 403 ends it.
 *  4. The report: one line per workflow (created, updated, activated,
 *     deactivated, failed), then a summary; done(ZB_ERR) when any failed.
 *
 * Owns struct n8n_apply and its one request in flight.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

#define MAX_DROPPED	32

enum step { T_LIST, TAG_LIST, TAG_CREATE, WF_SAVE, WF_TAGS, WF_STATE,
	FINISHED };

struct wfent {
	const struct zb_json	*wf;
	const char		*name;
	const char		*id;		/* in the backup */
	int			 active;
	int			 tgt;		/* index into tgts, or -1 */
};

struct tgt {
	char	*id;
	char	*name;
	int	 active;
	int	 used;
};

struct tagent {
	char	*name;
	char	*id;			/* on the target, once known */
};

struct dropped {
	char	*what;			/* "settings.binaryMode" */
	int	 count;
};

struct n8n_apply {
	struct n8n		*n;
	const struct zb_host_api *host;
	char			*base;
	const char		*text;
	int			 force;
	void			(*done)(void *, int, const char *);
	void			*arg;
	struct zb_http_req	*req;
	enum step		 step;
	char			*cursor;
	struct wfent		*wfs;
	size_t			 nwfs, i;
	struct tgt		*tgts;
	size_t			 ntgts, captgts;
	struct tagent		*tags;
	size_t			 ntags, tagi;
	char			*cur_id;	/* target id of wfs[i] */
	int			 cur_updated;
	int			 created, updated, activated, deactivated;
	int			 failed;
	struct dropped		 drop[MAX_DROPPED];
	size_t			 ndrop;
	struct zb_timer		*kick;
};

static void	advance(struct n8n_apply *);
static int	pair(struct n8n_apply *);

static void
apply_free(struct n8n_apply *a)
{
	size_t	 i;

	if (a->req != NULL)
		a->host->http_request_cancel(a->req);
	if (a->kick != NULL)
		a->host->timer_del(a->kick);
	for (i = 0; i < a->ntgts; i++) {
		free(a->tgts[i].id);
		free(a->tgts[i].name);
	}
	for (i = 0; i < a->ntags; i++) {
		free(a->tags[i].name);
		free(a->tags[i].id);
	}
	for (i = 0; i < a->ndrop; i++)
		free(a->drop[i].what);
	free(a->tgts);
	free(a->tags);
	free(a->wfs);
	free(a->cursor);
	free(a->cur_id);
	free(a->base);
	free(a);
}

void
n8n_apply_cancel(struct n8n_apply *a)
{
	apply_free(a);
}

static void	finish(struct n8n_apply *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* The end: the report, done() once, then free. */
static void
finish(struct n8n_apply *a, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];
	size_t	 i;
	int	 n;

	a->step = FINISHED;
	for (i = 0; i < a->ndrop; i++)
		a->host->log(a->n->inst, ZB_LOG_WARN, "%s left out of %d "
		    "workflow%s: the API does not accept it", a->drop[i].what,
		    a->drop[i].count, a->drop[i].count == 1 ? "" : "s");
	a->host->log(a->n->inst, ZB_LOG_INFO, "restore into %s: %zu "
	    "workflows: %d created, %d updated, %d activated, %d "
	    "deactivated, %d failed", a->base, a->nwfs, a->created,
	    a->updated, a->activated, a->deactivated, a->failed);
	/* The restore's last line shows the message: name the source. */
	n = snprintf(msg, sizeof(msg), "%s: ", a->host->inst_name(a->n->inst));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	} else if (a->failed > 0) {
		snprintf(msg + n, sizeof(msg) - (size_t)n, "%d of %zu "
		    "workflows failed (see above)", a->failed, a->nwfs);
		status = ZB_ERR;
	}
	a->done(a->arg, status, status != ZB_OK ? msg : NULL);
	apply_free(a);
}

static int
ok_status(const struct zb_http_resp *r)
{
	return r->curlcode == 0 && r->status >= 200 && r->status < 300;
}

static int
auth_refused(const struct zb_http_resp *r)
{
	return r->curlcode == 0 && (r->status == 401 || r->status == 403);
}

static void
on_dropped(void *arg, const char *what, const char *key)
{
	struct n8n_apply	*a = arg;
	char			 k[256];
	size_t			 i;

	snprintf(k, sizeof(k), "%s key %s", what, key);
	for (i = 0; i < a->ndrop; i++)
		if (strcmp(a->drop[i].what, k) == 0) {
			a->drop[i].count++;
			return;
		}
	if (a->ndrop >= MAX_DROPPED)
		return;
	a->drop[a->ndrop].what = strdup(k);
	if (a->drop[a->ndrop].what != NULL)
		a->drop[a->ndrop++].count = 1;
}

/* Start a request; a failure to start ends the restore. */
static int
call(struct n8n_apply *a, const char *method, const char *path,
    const struct zb_buf *body, void (*cb)(void *, const struct zb_http_resp *))
{
	a->req = n8n_api(a->n, a->base, method, path,
	    body != NULL ? body->data : NULL, body != NULL ? body->len : 0,
	    cb, a);
	if (a->req == NULL) {
		finish(a, ZB_ERR, "%s %s/api/v1/%s: the request could not be "
		    "started", method, a->base, path);
		return -1;
	}
	return 0;
}

/* ---- 1. the target's workflows -------------------------------------- */

static void
on_target_page(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;
	struct n8n_page		 pg;
	const struct zb_json	*it;
	const char		*id, *name;
	struct tgt		*nt;
	char			 err[256];

	a->req = NULL;
	if (!ok_status(r)) {
		finish(a, ZB_ERR, "listing the workflows of %s: %s", a->base,
		    r->error);
		return;
	}
	if (n8n_page_parse(a->host, r->body, r->body_len, &pg, err,
	    sizeof(err)) != ZB_OK) {
		finish(a, ZB_ERR, "listing the workflows of %s: %s", a->base,
		    err);
		return;
	}
	for (it = pg.data->child; it != NULL; it = it->next) {
		id = n8n_json_str(a->host, it, "id");
		name = n8n_json_str(a->host, it, "name");
		if (id == NULL || name == NULL || !n8n_id_ok(id))
			continue;
		if (a->ntgts == a->captgts) {
			a->captgts = a->captgts == 0 ? 256 : a->captgts * 2;
			nt = realloc(a->tgts, a->captgts * sizeof(*nt));
			if (nt == NULL)
				break;
			a->tgts = nt;
		}
		nt = &a->tgts[a->ntgts];
		nt->id = strdup(id);
		nt->name = strdup(name);
		nt->active = n8n_json_true(a->host, it, "active");
		nt->used = 0;
		a->ntgts++;
		if (nt->id == NULL || nt->name == NULL)
			break;
	}
	if (it != NULL) {
		n8n_page_free(a->host, &pg);
		finish(a, ZB_ERR, "listing the workflows of %s: out of memory",
		    a->base);
		return;
	}
	free(a->cursor);
	a->cursor = pg.next != NULL ? strdup(pg.next) : NULL;
	n8n_page_free(a->host, &pg);
	if (a->cursor == NULL) {
		if (pair(a) == -1)
			return;
		a->step = a->ntags > 0 ? TAG_LIST : TAG_CREATE;
	}
	advance(a);
}

/* Pair by name; 0, or -1 when refused (finish called). */
static int
pair(struct n8n_apply *a)
{
	size_t	 i, j, clash = 0;
	const char *first = NULL;

	for (i = 0; i < a->nwfs; i++) {
		for (j = 0; j < a->ntgts; j++)
			if (!a->tgts[j].used &&
			    strcmp(a->tgts[j].name, a->wfs[i].name) == 0)
				break;
		if (j == a->ntgts)
			continue;
		a->tgts[j].used = 1;
		a->wfs[i].tgt = (int)j;
		if (clash++ == 0)
			first = a->wfs[i].name;
	}
	if (clash > 0 && !a->force) {
		finish(a, ZB_ERR, "refusing to restore into %s: it already has "
		    "%zu workflow%s named as in the backup (first: '%s'); "
		    "nothing was created (--force updates them by name)",
		    a->base, clash, clash == 1 ? "" : "s", first);
		return -1;
	}
	return 0;
}

/* ---- 2. tags --------------------------------------------------------- */

static void
on_tag_page(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;
	struct n8n_page		 pg;
	const struct zb_json	*it;
	const char		*id, *name;
	char			 err[256];
	size_t			 k;

	a->req = NULL;
	if (!ok_status(r)) {
		finish(a, ZB_ERR, "listing the tags of %s: %s", a->base,
		    r->error);
		return;
	}
	if (n8n_page_parse(a->host, r->body, r->body_len, &pg, err,
	    sizeof(err)) != ZB_OK) {
		finish(a, ZB_ERR, "listing the tags of %s: %s", a->base, err);
		return;
	}
	for (it = pg.data->child; it != NULL; it = it->next) {
		id = n8n_json_str(a->host, it, "id");
		name = n8n_json_str(a->host, it, "name");
		if (id == NULL || name == NULL || !n8n_id_ok(id))
			continue;
		for (k = 0; k < a->ntags; k++)
			if (a->tags[k].id == NULL &&
			    strcmp(a->tags[k].name, name) == 0)
				a->tags[k].id = strdup(id);
	}
	free(a->cursor);
	a->cursor = pg.next != NULL ? strdup(pg.next) : NULL;
	n8n_page_free(a->host, &pg);
	if (a->cursor == NULL) {
		a->step = TAG_CREATE;
		a->tagi = 0;
	}
	advance(a);
}

static void
on_tag_created(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;
	const struct zb_json	*t;
	const char		*id;
	char			 err[128];

	a->req = NULL;
	if (!ok_status(r)) {
		finish(a, ZB_ERR, "creating tag '%s' in %s: %s",
		    a->tags[a->tagi].name, a->base, r->error);
		return;
	}
	t = r->body != NULL ? a->host->json_parse(r->body, r->body_len, err,
	    sizeof(err)) : NULL;
	id = n8n_json_str(a->host, t, "id");
	if (id != NULL && n8n_id_ok(id))
		a->tags[a->tagi].id = strdup(id);
	if (a->tags[a->tagi].id == NULL) {
		if (t != NULL)
			a->host->json_free(t);
		finish(a, ZB_ERR, "creating tag '%s' in %s: no id in the "
		    "answer", a->tags[a->tagi].name, a->base);
		return;
	}
	a->host->json_free(t);
	a->host->log(a->n->inst, ZB_LOG_INFO, "created tag '%s'",
	    a->tags[a->tagi].name);
	a->tagi++;
	advance(a);
}

/* ---- 3. workflows ---------------------------------------------------- */

static void	next_workflow(struct n8n_apply *);

static void
wf_failed(struct n8n_apply *a, const char *what, const struct zb_http_resp *r)
{
	struct wfent	*e = &a->wfs[a->i];

	a->failed++;
	a->host->log(a->n->inst, ZB_LOG_ERROR, "workflow '%s' (%s in the "
	    "backup): %s: %s", e->name, e->id, what, r != NULL ? r->error :
	    "could not be built");
	if (r != NULL && auth_refused(r)) {
		finish(a, ZB_ERR, "%s/api/v1: %s", a->base, r->error);
		return;
	}
	next_workflow(a);
}

static void
on_state(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;
	struct wfent		*e = &a->wfs[a->i];

	a->req = NULL;
	if (!ok_status(r)) {
		wf_failed(a, e->active ? "activate" : "deactivate", r);
		return;
	}
	if (e->active)
		a->activated++;
	else
		a->deactivated++;
	a->host->log(a->n->inst, ZB_LOG_INFO, "%s '%s'", e->active ?
	    "activated" : "deactivated", e->name);
	next_workflow(a);
}

static void
set_state(struct n8n_apply *a)
{
	struct wfent	*e = &a->wfs[a->i];
	char		 path[128];
	int		 was = e->tgt >= 0 && a->tgts[e->tgt].active;

	a->step = WF_STATE;
	if (!e->active && !(a->cur_updated && was)) {
		next_workflow(a);
		return;
	}
	snprintf(path, sizeof(path), "workflows/%s/%s", a->cur_id,
	    e->active ? "activate" : "deactivate");
	(void)call(a, "POST", path, NULL, on_state);
}

static void
on_tags_set(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;

	a->req = NULL;
	if (!ok_status(r)) {
		wf_failed(a, "tags", r);
		return;
	}
	set_state(a);
}

static void
set_tags(struct n8n_apply *a)
{
	const struct zb_host_api *host = a->host;
	struct wfent		*e = &a->wfs[a->i];
	const struct zb_json	*tags, *t;
	const char		*name;
	struct zb_buf		 b;
	char			 path[128];
	size_t			 k, n = 0;

	a->step = WF_TAGS;
	tags = a->host->json_get(e->wf, "tags");
	a->host->buf_init(&b, 1 << 20);
	a->host->buf_add(&b, "[", 1);
	if (tags != NULL && tags->type == ZB_JSON_ARRAY)
		for (t = tags->child; t != NULL; t = t->next) {
			name = n8n_json_str(a->host, t, "name");
			for (k = 0; name != NULL && k < a->ntags; k++)
				if (strcmp(a->tags[k].name, name) == 0)
					break;
			if (name == NULL || k == a->ntags ||
			    a->tags[k].id == NULL)
				continue;
			a->host->buf_printf(&b, "%s{\"id\":", n++ > 0 ? "," :
			    "");
			a->host->buf_json_str(&b, a->tags[k].id);
			a->host->buf_add(&b, "}", 1);
		}
	a->host->buf_add(&b, "]", 1);
	if (n == 0 && !a->cur_updated) {
		a->host->buf_free(&b);
		set_state(a);	/* a new workflow has no tags */
		return;
	}
	snprintf(path, sizeof(path), "workflows/%s/tags", a->cur_id);
	(void)call(a, "PUT", path, &b, on_tags_set);	/* may free a */
	host->buf_free(&b);
}

static void
on_saved(void *arg, const struct zb_http_resp *r)
{
	struct n8n_apply	*a = arg;
	struct wfent		*e = &a->wfs[a->i];
	const struct zb_json	*got;
	const char		*id;
	char			 err[128];

	a->req = NULL;
	if (!ok_status(r)) {
		wf_failed(a, a->cur_updated ? "update" : "create", r);
		return;
	}
	if (!a->cur_updated) {
		got = r->body != NULL ? a->host->json_parse(r->body,
		    r->body_len, err, sizeof(err)) : NULL;
		id = n8n_json_str(a->host, got, "id");
		if (id != NULL && n8n_id_ok(id))
			a->cur_id = strdup(id);
		if (got != NULL)
			a->host->json_free(got);
		if (a->cur_id == NULL) {
			wf_failed(a, "create (no id in the answer)", r);
			return;
		}
		a->created++;
		a->host->log(a->n->inst, ZB_LOG_INFO, "created '%s' as %s",
		    e->name, a->cur_id);
	} else {
		a->updated++;
		a->host->log(a->n->inst, ZB_LOG_INFO, "updated '%s' (%s)",
		    e->name, a->cur_id);
	}
	set_tags(a);
}

static void
save(struct n8n_apply *a)
{
	const struct zb_host_api *host = a->host;
	struct wfent	*e = &a->wfs[a->i];
	struct zb_buf	 b;
	char		 path[128];

	a->step = WF_SAVE;
	free(a->cur_id);
	a->cur_id = NULL;
	a->cur_updated = e->tgt >= 0;
	a->host->buf_init(&b, a->n->max_document);
	if (n8n_body(a->host, &b, a->text, e->wf, on_dropped, a) != ZB_OK) {
		a->host->buf_free(&b);
		wf_failed(a, "body", NULL);
		return;
	}
	if (a->cur_updated) {
		a->cur_id = strdup(a->tgts[e->tgt].id);
		if (a->cur_id == NULL) {
			a->host->buf_free(&b);
			finish(a, ZB_ERR, "out of memory");
			return;
		}
		snprintf(path, sizeof(path), "workflows/%s", a->cur_id);
		(void)call(a, "PUT", path, &b, on_saved);	/* may free a */
	} else
		(void)call(a, "POST", "workflows", &b, on_saved);
	host->buf_free(&b);
}

/*
 * The next workflow, from a timer: a chain of failures that never reach
 * the network must not recurse.
 */
static void
kicked(void *arg)
{
	struct n8n_apply	*a = arg;

	a->kick = NULL;
	if (a->i >= a->nwfs)
		finish(a, ZB_OK, NULL);
	else
		save(a);
}

static void
next_workflow(struct n8n_apply *a)
{
	a->i++;
	a->step = WF_SAVE;
	a->kick = a->host->timer_add(0, kicked, a);
	if (a->kick == NULL)
		finish(a, ZB_ERR, "cannot add a timer");
}

/* ---- the steps before the workflows ---------------------------------- */

static void
advance(struct n8n_apply *a)
{
	const struct zb_host_api *host = a->host;
	struct zb_buf	 b;
	char		*path;

	switch (a->step) {
	case T_LIST:
	case TAG_LIST:
		path = n8n_api_list_path(a->step == T_LIST ? "workflows" :
		    "tags", a->n->page_limit, a->cursor, a->step == T_LIST);
		if (path == NULL) {
			finish(a, ZB_ERR, "out of memory");
			return;
		}
		(void)call(a, "GET", path, NULL, a->step == T_LIST ?
		    on_target_page : on_tag_page);
		free(path);
		return;
	case TAG_CREATE:
		while (a->tagi < a->ntags && a->tags[a->tagi].id != NULL)
			a->tagi++;
		if (a->tagi < a->ntags) {
			a->host->buf_init(&b, 1 << 20);
			a->host->buf_add(&b, "{\"name\":", 8);
			a->host->buf_json_str(&b, a->tags[a->tagi].name);
			a->host->buf_add(&b, "}", 1);
			/* call() may end the restore and free a */
			(void)call(a, "POST", "tags", &b, on_tag_created);
			host->buf_free(&b);
			return;
		}
		a->i = 0;
		if (a->nwfs == 0) {
			finish(a, ZB_OK, NULL);
			return;
		}
		save(a);
		return;
	default:
		return;
	}
}

/* The backup's workflows and the tag names they use. */
static int
load(struct n8n_apply *a, const struct zb_json *doc)
{
	const struct zb_json	*wfs, *it, *tags, *t;
	const char		*name;
	struct tagent		*nt;
	size_t			 n = 0, k;

	wfs = a->host->json_get(doc, "workflows");
	for (it = wfs->child; it != NULL; it = it->next)
		n++;
	if (n > 0) {
		a->wfs = calloc(n, sizeof(*a->wfs));
		if (a->wfs == NULL)
			return -1;
	}
	for (it = wfs->child; it != NULL; it = it->next) {
		a->wfs[a->nwfs].wf = it;
		a->wfs[a->nwfs].name = n8n_json_str(a->host, it, "name");
		a->wfs[a->nwfs].id = n8n_json_str(a->host, it, "id");
		a->wfs[a->nwfs].active = n8n_json_true(a->host, it, "active");
		a->wfs[a->nwfs].tgt = -1;
		a->nwfs++;
		tags = a->host->json_get(it, "tags");
		if (tags == NULL || tags->type != ZB_JSON_ARRAY)
			continue;
		for (t = tags->child; t != NULL; t = t->next) {
			name = n8n_json_str(a->host, t, "name");
			if (name == NULL)
				continue;
			for (k = 0; k < a->ntags; k++)
				if (strcmp(a->tags[k].name, name) == 0)
					break;
			if (k < a->ntags)
				continue;
			nt = realloc(a->tags, (a->ntags + 1) * sizeof(*nt));
			if (nt == NULL)
				return -1;
			a->tags = nt;
			nt[a->ntags].id = NULL;
			nt[a->ntags].name = strdup(name);
			if (nt[a->ntags].name == NULL)
				return -1;
			a->ntags++;
		}
	}
	return 0;
}

struct n8n_apply *
n8n_apply_start(struct n8n *n, const char *base, const char *text,
    const struct zb_json *doc, int force,
    void (*done)(void *, int, const char *), void *arg)
{
	struct n8n_apply	*a;
	char			*path;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->n = n;
	a->host = n->host;
	a->text = text;
	a->force = force;
	a->done = done;
	a->arg = arg;
	a->step = T_LIST;
	a->base = strdup(base);
	if (a->base == NULL || load(a, doc) == -1) {
		apply_free(a);
		return NULL;
	}
	n->host->log(n->inst, ZB_LOG_INFO, "restoring %zu workflows into %s%s",
	    a->nwfs, a->base, force ? " (--force: same names are updated)" :
	    "");
	path = n8n_api_list_path("workflows", n->page_limit, NULL, 1);
	if (path != NULL)
		a->req = n8n_api(n, a->base, "GET", path, NULL, 0,
		    on_target_page, a);
	free(path);
	if (a->req == NULL) {
		apply_free(a);
		return NULL;
	}
	return a;
}
