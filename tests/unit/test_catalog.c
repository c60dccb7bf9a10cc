/*
 * test_catalog.c - the asynchronous catalog load against real local
 * sinks: it calls back on the loop, reads manifests in parallel but never
 * more than 8 at a time, and honours every field of the query; and the
 * check service's selection on such a catalog.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include "artifact.h"
#include "catalog.h"
#include "check.h"
#include "layout.h"
#include "plugin.h"
#include "reactor.h"
#include "testlib.h"

#define SHA	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
setup(void)
{
	test_log_start();
	log_set_level(ZB_LOG_INFO);
	reactor_init();
}

TestSuite(catalog_load, .init = setup, .timeout = 60);

/* Write a committed copy's manifest into a local sink's directory. */
static void
put_manifest(const char *root, const char *source, const char *stream,
    const char *stamp, const char *job)
{
	struct manifest_in	 m;
	struct compression	 comp;
	const char		*err, *plan[1];
	char			*id, *text, *dir, *path;
	FILE			*f;

	cr_assert_eq(config_parse_compression("none", &comp, &err), 0);
	id = xasprintf("%s/%s@%s", source, stream, stamp);
	plan[0] = stream;
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.job = job;
	m.source = source;
	m.stream = stream;
	m.stamp = stamp;
	m.data = "data.raw";
	m.source_plugin = "command";
	m.source_plugin_version = "1";
	m.sink = "disk";
	m.sink_plugin = "local";
	m.sink_plugin_version = "1";
	m.stored_sha = SHA;
	m.plain_sha = SHA;
	m.comp = &comp;
	m.run_stamp = stamp;
	m.run_streams = plan;
	m.run_nstreams = 1;
	text = manifest_build(&m);
	cr_assert_not_null(text);
	dir = xasprintf("%s/%s/%s/%s", root, source, stream, stamp);
	cr_assert_eq(mkdir_p(dir, 0700), 0, "%s", dir);
	path = xasprintf("%s/%s", dir, LAYOUT_MANIFEST_NAME);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	free(path);
	free(dir);
	free(text);
	free(id);
}

/* ---- counting the reads in flight ------------------------------------ */

static int (*real_get_open)(void *, struct zb_io *, const char *,
    const struct zb_producer_ops **, void **);
static int	 gets_open, gets_max, gets_total;

struct counted {
	const struct zb_producer_ops	*ops;
	void				*pctx;
};

static void
counted_pause(void *p)
{
	struct counted	*c = p;

	if (c->ops->pause != NULL)
		c->ops->pause(c->pctx);
}

static void
counted_resume(void *p)
{
	struct counted	*c = p;

	if (c->ops->resume != NULL)
		c->ops->resume(c->pctx);
}

static void
counted_close(void *p)
{
	struct counted	*c = p;

	gets_open--;
	if (c->ops->close != NULL)
		c->ops->close(c->pctx);
	free(c);
}

static const struct zb_producer_ops counted_ops = {
	counted_pause, counted_resume, counted_close
};

static int
counted_get_open(void *ctx, struct zb_io *io, const char *key,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct counted	*c = xcalloc(1, sizeof(*c));
	int		 rc;

	rc = real_get_open(ctx, io, key, &c->ops, &c->pctx);
	if (rc != ZB_OK) {
		free(c);
		return rc;
	}
	*ops = &counted_ops;
	*pctx = c;
	if (++gets_open > gets_max)
		gets_max = gets_open;
	gets_total++;
	return rc;
}

/* ---- loading ------------------------------------------------------------ */

struct loaded {
	int		 done;
	struct catalog	*cat;
};

static void
on_loaded(void *arg, struct catalog *cat)
{
	struct loaded	*l = arg;

	cr_assert_eq(l->done, 0, "called back twice");
	l->cat = cat;
	l->done = 1;
}

static struct catalog *
load(struct zb_config *cfg, const struct catalog_query *q)
{
	struct loaded	 l = { 0 };

	catalog_load_start(cfg, q, on_loaded, &l);
	cr_assert_eq(l.done, 0, "catalog_load_start called back at once");
	reactor_run_until(&l.done);
	cr_assert_not_null(l.cat);
	return l.cat;
}

