/*
 * test_artifact.c - manifests' run records and what the catalog makes of
 * them: runs per sink, complete or not, and the "latest" selection that
 * `verify --latest' and `test-restore JOB' use.
 */
#include "zb-build.h"

#include "testlib.h"

#include "artifact.h"
#include "catalog.h"

#define SHA	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static const char *const plan3[] = { "db1", "db2", "globals" };

/* A manifest of source "pg", job "nightly", as run.c writes it. */
static char *
manifest_tagged(const char *stream, const char *stamp,
    const char *const *streams, size_t n, const char *tag)
{
	struct manifest_in	 m;
	struct compression	 comp;
	const char		*err;
	char			*id, *text;

	cr_assert_eq(config_parse_compression("none", &comp, &err), 0);
	id = xasprintf("pg/%s@%s", stream, stamp);
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.job = "nightly";
	m.source = "pg";
	m.stream = stream;
	m.stamp = stamp;
	m.data = "data.dump";
	m.source_plugin = "postgresql";
	m.source_plugin_version = "1";
	m.sink = "disk";
	m.sink_plugin = "local";
	m.sink_plugin_version = "1";
	m.stored_sha = SHA;
	m.plain_sha = SHA;
	m.comp = &comp;
	m.run_stamp = streams != NULL ? stamp : NULL;
	m.run_streams = streams;
	m.run_nstreams = n;
	m.run_tag = tag;
	text = manifest_build(&m);
	cr_assert_not_null(text);
	free(id);
	return text;
}

static char *
manifest(const char *stream, const char *stamp, const char *const *streams,
    size_t n)
{
	return manifest_tagged(stream, stamp, streams, n, NULL);
}

static int
parse(const char *text, struct artifact *a, const char **err)
{
	*err = NULL;
	return manifest_parse(text, strlen(text), a, err);
}

Test(manifest, run_record_round_trips)
{
	struct artifact	 a;
	const char	*err;
	char		*t = manifest("db2", "2026-12-06T120233Z", plan3, 3);

	cr_assert(strstr(t, "\"run\": {\"job\": \"nightly\", \"stamp\": "
	    "\"2026-12-06T120233Z\", \"streams\": [\"db1\", \"db2\", "
	    "\"globals\"]}") != NULL, "%s", t);
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_str_eq(a.run_stamp, "2026-12-06T120233Z");
	cr_assert_eq(a.run_nstreams, 3);
	cr_assert_str_eq(a.run_streams[0], "db1");
	cr_assert_str_eq(a.run_streams[1], "db2");
	cr_assert_str_eq(a.run_streams[2], "globals");
	cr_assert_null(a.run_tag, "no tag was given");
	cr_assert(strstr(t, "\"tag\"") == NULL, "%s", t);
	artifact_clear(&a);
	free(t);
}

Test(manifest, run_tag_round_trips)
{
	struct artifact	 a;
	const char	*err;
	char		*t;

	t = manifest_tagged("db2", "2026-12-06T120233Z", plan3, 3, "daily");
	cr_assert(strstr(t, "\"run\": {\"job\": \"nightly\", \"stamp\": "
	    "\"2026-12-06T120233Z\", \"streams\": [\"db1\", \"db2\", "
	    "\"globals\"], \"tag\": \"daily\"}") != NULL, "%s", t);
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_str_eq(a.run_tag, "daily");
	cr_assert_str_eq(a.run_stamp, "2026-12-06T120233Z");
	cr_assert_eq(a.run_nstreams, 3);
	artifact_clear(&a);
	cr_assert_null(a.run_tag);
	free(t);
}

Test(manifest, without_run_record_is_still_valid)
{
	struct artifact	 a;
	const char	*err;
	char		*t = manifest("db1", "2026-12-06T120233Z", NULL, 0);

	cr_assert(strstr(t, "\"run\"") == NULL, "%s", t);
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_null(a.run_stamp);
	cr_assert_eq(a.run_nstreams, 0);
	artifact_clear(&a);
	free(t);
}

