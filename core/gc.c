/*
 * gc.c - garbage collection on one sink (prune, and the start of a run).
 *
 * Garbage is what no committed copy needs: in an artifact directory
 * without manifest.json, every object; in any artifact directory, every
 * pending put (a temporary file, an S3 multipart upload; ABI 1.3
 * list_pending).  It is removed only when
 *  - no live run is writing the directory: a run writes an in-progress
 *    marker (LAYOUT_MARKER_NAME) before a copy's data and removes it after the
 *    manifest; the marker names the host and the job lock the run holds.
 *    On this host, the lock tells whether that run is alive; a marker
 *    from another host counts as alive for GC_FOREIGN_RUN_MAX, and one
 *    that cannot be read keeps its directory too;
 *  - and nothing in the directory was written within the grace period
 *    (age by when objects were written, not by when the run started).
 * Objects outside the layout (source/stream/stamp/...) are never touched.
 *
 * Steps: list objects and pending puts -> read the markers of candidate
 * directories (a few at once) -> decide -> start every removal at once
 * (so that a sink can batch them) -> done.  Each step runs from an event,
 * never inside a sink's callback, so a callback that completes before
 * its start call returned is harmless.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "gc.h"
#include "json.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "sinkio.h"
#include "state.h"
#include "util.h"

#define GC_MAX_ENTRIES		(1 << 20)
#define GC_MARKER_READS		8	/* markers read at once */

struct gc_ent {
	char		*key;
	char		*handle;	/* a pending put's; NULL: an object */
	time_t		 mtime;
	int		 remove;
};

enum gc_verdict { V_SKIP, V_KEEP, V_REMOVE };

struct gc_dir {
	size_t		 first, n;	/* in the sorted entries */
	size_t		 dirlen;
	int		 manifest;
	ssize_t		 marker;	/* entry index, or -1 */
	int		 reading;
	int		 alive;
	char		*why;
	enum gc_verdict	 verdict;
};

enum gc_phase { GC_LISTING, GC_MARKERS, GC_REMOVING, GC_DONE };

struct gc {
	struct gc_params p;
	char		*prefix;
	time_t		 now;
	enum gc_phase	 phase;
	struct event	*step_ev;
	struct gc_ent	*ents;
	size_t		 nents;
	int		 truncated;
	struct gc_dir	*dirs;
	size_t		 ndirs;
	unsigned	 waiting;	/* listings, reads or removals */
	size_t		 next_read;
	struct gc_result res;
};

struct gc_removal {
	struct gc	*gc;
	size_t		 idx;
	size_t		 dir;
};

struct gc_read {
	struct gc	*gc;
	size_t		 dir;
};

static void
schedule(struct gc *g)
{
	event_active(g->step_ev, 0, 0);
}

static const char *
sink_name(const struct gc *g)
{
	return g->p.sink->sec->name;
}

static void
report(struct gc *g, const char *key, const char *what,
    enum gc_action action, int failed, const char *reason)
{
	struct gc_item	 it;

	if (g->p.item == NULL)
		return;
	memset(&it, 0, sizeof(it));
	it.sink = sink_name(g);
	it.key = key;
	it.what = what;
	it.action = action;
	it.dry_run = g->p.dry_run;
	it.failed = failed;
	it.reason = reason;
	g->p.item(g->p.arg, &it);
}

/* ---- listing ------------------------------------------------------------ */

static void
add_ent(struct gc *g, const char *key, const char *handle, time_t mtime)
{
	struct layout_key	 lk;

	if (layout_parse_key(key, &lk) == -1)
		return;		/* not ours: left alone */
	if (g->nents == GC_MAX_ENTRIES) {
		g->truncated = 1;
		return;
	}
	g->ents = xreallocarray(g->ents, g->nents + 1, sizeof(*g->ents));
	g->ents[g->nents].key = xstrdup(key);
	g->ents[g->nents].handle = handle != NULL ? xstrdup(handle) : NULL;
	g->ents[g->nents].mtime = mtime;
	g->ents[g->nents].remove = 0;
	g->nents++;
}

