/*
 * catalog.c - the list of artifacts, rebuilt from the sinks' manifests.
 *
 * Nothing but a manifest.json makes an artifact (DESIGN.md section 3), so
 * the catalog lists each sink's keys, keeps those that end in
 * "/manifest.json" at the depth the layout puts them, reads and checks
 * each, and insists that the manifest's id matches where it was found.
 * This works against any single sink on a machine that never ran the
 * daemon.
 *
 * A run is a unit: each manifest lists the streams its run planned, so the
 * copies on one sink are grouped into runs and a run is complete there
 * only when all its streams are.  "Latest" selections (catalog_latest)
 * take only copies of complete runs: a run interrupted half way must not
 * be mixed with the streams of an older one.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "sinkio.h"
#include "util.h"

struct keylist {
	char	**keys;
	size_t	 n;
	int	 done;
	int	 status;
	char	*err;
};

static void
on_key(void *arg, const struct zb_list_entry *e)
{
	struct keylist	*kl = arg;

	if (!layout_is_manifest_key(e->key))
		return;
	kl->keys = xreallocarray(kl->keys, kl->n + 1, sizeof(*kl->keys));
	kl->keys[kl->n++] = xstrdup(e->key);
}

static void
on_listed(void *arg, int status, const char *err)
{
	struct keylist	*kl = arg;

	kl->status = status;
	kl->err = err != NULL ? xstrdup(err) : NULL;
	kl->done = 1;
}

static int
cmp_artifact(const void *a, const void *b)
{
	const struct artifact	*x = a, *y = b;
	int			 c;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	c = strcmp(x->id, y->id);
	if (c != 0)
		return c;
	return 0;	/* qsort is not stable; sink order is kept below */
}

static void
load_sink(struct zb_config *cfg, struct zb_inst *sink, const char *source,
    struct catalog *cat)
{
	struct keylist	 kl = { 0 };
	struct artifact	 a;
	const char	*perr;
	char		*prefix, *data, *err, *dir;
	size_t		 i, len;

	prefix = layout_source_prefix(source);
	sinkio_list(sink, prefix, on_key, on_listed, &kl);
	reactor_run_until(&kl.done);
	free(prefix);
	if (kl.status != ZB_OK) {
		log_warnx("%s cannot list: %s", sink->prefix,
		    kl.err ? kl.err : "error");
		cat->errors++;
	}
	for (i = 0; i < kl.n; i++) {
		if (reactor_interrupted()) {
			cat->errors++;	/* an incomplete list */
			break;
		}
		if (sinkio_get_buf_wait(sink, kl.keys[i], MANIFEST_MAX, &data,
		    &len, &err) == -1) {
			log_warnx("%s cannot read %s: %s", sink->prefix,
			    kl.keys[i], err ? err : "error");
			free(err);
			cat->errors++;
			continue;
		}
		if (manifest_parse(data, len, &a, &perr) == -1) {
			log_warnx("%s %s: bad manifest: %s", sink->prefix,
			    kl.keys[i], perr);
			cat->errors++;
			free(data);
			continue;
		}
		free(data);
		dir = layout_manifest_key(a.dir);
		if (strcmp(dir, kl.keys[i]) != 0) {
			log_warnx("%s %s: manifest names another artifact "
			    "(%s); ignored", sink->prefix, kl.keys[i], a.id);
			cat->errors++;
			artifact_clear(&a);
			free(dir);
			continue;
		}
		free(dir);
		a.sink = xstrdup(sink->sec->name);
		cat->items = xreallocarray(cat->items, cat->n + 1,
		    sizeof(*cat->items));
		cat->items[cat->n++] = a;
	}
	strv_free(kl.keys, kl.n);
	free(kl.err);
}

struct zb_inst *
catalog_sink(struct zb_config *cfg, const char *name)
{
	struct cfg_section	*sec;

	TAILQ_FOREACH(sec, &cfg->sections, entry)
		if (sec->kind == CFG_SINK && strcmp(sec->name, name) == 0)
			return sec->inst;
	return NULL;
}

