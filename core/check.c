/*
 * check.c - the check service: is the newest copy of every stream still
 * good?  The selection is catalog_newest over the sinks the check names:
 * for every source of the selected jobs and every sink such a job writes
 * to, the newest copy whose run is complete on that sink.  Then each copy
 * is checked, one at a time:
 *
 *   verify        the sink lists the copy's data object with the size the
 *                 manifest gives, and its .sha256 sidecar (read, it is
 *                 small) names the manifest's digest: cheap, no data read;
 *   deep-verify   every stored byte read back and both digests compared
 *                 (restore_start, verify_only);
 *   test-restore  the source's scratch restore (restore_start, test).
 *
 * Nothing here runs the loop; the caller gets a struct check_result.
 */
#include "zb-build.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "catalog.h"
#include "check.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "restore.h"
#include "sinkio.h"
#include "util.h"

struct check {
	struct zb_config	*cfg;
	enum check_kind		 kind;
	const struct age_keys	*identities;
	char			**jobs, **sinks;	/* copies; NULL: all */
	size_t			 njobs, nsinks;
	check_done_fn		 done;
	void			*arg;
	struct catalog		*cat;
	const struct artifact	**todo;		/* copies to check */
	size_t			 ntodo, next;
	struct check_result	 res;
	size_t			 cap;		/* of res.items */
	char			**owned;	/* strings items point to */
	size_t			 nowned;
	uint64_t		 t0, t_item;
	/* verify: what the listing showed of the current copy */
	const struct artifact	*cur;
	int			 seen_data, seen_sidecar;
	uint64_t		 data_size;
	char			*err;		/* the current copy's failure */
	struct restore_opts	 ro;
};

static const char *const kind_names[] = {
	"verify", "deep-verify", "test-restore"
};

const char *
check_kind_name(enum check_kind k)
{
	return (size_t)k < ZB_NELEM(kind_names) ? kind_names[k] : "?";
}

int
check_kind_parse(const char *s, enum check_kind *k)
{
	size_t	 i;

	for (i = 0; i < ZB_NELEM(kind_names); i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*k = (enum check_kind)i;
			return 0;
		}
	return -1;
}

static const char *
own(struct check *c, char *s)
{
	c->owned = xreallocarray(c->owned, c->nowned + 1, sizeof(*c->owned));
	c->owned[c->nowned++] = s;
	return s;
}

/* Add an item; error (copied) NULL means ok. */
static void
add_item(struct check *c, const char *id, const char *sink,
    const char *error, uint64_t duration_ms, uint64_t restore_ms)
{
	struct check_item	*it;

	if (c->res.n == c->cap) {
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		c->res.items = xreallocarray(c->res.items, c->cap,
		    sizeof(*c->res.items));
	}
	it = &c->res.items[c->res.n++];
	memset(it, 0, sizeof(*it));
	it->id = id;
	it->sink = sink;
	it->ok = error == NULL;
	it->error = error != NULL ? xstrdup(error) : NULL;
	it->duration_ms = duration_ms;
	it->restore_ms = restore_ms;
	if (!it->ok) {
		c->res.failed++;
		log_warnx("check %s: %s on sink:%s: FAILED: %s",
		    check_kind_name(c->kind), id, sink, error);
	} else
		log_info("check %s: %s on sink:%s: ok in %" PRIu64 " ms",
		    check_kind_name(c->kind), id, sink, duration_ms);
}

static void	next_item(void *);

static void
check_finish(void *arg)
{
	struct check	*c = arg;
	size_t		 i;

	c->res.duration_ms = now_ms() - c->t0;
	log_info("check %s: %zu checked, %u failed",
	    check_kind_name(c->kind), c->res.n, c->res.failed);
	c->done(c->arg, &c->res);
	for (i = 0; i < c->res.n; i++)
		free(c->res.items[i].error);
	free(c->res.items);
	strv_free(c->owned, c->nowned);
	strv_free(c->jobs, c->njobs);
	strv_free(c->sinks, c->nsinks);
	free(c->todo);
	free(c->err);
	catalog_destroy(c->cat);
	free(c);
}

/* The current copy is done: record it, go on from the loop. */
static void
item_done(struct check *c, const char *error, uint64_t restore_ms)
{
	add_item(c, c->cur->id, c->cur->sink, error, now_ms() - c->t_item,
	    restore_ms);
	free(c->err);
	c->err = NULL;
	c->cur = NULL;
	(void)reactor_timer_add(0, next_item, c);
}

static void ZB_PRINTF(2, 3)
item_fail(struct check *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	item_done(c, msg, 0);
}

/* ---- verify: list and sidecar ------------------------------------------ */

static void
on_sidecar(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct check		*c = arg;
	const struct artifact	*a = c->cur;
	char			*want;

	if (status != ZB_OK) {
		item_fail(c, "cannot read the checksum sidecar %s/%s.sha256: %s",
		    a->dir, a->data, err != NULL ? err : "error");
		return;
	}
	want = xasprintf("%s  %s\n", a->stored_sha, a->data);
	if (len != strlen(want) || memcmp(data, want, len) != 0) {
		free(want);
		item_fail(c, "checksum sidecar %s/%s.sha256 does not match "
		    "the manifest", a->dir, a->data);
		return;
	}
	free(want);
	item_done(c, NULL, 0);
}

