/*
 * scheduler.c - the daemon's schedule: one entry per job and per
 * [check:NAME], its next fire time (cron_next_any over its schedule
 * lines, in [daemon] timezone), and one reactor timer for the earliest
 * entry.  A job's fire queues a run on the daemon's job queue (jobq.c),
 * then retention on its sinks (upkeep.c); a check's fire runs the check
 * (upkeep.c) and records its result in state_dir/checks/<name>.json.
 *
 * Invariants:
 * - A job never overlaps itself: a fire while it runs (or is queued) is
 *   skipped, logged ("job J: fire at T skipped: still running since S")
 *   and counted in its state file; so is a fire refused because another
 *   process (zentoria-backupctl run) holds the job's lock.  The same for
 *   checks (a check runs once at a time; it takes no job lock).
 * - The next fire time is computed from the fire time just handled when
 *   it was handled on time (jitter does not accumulate), else from now:
 *   fires missed while the loop was busy are not run one by one.
 * - Catch-up (sched_new): a fire time between the last recorded start
 *   and now means the daemon was down when it came: the job (or check)
 *   runs once at start.  A job without a recorded start waits for its next fire
 *   time (docs/daemon.md says why).
 * - The timer never waits more than SCHED_MAX_SLEEP_MS, so a step of the
 *   wall clock is noticed within a minute.
 * - Each job's state file records its runs' starts and ends, written by
 *   the job queue (jobq.c) for the daemon's runs and the CLI's alike;
 *   the scheduler adds its fires and skipped fires, a check's whole
 *   record (jobstate.c: changes merged under an flock, off the loop).
 *   At start, a job whose file says "running" while nobody holds its
 *   lock is recorded as interrupted.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "cron.h"
#include "jobq.h"
#include "jobstate.h"
#include "metrics.h"
#include "log.h"
#include "notifier.h"
#include "reactor.h"
#include "scheduler.h"
#include "state.h"
#include "upkeep.h"
#include "util.h"

#define SCHED_MAX_SLEEP_MS	60000
#define SCHED_IDLE_POLL_MS	20
/*
 * Fire this much after the due time: time(), which stamps the run, reads
 * a coarse clock that may still show the previous second for a few ms.
 */
#define SCHED_LATE_MS		10
/* A fire handled within this of its due time was on time. */
#define SCHED_ON_TIME_MS	1000

struct entry {
	TAILQ_ENTRY(entry)	 link;
	struct sched		*s;
	int			 is_check;
	const char		*what;		/* "job" or "check" */
	char			*name;
	char			*path;		/* its state file */
	struct cron_sched	*cron;
	size_t			 ncron;
	int64_t			 jitter_ms;
	time_t			 next;		/* fire time; -1: none */
	size_t			 which;		/* its schedule line */
	int64_t			 due_ms;	/* next + jitter, wall ms */
	struct jobstate		 st;
	char			*results;	/* checks: the last items */
	int			 running;
	int			 gone;		/* not in the config now */
};

struct sched {
	struct zb_config	*cfg;		/* a reference */
	struct jobq		*q;		/* the daemon's */
	TAILQ_HEAD(, entry)	 entries;
	struct zb_timer		*timer;
	unsigned		 side_ops;	/* retention passes, checks */
	int			 started;
	int			 stopping;
	void			(*idle)(void *);
	void			*idle_arg;
	struct zb_timer		*idle_timer;
	struct notifier		*notifier;	/* [notify:NAME] */
};

static void	arm(struct sched *);
static void	check_idle(struct sched *);

static int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
fmt_time(time_t t, char *buf, size_t len)
{
	isotime_format(t, buf, len);
	return buf;
}

/*
 * Record what (JOBSTATE_* bits; c's other fields set by the caller) in
 * the entry's state file.  A check's file also keeps its last results.
 */
static void
live_job(void *arg, struct metrics_job *j)
{
	struct sched	*s = arg;
	struct entry	*e;

	TAILQ_FOREACH(e, &s->entries, link)
		if (!e->is_check && strcmp(e->name, j->name) == 0) {
			j->running = e->running;
			j->next_run = e->next > 0 ? e->next : 0;
		}
}

struct live_acc {
	struct obs_running	*v;
	size_t			 n, max;
	uint64_t		 in_use, budget;
};

