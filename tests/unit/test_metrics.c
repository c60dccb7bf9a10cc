/*
 * test_metrics.c - the Prometheus text (core/metrics.c): the exact
 * exposition of a synthetic input (families, HELP and TYPE, label order,
 * escaping of \, " and newline, +Inf for a copy never made); and
 * state_dir/metrics/<job>.json: a failed run after a good one keeps the
 * last success, counters add up, runs count per outcome.
 */
#include "zb-build.h"

#include <stdint.h>
#include <unistd.h>

#include "metrics.h"
#include "testlib.h"

static const char expected[] =
"# HELP backup_last_run_timestamp Unix time of the last run of the copy (job, source, stream, sink).\n"
"# TYPE backup_last_run_timestamp gauge\n"
"backup_last_run_timestamp{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 1765000000\n"
"backup_last_run_timestamp{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 1765000000\n"
"# HELP backup_last_success_timestamp Unix time of the last committed copy; 0: never.\n"
"# TYPE backup_last_success_timestamp gauge\n"
"backup_last_success_timestamp{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 1764996400\n"
"backup_last_success_timestamp{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_duration_seconds Duration of the last committed copy.\n"
"# TYPE backup_duration_seconds gauge\n"
"backup_duration_seconds{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 12.5\n"
"backup_duration_seconds{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_size_bytes Stored size of the last committed copy.\n"
"# TYPE backup_size_bytes gauge\n"
"backup_size_bytes{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 123456\n"
"backup_size_bytes{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_success 1 if the last run committed the copy, else 0.\n"
"# TYPE backup_success gauge\n"
"backup_success{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 0\n"
"backup_success{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_age_hours Hours since the last committed copy; +Inf: never.\n"
"# TYPE backup_age_hours gauge\n"
"backup_age_hours{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 1.5\n"
"backup_age_hours{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} +Inf\n"
"# HELP backup_bytes_read_total Plaintext bytes read from the source for the copy.\n"
"# TYPE backup_bytes_read_total counter\n"
"backup_bytes_read_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 1000\n"
"backup_bytes_read_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_bytes_stored_total Bytes stored on the sink by committed copies.\n"
"# TYPE backup_bytes_stored_total counter\n"
"backup_bytes_stored_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 900\n"
"backup_bytes_stored_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_backpressure_seconds_total Seconds the source was paused because the sink was slower.\n"
"# TYPE backup_backpressure_seconds_total counter\n"
"backup_backpressure_seconds_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"local\"} 0.25\n"
"backup_backpressure_seconds_total{job=\"pg\",source=\"db \\\"main\\\"\",stream=\"a\\\\b\\nc\",sink=\"s3\"} 0\n"
"# HELP backup_runs_total Runs of the job by outcome.\n"
"# TYPE backup_runs_total counter\n"
"backup_runs_total{job=\"pg\",outcome=\"ok\"} 3\n"
"backup_runs_total{job=\"pg\",outcome=\"partial\"} 0\n"
"backup_runs_total{job=\"pg\",outcome=\"failed\"} 1\n"
"backup_runs_total{job=\"pg\",outcome=\"aborted\"} 0\n"
"backup_runs_total{job=\"pg\",outcome=\"interrupted\"} 0\n"
"# HELP backup_running 1 while the job runs.\n"
"# TYPE backup_running gauge\n"
"backup_running{job=\"pg\"} 1\n"
"# HELP backup_next_run_timestamp Unix time of the job's next scheduled run.\n"
"# TYPE backup_next_run_timestamp gauge\n"
"backup_next_run_timestamp{job=\"pg\"} 1765003600\n"
"# HELP backup_rpo_seconds The job's recovery point objective (rpo, or from its schedule).\n"
"# TYPE backup_rpo_seconds gauge\n"
"backup_rpo_seconds{job=\"pg\"} 93600\n"
"# HELP backup_buffer_bytes Stream buffer memory in use and its budget.\n"
"# TYPE backup_buffer_bytes gauge\n"
"backup_buffer_bytes{state=\"in_use\"} 4096\n"
"backup_buffer_bytes{state=\"budget\"} 8388608\n"
"# HELP backup_verify_success 1 if the check's last run found every copy good, else 0.\n"
"# TYPE backup_verify_success gauge\n"
"backup_verify_success{check=\"weekly\",kind=\"test-restore\"} 1\n"
"# HELP backup_verify_timestamp Unix time the check last ended.\n"
"# TYPE backup_verify_timestamp gauge\n"
"backup_verify_timestamp{check=\"weekly\",kind=\"test-restore\"} 1764990000\n"
"# HELP backup_test_restore_seconds Measured restore time of the check's last test restore.\n"
"# TYPE backup_test_restore_seconds gauge\n"
"backup_test_restore_seconds{check=\"weekly\",kind=\"test-restore\"} 12\n"
"# HELP backup_retained_copies Committed copies on the sink after the last retention pass of each source.\n"
"# TYPE backup_retained_copies gauge\n"
"backup_retained_copies{sink=\"local\"} 215\n"
"backup_retained_copies{sink=\"s3\"} 82\n"
"# HELP zentoria_build_info The daemon's version; always 1.\n"
"# TYPE zentoria_build_info gauge\n"
"zentoria_build_info{version=\"1.0\"} 1\n";