static void
on_entry(void *arg, const struct zb_list_entry *e)
{
	struct check		*c = arg;
	const struct artifact	*a = c->cur;
	char			*data, *sidecar;

	data = layout_data_key(a->dir, a->data);
	sidecar = layout_sidecar_key(a->dir, a->data);
	if (strcmp(e->key, data) == 0) {
		c->seen_data = 1;
		c->data_size = e->size;
	} else if (strcmp(e->key, sidecar) == 0)
		c->seen_sidecar = 1;
	free(data);
	free(sidecar);
}

static void
on_listed(void *arg, int status, const char *err)
{
	struct check		*c = arg;
	const struct artifact	*a = c->cur;
	struct zb_inst		*sink = catalog_sink(c->cfg, a->sink);
	char			*key;

	if (status != ZB_OK) {
		item_fail(c, "cannot list %s/: %s", a->dir,
		    err != NULL ? err : "error");
		return;
	}
	if (!c->seen_data) {
		item_fail(c, "the data object %s/%s is missing", a->dir,
		    a->data);
		return;
	}
	if (c->data_size != a->stored_size) {
		item_fail(c, "the data object %s/%s has %" PRIu64 " bytes, "
		    "the manifest says %" PRIu64, a->dir, a->data,
		    c->data_size, a->stored_size);
		return;
	}
	if (!c->seen_sidecar) {
		item_fail(c, "the checksum sidecar %s/%s.sha256 is missing",
		    a->dir, a->data);
		return;
	}
	key = layout_sidecar_key(a->dir, a->data);
	sinkio_get_buf(sink, key, 4096, on_sidecar, c);
	free(key);
}

static void
verify_cheap(struct check *c)
{
	struct zb_inst	*sink = catalog_sink(c->cfg, c->cur->sink);
	char		*prefix;

	c->seen_data = c->seen_sidecar = 0;
	c->data_size = 0;
	prefix = xasprintf("%s/", c->cur->dir);
	sinkio_list(sink, prefix, on_entry, on_listed, c);
	free(prefix);
}

/* ---- deep-verify, test-restore -------------------------------------- */

static void
on_restored(void *arg, const struct restore_result *r)
{
	struct check	*c = arg;

	item_done(c, r->status == 0 ? NULL : r->error != NULL ? r->error :
	    "failed", r->restore_ms);
}

/* ---- selection and the loop over copies ------------------------------- */

static void
next_item(void *arg)
{
	struct check	*c = arg;

	if (c->next < c->ntodo && reactor_interrupted()) {
		for (; c->next < c->ntodo; c->next++)
			add_item(c, c->todo[c->next]->id,
			    c->todo[c->next]->sink, "not checked: "
			    "interrupted", 0, 0);
	}
	if (c->next == c->ntodo) {
		check_finish(c);
		return;
	}
	c->cur = c->todo[c->next++];
	c->t_item = now_ms();
	if (catalog_sink(c->cfg, c->cur->sink) == NULL) {
		item_fail(c, "no [sink:%s] configured", c->cur->sink);
		return;
	}
	switch (c->kind) {
	case CHECK_VERIFY:
		verify_cheap(c);
		break;
	case CHECK_DEEP_VERIFY:
	case CHECK_TEST_RESTORE:
		memset(&c->ro, 0, sizeof(c->ro));
		c->ro.verify_only = c->kind == CHECK_DEEP_VERIFY;
		c->ro.test = c->kind == CHECK_TEST_RESTORE;
		c->ro.identities = c->identities;
		restore_start(c->cfg, c->cur, &c->ro, on_restored, c);
		break;
	}
}