static void
assert_refused(const char *text, const char *want)
{
	struct artifact	 a;
	const char	*err;

	cr_assert_eq(parse(text, &a, &err), -1, "accepted: %s", text);
	cr_assert_str_eq(err, want);
	cr_assert_null(a.doc);		/* cleared */
}

Test(manifest, bad_stream_names_are_refused)
{
	static const char *const dots[] = { "db1", "../etc" };
	static const char *const hidden[] = { "db1", ".tmp" };
	static const char *const empty[] = { "db1", "" };
	char	*t;

	t = manifest("db1", "2026-12-06T120233Z", dots, 2);
	assert_refused(t, "bad \"run\": a stream name is not valid");
	free(t);
	t = manifest("db1", "2026-12-06T120233Z", hidden, 2);
	assert_refused(t, "bad \"run\": a stream name is not valid");
	free(t);
	t = manifest("db1", "2026-12-06T120233Z", empty, 2);
	assert_refused(t, "bad \"run\": a stream name is not valid");
	free(t);
}

Test(manifest, run_record_must_be_consistent)
{
	static const char *const dup[] = { "db1", "db2", "db1" };
	static const char *const other[] = { "db2", "globals" };
	char	*t;

	t = manifest("db1", "2026-12-06T120233Z", dup, 3);
	assert_refused(t, "bad \"run\": a stream is listed twice");
	free(t);
	t = manifest("db1", "2026-12-06T120233Z", other, 2);
	assert_refused(t, "bad \"run\": the artifact's stream is not among "
	    "the run's streams");
	free(t);
	assert_refused("{\"format\": \"zentoria-backupd-manifest\", "
	    "\"format_version\": 1, \"id\": \"pg/db1@2026-12-06T120233Z\", "
	    "\"data\": \"data.dump\", \"stored\": {\"size\": 1, \"sha256\": \""
	    SHA "\"}, \"plaintext\": {\"size\": 1, \"sha256\": \"" SHA "\"}, "
	    "\"transforms\": {\"compression\": \"none\", \"encryption\": "
	    "\"none\"}, \"run\": {\"job\": \"nightly\", \"stamp\": \"yesterday\","
	    " \"streams\": [\"db1\"]}}",
	    "bad \"run\": bad or missing stamp");
	assert_refused("{\"format\": \"zentoria-backupd-manifest\", "
	    "\"format_version\": 1, \"id\": \"pg/db1@2026-12-06T120233Z\", "
	    "\"data\": \"data.dump\", \"stored\": {\"size\": 1, \"sha256\": \""
	    SHA "\"}, \"plaintext\": {\"size\": 1, \"sha256\": \"" SHA "\"}, "
	    "\"transforms\": {\"compression\": \"none\", \"encryption\": "
	    "\"none\"}, \"run\": [\"db1\"]}",
	    "bad \"run\": not an object with job, stamp and streams");
}

static void
many(size_t n, int accepted)
{
	struct artifact	 a;
	const char	**v = xcalloc(n, sizeof(*v));
	char		**names = xcalloc(n, sizeof(*names));
	const char	*err;
	char		*t;
	size_t		 i;

	for (i = 0; i < n; i++)
		v[i] = names[i] = xasprintf("s%zu", i);
	t = manifest("s0", "2026-12-06T120233Z", v, n);
	if (accepted) {
		cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
		cr_assert_eq(a.run_nstreams, n);
		artifact_clear(&a);
	} else
		assert_refused(t, "bad \"run\": too many streams");
	free(t);
	strv_free(names, n);
	free(v);
}

Test(manifest, at_most_max_streams)
{
	many(MANIFEST_MAX_STREAMS, 1);
	many(MANIFEST_MAX_STREAMS + 1, 0);
}

/* ---- runs in the catalog ----------------------------------------------- */

