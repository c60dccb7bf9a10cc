/*
 * test_stream.c - the stream core through real plugins: backpressure
 * keeps buffered bytes within the budget, a failing or stalled sink loses
 * only its own copy, a failing source leaves no manifest anywhere.
 *
 * Backpressure is measured twice: by the core (live_peak, its pause
 * count) and from the producer's side, through the fixtures' ledger
 * (ledger.h): how far src_gen ever got ahead of what sink_slow took.
 * The core's own numbers miss memory held outside chunks (input pending
 * in front of the codec), the ledger does not.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <dirent.h>

#include "age.h"
#include "catalog.h"
#include "plugin.h"
#include "reactor.h"
#include "restore.h"
#include "run.h"
#include "testlib.h"
#include "workers.h"
#include "../fixtures/plugins/ledger.h"

/*
 * The pool's size: ZB_TEST_WORKERS (tests/integration/stream_workers.sh
 * runs this program with 1, 2 and 4), else 0: every stage on the loop.
 */
static void
setup(void)
{
	const char	*w = getenv("ZB_TEST_WORKERS");
	int		 n = w != NULL ? (int)strtol(w, NULL, 10) : 0;

	test_log_start();
	log_set_level(ZB_LOG_INFO);
	reactor_init();
	cr_assert_eq(workers_start(n), 0);
	cr_assert_eq(workers_count(), n);
}

static void
teardown(void)
{
	workers_stop();
}

TestSuite(stream, .init = setup, .fini = teardown, .timeout = 60);

struct result {
	int			 done;
	struct run_summary	 sum;
};

static void
on_done(struct run *run, const struct run_summary *s, void *arg)
{
	struct result	*r = arg;

	r->sum = *s;
	r->done = 1;
}

static char	*state_dir;

static struct run_summary
run_job(struct zb_config *cfg, const char *job)
{
	struct result	 r = { 0 };
	struct run	*run;

	cr_assert_not_null(cfg, "config refused: %s", test_logged());
	cr_assert_eq(plugin_bind_config(cfg, 1), 0, "%s", test_logged());
	/* Not the host's: one per test process (reachable, never removed). */
	if (state_dir == NULL)
		state_dir = test_tmpdir();
	cfg->state_dir = state_dir;
	run = run_start(cfg, config_job(cfg, job), NULL, NULL, on_done, &r);
	reactor_run_until(&r.done);
	run_free(run);
	return r.sum;
}

struct loaded {
	int		 done;
	struct catalog	*cat;
};

static void
on_loaded(void *arg, struct catalog *cat)
{
	struct loaded	*l = arg;

	l->cat = cat;
	l->done = 1;
}

/* The catalog of sink (NULL: all), loaded as the CLI does. */
static void
catalog_load(struct zb_config *cfg, const char *sink, const char *source,
    struct catalog *out)
{
	struct catalog_query	 q = { .sink = sink, .source = source };
	struct loaded		 l = { 0 };

	catalog_load_start(cfg, &q, on_loaded, &l);
	cr_assert_eq(l.done, 0, "catalog_load_start called back at once");
	reactor_run_until(&l.done);
	*out = *l.cat;
	free(l.cat);
}

struct restored {
	int			 done;
	struct restore_result	 res;
};

static void
on_restored(void *arg, const struct restore_result *res)
{
	struct restored	*r = arg;

	r->res = *res;
	r->res.error = NULL;
	r->done = 1;
}

/* restore_start and wait: the status; *res gets the numbers. */
static int
restore_copy(struct zb_config *cfg, const struct artifact *a,
    const struct restore_opts *o, struct restore_result *res)
{
	struct restored	 r = { 0 };

	restore_start(cfg, a, o, on_restored, &r);
	cr_assert_eq(r.done, 0, "restore_start called back at once");
	reactor_run_until(&r.done);
	if (res != NULL)
		*res = r.res;
	return r.res.status;
}