static struct zb_config *
two_sinks(const char *dir)
{
	struct zb_config	*cfg;

	cfg = test_config("[daemon]\nplugin_dir = %s\nstate_dir = %s/state\n"
	    "[source:pg]\nplugin = command\ncommand = true\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[sink:far]\nplugin = local\npath = %s/far\n"
	    "[job:nightly]\nsource = pg\nsinks = disk, far\n",
	    test_plugin_dir(), dir, dir, dir);
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_eq(plugin_bind_config(cfg, 1), 0, "%s", test_logged());
	return cfg;
}

static void
done_with(struct zb_config *cfg, char *dir)
{
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(catalog_load, parallel_reads_bounded_at_eight)
{
	char			*dir = test_tmpdir(), *p, stamp[32];
	struct zb_config	*cfg;
	struct catalog		*cat;
	struct zb_inst		*disk;
	int			 i;

	for (i = 0; i < 30; i++) {
		snprintf(stamp, sizeof(stamp), "2026-12-%02dT010000Z", i + 1);
		p = xasprintf("%s/disk", dir);
		put_manifest(p, "pg", "db", stamp, "nightly");
		free(p);
		if (i % 3 != 0)
			continue;
		p = xasprintf("%s/far", dir);
		put_manifest(p, "pg", "db", stamp, "nightly");
		free(p);
	}
	cfg = two_sinks(dir);
	disk = catalog_sink(cfg, "disk");
	cr_assert_not_null(disk);
	/* Both sinks share the local plugin: every read is counted. */
	real_get_open = disk->plugin->desc.get_open;
	disk->plugin->desc.get_open = counted_get_open;
	cat = load(cfg, NULL);
	disk->plugin->desc.get_open = real_get_open;
	cr_assert_eq(cat->errors, 0, "%s", test_logged());
	cr_assert_eq(cat->n, 40);
	cr_assert_eq(gets_total, 40);
	cr_assert_eq(gets_open, 0);
	cr_assert_eq(gets_max, 8, "at most 8 reads, and 8 when there are "
	    "more: %d", gets_max);
	/* By time, the sinks in config order for equal copies. */
	cr_assert_str_eq(cat->items[0].sink, "disk");
	cr_assert_str_eq(cat->items[1].sink, "far");
	cr_assert_str_eq(cat->items[0].id, cat->items[1].id);
	cr_assert_str_eq(cat->items[39].id, "pg/db@2026-12-30T010000Z");
	cr_assert_eq(cat->nruns, 40);
	catalog_destroy(cat);
	done_with(cfg, dir);
}

/* The ids of cat, one per line (sink:id). */
static char *
ids(const struct catalog *cat)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1 << 20);
	(void)buf_puts(&b, "");
	for (i = 0; i < cat->n; i++)
		(void)buf_printf(&b, "%s:%s\n", cat->items[i].sink,
		    cat->items[i].id);
	return buf_take(&b);
}

Test(catalog_load, query_filters)
{
	char			*dir = test_tmpdir(), *disk, *far, *s;
	struct zb_config	*cfg;
	struct catalog_query	 q;
	struct catalog		*cat;
	time_t			 t;

	disk = xasprintf("%s/disk", dir);
	far = xasprintf("%s/far", dir);
	put_manifest(disk, "pg", "db", "2026-12-01T010000Z", "nightly");
	put_manifest(disk, "pg", "db", "2026-12-02T010000Z", "hourly");
	put_manifest(disk, "pg", "db", "2026-12-03T010000Z", "nightly");
	put_manifest(disk, "redis", "dump", "2026-12-02T010000Z", "cache");
	put_manifest(far, "pg", "db", "2026-12-02T010000Z", "hourly");
	put_manifest(far, "redis", "dump", "2026-12-03T010000Z", "cache");
	cfg = two_sinks(dir);

	cat = load(cfg, NULL);
	s = ids(cat);
	cr_assert_str_eq(s, "disk:pg/db@2026-12-01T010000Z\n"
	    "disk:pg/db@2026-12-02T010000Z\n"
	    "far:pg/db@2026-12-02T010000Z\n"
	    "disk:redis/dump@2026-12-02T010000Z\n"
	    "disk:pg/db@2026-12-03T010000Z\n"
	    "far:redis/dump@2026-12-03T010000Z\n");
	free(s);
	catalog_destroy(cat);

	memset(&q, 0, sizeof(q));
	q.sink = "far";
	cat = load(cfg, &q);
	s = ids(cat);
	cr_assert_str_eq(s, "far:pg/db@2026-12-02T010000Z\n"
	    "far:redis/dump@2026-12-03T010000Z\n");
	free(s);
	catalog_destroy(cat);

	memset(&q, 0, sizeof(q));
	q.source = "redis";
	cat = load(cfg, &q);
	s = ids(cat);
	cr_assert_str_eq(s, "disk:redis/dump@2026-12-02T010000Z\n"
	    "far:redis/dump@2026-12-03T010000Z\n");
	free(s);
	catalog_destroy(cat);

	memset(&q, 0, sizeof(q));
	q.job = "hourly";
	cat = load(cfg, &q);
	s = ids(cat);
	cr_assert_str_eq(s, "disk:pg/db@2026-12-02T010000Z\n"
	    "far:pg/db@2026-12-02T010000Z\n");
	free(s);
	catalog_destroy(cat);

	/* since inclusive, until exclusive */
	memset(&q, 0, sizeof(q));
	cr_assert_eq(stamp_parse("2026-12-02T010000Z", &t), 0);
	q.since = t;
	cr_assert_eq(stamp_parse("2026-12-03T010000Z", &t), 0);
	q.until = t;
	q.sink = "disk";
	cat = load(cfg, &q);
	s = ids(cat);
	cr_assert_str_eq(s, "disk:pg/db@2026-12-02T010000Z\n"
	    "disk:redis/dump@2026-12-02T010000Z\n");
	free(s);
	catalog_destroy(cat);

	free(disk);
	free(far);
	done_with(cfg, dir);
}