/*
 * A copy as a catalog load would add it.  A stamp with a collision suffix
 * is set after parsing: this test does not depend on stamp_parse()
 * accepting one.
 */
static void
add(struct catalog *cat, const char *sink, const char *stream,
    const char *stamp, const char *const *plan, size_t n)
{
	struct artifact	 a;
	const char	*err;
	char		 base[32];
	char		*t;

	snprintf(base, sizeof(base), "%.*s", (int)strcspn(stamp, "Z") + 1,
	    stamp);
	t = manifest(stream, base, plan, n);
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	free(t);
	if (strcmp(base, stamp) != 0) {
		free(a.stamp);
		free(a.id);
		a.stamp = xstrdup(stamp);
		a.id = xasprintf("%s/%s@%s", a.source, a.stream, stamp);
		if (a.run_stamp != NULL) {
			free(a.run_stamp);
			a.run_stamp = xstrdup(stamp);
		}
	}
	a.sink = xstrdup(sink);
	cat->items = xreallocarray(cat->items, cat->n + 1,
	    sizeof(*cat->items));
	cat->items[cat->n++] = a;
}

/* The picked copies as "sink:id" lines, sorted by catalog order. */
static char *
picked(const struct catalog_pick *p)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 1 << 20);
	(void)buf_puts(&b, "");
	for (i = 0; i < p->n; i++)
		(void)buf_printf(&b, "%s:%s\n", p->copies[i]->sink,
		    p->copies[i]->id);
	return buf_take(&b);
}

#define R1	"2026-12-06T010000Z"
#define R2	"2026-12-06T020000Z"
#define R3	"2026-12-06T020000Z-01"

Test(catalog, runs_complete_and_incomplete)
{
	struct catalog			 cat = { 0 };
	const struct catalog_run	*r;

	add(&cat, "disk", "db1", R1, plan3, 3);
	add(&cat, "disk", "db2", R1, plan3, 3);
	add(&cat, "disk", "globals", R1, plan3, 3);
	add(&cat, "disk", "db1", R2, plan3, 3);
	add(&cat, "disk", "globals", R2, plan3, 3);
	add(&cat, "disk", "db2", "2026-12-05T000000Z", NULL, 0);
	catalog_group_runs(&cat);
	cr_assert_eq(cat.nruns, 3);
	r = catalog_run_of(&cat, &cat.items[0]);
	cr_assert(r->complete && r->recorded);
	cr_assert_eq(r->planned, 3);
	cr_assert_eq(r->present, 3);
	cr_assert_eq(catalog_run_of(&cat, &cat.items[2]), r);
	r = catalog_run_of(&cat, &cat.items[3]);
	cr_assert_not(r->complete);
	cr_assert_str_eq(r->stamp, R2);
	cr_assert_str_eq(r->sink, "disk");
	cr_assert_str_eq(r->job, "nightly");
	cr_assert_eq(r->planned, 3);
	cr_assert_eq(r->present, 2);
	cr_assert_eq(r->nmissing, 1);
	cr_assert_str_eq(r->missing[0], "db2");
	cr_assert_eq(catalog_run_of(&cat, &cat.items[4]), r);
	/* An old copy: a complete run of its own. */
	r = catalog_run_of(&cat, &cat.items[5]);
	cr_assert(r->complete);
	cr_assert_not(r->recorded);
	cr_assert_eq(r->planned, 1);
	catalog_free(&cat);
}