static void
on_object(void *arg, const struct zb_list_entry *e)
{
	add_ent(arg, e->key, NULL, e->mtime);
}

static void
on_pending(void *arg, const struct zb_pending_entry *e)
{
	/* An empty handle would read as "an object" when removing. */
	add_ent(arg, e->key, e->handle != NULL ? e->handle : "", e->mtime);
}

static void
on_listed(void *arg, int status, const char *err)
{
	struct gc	*g = arg;

	if (status != ZB_OK) {
		log_warnx("sink:%s: cannot list: %s", sink_name(g),
		    err != NULL ? err : "error");
		g->res.errors++;
	}
	g->waiting--;
	schedule(g);
}

/* ---- grouping into artifact directories ---------------------------------- */

static int
cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct gc_ent *)a)->key,
	    ((const struct gc_ent *)b)->key);
}

static const char *
ent_name(const struct gc *g, const struct gc_dir *d, size_t i)
{
	return g->ents[i].key + d->dirlen + 1;
}

static void
group(struct gc *g)
{
	struct gc_dir		*d;
	struct layout_key	 lk;
	size_t			 i, j, dl;

	if (g->nents == 0)
		return;
	qsort(g->ents, g->nents, sizeof(*g->ents), cmp_ent);
	for (i = 0; i < g->nents; i = j) {
		(void)layout_parse_key(g->ents[i].key, &lk);	/* add_ent checked it */
		dl = lk.dir_len;
		for (j = i + 1; j < g->nents &&
		    strncmp(g->ents[j].key, g->ents[i].key, dl + 1) == 0; j++)
			;
		g->dirs = xreallocarray(g->dirs, g->ndirs + 1,
		    sizeof(*g->dirs));
		d = &g->dirs[g->ndirs++];
		memset(d, 0, sizeof(*d));
		d->first = i;
		d->n = j - i;
		d->dirlen = dl;
		d->marker = -1;
		for (; i < j; i++) {
			if (g->ents[i].handle != NULL)
				continue;
			if (strcmp(ent_name(g, d, i), LAYOUT_MANIFEST_NAME) == 0)
				d->manifest = 1;
			else if (strcmp(ent_name(g, d, i), LAYOUT_MARKER_NAME) == 0)
				d->marker = (ssize_t)i;
		}
	}
}

/* Garbage if dead: in a committed directory only pending puts and a
 * leftover marker, otherwise everything. */
static int
candidate(const struct gc *g, const struct gc_dir *d, size_t i)
{
	return !d->manifest || g->ents[i].handle != NULL ||
	    (ssize_t)i == d->marker;
}

/* ---- markers ----------------------------------------------------------------- */

int
gc_marker_alive(const char *text, size_t len, time_t age, char **why)
{
	struct json	*doc;
	const char	*err, *host, *lock, *stamp, *job;
	size_t		 errpos;
	int64_t		 pid = 0;
	int		 alive = 0;

	*why = NULL;
	doc = json_parse(text, len, &err, &errpos);
	if (doc == NULL || doc->type != JSON_OBJECT ||
	    json_get_str(doc, "format") == NULL ||
	    strcmp(json_get_str(doc, "format"), MARKER_FORMAT) != 0) {
		json_free(doc);
		return 0;	/* unreadable: judged by age alone */
	}
	host = json_get_str(doc, "host");
	lock = json_get_str(doc, "lock");
	stamp = json_get_str(doc, "stamp");
	job = json_get_str(doc, "job");
	(void)json_get_i64(doc, "pid", &pid);
	if (host == NULL || lock == NULL || stamp == NULL || job == NULL) {
		json_free(doc);
		return 0;
	}
	if (strcmp(host, state_host_id()) == 0) {
		alive = lock[0] == '/' && state_run_alive(lock, stamp);
		if (alive)
			*why = xasprintf("a run in progress (job %s, pid "
			    "%lld, run %s)", job, (long long)pid, stamp);
	} else {
		alive = age < GC_FOREIGN_RUN_MAX;
		if (alive)
			*why = xasprintf("a run in progress on host %s "
			    "(job %s; its marker is %lld h old, taken as "
			    "alive for %d days)", host, job,
			    (long long)(age / 3600),
			    GC_FOREIGN_RUN_MAX / 86400);
	}
	json_free(doc);
	return alive;
}