static int
selected(char *const *v, size_t n, const char *name)
{
	size_t	 i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Does job put source's copies on its sinks?  A backup job of source
 * does; so does a copy job whose sources = names it, or, without
 * sources =, that copies from a sink a backup job of source writes to.
 */
static int
job_covers(struct zb_config *cfg, const struct cfg_job *job,
    const char *source)
{
	const struct cfg_job	*b;
	size_t			 i;

	if (job->source != NULL)
		return strcmp(job->source->name, source) == 0;
	if (job->ncopy_sources > 0) {
		for (i = 0; i < job->ncopy_sources; i++)
			if (strcmp(job->copy_sources[i], source) == 0)
				return 1;
		return 0;
	}
	TAILQ_FOREACH(b, &cfg->jobs, entry) {
		if (b->source == NULL || strcmp(b->source->name, source) != 0)
			continue;
		for (i = 0; i < b->nsinks; i++)
			if (b->sinks[i] == job->copy_from)
				return 1;
	}
	return 0;
}

/* Does a selected job write source's copies to sink? */
static int
expected(struct check *c, const char *source, const char *sink)
{
	struct cfg_job	*job;
	size_t		 i;

	TAILQ_FOREACH(job, &c->cfg->jobs, entry) {
		if (!selected(c->jobs, c->njobs, job->name) ||
		    !job_covers(c->cfg, job, source))
			continue;
		for (i = 0; i < job->nsinks; i++)
			if (strcmp(job->sinks[i]->name, sink) == 0 &&
			    selected(c->sinks, c->nsinks, sink))
				return 1;
	}
	return 0;
}

/*
 * source must have a complete copy on sink (if the check selects sink):
 * else a failed item, once per source and sink (jobs may share).
 */
static void
require(struct check *c, const char *source, const char *sink)
{
	size_t	 j;
	int	 found;

	if (!selected(c->sinks, c->nsinks, sink))
		return;
	for (found = 0, j = 0; j < c->ntodo && !found; j++)
		found = strcmp(c->todo[j]->source, source) == 0 &&
		    strcmp(c->todo[j]->sink, sink) == 0;
	for (j = 0; j < c->res.n && !found; j++)
		found = strcmp(c->res.items[j].sink, sink) == 0 &&
		    strncmp(c->res.items[j].id, "source:", 7) == 0 &&
		    strcmp(c->res.items[j].id + 7, source) == 0;
	if (!found)
		add_item(c, own(c, xasprintf("source:%s", source)), sink,
		    "no complete copy on this sink", 0, 0);
}

static void
on_catalog(void *arg, struct catalog *cat)
{
	struct check			*c = arg;
	struct catalog_pick		 p;
	const struct catalog_run	*r;
	struct cfg_job			*job, *src;
	size_t				 i, j, k;

	c->cat = cat;
	if (cat->errors > 0)
		add_item(c, "catalog", "*", "the catalog could not be read "
		    "completely (see the log)", 0, 0);
	catalog_newest(cat, &p);
	for (i = 0; i < p.nskipped; i++) {
		r = p.skipped[i];
		if (expected(c, r->source, r->sink))
			log_warnx("check %s: sink:%s: run %s of [job:%s] "
			    "(source:%s) is incomplete, %zu of %zu streams: "
			    "its copies are skipped", check_kind_name(c->kind),
			    r->sink, r->stamp, r->job, r->source, r->present,
			    r->planned);
	}
	c->todo = xcalloc(p.n + 1, sizeof(*c->todo));
	for (i = 0; i < p.n; i++)
		if (expected(c, p.copies[i]->source, p.copies[i]->sink))
			c->todo[c->ntodo++] = p.copies[i];
	/*
	 * Every selected job's source on each of its selected sinks; a
	 * copy job's sources (those job_covers) on each of its targets.
	 */
	TAILQ_FOREACH(job, &c->cfg->jobs, entry) {
		if (!selected(c->jobs, c->njobs, job->name))
			continue;
		TAILQ_FOREACH(src, &c->cfg->jobs, entry)
			if (src->source != NULL &&
			    job_covers(c->cfg, job, src->source->name))
				for (k = 0; k < job->nsinks; k++)
					require(c, src->source->name,
					    job->sinks[k]->name);
		for (k = 0; k < job->ncopy_sources; k++)
			for (j = 0; j < job->nsinks; j++)
				require(c, job->copy_sources[k],
				    job->sinks[j]->name);
	}
	catalog_pick_free(&p);
	next_item(c);
}

void
check_start(struct zb_config *cfg, const struct check_params *params,
    check_done_fn done, void *arg)
{
	struct catalog_query	 q;
	struct check		*c;
	struct cfg_job		*job;
	const char		*source = NULL;
	size_t			 i;
	int			 one_source = 1;

	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->kind = params->kind;
	c->identities = params->identities;
	c->done = done;
	c->arg = arg;
	c->t0 = now_ms();
	c->njobs = params->njobs;
	c->jobs = xcalloc(c->njobs + 1, sizeof(*c->jobs));
	for (i = 0; i < c->njobs; i++) {
		c->jobs[i] = xstrdup(params->jobs[i]);
		if (config_job(cfg, c->jobs[i]) == NULL)
			add_item(c, own(c, xasprintf("job:%s", c->jobs[i])),
			    "*", "no such job in the configuration", 0, 0);
	}
	c->nsinks = params->nsinks;
	c->sinks = xcalloc(c->nsinks + 1, sizeof(*c->sinks));
	for (i = 0; i < c->nsinks; i++) {
		c->sinks[i] = xstrdup(params->sinks[i]);
		if (catalog_sink(cfg, c->sinks[i]) == NULL)
			add_item(c, own(c, xasprintf("sink:%s", c->sinks[i])),
			    c->sinks[i], "no such sink in the configuration",
			    0, 0);
	}
	/* Narrow the load when the check names one source or one sink. */
	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		if (!selected(c->jobs, c->njobs, job->name))
			continue;
		if (job->source == NULL)	/* a copy job: any source */
			one_source = 0;
		else if (source != NULL &&
		    strcmp(source, job->source->name) != 0)
			one_source = 0;
		if (job->source != NULL)
			source = job->source->name;
	}
	memset(&q, 0, sizeof(q));
	q.source = one_source ? source : NULL;
	q.sink = c->nsinks == 1 ? c->sinks[0] : NULL;
	catalog_load_start(cfg, &q, on_catalog, c);
}