Test(catalog, latest_skips_an_interrupted_run)
{
	struct catalog		 cat = { 0 };
	struct catalog_pick	 p;
	char			*s;

	add(&cat, "disk", "db1", R1, plan3, 3);
	add(&cat, "disk", "db2", R1, plan3, 3);
	add(&cat, "disk", "globals", R1, plan3, 3);
	add(&cat, "disk", "db1", R2, plan3, 3);	/* db2 never committed */
	add(&cat, "disk", "globals", R2, plan3, 3);
	catalog_group_runs(&cat);
	catalog_latest(&cat, "pg", &p);
	s = picked(&p);
	cr_assert_str_eq(s, "disk:pg/db1@" R1 "\ndisk:pg/db2@" R1 "\n"
	    "disk:pg/globals@" R1 "\n");
	cr_assert_eq(p.nskipped, 1);
	cr_assert_str_eq(p.skipped[0]->stamp, R2);
	cr_assert_str_eq(p.skipped[0]->missing[0], "db2");
	free(s);
	catalog_pick_free(&p);
	/* Another source: nothing. */
	catalog_latest(&cat, "other", &p);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(p.nskipped, 0);
	catalog_pick_free(&p);
	catalog_free(&cat);
}

/*
 * Two sinks: the run complete on one sink is the latest; its copies on the
 * sink where it is incomplete are left out, not mixed with older ones.
 * A run stamped with a collision suffix is newer than the plain stamp.
 */
Test(catalog, latest_over_sinks_and_suffixed_stamps)
{
	struct catalog		 cat = { 0 };
	struct catalog_pick	 p;
	char			*s;

	add(&cat, "disk", "db1", R1, plan3, 3);
	add(&cat, "disk", "db2", R1, plan3, 3);
	add(&cat, "disk", "globals", R1, plan3, 3);
	add(&cat, "s3", "db1", R1, plan3, 3);
	add(&cat, "s3", "db2", R1, plan3, 3);
	add(&cat, "s3", "globals", R1, plan3, 3);
	add(&cat, "disk", "db1", R2, plan3, 3);
	add(&cat, "disk", "db2", R2, plan3, 3);
	add(&cat, "disk", "globals", R2, plan3, 3);
	add(&cat, "s3", "db1", R2, plan3, 3);
	add(&cat, "s3", "globals", R2, plan3, 3);
	add(&cat, "disk", "db1", R3, plan3, 3);	/* R3 interrupted */
	catalog_group_runs(&cat);
	catalog_latest(&cat, NULL, &p);
	s = picked(&p);
	cr_assert_str_eq(s, "disk:pg/db1@" R2 "\ndisk:pg/db2@" R2 "\n"
	    "disk:pg/globals@" R2 "\n");
	cr_assert_eq(p.nskipped, 2);
	cr_assert_str_eq(p.skipped[0]->sink, "s3");
	cr_assert_str_eq(p.skipped[0]->stamp, R2);
	cr_assert_str_eq(p.skipped[1]->sink, "disk");
	cr_assert_str_eq(p.skipped[1]->stamp, R3);
	cr_assert_eq(p.skipped[1]->present, 1);
	cr_assert_eq(p.skipped[1]->nmissing, 2);
	free(s);
	catalog_pick_free(&p);
	catalog_free(&cat);
}

/*
 * catalog_newest: the rule of catalog_latest on each sink by itself.  On
 * s3 the newest complete run is R1 (R2 is incomplete there), on disk R2
 * (the interrupted R3 is skipped); s3's R2 and disk's R3 go to skipped.
 */
