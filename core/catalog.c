/*
 * catalog.c - the list of artifacts, rebuilt from the sinks' manifests.
 *
 * Nothing but a manifest.json makes an artifact (DESIGN.md section 3), so
 * the catalog lists each sink's keys, keeps those that end in
 * "/manifest.json" at the depth the layout puts them, reads and checks
 * each, and insists that the manifest's id matches where it was found.
 * This works against any single sink on a machine that never ran the
 * daemon.  A load is asynchronous (catalog_load_start): every selected
 * sink is listed at once and the manifests are read at most
 * CATALOG_INFLIGHT at a time, round robin over the sinks; the query's
 * job and time range are applied to each manifest read.
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

/* ---- loading ------------------------------------------------------------ */

#define CATALOG_INFLIGHT	8	/* manifest reads at once, per catalog */

struct cat_load;

/* One selected sink: its listing, and the copies read from it. */
struct cat_sink {
	struct cat_load		*ld;
	struct zb_inst		*inst;
	char			**keys;		/* manifests listed */
	size_t			 nkeys;
	size_t			 next;		/* keys[next] is read next */
	int			 listed;
	struct artifact		*items;
	size_t			 n;
};

struct cat_load {
	struct zb_config	*cfg;
	char			*source, *job;	/* the query's, copied */
	time_t			 since, until;
	struct cat_sink		*sinks;		/* config order */
	size_t			 nsinks;
	size_t			 listing;	/* lists not yet done */
	size_t			 inflight;	/* manifest reads */
	int			 pumping;
	int			 starting;
	int			 finished;
	int			 stopped;	/* interrupted: read no more */
	struct catalog		*cat;
	catalog_done_fn		 done;
	void			*arg;
	struct zb_timer		*defer;
};

/* A manifest read. */
struct cat_get {
	struct cat_sink		*cs;
	char			*key;
};

static void	load_pump(struct cat_load *);

static void
on_key(void *arg, const struct zb_list_entry *e)
{
	struct cat_sink	*cs = arg;

	if (!layout_is_manifest_key(e->key))
		return;
	cs->keys = xreallocarray(cs->keys, cs->nkeys + 1, sizeof(*cs->keys));
	cs->keys[cs->nkeys++] = xstrdup(e->key);
}

