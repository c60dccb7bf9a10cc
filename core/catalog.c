/*
 * catalog.c - the list of artifacts, rebuilt from the sinks' manifests.
 *
 * Nothing but a manifest.json makes an artifact (DESIGN.md section 3), so
 * the catalog lists each sink's keys, keeps those that end in
 * "/manifest.json" at the depth the layout puts them, reads and checks
 * each, and insists that the manifest's id matches where it was found.
 * This works against any single sink on a machine that never ran the
 * daemon.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
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
	const char	*suffix = "/" MANIFEST_NAME;
	size_t		 n = strlen(e->key), m = strlen(suffix);
	const char	*p;
	int		 slashes = 0;

	if (n <= m || strcmp(e->key + n - m, suffix) != 0)
		return;
	for (p = e->key; *p != '\0'; p++)
		if (*p == '/')
			slashes++;
	if (slashes != 3)	/* source/stream/stamp/manifest.json */
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

	prefix = source != NULL ? xasprintf("%s/", source) : xstrdup("");
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
		dir = xasprintf("%s/%s", a.dir, MANIFEST_NAME);
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
	for (i = 1; i < cat->n; i++) {
		struct artifact	 t = cat->items[i];

		for (j = i; j > 0 && cmp_artifact(&cat->items[j - 1], &t) > 0;
		    j--)
			cat->items[j] = cat->items[j - 1];
		cat->items[j] = t;
	}
}

void
catalog_free(struct catalog *cat)
{
	size_t	 i;

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