void
catalog_load(struct zb_config *cfg, const char *sink, const char *source,
    struct catalog *cat)
{
	struct cfg_section	*sec;
	size_t			 i, j, start;

	memset(cat, 0, sizeof(*cat));
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (sec->kind != CFG_SINK || sec->inst == NULL)
			continue;
		if (sink != NULL && strcmp(sec->name, sink) != 0)
			continue;
		if (reactor_interrupted()) {
			cat->errors++;
			break;
		}
		start = cat->n;
		load_sink(cfg, sec->inst, source, cat);
		/* Sort within the sink, then merge keeps sink order. */
		if (cat->n > start)
			qsort(cat->items + start, cat->n - start,
			    sizeof(*cat->items), cmp_artifact);
	}
	/* Stable insertion merge: by time and id, sinks in config order. */
	/* (runs are grouped below, once the items no longer move) */
	for (i = 1; i < cat->n; i++) {
		struct artifact	 t = cat->items[i];

		for (j = i; j > 0 && cmp_artifact(&cat->items[j - 1], &t) > 0;
		    j--)
			cat->items[j] = cat->items[j - 1];
		cat->items[j] = t;
	}
	catalog_group_runs(cat);
}

/* Order copies by run: sink, source, job, run stamp; unrecorded last. */
static int
cmp_run_key(const void *p, const void *q)
{
	const struct artifact	*x = *(const struct artifact *const *)p;
	const struct artifact	*y = *(const struct artifact *const *)q;
	int			 c;

	c = strcmp(x->sink, y->sink);
	if (c == 0)
		c = strcmp(x->source, y->source);
	if (c == 0)
		c = strcmp(x->job, y->job);
	if (c != 0)
		return c;
	if ((x->run_stamp == NULL) != (y->run_stamp == NULL))
		return x->run_stamp == NULL ? 1 : -1;
	if (x->run_stamp != NULL) {
		c = layout_stamp_cmp(x->run_stamp, y->run_stamp);
		if (c != 0)
			return c;
	}
	return x < y ? -1 : x > y;
}

static int
same_run(const struct artifact *x, const struct artifact *y)
{
	return x->run_stamp != NULL && y->run_stamp != NULL &&
	    strcmp(x->sink, y->sink) == 0 &&
	    strcmp(x->source, y->source) == 0 &&
	    strcmp(x->job, y->job) == 0 &&
	    layout_stamp_cmp(x->run_stamp, y->run_stamp) == 0;
}

static int
same_plan(const struct artifact *x, const struct artifact *y)
{
	size_t	 i;

	if (x->run_nstreams != y->run_nstreams)
		return 0;
	for (i = 0; i < x->run_nstreams; i++)
		if (strcmp(x->run_streams[i], y->run_streams[i]) != 0)
			return 0;
	return 1;
}

/* Fill r from the copies v[0..n) of one run. */
static void
run_state(struct catalog_run *r, const struct artifact *const *v, size_t n)
{
	const struct artifact	*a = v[0];
	size_t			 i, j;
	int			 found, agree = 1;

	r->sink = a->sink;
	r->source = a->source;
	r->job = a->job;
	r->recorded = a->run_stamp != NULL;
	if (!r->recorded) {
		r->stamp = a->stamp;
		r->planned = r->present = 1;
		r->complete = 1;
		return;
	}
	r->stamp = a->run_stamp;
	r->planned = a->run_nstreams;
	r->missing = xcalloc(r->planned, sizeof(*r->missing));
	for (i = 1; i < n; i++)
		if (!same_plan(a, v[i]))
			agree = 0;
	if (!agree)
		log_warnx("sink:%s: the manifests of run %s of source:%s "
		    "disagree on the run's streams; taken as incomplete",
		    r->sink, r->stamp, r->source);
	for (i = 0; i < r->planned; i++) {
		for (found = 0, j = 0; j < n && !found; j++)
			found = strcmp(v[j]->stream, a->run_streams[i]) == 0;
		if (found)
			r->present++;
		else
			r->missing[r->nmissing++] = a->run_streams[i];
	}
	r->complete = agree && r->present == r->planned;
}