Test(catalog, newest_per_sink)
{
	struct catalog		 cat = { 0 };
	struct catalog_pick	 p;
	char			*s;

	add(&cat, "disk", "db1", R1, plan3, 3);
	add(&cat, "disk", "db2", R1, plan3, 3);
	add(&cat, "disk", "globals", R1, plan3, 3);
	add(&cat, "s3", "db1", R1, plan3, 3);
	add(&cat, "s3", "db2", R1, plan3, 3);
	add(&cat, "s3", "globals", R1, plan3, 3);
	add(&cat, "disk", "db1", R2, plan3, 3);
	add(&cat, "disk", "db2", R2, plan3, 3);
	add(&cat, "disk", "globals", R2, plan3, 3);
	add(&cat, "s3", "db1", R2, plan3, 3);
	add(&cat, "s3", "globals", R2, plan3, 3);
	add(&cat, "disk", "db1", R3, plan3, 3);	/* R3 interrupted */
	catalog_group_runs(&cat);
	catalog_newest(&cat, &p);
	s = picked(&p);
	cr_assert_str_eq(s, "s3:pg/db1@" R1 "\ns3:pg/db2@" R1 "\n"
	    "s3:pg/globals@" R1 "\n"
	    "disk:pg/db1@" R2 "\ndisk:pg/db2@" R2 "\n"
	    "disk:pg/globals@" R2 "\n", "%s", s);
	cr_assert_eq(p.nskipped, 2);
	free(s);
	s = xasprintf("%s:%s %s:%s", p.skipped[0]->sink, p.skipped[0]->stamp,
	    p.skipped[1]->sink, p.skipped[1]->stamp);
	cr_assert(strcmp(s, "disk:" R3 " s3:" R2) == 0 ||
	    strcmp(s, "s3:" R2 " disk:" R3) == 0, "%s", s);
	free(s);
	catalog_pick_free(&p);
	/* Empty catalog: nothing, no allocation to free. */
	catalog_free(&cat);
	catalog_newest(&cat, &p);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(p.nskipped, 0);
	catalog_pick_free(&p);
}

/* Old copies (no run record) keep the old meaning: newest per stream. */
Test(catalog, latest_of_old_copies)
{
	struct catalog		 cat = { 0 };
	struct catalog_pick	 p;
	char			*s;

	add(&cat, "disk", "db1", R1, NULL, 0);
	add(&cat, "disk", "db2", R1, NULL, 0);
	add(&cat, "disk", "db1", R2, NULL, 0);
	catalog_group_runs(&cat);
	catalog_latest(&cat, NULL, &p);
	s = picked(&p);
	cr_assert_str_eq(s, "disk:pg/db2@" R1 "\ndisk:pg/db1@" R2 "\n");
	cr_assert_eq(p.nskipped, 0);
	free(s);
	catalog_pick_free(&p);
	catalog_free(&cat);
}

/* Copies of one run that list different streams: not complete. */
Test(catalog, manifests_disagreeing_on_the_plan)
{
	static const char *const plan2[] = { "db1", "db2" };
	struct catalog			 cat = { 0 };
	const struct catalog_run	*r;

	test_log_start();
	add(&cat, "disk", "db1", R1, plan2, 2);
	add(&cat, "disk", "db2", R1, plan3, 3);
	catalog_group_runs(&cat);
	cr_assert_eq(cat.nruns, 1);
	r = catalog_run_of(&cat, &cat.items[0]);
	cr_assert_not(r->complete);
	cr_assert_eq(r->planned, 2);
	cr_assert_eq(r->present, 2);
	assert_logged("sink:disk: the manifests of run " R1 " of source:pg "
	    "disagree on the run's streams; taken as incomplete");
	catalog_free(&cat);
}

Test(manifest, bad_run_tags_are_refused)
{
	static const char *const bad[] = {
		"", "a b", "../x", "x/y", "tag\"q",
		"0123456789012345678901234567890123"	/* 34 bytes */
	};
	const char	*err;
	struct artifact	 a;
	size_t		 i;
	char		*t, *u;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = manifest_tagged("db1", "2026-12-06T120233Z", plan3, 3,
		    bad[i]);
		assert_refused(t, "bad \"run\": a tag is letters, digits, "
		    "'_', '.', '-', 1-31 bytes");
		free(t);
	}
	/* 31 bytes is the longest */
	t = manifest_tagged("db1", "2026-12-06T120233Z", plan3, 3,
	    "0123456789012345678901234567890");
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_eq(strlen(a.run_tag), 31);
	artifact_clear(&a);
	free(t);
	/* not a string */
	t = manifest("db1", "2026-12-06T120233Z", plan3, 3);
	u = xasprintf("%.*s], \"tag\": 1}%s", (int)(strstr(t, "]}") - t), t,
	    strstr(t, "]}") + 2);
	assert_refused(u, "bad \"run\": a tag is letters, digits, '_', "
	    "'.', '-', 1-31 bytes");
	free(u);
	free(t);
}