static void
on_listed(void *arg, int status, const char *err)
{
	struct cat_sink	*cs = arg;
	struct cat_load	*ld = cs->ld;

	if (status != ZB_OK) {
		log_warnx("%s cannot list: %s", cs->inst->prefix,
		    err ? err : "error");
		ld->cat->errors++;
	}
	cs->listed = 1;
	ld->listing--;
	load_pump(ld);
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

/* Does the query take copy a? */
static int
load_wants(const struct cat_load *ld, const struct artifact *a)
{
	if (ld->job != NULL && strcmp(a->job, ld->job) != 0)
		return 0;
	if (ld->since != 0 && a->time < ld->since)
		return 0;
	if (ld->until != 0 && a->time >= ld->until)
		return 0;
	return 1;
}

static void
on_manifest(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct cat_get	*g = arg;
	struct cat_sink	*cs = g->cs;
	struct cat_load	*ld = cs->ld;
	struct zb_inst	*sink = cs->inst;
	struct artifact	 a;
	const char	*perr;
	char		*dir;

	ld->inflight--;
	if (status != ZB_OK) {
		log_warnx("%s cannot read %s: %s", sink->prefix, g->key,
		    err ? err : "error");
		ld->cat->errors++;
	} else if (manifest_parse(data != NULL ? data : "", len, &a,
	    &perr) == -1) {
		log_warnx("%s %s: bad manifest: %s", sink->prefix, g->key,
		    perr);
		ld->cat->errors++;
	} else {
		dir = layout_manifest_key(a.dir);
		if (strcmp(dir, g->key) != 0) {
			log_warnx("%s %s: manifest names another artifact "
			    "(%s); ignored", sink->prefix, g->key, a.id);
			ld->cat->errors++;
			artifact_clear(&a);
		} else if (!load_wants(ld, &a))
			artifact_clear(&a);
		else {
			a.sink = xstrdup(sink->sec->name);
			cs->items = xreallocarray(cs->items, cs->n + 1,
			    sizeof(*cs->items));
			cs->items[cs->n++] = a;
		}
		free(dir);
	}
	free(g->key);
	free(g);
	load_pump(ld);
}

/* Merge the sinks' copies: by time and id, sinks in config order. */
static void
load_merge(struct cat_load *ld)
{
	struct catalog	*cat = ld->cat;
	struct cat_sink	*cs;
	size_t		 i, j, k;

	for (k = 0; k < ld->nsinks; k++) {
		cs = &ld->sinks[k];
		if (cs->n > 0)
			qsort(cs->items, cs->n, sizeof(*cs->items),
			    cmp_artifact);
		cat->items = xreallocarray(cat->items, cat->n + cs->n + 1,
		    sizeof(*cat->items));
		for (i = 0; i < cs->n; i++)
			cat->items[cat->n++] = cs->items[i];
		free(cs->items);
		cs->items = NULL;
		cs->n = 0;
	}
	/* Stable insertion merge: equal keys keep their sink order. */
	for (i = 1; i < cat->n; i++) {
		struct artifact	 t = cat->items[i];

		for (j = i; j > 0 && cmp_artifact(&cat->items[j - 1], &t) > 0;
		    j--)
			cat->items[j] = cat->items[j - 1];
		cat->items[j] = t;
	}
	catalog_group_runs(cat);
}

static void
load_free(struct cat_load *ld)
{
	size_t	 k;

	for (k = 0; k < ld->nsinks; k++) {
		strv_free(ld->sinks[k].keys, ld->sinks[k].nkeys);
		free(ld->sinks[k].items);
	}
	free(ld->sinks);
	free(ld->source);
	free(ld->job);
	free(ld);
}

static void
load_deliver(void *arg)
{
	struct cat_load	*ld = arg;
	struct catalog	*cat = ld->cat;
	catalog_done_fn	 done = ld->done;
	void		*darg = ld->arg;

	ld->defer = NULL;
	load_free(ld);
	done(darg, cat);
}

/* Start reads while fewer than CATALOG_INFLIGHT run; finish at the end. */
static void
load_pump(struct cat_load *ld)
{
	struct cat_sink	*cs;
	struct cat_get	*g;
	size_t		 k;
	int		 more = 1;

	if (ld->pumping || ld->finished)
		return;
	ld->pumping = 1;
	while (more && ld->inflight < CATALOG_INFLIGHT) {
		more = 0;
		if (!ld->stopped && reactor_interrupted()) {
			ld->stopped = 1;
			ld->cat->errors++;	/* an incomplete list */
		}
		if (ld->stopped)
			break;
		/* Round robin over the sinks, one read each per turn. */
		for (k = 0; k < ld->nsinks &&
		    ld->inflight < CATALOG_INFLIGHT; k++) {
			cs = &ld->sinks[k];
			if (!cs->listed || cs->next >= cs->nkeys)
				continue;
			g = xcalloc(1, sizeof(*g));
			g->cs = cs;
			g->key = cs->keys[cs->next];
			cs->keys[cs->next++] = NULL;
			ld->inflight++;
			more = 1;
			sinkio_get_buf(cs->inst, g->key, MANIFEST_MAX,
			    on_manifest, g);
		}
	}
	ld->pumping = 0;
	if (ld->listing > 0 || ld->inflight > 0)
		return;
	for (k = 0; k < ld->nsinks && !ld->stopped; k++)
		if (ld->sinks[k].next < ld->sinks[k].nkeys)
			return;		/* more to read (a read completed
					   inside sinkio_get_buf) */
	ld->finished = 1;
	load_merge(ld);
	/* Never call back from inside catalog_load_start. */
	if (ld->starting)
		ld->defer = reactor_timer_add(0, load_deliver, ld);
	else
		load_deliver(ld);
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
catalog_load_start(struct zb_config *cfg, const struct catalog_query *q,
    catalog_done_fn done, void *arg)
{
	static const struct catalog_query everything;
	struct cfg_section	*sec;
	struct cat_load		*ld;
	struct cat_sink		*cs;
	char			*prefix;
	size_t			 k;

	if (q == NULL)
		q = &everything;
	ld = xcalloc(1, sizeof(*ld));
	ld->cfg = cfg;
	ld->cat = xcalloc(1, sizeof(*ld->cat));
	ld->done = done;
	ld->arg = arg;
	ld->source = q->source != NULL ? xstrdup(q->source) : NULL;
	ld->job = q->job != NULL ? xstrdup(q->job) : NULL;
	ld->since = q->since;
	ld->until = q->until;
	ld->starting = 1;
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (sec->kind != CFG_SINK || sec->inst == NULL)
			continue;
		if (q->sink != NULL && strcmp(sec->name, q->sink) != 0)
			continue;
		ld->sinks = xreallocarray(ld->sinks, ld->nsinks + 1,
		    sizeof(*ld->sinks));
		cs = &ld->sinks[ld->nsinks++];
		memset(cs, 0, sizeof(*cs));
		cs->ld = ld;
		cs->inst = sec->inst;
	}
	if (reactor_interrupted()) {
		ld->stopped = 1;
		ld->cat->errors++;
	}
	/* All sinks list at once: a slow one does not hold up the others. */
	ld->listing = ld->stopped ? 0 : ld->nsinks;
	prefix = layout_source_prefix(ld->source);
	for (k = 0; k < ld->nsinks && !ld->stopped; k++)
		sinkio_list(ld->sinks[k].inst, prefix, on_key, on_listed,
		    &ld->sinks[k]);
	free(prefix);
	load_pump(ld);		/* finishes at once if nothing to read */
	ld->starting = 0;
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

void
catalog_destroy(struct catalog *cat)
{
	if (cat == NULL)
		return;
	catalog_free(cat);
	free(cat);
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

/* Order copies by source, stream, sink, then stamp (newest last). */
static int
cmp_sss(const void *p, const void *q)
{
	const struct artifact	*x = *(const struct artifact *const *)p;
	const struct artifact	*y = *(const struct artifact *const *)q;
	int			 c;

	c = strcmp(x->source, y->source);
	if (c == 0)
		c = strcmp(x->stream, y->stream);
	if (c == 0)
		c = strcmp(x->sink, y->sink);
	if (c == 0)
		c = layout_stamp_cmp(x->stamp, y->stamp);
	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

void
catalog_newest(const struct catalog *cat, struct catalog_pick *p)
{
	const struct artifact		**v, *a, *best;
	const struct catalog_run	*r;
	unsigned char			*take;
	size_t				 i, j, k, g;

	memset(p, 0, sizeof(*p));
	if (cat->n == 0)
		return;
	v = xcalloc(cat->n, sizeof(*v));
	take = xcalloc(cat->n, 1);
	for (i = 0; i < cat->n; i++)
		v[i] = &cat->items[i];
	qsort(v, cat->n, sizeof(*v), cmp_sss);
	p->copies = xcalloc(cat->n, sizeof(*p->copies));
	p->skipped = xcalloc(cat->n, sizeof(*p->skipped));
	for (i = 0; i < cat->n; i = j) {
		/* v[i..j): one source/stream/sink, oldest first */
		for (j = i + 1; j < cat->n && strcmp(v[j]->source,
		    v[i]->source) == 0 && strcmp(v[j]->stream,
		    v[i]->stream) == 0 && strcmp(v[j]->sink,
		    v[i]->sink) == 0; j++)
			;
		best = NULL;
		for (k = j; k > i && best == NULL; k--)
			if (catalog_run_of(cat, v[k - 1])->complete)
				best = v[k - 1];
		if (best != NULL)
			take[best - cat->items] = 1;
		/* Incomplete runs with a copy at least as new: skipped. */
		for (k = i; k < j; k++) {
			a = v[k];
			r = catalog_run_of(cat, a);
			if (r->complete || (best != NULL &&
			    layout_stamp_cmp(a->stamp, best->stamp) < 0))
				continue;
			for (g = 0; g < p->nskipped && p->skipped[g] != r; g++)
				;
			if (g == p->nskipped)
				p->skipped[p->nskipped++] = r;
		}
	}
	for (i = 0; i < cat->n; i++)
		if (take[i])
			p->copies[p->n++] = &cat->items[i];
	free(take);
	free(v);
}