static void
live_stream(void *arg, const char *job, const struct run_live *l)
{
	struct live_acc	*a = arg;

	a->in_use += l->buffered;
	a->budget += l->budget;
	if (a->v == NULL || a->n >= a->max)
		return;
	a->v[a->n].job = job;
	a->v[a->n].stream = l->stream;
	a->v[a->n].sink = NULL;
	a->v[a->n].bytes = l->bytes_in;
	a->v[a->n].backpressure_s = l->backpressure_s;
	a->n++;
}

size_t
sched_running(const struct sched *s, struct obs_running *out, size_t max,
    uint64_t *in_use, uint64_t *budget)
{
	struct live_acc	 a;

	memset(&a, 0, sizeof(a));
	a.v = out;
	a.max = max;
	jobq_live(s->q, live_stream, &a);
	if (in_use != NULL)
		*in_use = a.in_use;
	if (budget != NULL)
		*budget = a.budget;
	return a.n;
}

#define SCHED_MAX_LIVE	256

/* The metrics text now (caller frees), or NULL with err. */
char *
sched_metrics(struct sched *s, char *err, size_t errlen)
{
	struct metrics_live	 live;
	struct obs_running	 run[SCHED_MAX_LIVE];

	memset(&live, 0, sizeof(live));
	live.job = live_job;
	live.arg = s;
	live.running = run;
	live.nrunning = sched_running(s, run, SCHED_MAX_LIVE,
	    &live.buffer_in_use, &live.buffer_budget);
	/* (the daemon's budget: max_buffer, shared by the copies) */
	live.buffer_budget = (uint64_t)s->cfg->max_buffer;
	return metrics_render_state(s->cfg, &live, err, errlen);
}

/* A run or check ended and its files are written: metrics_textfile. */
static void
write_textfile(void *arg)
{
	struct sched	*s = arg;
	char		*text, err[512];

	if (s->cfg->metrics_textfile == NULL)
		return;
	text = sched_metrics(s, err, sizeof(err));
	if (text == NULL ||
	    metrics_write_textfile(s->cfg->metrics_textfile, text, err,
	    sizeof(err)) == -1)
		log_warnx("%s", err);
	free(text);
}

static void
record(struct entry *e, unsigned what, struct jobstate_change *c)
{
	c->what = what;
	c->extra = e->results;
	jobstate_update_async(e->s->cfg->state_dir, e->what, e->name, c,
	    (what & JOBSTATE_END) ? write_textfile : NULL, e->s);
}

/* Count a skipped fire (in memory for the log, and in the file). */
static void
record_skip(struct entry *e)
{
	struct jobstate_change	 c;

	memset(&c, 0, sizeof(c));
	e->st.skipped++;
	record(e, JOBSTATE_SKIP, &c);
}

/* The fire time after `after', with this entry's jitter. */
static void
set_next(struct entry *e, time_t after)
{
	int64_t	 jitter = 0;

	e->which = 0;
	e->next = e->ncron == 0 ? -1 : cron_next_any(e->cron, e->ncron,
	    after, e->s->cfg->tz, &e->which);
	if (e->next == -1)
		return;
	if (e->jitter_ms > 0)
		jitter = (int64_t)(random() % (e->jitter_ms + 1));
	e->due_ms = (int64_t)e->next * 1000 + jitter;
}

/* ---- runs ------------------------------------------------------------- */

static void
entry_free(struct entry *e)
{
	free(e->name);
	free(e->path);
	free(e->cron);
	free(e->results);
	free(e);
}

static void
retention_done(void *arg, unsigned errors)
{
	struct sched	*s = arg;

	s->side_ops--;
	write_textfile(s);	/* (backup_retained_copies changed) */
	check_idle(s);
}

/*
 * After a run: retention of the job's source on each sink on which the
 * run committed every planned stream (run_sink_whole), even when another
 * sink failed.  A sink that missed a stream is left alone: pruning it
 * could leave it with fewer copies than its keep rules promise.
 */
/*
 * A copy job: retention of each source it copies (its sources =, else
 * every source a job of the config backs up) on each target that holds
 * every selected copy.
 */
