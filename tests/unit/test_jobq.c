/*
 * test_jobq.c - the job queue (core/jobq.c) driven with fake runs: jobs
 * start in submission order, never more than max_parallel_jobs at once;
 * a job whose lock is held is refused at once naming the pid; abort of
 * all ends queued jobs unstarted and aborts the running ones; cancelling
 * the queued ones lets the running ones finish.
 */
#include "zb-build.h"

#include <unistd.h>

#include "testlib.h"

#include "jobq.h"
#include "reactor.h"

/* A fake run: ends by itself after ms, or at once when aborted. */
struct run {
	struct cfg_job		*job;
	run_done_fn		 cb;
	void			*arg;
	struct zb_timer		*timer;
	struct run_summary	 sum;
	int			 ended;
};

static struct buf	 events;	/* "start j1,end j1,..." */
static unsigned		 live, peak;

static uint64_t
duration_ms(const char *job)
{
	/* j1 is long: the others pass it when slots allow. */
	return strcmp(job, "j1") == 0 ? 400 : 40;
}

static void
note(const char *what, const char *job)
{
	(void)buf_printf(&events, "%s%s %s", events.len > 0 ? "," : "", what,
	    job);
}

static void
fake_end(void *arg)
{
	struct run	*run = arg;

	run->timer = NULL;
	run->ended = 1;
	live--;
	note("end", run->job->name);
	run->cb(run, &run->sum, run->arg);
}

static struct run *
fake_start(struct zb_config *cfg, struct cfg_job *job, struct job_lock *lock,
    const char *tag, run_done_fn cb, void *arg)
{
	struct run	*run;

	cr_assert_not_null(lock, "a run starts under its job's lock");
	run = xcalloc(1, sizeof(*run));
	run->job = job;
	run->cb = cb;
	run->arg = arg;
	run->sum.result = RUN_OK;
	run->timer = reactor_timer_add(duration_ms(job->name), fake_end, run);
	note("start", job->name);
	if (tag != NULL)
		(void)buf_printf(&events, " tag=%s", tag);
	if (++live > peak)
		peak = live;
	return run;
}

static void
fake_abort(struct run *run, const char *why)
{
	if (run->ended || run->timer == NULL)
		return;
	reactor_timer_del(run->timer);
	run->sum.result = RUN_FAILED;
	run->timer = reactor_timer_add(0, fake_end, run);
}

static void
fake_free(struct run *run)
{
	cr_assert(run->ended, "a run is freed only after it ended");
	free(run);
}

static uint64_t
fake_bytes(const struct run *run)
{
	return 1;
}

static const struct jobq_runner fake = {
	fake_start, fake_abort, fake_free, fake_bytes
};

struct results {
	struct buf	 text;		/* "j1=ok,j2=refused,..." */
	size_t		 pending;
	int		 done;
	int		 with_summary;
	char		 error[512];
};

static void
on_done(void *arg, const struct jobq_result *r)
{
	struct results	*res = arg;

	(void)buf_printf(&res->text, "%s%s=%s", res->text.len > 0 ? "," :
	    "", r->job, jobq_status_str(r->status));
	if (r->summary != NULL)
		res->with_summary++;
	if (r->error != NULL)
		snprintf(res->error, sizeof(res->error), "%s", r->error);
	if (r->status != JOBQ_REFUSED && --res->pending == 0)
		res->done = 1;
}

static struct zb_config *
setup(int max_parallel)
{
	struct zb_config	*cfg;
	char			*dir = test_tmpdir();

	reactor_init();
	test_log_start();
	buf_init(&events, 4096);
	live = peak = 0;
	cfg = test_config("[daemon]\nstate_dir = %s\nmax_parallel_jobs = %d\n"
	    "[source:s]\nplugin = command\n[sink:k]\nplugin = local\n"
	    "[job:j1]\nsource = s\nsinks = k\n"
	    "[job:j2]\nsource = s\nsinks = k\n"
	    "[job:j3]\nsource = s\nsinks = k\n"
	    "[job:j4]\nsource = s\nsinks = k\n", dir, max_parallel);
	cr_assert_not_null(cfg, "%s", test_logged());
	free(dir);
	return cfg;
}

static struct jobq *
submit_all(struct zb_config *cfg, struct results *res)
{
	static const char *const jobs[] = { "j1", "j2", "j3", "j4" };
	struct jobq	*q;
	size_t		 i;

	memset(res, 0, sizeof(*res));
	buf_init(&res->text, 4096);
	q = jobq_new(cfg->max_parallel_jobs);
	jobq_set_runner(q, &fake);
	for (i = 0; i < 4; i++)
		cr_assert_eq(jobq_submit(q, cfg, jobs[i], NULL, on_done, res),
		    0);
	res->pending = jobq_active(q);
	return q;
}

Test(jobq, one_at_a_time_in_submission_order)
{
	struct zb_config	*cfg = setup(1);
	struct results		 res;
	struct jobq		*q;

	q = submit_all(cfg, &res);
	cr_assert_eq(jobq_active(q), 4);
	cr_assert_str_eq(events.data != NULL ? events.data : "", "",
	    "nothing starts inside jobq_submit");
	reactor_run_until(&res.done);
	cr_assert_str_eq(events.data, "start j1,end j1,start j2,end j2,"
	    "start j3,end j3,start j4,end j4");
	cr_assert_str_eq(res.text.data, "j1=ok,j2=ok,j3=ok,j4=ok");
	cr_assert_eq(peak, 1);
	jobq_free(q);
	config_free(cfg);
}