/* A manifest with compression COMP and encryption ENC, "plaintext" PLAIN. */
static char *
manifest_plain(int ver, const char *comp, const char *enc, const char *plain)
{
	return xasprintf("{\"format\": \"zentoria-backupd-manifest\", "
	    "\"format_version\": %d, \"id\": \"pg/db1@2026-12-06T120233Z\", "
	    "\"data\": \"data.dump\", \"stored\": {\"size\": 1, \"sha256\": \""
	    SHA "\"}, \"plaintext\": %s, \"transforms\": {\"compression\": "
	    "\"%s\", \"encryption\": \"%s\"}}", ver, plain, comp, enc);
}

Test(manifest, plaintext_check_instead_of_sha256)
{
	struct manifest_in	 m;
	struct compression	 comp;
	struct artifact		 a;
	const char		*err;
	char			*t;

	/* Written: a codec changes the bytes and no SHA-256 was taken. */
	cr_assert_eq(config_parse_compression("zstd:3", &comp, &err), 0);
	memset(&m, 0, sizeof(m));
	m.id = "pg/db1@2026-12-06T120233Z";
	m.job = m.source = "pg";
	m.stream = "db1";
	m.stamp = "2026-12-06T120233Z";
	m.data = "data.dump.zst";
	m.source_plugin = m.sink = m.sink_plugin = "x";
	m.source_plugin_version = m.sink_plugin_version = "1";
	m.stored_sha = SHA;
	m.plain_sha = "";
	m.plain_size = 42;
	m.comp = &comp;
	t = manifest_build(&m);
	cr_assert(strstr(t, "\"format_version\": 2,") != NULL, "%s", t);
	cr_assert(strstr(t, "\"plaintext\": {\"size\": 42, \"check\": "
	    "\"zstd\"}") != NULL, "%s", t);
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_eq(a.plain_size, 42);
	cr_assert_str_eq(a.plain_sha, "");
	cr_assert_str_eq(a.plain_check, "zstd");
	artifact_clear(&a);
	free(t);
	/* Read: each check with the transform that makes it. */
	t = manifest_plain(2, "gzip:6", "none",
	    "{\"size\": 7, \"check\": \"gzip\"}");
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_str_eq(a.plain_check, "gzip");
	artifact_clear(&a);
	free(t);
	t = manifest_plain(2, "none", "age", "{\"size\": 7, \"check\": \"age\"}");
	cr_assert_eq(parse(t, &a, &err), 0, "%s", err);
	cr_assert_str_eq(a.plain_check, "age");
	artifact_clear(&a);
	free(t);
}

Test(manifest, plaintext_check_must_match_the_transforms)
{
	static const char *const bad[][3] = {
		/* compression, encryption, plaintext */
		{ "zstd:3", "none", "{\"size\": 7, \"check\": \"gzip\"}" },
		{ "none", "none", "{\"size\": 7, \"check\": \"age\"}" },
		{ "none", "age", "{\"size\": 7, \"check\": \"zstd\"}" },
		{ "zstd:3", "none", "{\"size\": 7}" },
		{ "zstd:3", "none", "{\"check\": \"zstd\"}" },
	};
	size_t	 i;
	char	*t;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = manifest_plain(2, bad[i][0], bad[i][1], bad[i][2]);
		assert_refused(t, "bad or missing plaintext size/sha256 or "
		    "check");
		free(t);
	}
	/* Version 1 always had the SHA-256: a check alone is not one. */
	t = manifest_plain(1, "zstd:3", "none",
	    "{\"size\": 7, \"check\": \"zstd\"}");
	assert_refused(t, "bad or missing size/sha256");
	free(t);
	t = manifest_plain(3, "none", "none",
	    "{\"size\": 1, \"sha256\": \"" SHA "\"}");
	assert_refused(t, "unsupported manifest format_version");
	free(t);
}