static void
copy_retention(struct sched *s, struct cfg_job *job,
    const struct run_summary *sum)
{
	struct cfg_job	*other, *seen;
	size_t		 i, k;

	for (i = 0; i < job->nsinks; i++) {
		if (!run_sink_whole(sum, i))
			continue;
		for (k = 0; k < job->ncopy_sources; k++) {
			s->side_ops++;
			upkeep_retention(s->cfg, job->sinks[i]->name,
			    job->copy_sources[k], retention_done, s);
		}
		if (job->ncopy_sources > 0)
			continue;
		TAILQ_FOREACH(other, &s->cfg->jobs, entry) {
			if (other->source == NULL)
				continue;
			TAILQ_FOREACH(seen, &s->cfg->jobs, entry)
				if (seen == other || (seen->source != NULL &&
				    seen->source == other->source))
					break;
			if (seen != other)
				continue;	/* its source was done */
			s->side_ops++;
			upkeep_retention(s->cfg, job->sinks[i]->name,
			    other->source->name, retention_done, s);
		}
	}
}

static void
start_retention(struct sched *s, const char *jobname,
    const struct run_summary *sum)
{
	struct cfg_job	*job = config_job(s->cfg, jobname);
	size_t		 i;

	if (job == NULL || sum == NULL)
		return;
	if (job->copy_from != NULL) {
		copy_retention(s, job, sum);
		return;
	}
	for (i = 0; i < job->nsinks; i++) {
		if (!run_sink_whole(sum, i))
			continue;
		s->side_ops++;
		upkeep_retention(s->cfg, job->sinks[i]->name,
		    job->source->name, retention_done, s);
	}
}

static void
run_done(void *arg, const struct jobq_result *r)
{
	struct entry	*e = arg;
	struct sched	*s = e->s;
	char		 t[ZB_ISOTIME_LEN];

	e->running = 0;
	if (r->status == JOBQ_REFUSED) {
		log_warnx("job %s: fire at %s skipped: %s", e->name,
		    fmt_time(e->st.last_fire, t, sizeof(t)), r->error);
		record_skip(e);
		return;
	}
	/* (the job queue recorded the end in the file) */
	notifier_run_ended(s->notifier, r);
	e->st.last_end = time(NULL);
	write_textfile(s);
	snprintf(e->st.outcome, sizeof(e->st.outcome), "%s",
	    jobq_status_str(r->status));
	/* (also while stopping: the keep rules hold after an exit) */
	if ((r->status == JOBQ_OK || r->status == JOBQ_PARTIAL) &&
	    !e->gone)
		start_retention(s, e->name, r->summary);
	if (e->gone) {
		TAILQ_REMOVE(&s->entries, e, link);
		entry_free(e);
	}
	check_idle(s);
}

/* ---- checks ----------------------------------------------------------- */

#define SCHED_MAX_RESULTS	1000	/* items kept in a check's file */

/* The items of a check result as a "results" member (caller frees). */
static char *
results_json(const struct check_result *r)
{
	const struct check_item	*it;
	struct buf		 b;
	size_t			 i;

	buf_init(&b, JOBSTATE_MAX_FILE / 2);
	buf_puts(&b, "\"results\": [");
	for (i = 0; i < r->n && i < SCHED_MAX_RESULTS; i++) {
		it = &r->items[i];
		buf_puts(&b, i == 0 ? "\n    {\"id\": " : ",\n    {\"id\": ");
		buf_json_str(&b, it->id != NULL ? it->id : "");
		buf_puts(&b, ", \"sink\": ");
		buf_json_str(&b, it->sink != NULL ? it->sink : "");
		buf_printf(&b, ", \"ok\": %s, \"duration_ms\": %llu, "
		    "\"restore_ms\": %llu", it->ok ? "true" : "false",
		    (unsigned long long)it->duration_ms,
		    (unsigned long long)it->restore_ms);
		if (it->error != NULL) {
			buf_puts(&b, ", \"error\": ");
			buf_json_str(&b, it->error);
		}
		buf_puts(&b, "}");
	}
	buf_puts(&b, r->n > 0 ? "\n  ]" : "]");
	if (b.failed) {
		buf_free(&b);
		return xstrdup("\"results\": \"too long to record\"");
	}
	return buf_take(&b);
}