static void
runs_free(struct catalog *cat)
{
	size_t	 i;

	for (i = 0; i < cat->nruns; i++)
		free(cat->runs[i].missing);
	free(cat->runs);
	free(cat->item_run);
	cat->runs = NULL;
	cat->item_run = NULL;
	cat->nruns = 0;
}

void
catalog_group_runs(struct catalog *cat)
{
	const struct artifact	**v;
	size_t			 i, j;

	runs_free(cat);
	if (cat->n == 0)
		return;
	v = xcalloc(cat->n, sizeof(*v));
	for (i = 0; i < cat->n; i++)
		v[i] = &cat->items[i];
	qsort(v, cat->n, sizeof(*v), cmp_run_key);
	cat->runs = xcalloc(cat->n, sizeof(*cat->runs));
	cat->item_run = xcalloc(cat->n, sizeof(*cat->item_run));
	for (i = 0; i < cat->n; i = j) {
		for (j = i + 1; j < cat->n && same_run(v[i], v[j]); j++)
			;
		run_state(&cat->runs[cat->nruns], v + i, j - i);
		for (; i < j; i++)
			cat->item_run[v[i] - cat->items] = cat->nruns;
		cat->nruns++;
	}
	free(v);
}

const struct catalog_run *
catalog_run_of(const struct catalog *cat, const struct artifact *a)
{
	return &cat->runs[cat->item_run[a - cat->items]];
}

/* The newest copy of a's source/stream whose run is complete, or NULL. */
static const struct artifact *
newest_complete(const struct catalog *cat, const struct artifact *a)
{
	const struct artifact	*b, *best = NULL;
	size_t			 i;

	for (i = 0; i < cat->n; i++) {
		b = &cat->items[i];
		if (strcmp(b->source, a->source) != 0 ||
		    strcmp(b->stream, a->stream) != 0 ||
		    !catalog_run_of(cat, b)->complete)
			continue;
		if (best == NULL || layout_stamp_cmp(b->stamp,
		    best->stamp) > 0)
			best = b;
	}
	return best;
}

void
catalog_latest(const struct catalog *cat, const char *source,
    struct catalog_pick *p)
{
	const struct artifact		*a, *best;
	const struct catalog_run	*r;
	size_t				 i, j;

	memset(p, 0, sizeof(*p));
	if (cat->n == 0)
		return;
	p->copies = xcalloc(cat->n, sizeof(*p->copies));
	p->skipped = xcalloc(cat->n, sizeof(*p->skipped));
	for (i = 0; i < cat->n; i++) {
		a = &cat->items[i];
		if (source != NULL && strcmp(a->source, source) != 0)
			continue;
		r = catalog_run_of(cat, a);
		best = newest_complete(cat, a);
		if (r->complete) {
			if (strcmp(a->id, best->id) == 0)
				p->copies[p->n++] = a;
			continue;
		}
		if (best != NULL && layout_stamp_cmp(a->stamp,
		    best->stamp) < 0)
			continue;	/* older than what is taken */
		for (j = 0; j < p->nskipped && p->skipped[j] != r; j++)
			;
		if (j == p->nskipped)
			p->skipped[p->nskipped++] = r;
	}
}

void
catalog_pick_free(struct catalog_pick *p)
{
	free(p->copies);
	free(p->skipped);
	memset(p, 0, sizeof(*p));
}

void
catalog_free(struct catalog *cat)
{
	size_t	 i;

	runs_free(cat);
	for (i = 0; i < cat->n; i++)
		artifact_clear(&cat->items[i]);
	free(cat->items);
	memset(cat, 0, sizeof(*cat));
}

size_t
catalog_copies(const struct catalog *cat, const char *id,
    const struct artifact **out, size_t max)
{
	size_t	 i, n = 0;

	for (i = 0; i < cat->n && n < max; i++)
		if (strcmp(cat->items[i].id, id) == 0)
			out[n++] = &cat->items[i];
	return n;
}