static void
judge_marker(struct gc *g, struct gc_dir *d, const char *text, size_t len)
{
	d->alive = gc_marker_alive(text, len,
	    g->now - g->ents[d->marker].mtime, &d->why);
}

static void
on_marker(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct gc_read	*r = arg;
	struct gc	*g = r->gc;
	struct gc_dir	*d;

	if (status == ZB_OK)
		judge_marker(g, &g->dirs[r->dir], data, len);
	else {
		/*
		 * Not knowing whose the directory is, keep it: a failed read
		 * (a 503, a timeout) must not expose a live run's copy to an
		 * age it is long past.  Gone meanwhile: its run ended, and the
		 * next prune looks again.
		 */
		d = &g->dirs[r->dir];
		d->alive = 1;
		d->why = xasprintf("its in-progress marker could not be read: "
		    "%s", err != NULL ? err : "error");
	}
	free(r);
	g->waiting--;
	schedule(g);
}

/* Start reading markers, at most GC_MARKER_READS at once; 1 while some
 * are left. */
static int
read_markers(struct gc *g)
{
	struct gc_dir	*d;
	struct gc_read	*r;

	while (g->next_read < g->ndirs && g->waiting < GC_MARKER_READS) {
		d = &g->dirs[g->next_read++];
		if (d->marker < 0 || d->manifest)
			continue;
		r = xcalloc(1, sizeof(*r));
		r->gc = g;
		r->dir = (size_t)(d - g->dirs);
		g->waiting++;
		sinkio_get_buf(g->p.sink, g->ents[d->marker].key, MARKER_MAX,
		    on_marker, r);
	}
	return g->next_read < g->ndirs || g->waiting > 0;
}

/* ---- deciding and removing ------------------------------------------------------ */

static void
decide(struct gc *g, struct gc_dir *d)
{
	time_t	 newest = 0;
	size_t	 i, n = 0;
	char	*dir, *why;

	for (i = d->first; i < d->first + d->n; i++)
		if (candidate(g, d, i)) {
			n++;
			if (g->ents[i].mtime > newest)
				newest = g->ents[i].mtime;
		}
	if (n == 0)
		return;
	dir = xstrndup(g->ents[d->first].key, d->dirlen);
	if (d->alive) {
		d->verdict = V_KEEP;
		report(g, dir, "directory", GC_KEEP, 0, d->why);
		g->res.kept++;
	} else if (newest > g->now - g->p.grace_s) {
		d->verdict = V_KEEP;
		why = xasprintf("written %lld s ago, within the grace period",
		    (long long)(g->now - newest));
		report(g, dir, "directory", GC_KEEP, 0, why);
		free(why);
		g->res.kept++;
	} else {
		d->verdict = V_REMOVE;
		for (i = d->first; i < d->first + d->n; i++)
			g->ents[i].remove = candidate(g, d, i);
	}
	free(dir);
}

static const char *
removal_reason(const struct gc *g, const struct gc_dir *d, size_t i)
{
	if (g->ents[i].handle != NULL)
		return "a put that was never committed";
	if (d->manifest)
		return "a marker a finished run left";
	return "no manifest: left by a failed or interrupted run";
}

static void
on_removed(void *arg, int status, const char *err)
{
	struct gc_removal	*r = arg;
	struct gc		*g = r->gc;
	struct gc_ent		*e = &g->ents[r->idx];
	char			*why;

	if (status == ZB_OK) {
		g->res.removed++;
		report(g, e->key, e->handle != NULL ? "pending put" :
		    "object", GC_REMOVE, 0, removal_reason(g,
		    &g->dirs[r->dir], r->idx));
	} else if (status == ZB_ERR_RETAINED) {
		/* Object Lock: not ours to remove yet; not an error. */
		g->res.retained++;
		report(g, e->key, e->handle != NULL ? "pending put" :
		    "object", GC_RETAINED, 0, err != NULL ? err :
		    "retained by the sink");
	} else {
		g->res.errors++;
		why = xasprintf("cannot remove: %s", err != NULL ? err :
		    "error");
		report(g, e->key, e->handle != NULL ? "pending put" :
		    "object", GC_REMOVE, 1, why);
		free(why);
	}
	free(r);
	g->waiting--;
	schedule(g);
}