/* The fixtures' counters after a run. */
static struct ledger
read_ledger(const char *path)
{
	struct ledger	 l;
	FILE		*f = fopen(path, "rb");

	cr_assert_not_null(f, "no ledger %s", path);
	cr_assert_eq(fread(&l, sizeof(l), 1, f), 1, "short ledger %s", path);
	fclose(f);
	return l;
}

/*
 * What the producer could push beyond what the slowest sink took: the
 * chunks (at most the budget) plus what waits in front of the codec
 * (about one push, STREAM.md section 11).  A producer whose pause() is
 * never called runs megabytes ahead.
 */
static void
assert_lead_within(const struct ledger *l, uint64_t budget, uint64_t push)
{
	cr_assert_gt(l->pushed, 0, "the ledger saw no push");
	cr_assert_gt(l->taken, 0, "the ledger saw nothing taken");
	cr_assert_leq(l->max_lead, budget + push, "the producer got %llu "
	    "bytes ahead of the slowest sink, budget %llu + one push %llu",
	    (unsigned long long)l->max_lead, (unsigned long long)budget,
	    (unsigned long long)push);
}

/* Count files under dir whose name is exactly name (or any, if NULL). */
static int
count_files(const char *dir, const char *name)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	struct stat	 st;
	char		*p;
	int		 n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_files(p, name);
		else if (name == NULL || strcmp(de->d_name, name) == 0)
			n++;
		free(p);
	}
	closedir(d);
	return n;
}

Test(stream, slow_sink_pauses_producer_within_budget)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct restore_opts	 vo = { .verify_only = 1 };
	struct ledger		 l;

	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 2\n"
	    "chunk_kb = 256\nmax_parallel_jobs = 1\ncompression = none\n"
	    "[source:gen]\nplugin = src_gen\nsize = 24M\npush = 64K\n"
	    "ledger = %s/ledger\n"
	    "[sink:slow]\nplugin = sink_slow\ndelay_ms = 2\n"
	    "ledger = %s/ledger\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = slow, disk\nmax_streams = 1\n",
	    test_plugin_dir(), dir, dir, dir);
	cr_assert_not_null(cfg, "%s", test_logged());
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_eq(s.copies_ok, 2);
	cr_assert_eq(s.plain_bytes, 24 << 20);
	cr_assert_eq(s.budget, 2 << 20);
	cr_assert_gt(s.pauses, 5, "the producer was paused (%llu)",
	    (unsigned long long)s.pauses);
	cr_assert_gt(s.resumes, 5, "and resumed");
	cr_assert_leq(s.peak_buffered, s.budget, "peak %llu > budget %llu",
	    (unsigned long long)s.peak_buffered,
	    (unsigned long long)s.budget);
	p = xasprintf("%s/ledger", dir);
	l = read_ledger(p);
	free(p);
	cr_assert_eq(l.pushed, 24 << 20);
	/* The sidecar and manifest go to sink_slow too. */
	cr_assert_geq(l.taken, 24 << 20);
	assert_lead_within(&l, s.budget, 64 << 10);

	/* The copy on disk is whole: verify it, and the source saw pauses. */
	catalog_load(cfg, "disk", NULL, &cat);
	cr_assert_eq(cat.n, 1);
	cr_assert_eq(restore_copy(cfg, &cat.items[0], &vo, NULL), 0);
	int64_t pauses;
	cr_assert_eq(json_get_i64(json_get(cat.items[0].doc, "facts"),
	    "pauses", &pauses), 0);
	cr_assert_gt(pauses, 0);
	catalog_free(&cat);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(stream, failing_sink_does_not_stop_the_other)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;

	cfg = test_config("[daemon]\nplugin_dir = %s\ncompression = none\n"
	    "[source:gen]\nplugin = src_gen\nsize = 8M\n"
	    "[sink:bad]\nplugin = sink_slow\nfail_at = 1M\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = bad, disk\n",
	    test_plugin_dir(), dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_PARTIAL, "%s", test_logged());
	cr_assert_eq(s.copies_ok, 1);
	cr_assert_eq(s.copies_failed, 1);
	/* per sink, in the job's order: bad has nothing, disk all */
	cr_assert_eq(s.nsinks, 2);
	cr_assert_eq(s.sink_streams_ok[0], 0);
	cr_assert_eq(s.sink_streams_ok[1], 1);
	cr_assert_not(run_sink_whole(&s, 0));
	cr_assert(run_sink_whole(&s, 1));
	cr_assert_not(run_sink_whole(&s, 2));
	p = xasprintf("%s/disk", dir);
	cr_assert_eq(count_files(p, "manifest.json"), 1);
	assert_logged("sink:bad: write failed");
	free(p);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/*
 * The manifest is the commit marker and is written only after the
 * sidecar: a sink that takes the data but refuses the sidecar holds no
 * copy, and the other sink's copy is unaffected.
 */