Test(jobq, two_slots_in_submission_order)
{
	struct zb_config	*cfg = setup(2);
	struct results		 res;
	struct jobq		*q;

	q = submit_all(cfg, &res);
	/* Each queued run holds a reference to its config generation. */
	cr_assert_eq(cfg->refs, 1 + 4);
	reactor_run_until(&res.done);
	/* j2, j3, j4 take turns in the second slot while j1 runs. */
	cr_assert_str_eq(events.data, "start j1,start j2,end j2,start j3,"
	    "end j3,start j4,end j4,end j1");
	cr_assert_eq(peak, 2);
	cr_assert_eq(jobq_active(q), 0);
	jobq_free(q);
	cr_assert_eq(cfg->refs, 1);
	config_free(cfg);
}

/* The caller may drop its reference (a reload): the runs keep theirs. */
Test(jobq, runs_keep_their_generation)
{
	struct zb_config	*cfg = setup(4);
	struct results		 res;
	struct jobq		*q;

	q = submit_all(cfg, &res);
	config_unref(cfg);
	reactor_run_until(&res.done);
	cr_assert_str_eq(res.text.data, "j2=ok,j3=ok,j4=ok,j1=ok");
	jobq_free(q);
}

/* A run gets the tag it was submitted with, copied at submission. */
Test(jobq, tag_reaches_the_run)
{
	struct zb_config	*cfg = setup(1);
	struct results		 res;
	struct jobq_opts	 opts;
	struct jobq		*q;
	char			 tag[32];

	memset(&res, 0, sizeof(res));
	buf_init(&res.text, 4096);
	q = jobq_new(cfg->max_parallel_jobs);
	jobq_set_runner(q, &fake);
	snprintf(tag, sizeof(tag), "daily");
	opts.tag = tag;
	cr_assert_eq(jobq_submit(q, cfg, "j2", &opts, on_done, &res), 0);
	snprintf(tag, sizeof(tag), "changed");	/* the queue has its own */
	opts.tag = NULL;
	cr_assert_eq(jobq_submit(q, cfg, "j3", &opts, on_done, &res), 0);
	cr_assert_eq(jobq_submit(q, cfg, "j4", NULL, on_done, &res), 0);
	res.pending = jobq_active(q);
	reactor_run_until(&res.done);
	cr_assert_str_eq(events.data, "start j2 tag=daily,end j2,start j3,"
	    "end j3,start j4,end j4");
	jobq_free(q);
	config_free(cfg);
}

Test(jobq, held_lock_refused_at_once)
{
	struct zb_config	*cfg = setup(2);
	struct results		 res;
	struct jobq		*q;
	char			 pid[64];

	q = submit_all(cfg, &res);
	cr_assert(jobq_running(q, "j3"));
	cr_assert(!jobq_running(q, "nope"));
	cr_assert_eq(jobq_submit(q, cfg, "nope", NULL, on_done, &res), -1);
	/* j3 is queued and holds its lock: a second j3 is refused now. */
	cr_assert_eq(jobq_submit(q, cfg, "j3", NULL, on_done, &res), 0);
	cr_assert_str_eq(res.text.data, "j3=refused");
	snprintf(pid, sizeof(pid), "(pid %ld holds ", (long)getpid());
	cr_assert(strstr(res.error, pid) != NULL, "%s", res.error);
	cr_assert_eq(jobq_active(q), 4);
	reactor_run_until(&res.done);
	cr_assert(!jobq_running(q, "j3"));
	/* The lock went with the run: j3 may run again. */
	res.done = 0;
	res.pending = 1;
	cr_assert_eq(jobq_submit(q, cfg, "j3", NULL, on_done, &res), 0);
	reactor_run_until(&res.done);
	cr_assert(strstr(res.text.data, "refused,j1=ok") == NULL);
	cr_assert(strstr(res.text.data, ",j3=ok") != NULL, "%s",
	    res.text.data);
	jobq_free(q);
	config_free(cfg);
}

static void
abort_soon(void *arg)
{
	jobq_abort_all(arg, "test abort");
}

Test(jobq, abort_all)
{
	struct zb_config	*cfg = setup(2);
	struct results		 res;
	struct jobq		*q;

	q = submit_all(cfg, &res);
	(void)reactor_timer_add(10, abort_soon, q);
	reactor_run_until(&res.done);
	/* j3 and j4 never started; j1 and j2 were aborted running. */
	cr_assert_str_eq(events.data, "start j1,start j2,end j1,end j2");
	cr_assert_str_eq(res.text.data, "j3=aborted,j4=aborted,j1=aborted,"
	    "j2=aborted");
	cr_assert_eq(res.with_summary, 2, "only runs that ran have a summary");
	cr_assert_eq(jobq_active(q), 0);
	jobq_free(q);
	config_free(cfg);
}

static void
cancel_soon(void *arg)
{
	jobq_cancel_queued(arg, "test cancel");
}

/* The daemon's SIGTERM: queued jobs end unstarted, running ones go on. */
Test(jobq, cancel_queued)
{
	struct zb_config	*cfg = setup(2);
	struct results		 res;
	struct jobq		*q;

	q = submit_all(cfg, &res);
	(void)reactor_timer_add(10, cancel_soon, q);
	reactor_run_until(&res.done);
	cr_assert_str_eq(events.data, "start j1,start j2,end j2,end j1");
	cr_assert_str_eq(res.text.data, "j3=aborted,j4=aborted,j2=ok,j1=ok");
	cr_assert_eq(res.with_summary, 2);
	jobq_free(q);
	config_free(cfg);
}