Test(catalog_load, nothing_to_read_still_calls_back_later)
{
	char			*dir = test_tmpdir();
	struct zb_config	*cfg = two_sinks(dir);
	struct catalog_query	 q;
	struct catalog		*cat;

	memset(&q, 0, sizeof(q));
	q.source = "none";
	cat = load(cfg, &q);
	cr_assert_eq(cat->n, 0);
	cr_assert_eq(cat->errors, 0, "%s", test_logged());
	catalog_destroy(cat);
	done_with(cfg, dir);
}

/* ---- the check service on the same synthetic sinks ------------------- */

struct checked {
	int	 done;
	size_t	 n;
	unsigned failed;
	char	*lines;
};

static void
on_checked(void *arg, const struct check_result *res)
{
	struct checked	*w = arg;
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1 << 20);
	(void)buf_puts(&b, "");
	for (i = 0; i < res->n; i++)
		(void)buf_printf(&b, "%s %s:%s %s\n", res->items[i].ok ?
		    "ok" : "FAILED", res->items[i].sink, res->items[i].id,
		    res->items[i].error != NULL ? res->items[i].error : "");
	w->lines = buf_take(&b);
	w->n = res->n;
	w->failed = res->failed;
	w->done = 1;
}

/*
 * Selection: the newest copy of the job's source on each of the job's
 * sinks (only the manifests exist here, so verify finds no data object),
 * a sink the job does not write to is not looked at, and a missing copy
 * and an unknown job are failed items.  Never a call back from inside.
 */
Test(catalog_load, check_selects_newest_per_sink)
{
	char			*dir = test_tmpdir(), *disk, *far;
	struct zb_config	*cfg;
	struct check_params	 p;
	struct checked		 w = { 0 };
	const char		*jobs[] = { "nightly", "nope" };

	disk = xasprintf("%s/disk", dir);
	far = xasprintf("%s/far", dir);
	put_manifest(disk, "pg", "db", "2026-12-01T010000Z", "nightly");
	put_manifest(disk, "pg", "db", "2026-12-02T010000Z", "nightly");
	put_manifest(disk, "redis", "dump", "2026-12-02T010000Z", "cache");
	cfg = two_sinks(dir);
	memset(&p, 0, sizeof(p));
	p.kind = CHECK_VERIFY;
	p.jobs = jobs;
	p.njobs = 2;
	check_start(cfg, &p, on_checked, &w);
	cr_assert_eq(w.done, 0, "check_start called back at once");
	reactor_run_until(&w.done);
	cr_assert_str_eq(w.lines,
	    "FAILED *:job:nope no such job in the configuration\n"
	    "FAILED far:source:pg no complete copy on this sink\n"
	    "FAILED disk:pg/db@2026-12-02T010000Z the data object "
	    "pg/db/2026-12-02T010000Z/data.raw is missing\n");
	cr_assert_eq(w.failed, 3);
	free(w.lines);
	free(disk);
	free(far);
	done_with(cfg, dir);
}