static void
start_removals(struct gc *g)
{
	struct gc_removal	*r;
	struct gc_dir		*d;
	size_t			 i, k, pass;

	/* Markers last: an interrupted prune leaves them to say why. */
	for (pass = 0; pass < 2; pass++)
		for (k = 0; k < g->ndirs; k++) {
			d = &g->dirs[k];
			for (i = d->first; i < d->first + d->n; i++) {
				if (!g->ents[i].remove ||
				    ((ssize_t)i == d->marker) != (pass == 1))
					continue;
				if (g->p.dry_run) {
					g->res.removed++;
					report(g, g->ents[i].key,
					    g->ents[i].handle != NULL ?
					    "pending put" : "object",
					    GC_REMOVE, 0,
					    removal_reason(g, d, i));
					continue;
				}
				r = xcalloc(1, sizeof(*r));
				r->gc = g;
				r->idx = i;
				r->dir = k;
				g->waiting++;
				if (g->ents[i].handle != NULL)
					sinkio_remove_pending(g->p.sink,
					    g->ents[i].key, g->ents[i].handle,
					    on_removed, r);
				else
					sinkio_remove(g->p.sink,
					    g->ents[i].key, on_removed, r);
			}
		}
}

/* ---- the steps ------------------------------------------------------------------ */

static void
gc_free(struct gc *g)
{
	size_t	 i;

	for (i = 0; i < g->nents; i++) {
		free(g->ents[i].key);
		free(g->ents[i].handle);
	}
	for (i = 0; i < g->ndirs; i++)
		free(g->dirs[i].why);
	free(g->ents);
	free(g->dirs);
	free(g->prefix);
	event_free(g->step_ev);
	free(g);
}

static void
step(evutil_socket_t fd, short what, void *arg)
{
	struct gc	*g = arg;
	size_t		 k;

	if (g->waiting > 0 && g->phase != GC_MARKERS)
		return;
	switch (g->phase) {
	case GC_LISTING:
		if (g->res.errors > 0) {
			g->phase = GC_DONE;
			break;
		}
		if (g->truncated)
			log_warnx("sink:%s: more than %d objects: looked at "
			    "the first only", sink_name(g), GC_MAX_ENTRIES);
		group(g);
		g->phase = GC_MARKERS;
		/* FALLTHROUGH */
	case GC_MARKERS:
		if (read_markers(g))
			return;
		for (k = 0; k < g->ndirs; k++)
			decide(g, &g->dirs[k]);
		g->phase = GC_REMOVING;
		if (!reactor_interrupted())	/* SIGINT/SIGTERM: stop here */
			start_removals(g);
		if (g->waiting > 0)
			return;
		/* FALLTHROUGH */
	case GC_REMOVING:
		g->phase = GC_DONE;
		break;
	case GC_DONE:
		break;
	}
	g->p.done(g->p.arg, &g->res);
	gc_free(g);
}

void
gc_start(const struct gc_params *p)
{
	struct gc	*g;

	g = xcalloc(1, sizeof(*g));
	g->p = *p;
	g->prefix = xstrdup(p->prefix != NULL ? p->prefix : "");
	g->p.prefix = g->prefix;
	g->now = time(NULL);
	g->phase = GC_LISTING;
	g->step_ev = event_new(reactor_base(), -1, 0, step, g);
	g->waiting = 2;
	sinkio_list(p->sink, g->prefix, on_object, on_listed, g);
	sinkio_list_pending(p->sink, g->prefix, on_pending, on_listed, g);
	schedule(g);
}