static void
check_done(void *arg, const struct check_result *r)
{
	struct entry		*e = arg;
	struct sched		*s = e->s;
	struct jobstate_change	 c;
	uint64_t		 restore = 0;
	size_t			 i;

	for (i = 0; i < r->n; i++)
		restore += r->items[i].restore_ms;
	s->side_ops--;
	e->running = 0;
	e->st.last_end = time(NULL);
	e->st.duration_ms = r->duration_ms;
	e->st.restore_ms = restore;
	e->st.items = (unsigned)r->n;
	e->st.failed = r->failed;
	snprintf(e->st.outcome, sizeof(e->st.outcome), "%s",
	    r->failed == 0 && r->n > 0 ? "ok" : "failed");
	free(e->results);
	e->results = results_json(r);
	(r->failed == 0 && r->n > 0 ? log_info : log_warnx)("check %s: %s: "
	    "%zu cop%s checked, %u failed, in %.1f s (restore time %.1f s)",
	    e->name, e->st.outcome, r->n, r->n == 1 ? "y" : "ies", r->failed,
	    r->duration_ms / 1000.0, restore / 1000.0);
	memset(&c, 0, sizeof(c));
	c.end = e->st.last_end;
	snprintf(c.outcome, sizeof(c.outcome), "%s", e->st.outcome);
	c.duration_ms = e->st.duration_ms;
	c.restore_ms = e->st.restore_ms;
	c.items = e->st.items;
	c.failed = e->st.failed;
	record(e, JOBSTATE_END | JOBSTATE_RESULT, &c);
	notifier_check_ended(s->notifier, e->name, r);
	if (e->gone) {
		TAILQ_REMOVE(&s->entries, e, link);
		entry_free(e);
	}
	check_idle(s);
}

static void
fire_check(struct entry *e)
{
	struct jobstate_change	 c;

	e->running = 1;
	e->st.last_start = time(NULL);
	e->st.runs++;
	snprintf(e->st.outcome, sizeof(e->st.outcome), "running");
	memset(&c, 0, sizeof(c));
	c.fire = e->st.last_fire;
	c.start = e->st.last_start;
	record(e, JOBSTATE_FIRE | JOBSTATE_START, &c);
	log_info("check %s: started", e->name);
	e->s->side_ops++;
	if (upkeep_check(e->s->cfg, e->name, check_done, e) == -1) {
		e->s->side_ops--;
		e->running = 0;
		log_warnx("check %s: not in the configuration", e->name);
	}
}