Test(metrics, render_exact)
{
	struct obs_copy		 c[2];
	struct metrics_job	 j;
	struct metrics_check	 k;
	struct metrics_input	 in;
	struct metrics_retained	 r[3];
	struct buf		 b;
	char			*text;

	memset(c, 0, sizeof(c));
	memset(r, 0, sizeof(r));
	c[0].job = c[1].job = "pg";
	c[0].source = c[1].source = "db \"main\"";
	c[0].stream = c[1].stream = "a\\b\nc";
	c[0].sink = "local";
	c[1].sink = "s3";
	c[0].last_run = c[1].last_run = 1765000000;
	c[0].last_success = 1765000000 - 3600;
	c[0].duration_s = 12.5;
	c[0].size_bytes = 123456;
	c[0].read_total = 1000;
	c[0].stored_total = 900;
	c[0].backpressure_s = 0.25;
	memset(&j, 0, sizeof(j));
	j.name = "pg";
	j.runs[0] = 3;
	j.runs[2] = 1;
	j.running = 1;
	j.next_run = 1765003600;
	j.rpo_s = 93600;
	memset(&k, 0, sizeof(k));
	k.name = "weekly";
	k.kind = "test-restore";
	k.st.last_end = 1764990000;
	snprintf(k.st.outcome, sizeof(k.st.outcome), "ok");
	k.st.restore_ms = 12000;
	memset(&in, 0, sizeof(in));
	in.version = "1.0";
	in.now = 1765000000 + 3600 / 2;
	in.copies = c;
	in.ncopies = 2;
	in.jobs = &j;
	in.njobs = 1;
	in.checks = &k;
	in.nchecks = 1;
	/* summed per sink over its sources, in order of first mention */
	r[0].sink = "local", r[0].source = "pg", r[0].copies = 210;
	r[1].sink = "s3", r[1].source = "pg", r[1].copies = 82;
	r[2].sink = "local", r[2].source = "configs", r[2].copies = 5;
	in.retained = r;
	in.nretained = 3;
	in.buffer_in_use = 4096;
	in.buffer_budget = 8 << 20;
	buf_init(&b, SIZE_MAX);
	metrics_render(&b, &in);
	text = buf_take(&b);
	cr_assert_str_eq(text, expected);
	free(text);
}