Test(stream, refused_sidecar_means_no_copy)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct ledger		 l;

	cfg = test_config("[daemon]\nplugin_dir = %s\ncompression = none\n"
	    "[source:gen]\nplugin = src_gen\nsize = 1M\n"
	    "[sink:nosidecar]\nplugin = sink_slow\nfail_key = .sha256\n"
	    "ledger = %s/ledger\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = nosidecar, disk\n",
	    test_plugin_dir(), dir, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_PARTIAL, "%s", test_logged());
	cr_assert_eq(s.copies_ok, 1);
	/* the data went, the sidecar did not: no copy there */
	cr_assert_not(run_sink_whole(&s, 0));
	cr_assert(run_sink_whole(&s, 1));
	assert_logged("sink:nosidecar: checksum sidecar not written, this "
	    "copy does not count");
	/* It took the data and nothing after it: no manifest. */
	p = xasprintf("%s/ledger", dir);
	l = read_ledger(p);
	free(p);
	/* the in-progress marker (written before the data), then the data */
	cr_assert(l.taken > 1 << 20 && l.taken < (1 << 20) + MARKER_MAX,
	    "sink_slow took %llu bytes", (unsigned long long)l.taken);
	p = xasprintf("%s/disk", dir);
	cr_assert_eq(count_files(p, "manifest.json"), 1);
	free(p);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(stream, stalled_sink_times_out_alone)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;

	cfg = test_config("[daemon]\nplugin_dir = %s\n"
	    "[source:gen]\nplugin = src_gen\nsize = 4M\n"
	    "[sink:stuck]\nplugin = sink_slow\nstall = yes\ntimeout = 1\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = stuck, disk\n",
	    test_plugin_dir(), dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_PARTIAL, "%s", test_logged());
	assert_logged("sink:stuck: no progress for 1.0 s (timeout)");
	p = xasprintf("%s/disk", dir);
	cr_assert_eq(count_files(p, "manifest.json"), 1);
	free(p);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(stream, failing_source_leaves_no_manifest_anywhere)
{
	char			*dir = test_tmpdir();
	struct zb_config	*cfg;
	struct run_summary	 s;

	cfg = test_config("[daemon]\nplugin_dir = %s\n"
	    "[source:gen]\nplugin = src_gen\nsize = 8M\nfail_at = 3M\n"
	    "[sink:a]\nplugin = local\npath = %s/a\n"
	    "[sink:b]\nplugin = local\npath = %s/b\n"
	    "[job:j]\nsource = gen\nsinks = a, b\n",
	    test_plugin_dir(), dir, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_FAILED);
	cr_assert_eq(s.copies_ok, 0);
	cr_assert_not(run_sink_whole(&s, 0));
	cr_assert_not(run_sink_whole(&s, 1));
	assert_logged("source failed: src_gen: failing as asked");
	/* No manifest, no sidecar, no data, no temporary file. */
	cr_assert_eq(count_files(dir, NULL), 0, "files left behind");
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(stream, several_streams_respect_max_streams)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct ledger		 l;

	/*
	 * A slow sink keeps each stream open for a while (its producer is
	 * paused once the budget is used): long enough for the next one's
	 * in-progress markers to be written and the stream opened.
	 */
	cfg = test_config("[daemon]\nplugin_dir = %s\ncompression = none\n"
	    "max_buffer_mb = 2\nmax_parallel_jobs = 1\n"
	    "[source:gen]\nplugin = src_gen\nsize = 4M\nstreams = 5\n"
	    "ledger = %s/ledger\n"
	    "[sink:slow]\nplugin = sink_slow\ndelay_ms = 5\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = slow, disk\nmax_streams = 2\n",
	    test_plugin_dir(), dir, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_eq(s.streams, 5);
	cr_assert_eq(s.sink_streams_ok[0], 5);
	cr_assert_eq(s.sink_streams_ok[1], 5);
	cr_assert(run_sink_whole(&s, 0) && run_sink_whole(&s, 1));
	/* Two at a time: never more, and not one after the other. */
	p = xasprintf("%s/ledger", dir);
	l = read_ledger(p);
	free(p);
	cr_assert_eq(l.opened, 5);
	cr_assert_eq(l.open, 0, "%llu streams never ended",
	    (unsigned long long)l.open);
	cr_assert_eq(l.max_open, 2, "%llu streams open at once, max_streams "
	    "is 2", (unsigned long long)l.max_open);
	p = xasprintf("%s/disk", dir);
	cr_assert_eq(count_files(p, "manifest.json"), 5);
	catalog_load(cfg, NULL, NULL, &cat);
	cr_assert_eq(cat.n, 5);
	cr_assert_str_eq(cat.items[0].data, "data.bin");
	catalog_free(&cat);
	free(p);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/* Regression: the chunk being filled counts against the budget but
 * cannot drain while paused; a two-chunk budget used to never resume. */
Test(stream, two_chunk_budget_resumes)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct ledger		 l;

	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 1\n"
	    "chunk_kb = 512\nmax_parallel_jobs = 1\ncompression = none\n"
	    "[source:gen]\nplugin = src_gen\nsize = 8M\npush = 100K\n"
	    "ledger = %s/ledger\n"
	    "[sink:slow]\nplugin = sink_slow\ndelay_ms = 1\n"
	    "ledger = %s/ledger\n"
	    "[job:j]\nsource = gen\nsinks = slow\nmax_streams = 1\n",
	    test_plugin_dir(), dir, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_eq(s.budget, 1 << 20);
	cr_assert_gt(s.pauses, 0);
	cr_assert_leq(s.peak_buffered, s.budget);
	p = xasprintf("%s/ledger", dir);
	l = read_ledger(p);
	free(p);
	cr_assert_geq(l.taken, 8 << 20);
	assert_lead_within(&l, s.budget, 100 << 10);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/*
 * Restore the one copy on SINK (NULL: on any sink) to DIR/restored, which
 * must then hold SIZE bytes.
 */
static struct restore_result
restore_the_copy(struct zb_config *cfg, const char *sink, const char *dir,
    off_t size)
{
	struct catalog		 cat;
	struct restore_opts	 ro = { 0 };
	struct restore_result	 res;
	struct stat		 sb;
	char			*out = xasprintf("%s/restored", dir);

	catalog_load(cfg, sink, NULL, &cat);
	cr_assert_eq(cat.n, 1);
	ro.target = out;
	cr_assert_eq(restore_copy(cfg, &cat.items[0], &ro, &res), 0, "%s",
	    test_logged());
	cr_assert_eq(stat(out, &sb), 0);
	cr_assert_eq(sb.st_size, size);
	catalog_free(&cat);
	free(out);
	return res;
}

/* Restoring expands: the decompressed side must stay within the budget. */
Test(stream, restore_of_expanding_data_stays_within_budget)
{
	char			*dir = test_tmpdir();
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct restore_result	 res;

	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 2\n"
	    "max_parallel_jobs = 1\ncompression = zstd:3\n"
	    "[source:c]\nplugin = command\ncommand = head -c 64000000 "
	    "/dev/zero\n[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = c\nsinks = disk\n", test_plugin_dir(), dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_lt(s.stored_bytes, 100000, "zeros compress");
	res = restore_the_copy(cfg, NULL, dir, 64000000);
	cr_assert_eq(res.budget, 2 << 20);
	cr_assert_leq(res.peak_buffered, res.budget, "peak %llu",
	    (unsigned long long)res.peak_buffered);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/*
 * With the pool's workers, zstd compresses on threads of its own in jobs
 * of 2 MiB, and one call may hand over a whole job's output, more than a
 * chunk of input makes: incompressible input behind a slow sink must
 * still stay within the budget (the rest waits in the codec), and
 * restore.  (ZB_TEST_WORKERS, stream_workers.sh; 0 workers: no threads.)
 */
Test(stream, zstd_threads_stay_within_budget)
{
	char			*dir = test_tmpdir();
	struct zb_config	*cfg;
	struct run_summary	 s;

	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 4\n"
	    "max_parallel_jobs = 1\ncompression = zstd:1\n"
	    "[source:c]\nplugin = command\ncommand = head -c 24000000 "
	    "/dev/urandom\n[sink:slow]\nplugin = sink_slow\ndelay_ms = 1\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = c\nsinks = slow, disk\n", test_plugin_dir(),
	    dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_gt(s.pauses, 0);
	cr_assert_leq(s.peak_buffered, s.budget, "peak %llu > budget %llu",
	    (unsigned long long)s.peak_buffered,
	    (unsigned long long)s.budget);
	cr_assert_geq(s.stored_bytes, 24000000, "random does not compress");
	(void)restore_the_copy(cfg, "disk", dir, 24000000);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/*
 * restore_start hands a result that says why a read failed (the first
 * reason, as logged) and how long it took; it never calls back from
 * inside the call (restore_copy above asserts that).
 */
Test(stream, restore_result_says_why)
{
	char			*dir = test_tmpdir(), *p;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct restore_opts	 vo = { .verify_only = 1 };
	struct restored		 r = { 0 };
	struct artifact		 other;
	FILE			*f;

	cfg = test_config("[daemon]\nplugin_dir = %s\ncompression = none\n"
	    "[source:c]\nplugin = command\ncommand = head -c 300000 "
	    "/dev/urandom\n[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = c\nsinks = disk\n", test_plugin_dir(), dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	catalog_load(cfg, NULL, NULL, &cat);
	cr_assert_eq(cat.n, 1);
	cr_assert_eq(restore_copy(cfg, &cat.items[0], &vo, NULL), 0, "%s",
	    test_logged());

	/* A sidecar that names another hash. */
	p = xasprintf("%s/disk/%s/%s.sha256", dir, cat.items[0].dir,
	    cat.items[0].data);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fprintf(f, "%064d  %s\n", 0, cat.items[0].data);
	cr_assert_eq(fclose(f), 0);
	restore_start(cfg, &cat.items[0], &vo, on_restored, &r);
	cr_assert_eq(r.done, 0);
	reactor_run_until(&r.done);
	cr_assert_eq(r.res.status, -1);
	assert_logged("does not match the manifest");

	/* A copy on a sink the config does not have. */
	other = cat.items[0];
	other.sink = "gone";
	memset(&r, 0, sizeof(r));
	restore_start(cfg, &other, &vo, on_restored, &r);
	cr_assert_eq(r.done, 0, "called back from inside restore_start");
	reactor_run_until(&r.done);
	cr_assert_eq(r.res.status, -1);
	assert_logged("no [sink:gone] configured");
	free(p);
	catalog_free(&cat);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/* The error text a result carries, checked inside the callback. */
struct said {
	int	 done;
	int	 status;
	char	*error;
	uint64_t elapsed_ms, restore_ms;
};

static void
on_said(void *arg, const struct restore_result *res)
{
	struct said	*w = arg;

	w->status = res->status;
	w->error = res->error != NULL ? xstrdup(res->error) : NULL;
	w->elapsed_ms = res->elapsed_ms;
	w->restore_ms = res->restore_ms;
	w->done = 1;
}

Test(stream, restore_result_error_and_times)
{
	char			*dir = test_tmpdir(), *out;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct restore_opts	 ro = { 0 };
	struct said		 w = { 0 };

	cfg = test_config("[daemon]\nplugin_dir = %s\ncompression = none\n"
	    "[source:c]\nplugin = command\ncommand = head -c 300000 "
	    "/dev/urandom\n[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = c\nsinks = disk\n", test_plugin_dir(), dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	catalog_load(cfg, NULL, NULL, &cat);
	cr_assert_eq(cat.n, 1);
	/* A command source without restore_command and no --to: refused. */
	restore_start(cfg, &cat.items[0], &ro, on_said, &w);
	reactor_run_until(&w.done);
	cr_assert_eq(w.status, -1);
	cr_assert_not_null(w.error);
	cr_assert(strstr(w.error, "could not open the restore target") !=
	    NULL, "%s", w.error);
	assert_logged("no restore_command is configured");
	free(w.error);
	/* Into a file: good, and timed. */
	out = xasprintf("%s/restored", dir);
	ro.target = out;
	memset(&w, 0, sizeof(w));
	restore_start(cfg, &cat.items[0], &ro, on_said, &w);
	reactor_run_until(&w.done);
	cr_assert_eq(w.status, 0, "%s", test_logged());
	cr_assert_null(w.error);
	cr_assert_leq(w.restore_ms, w.elapsed_ms);
	free(out);
	catalog_free(&cat);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/* Encryption on: the budget holds when storing and when restoring. */
Test(stream, encrypted_round_trip_within_budget)
{
	char			 id[AGE_IDENTITY_LEN + 1], rec[AGE_RECIPIENT_LEN + 1];
	char			*dir = test_tmpdir(), *recfile, *out, err[256];
	char			*p;
	struct ledger		 l;
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct restore_opts	 ro = { 0 };
	struct restore_result	 res;
	struct age_keys		*ids;
	struct stat		 sb;
	FILE			*f;

	cr_assert_eq(age_keygen(id, rec), 0);
	recfile = xasprintf("%s/recipients", dir);
	f = fopen(recfile, "w");
	fprintf(f, "%s\n", rec);
	fclose(f);
	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 1\n"
	    "max_parallel_jobs = 1\ncompression = none\nencryption = age\n"
	    "age_recipients_file = %s\n"
	    "[source:gen]\nplugin = src_gen\nsize = 16M\npush = 64K\n"
	    "ledger = %s/ledger\n"
	    "[sink:slow]\nplugin = sink_slow\ndelay_ms = 1\n"
	    "ledger = %s/ledger\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = slow, disk\nmax_streams = 1\n",
	    test_plugin_dir(), recfile, dir, dir, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	cr_assert_gt(s.pauses, 0);
	cr_assert_leq(s.peak_buffered, s.budget, "peak %llu",
	    (unsigned long long)s.peak_buffered);
	/* The sink takes ciphertext, a little more than was pushed, and
	 * the sidecar and manifest. */
	p = xasprintf("%s/ledger", dir);
	l = read_ledger(p);
	free(p);
	cr_assert_geq(l.taken, 16 << 20);
	assert_lead_within(&l, s.budget, 64 << 10);
	catalog_load(cfg, "disk", NULL, &cat);
	cr_assert_eq(cat.n, 1);
	cr_assert(cat.items[0].encrypted);
	ids = age_keys_new();
	cr_assert_eq(age_keys_add_identity(ids, id, err, sizeof(err)), 0);
	out = xasprintf("%s/restored", dir);
	ro.target = out;
	ro.identities = ids;
	cr_assert_eq(restore_copy(cfg, &cat.items[0], &ro, &res), 0, "%s",
	    test_logged());
	cr_assert_leq(res.peak_buffered, res.budget);
	cr_assert_eq(stat(out, &sb), 0);
	cr_assert_eq(sb.st_size, 16 << 20);
	age_keys_free(ids);
	catalog_free(&cat);
	free(out);
	free(recfile);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

/*
 * Chunk order across workers: the stages of a stream run on different
 * threads that finish in shuffled order (workers_test_jitter), and the
 * stored and restored bytes must still be the source's, in order.  The
 * source writes each 8-byte word's own offset, so a chunk out of place
 * anywhere shows.  With and without a transform (the one-hash path
 * queues the pushed chunks themselves).
 */
/* "zstd:1" -> "zstd" */
static const char *
comp_name(const char *comp)
{
	static char	 name[16];

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(comp, ":"), comp);
	return name;
}

static void
round_trip_in_order(const char *comp, int age)
{
	char			 id[AGE_IDENTITY_LEN + 1], rec[AGE_RECIPIENT_LEN + 1];
	char			*dir = test_tmpdir(), *recfile, *out, err[256];
	struct zb_config	*cfg;
	struct run_summary	 s;
	struct catalog		 cat;
	struct restore_opts	 ro = { 0 };
	struct restore_result	 res;
	struct age_keys		*ids = NULL;
	unsigned char		 word[8];
	uint64_t		 at, v;
	FILE			*f;
	int			 i;

	workers_test_jitter(3000);
	cr_assert_eq(age_keygen(id, rec), 0);
	recfile = xasprintf("%s/recipients", dir);
	f = fopen(recfile, "w");
	fprintf(f, "%s\n", rec);
	fclose(f);
	cfg = test_config("[daemon]\nplugin_dir = %s\nmax_buffer_mb = 4\n"
	    "chunk_kb = 64\nmax_parallel_jobs = 1\ncompression = %s\n"
	    "encryption = %s\nage_recipients_file = %s\n"
	    "[source:gen]\nplugin = src_gen\nsize = 6M\npush = 40K\n"
	    "pattern = counter\n"
	    "[sink:disk]\nplugin = local\npath = %s/disk\n"
	    "[job:j]\nsource = gen\nsinks = disk\n",
	    test_plugin_dir(), comp, age ? "age" : "none", recfile, dir);
	s = run_job(cfg, "j");
	cr_assert_eq(s.result, RUN_OK, "%s", test_logged());
	catalog_load(cfg, "disk", NULL, &cat);
	cr_assert_eq(cat.n, 1);
	/* The plaintext's SHA-256 only when nothing changes the bytes;
	 * else the manifest names the check that covers them. */
	if (strcmp(comp, "none") == 0 && !age)
		cr_assert_eq(strlen(cat.items[0].plain_sha), 64);
	else {
		cr_assert_str_eq(cat.items[0].plain_sha, "");
		cr_assert_str_eq(cat.items[0].plain_check,
		    strcmp(comp, "none") != 0 ? comp_name(comp) : "age");
	}
	cr_assert_eq(cat.items[0].plain_size, 6 << 20);
	if (age) {
		ids = age_keys_new();
		cr_assert_eq(age_keys_add_identity(ids, id, err, sizeof(err)),
		    0);
	}
	out = xasprintf("%s/restored", dir);
	ro.target = out;
	ro.identities = ids;
	cr_assert_eq(restore_copy(cfg, &cat.items[0], &ro, &res), 0, "%s",
	    test_logged());
	f = fopen(out, "rb");
	cr_assert_not_null(f);
	for (at = 0; fread(word, 1, sizeof(word), f) == sizeof(word);
	    at += 8) {
		for (v = 0, i = 0; i < 8; i++)
			v = v << 8 | word[i];
		cr_assert_eq(v, at, "the word at %llu holds %llu",
		    (unsigned long long)at, (unsigned long long)v);
	}
	cr_assert_eq(at, 6 << 20, "restored %llu bytes",
	    (unsigned long long)at);
	fclose(f);
	workers_test_jitter(0);
	age_keys_free(ids);
	catalog_free(&cat);
	free(out);
	free(recfile);
	plugin_unbind_config(cfg);
	config_free(cfg);
	rm_rf(dir);
	free(dir);
}

Test(stream, chunk_order_across_workers_with_transforms)
{
	round_trip_in_order("zstd:1", 1);
}

Test(stream, chunk_order_across_workers_one_hash)
{
	round_trip_in_order("none", 0);
}

Test(stream, chunk_order_across_workers_gzip)
{
	round_trip_in_order("gzip:1", 0);
}

Test(stream, chunk_order_across_workers_age_alone)
{
	round_trip_in_order("none", 1);
}