static void
fire(struct entry *e, time_t when, const char *tag)
{
	struct jobq_opts	 opts = { tag };
	struct jobstate_change	 c;
	char			 t1[ZB_ISOTIME_LEN], t2[ZB_ISOTIME_LEN];

	if (e->running) {
		log_warnx("%s %s: fire at %s skipped: still running since "
		    "%s", e->what, e->name, fmt_time(when, t1, sizeof(t1)),
		    fmt_time(e->st.last_start, t2, sizeof(t2)));
		record_skip(e);
		return;
	}
	e->st.last_fire = when;
	if (e->is_check) {
		fire_check(e);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.fire = when;
	record(e, JOBSTATE_FIRE, &c);
	e->running = 1;
	if (jobq_submit(e->s->q, e->s->cfg, e->name, &opts, run_done,
	    e) == -1) {
		/* (a gone entry is never fired) */
		e->running = 0;
		log_warnx("job %s: not in the configuration", e->name);
		return;
	}
	if (!e->running)
		return;		/* refused: run_done said why */
	/* (the job queue records the start in the file when it starts) */
	e->st.last_start = time(NULL);
	e->st.runs++;
	snprintf(e->st.outcome, sizeof(e->st.outcome), "running");
}

/* ---- the timer -------------------------------------------------------- */

static void
on_tick(void *arg)
{
	struct sched	*s = arg;
	struct entry	*e;
	int64_t		 now_ms = wall_ms(), late;
	time_t		 now = (time_t)(now_ms / 1000), when;
	char		 t[ZB_ISOTIME_LEN], tag[CRON_TAG_MAX + 1];

	s->timer = NULL;
	TAILQ_FOREACH(e, &s->entries, link) {
		if (e->gone || e->next == -1 || e->due_ms > now_ms)
			continue;
		when = e->next;
		log_debug("%s %s: fire at %s (schedule line %zu%s%s)", e->what,
		    e->name, fmt_time(when, t, sizeof(t)), e->which + 1,
		    e->cron[e->which].tag[0] != '\0' ? ", tag=" : "",
		    e->cron[e->which].tag);
		/* the line that fired (set_next picks the next one) */
		memcpy(tag, e->cron[e->which].tag, sizeof(tag));
		/* past the latest moment its jitter allows */
		late = now_ms - (int64_t)when * 1000 - e->jitter_ms;
		if (e->jitter_ms > 0)
			log_info("%s %s: fire at %s delayed %lld ms by its "
			    "jitter", e->what, e->name,
			    fmt_time(when, t, sizeof(t)),
			    (long long)(e->due_ms - (int64_t)when * 1000));
		/*
		 * On time (jitter aside): the next fire follows this one, so
		 * jitter does not add up.  Late (the loop was held up, the
		 * clock stepped, catch-up): it follows now.
		 */
		set_next(e, late < SCHED_ON_TIME_MS ? when : now);
		fire(e, when, tag[0] != '\0' ? tag : NULL);
	}
	arm(s);
}

static void
arm(struct sched *s)
{
	struct entry	*e;
	int64_t		 due = -1, now_ms;
	uint64_t	 delay;

	reactor_timer_del(s->timer);
	s->timer = NULL;
	if (s->stopping || !s->started)
		return;
	TAILQ_FOREACH(e, &s->entries, link)
		if (!e->gone && e->next != -1 && (due == -1 || e->due_ms < due))
			due = e->due_ms;
	if (due == -1)
		return;
	now_ms = wall_ms();
	delay = due <= now_ms ? 0 : (uint64_t)(due - now_ms) + SCHED_LATE_MS;
	if (delay > SCHED_MAX_SLEEP_MS)
		delay = SCHED_MAX_SLEEP_MS;
	s->timer = reactor_timer_add(delay, on_tick, s);
}

/* ---- entries ---------------------------------------------------------- */

/* An entry for a job (chk NULL) or a check, its state file read. */
static struct entry *
entry_new(struct sched *s, struct cfg_job *job, struct cfg_check *chk)
{
	struct entry	*e;
	char		 err[512], *aside;

	e = xcalloc(1, sizeof(*e));
	e->s = s;
	e->is_check = chk != NULL;
	e->what = chk != NULL ? "check" : "job";
	if (chk != NULL) {
		e->name = xstrdup(chk->name);
		e->ncron = chk->nschedules;
		if (e->ncron > 0) {
			e->cron = xreallocarray(NULL, e->ncron,
			    sizeof(*e->cron));
			memcpy(e->cron, chk->crons,
			    e->ncron * sizeof(*e->cron));
		}
	} else {
		e->name = xstrdup(job->name);
		e->ncron = job->nschedules;
		if (e->ncron > 0) {
			e->cron = xreallocarray(NULL, e->ncron,
			    sizeof(*e->cron));
			memcpy(e->cron, job->crons,
			    e->ncron * sizeof(*e->cron));
		}
		e->jitter_ms = job->jitter_ms;
	}
	e->path = jobstate_path(s->cfg->state_dir, e->what, e->name);
	if (jobstate_load(s->cfg->state_dir, e->what, e->name, &e->st, err,
	    sizeof(err)) == -1) {
		aside = xasprintf("%s.refused", e->path);
		log_warnx("%s %s: %s; moved aside to %s: it starts afresh (no "
		    "catch-up)", e->what, e->name, err, aside);
		if (rename(e->path, aside) == -1)
			log_warn("%s %s: rename %s", e->what, e->name, e->path);
		free(aside);
	}
	return e;
}

/*
 * At start, a record still "running": the daemon that started the run was
 * killed (or the host went down).  (Not on reload: this daemon's own runs
 * are "running" then.)
 */
static void
note_interrupted(struct entry *e)
{
	struct jobstate_change	 c;
	struct job_lock		*lock;
	char			 t[ZB_ISOTIME_LEN], err[512];

	if (strcmp(e->st.outcome, "running") != 0)
		return;
	fmt_time(e->st.last_start, t, sizeof(t));
	if (!e->is_check) {
		/* A zentoria-backupctl run may be under way: its lock says. */
		lock = state_lock_job(e->s->cfg, e->name, err, sizeof(err));
		if (lock == NULL) {
			log_info("job %s: its run started at %s is under way "
			    "(%s)", e->name, t, err);
			return;
		}
		state_unlock(lock);
	}
	log_warnx("%s %s: its run started at %s never ended (its process "
	    "was killed?)", e->what, e->name, t);
	snprintf(e->st.outcome, sizeof(e->st.outcome), "interrupted");
	/* (only if the file still says so: a new run may have started) */
	memset(&c, 0, sizeof(c));
	c.start = e->st.last_start;
	record(e, JOBSTATE_INTERRUPTED, &c);
}

static struct entry *
entry_find(struct sched *s, int is_check, const char *name)
{
	struct entry	*e;

	TAILQ_FOREACH(e, &s->entries, link)
		if (!e->gone && e->is_check == is_check &&
		    strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* At start: the next fire time, or now when one was missed while down. */
static void
first_fire(struct entry *e, time_t now)
{
	char	 t1[ZB_ISOTIME_LEN], t2[ZB_ISOTIME_LEN];
	time_t	 missed;

	if (e->ncron == 0) {
		e->next = -1;
		if (!e->is_check)
			log_info("job %s: no schedule: runs only from "
			    "zentoria-backupctl run", e->name);
		return;
	}
	if (e->st.last_start > 0) {
		missed = cron_next_any(e->cron, e->ncron, e->st.last_start,
		    e->s->cfg->tz, &e->which);
		if (missed != -1 && missed <= now) {
			log_info("%s %s: fire at %s was missed while the "
			    "daemon was down (last start %s): running once "
			    "now", e->what, e->name,
			    fmt_time(missed, t1, sizeof(t1)),
			    fmt_time(e->st.last_start, t2, sizeof(t2)));
			e->next = missed;
			e->due_ms = (int64_t)now * 1000;
			return;
		}
	}
	set_next(e, now);
	if (e->next != -1)
		log_info("%s %s: next run at %s", e->what, e->name,
		    fmt_time(e->next, t1, sizeof(t1)));
}

struct sched *
sched_new(struct zb_config *cfg, struct jobq *q)
{
	struct sched	*s;
	struct cfg_job	*job;
	struct cfg_check *chk;
	struct entry	*e;
	time_t		 now = time(NULL);

	srandom((unsigned)(getpid() ^ now));
	s = xcalloc(1, sizeof(*s));
	s->cfg = config_ref(cfg);
	s->q = q;
	s->notifier = notifier_new(cfg);
	TAILQ_INIT(&s->entries);
	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		e = entry_new(s, job, NULL);
		note_interrupted(e);
		first_fire(e, now);
		TAILQ_INSERT_TAIL(&s->entries, e, link);
	}
	TAILQ_FOREACH(chk, &cfg->checks, entry) {
		e = entry_new(s, NULL, chk);
		note_interrupted(e);
		first_fire(e, now);
		TAILQ_INSERT_TAIL(&s->entries, e, link);
	}
	return s;
}

void
sched_start(struct sched *s)
{
	s->started = 1;
	arm(s);
	/* what the state files say, at once (a restart keeps the values) */
	write_textfile(s);
}

static int
in_config(struct zb_config *cfg, const struct entry *e)
{
	if (e->is_check)
		return config_check(cfg, e->name) != NULL;
	return config_job(cfg, e->name) != NULL;
}

/* Take over the new entry ne, or keep e's fire time if nothing changed. */
static void
reload_entry(struct sched *s, struct entry *ne, time_t now, int tz_changed)
{
	struct entry	*e;
	char		 t[ZB_ISOTIME_LEN];

	e = entry_find(s, ne->is_check, ne->name);
	if (e != NULL && !tz_changed && e->ncron == ne->ncron &&
	    e->jitter_ms == ne->jitter_ms && (e->ncron == 0 ||
	    memcmp(e->cron, ne->cron, e->ncron * sizeof(*e->cron)) == 0)) {
		entry_free(ne);
		return;
	}
	if (e != NULL) {
		/* keep what the running entry knows */
		free(e->cron);
		e->cron = ne->cron;
		e->ncron = ne->ncron;
		e->jitter_ms = ne->jitter_ms;
		ne->cron = NULL;
		entry_free(ne);
	} else {
		e = ne;
		TAILQ_INSERT_TAIL(&s->entries, e, link);
	}
	set_next(e, now);
	if (e->next != -1)
		log_info("%s %s: next run at %s", e->what, e->name,
		    fmt_time(e->next, t, sizeof(t)));
}

void
sched_reload(struct sched *s, struct zb_config *cfg)
{
	struct entry	*e, *tmp;
	struct cfg_job	*job;
	struct cfg_check *chk;
	const struct cron_tz *otz = s->cfg->tz, *ntz = cfg->tz;
	time_t		 now = time(NULL);
	int		 tz_changed;

	/* Another zone moves every calendar fire time. */
	tz_changed = (otz == NULL) != (ntz == NULL) || (otz != NULL &&
	    (otz->kind != ntz->kind || otz->offset != ntz->offset ||
	    strcmp(otz->name, ntz->name) != 0));
	config_unref(s->cfg);
	s->cfg = config_ref(cfg);
	notifier_reload(s->notifier, cfg);
	for (e = TAILQ_FIRST(&s->entries); e != NULL; e = tmp) {
		tmp = TAILQ_NEXT(e, link);
		if (e->gone || in_config(cfg, e))
			continue;
		log_info("%s %s: no longer in the configuration%s", e->what,
		    e->name, e->running ? " (its run goes on)" : "");
		if (e->running) {
			e->gone = 1;
			continue;
		}
		TAILQ_REMOVE(&s->entries, e, link);
		entry_free(e);
	}
	TAILQ_FOREACH(job, &cfg->jobs, entry)
		reload_entry(s, entry_new(s, job, NULL), now, tz_changed);
	TAILQ_FOREACH(chk, &cfg->checks, entry)
		reload_entry(s, entry_new(s, NULL, chk), now, tz_changed);
	arm(s);
}

/* ---- stopping --------------------------------------------------------- */

size_t
sched_busy(const struct sched *s)
{
	return jobq_active(s->q) + s->side_ops;
}

static void
idle_poll(void *arg)
{
	struct sched	*s = arg;

	s->idle_timer = NULL;
	check_idle(s);
}

static void
check_idle(struct sched *s)
{
	if (!s->stopping || s->idle == NULL || s->idle_timer != NULL)
		return;
	if (sched_busy(s) > 0)
		return;
	if (jobstate_pending() > 0 || notifier_pending(s->notifier) > 0) {
		/* (state writes report to jobstate.c, messages to the
		 * notifier, not to us) */
		s->idle_timer = reactor_timer_add(SCHED_IDLE_POLL_MS,
		    idle_poll, s);
		return;
	}
	s->idle(s->idle_arg);
}

void
sched_stop(struct sched *s, void (*idle)(void *), void *arg)
{
	s->stopping = 1;
	s->idle = idle;
	s->idle_arg = arg;
	notifier_stop(s->notifier);
	arm(s);
	jobq_cancel_queued(s->q, "the daemon is stopping");
	check_idle(s);
}

void
sched_free(struct sched *s)
{
	struct entry	*e;

	if (s == NULL)
		return;
	reactor_timer_del(s->timer);
	reactor_timer_del(s->idle_timer);
	notifier_free(s->notifier);
	for (;;) {
		e = TAILQ_FIRST(&s->entries);
		if (e == NULL)
			break;
		TAILQ_REMOVE(&s->entries, e, link);
		entry_free(e);
	}
	config_unref(s->cfg);
	free(s);
}

int
sched_run_now(struct sched *s, int is_check, const char *name,
    time_t *start)
{
	struct entry	*e = entry_find(s, is_check, name);

	if (e == NULL)
		return -1;
	if (s->stopping)
		return -2;
	if (e->running)
		return 1;
	log_info("%s %s: started by the control API", e->what, e->name);
	fire(e, time(NULL), NULL);
	if (!e->running)
		return 1;	/* refused: the lock is held (logged) */
	*start = e->st.last_start;
	return 0;
}

int
sched_info(const struct sched *s, int is_check, const char *name,
    struct sched_info *out)
{
	struct entry	*e = entry_find((struct sched *)s, is_check, name);

	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return -1;
	out->running = e->running;
	out->next = e->next;
	out->last_start = e->st.last_start;
	out->last_end = e->st.last_end;
	out->outcome = e->st.outcome;
	out->duration_ms = e->st.duration_ms;
	out->restore_ms = e->st.restore_ms;
	out->items = e->st.items;
	out->failed = e->st.failed;
	return 0;
}