Test(metrics, record_keeps_last_success)
{
	char			*dir = test_tmpdir();
	const char		*sinks[] = { "good", "bad" };
	struct run_copy		 rc[2];
	struct run_summary	 s;
	struct obs_copies	 c = { NULL, 0 };
	char			 err[512], *pj, *pk;

	memset(rc, 0, sizeof(rc));
	memset(&s, 0, sizeof(s));
	rc[0].stream = rc[1].stream = "db";
	rc[0].sink = 0;
	rc[1].sink = 1;
	rc[0].committed = rc[1].committed = 1;
	rc[0].plain_bytes = rc[1].plain_bytes = 100;
	rc[0].stored_bytes = rc[1].stored_bytes = 60;
	rc[0].duration_s = rc[1].duration_s = 2;
	s.copies = rc;
	s.ncopies = 2;
	cr_assert_eq(metrics_record_run(dir, "j", "src", sinks, "ok", 1000,
	    &s, err, sizeof(err)), 0, "%s", err);
	rc[1].committed = 0;
	rc[1].stored_bytes = 0;
	cr_assert_eq(metrics_record_run(dir, "j", "src", sinks, "partial",
	    2000, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(metrics_copies_load(dir, "j", &c, err, sizeof(err)), 0);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.v[0].sink, "good");
	cr_assert_eq(c.v[0].last_success, 2000);
	cr_assert_eq(c.v[0].success, 1);
	cr_assert_eq(c.v[0].stored_total, 120);
	cr_assert_str_eq(c.v[1].sink, "bad");
	cr_assert_eq(c.v[1].last_run, 2000);
	cr_assert_eq(c.v[1].last_success, 1000);
	cr_assert_eq(c.v[1].success, 0);
	cr_assert_eq(c.v[1].size_bytes, 60);
	cr_assert_eq(c.v[1].read_total, 200);
	cr_assert_eq(c.v[1].stored_total, 60);
	cr_assert_str_eq(c.v[1].job, "j");
	cr_assert_str_eq(c.v[1].source, "src");
	metrics_copies_free(&c);
	/* another job's file is refused, naming the file */
	pj = metrics_copies_path(dir, "j");
	pk = metrics_copies_path(dir, "k");
	cr_assert_eq(link(pj, pk), 0);
	cr_assert_eq(metrics_copies_load(dir, "k", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/metrics/k.json: not the metrics of job k") !=
	    NULL, "%s", err);
	metrics_copies_free(&c);
	(void)unlink(pk);
	(void)unlink(pj);
	free(pk);
	(void)snprintf(err, sizeof(err), "%s.lock", pj);
	(void)unlink(err);
	free(pj);
	(void)snprintf(err, sizeof(err), "%s/metrics", dir);
	(void)rmdir(err);
	(void)rmdir(dir);
	free(dir);
}

/* A running stream adds its bytes read and paused time to the copies of
 * its job and stream, on every sink (sink NULL) or on its one. */
Test(metrics, running_adds_to_counters)
{
	struct obs_copy		 c[2];
	struct obs_running	 r[2];
	struct metrics_input	 in;
	struct buf		 b;
	char			*text;

	memset(c, 0, sizeof(c));
	c[0].job = c[1].job = "j";
	c[0].source = c[1].source = "s";
	c[0].stream = c[1].stream = "x";
	c[0].sink = "a";
	c[1].sink = "b";
	c[0].read_total = c[1].read_total = 100;
	memset(r, 0, sizeof(r));
	r[0].job = "j";
	r[0].stream = "x";
	r[0].bytes = 50;
	r[0].backpressure_s = 1.5;
	r[1].job = "other";
	r[1].stream = "x";
	r[1].bytes = 7;
	memset(&in, 0, sizeof(in));
	in.version = "1";
	in.copies = c;
	in.ncopies = 2;
	in.running = r;
	in.nrunning = 2;
	buf_init(&b, SIZE_MAX);
	metrics_render(&b, &in);
	text = buf_take(&b);
	cr_assert(strstr(text, "backup_bytes_read_total{job=\"j\",source=\"s\","
	    "stream=\"x\",sink=\"a\"} 150\n") != NULL, "%s", text);
	cr_assert(strstr(text, "backup_bytes_read_total{job=\"j\",source=\"s\","
	    "stream=\"x\",sink=\"b\"} 150\n") != NULL, "%s", text);
	cr_assert(strstr(text, "backup_backpressure_seconds_total{job=\"j\","
	    "source=\"s\",stream=\"x\",sink=\"b\"} 1.5\n") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "backup_bytes_stored_total{job=\"j\",source="
	    "\"s\",stream=\"x\",sink=\"a\"} 0\n") != NULL, "%s", text);
	free(text);
}
