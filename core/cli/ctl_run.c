/*
 * ctl_run.c - `zentoria-backupctl run': back up jobs now.
 *
 * Jobs run concurrently up to [daemon] max_parallel_jobs, in the order
 * given.  Each job's lock (state.c) is taken before anything runs: a job
 * that is running already (here, from cron, or in the daemon) is refused
 * at once and makes the exit status non-zero; the others run.  SIGINT/SIGTERM abort what is running: every copy in progress is
 * aborted, so nothing half-written looks complete.
 */
#include "zb-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "progress.h"
#include "reactor.h"
#include "run.h"
#include "state.h"
#include "util.h"

static const char run_usage[] =
    "usage: zentoria-backupctl [-c FILE] run JOB... | --all\n\n"
    "Back up the named jobs now (at most [daemon] max_parallel_jobs at "
    "once) and\nprint one result line per job. Exit status 0 only when "
    "every job's every\nstream reached every sink.\n\n"
    "  --all    run every [job:NAME] of the configuration\n";

struct batch {
	struct ctl		*ctl;
	struct cfg_job		**jobs;
	struct job_lock		**locks;
	size_t			 njobs;
	size_t			 next;
	struct run		**runs;
	size_t			 running;
	size_t			 finished;
	int			 all_ok;
	int			 done;
	int			 interrupted;
};

static void	batch_next(struct batch *);

static void
on_run_done(struct run *run, const struct run_summary *s, void *arg)
{
	struct batch	*b = arg;
	char		 plain[32], stored[32];

	human_bytes(s->plain_bytes, plain, sizeof(plain));
	human_bytes(s->stored_bytes, stored, sizeof(stored));
	printf("job %s: %s (%u of %u streams on every sink, %u copies, "
	    "%s read, %s stored, %.1f s)\n", run_job_name(run),
	    run_result_str(s->result), s->streams_ok, s->streams,
	    s->copies_ok, plain, stored, s->elapsed_ms / 1000.0);
	fflush(stdout);
	if (s->result != RUN_OK)
		b->all_ok = 0;
	b->running--;
	b->finished++;
	batch_next(b);
}

static void
batch_next(struct batch *b)
{
	struct zb_config	*cfg = b->ctl->cfg;

	while (!b->interrupted && b->next < b->njobs &&
	    b->running < (size_t)cfg->max_parallel_jobs) {
		b->runs[b->next] = run_start(cfg, b->jobs[b->next],
		    b->locks[b->next], on_run_done, b);
		b->next++;
		b->running++;
	}
	if (b->running == 0 && (b->next == b->njobs || b->interrupted))
		b->done = 1;
}

static void
on_signal(int sig, void *arg)
{
	struct batch	*b = arg;
	size_t		 i;

	if (sig == SIGHUP)
		return;
	b->interrupted = 1;
	b->all_ok = 0;
	for (i = 0; i < b->next; i++)
		if (b->runs[i] != NULL)
			run_abort(b->runs[i], "interrupted by a signal");
	batch_next(b);
}

static uint64_t
batch_bytes(void *arg)
{
	struct batch	*b = arg;
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < b->next; i++)
		n += run_bytes_in(b->runs[i]);
	return n;
}

/*
 * Lock every job; refused ones are dropped from the batch (and make it
 * fail).  -1 when none is left to run.
 */
static int
lock_jobs(struct batch *b)
{
	struct job_lock	*l;
	char		 err[512];
	size_t		 i, n = 0;

	b->locks = xcalloc(b->njobs, sizeof(*b->locks));
	for (i = 0; i < b->njobs; i++) {
		l = state_lock_job(b->ctl->cfg, b->jobs[i]->name, err,
		    sizeof(err));
		if (l == NULL) {
			log_warnx("[job:%s] refused: %s", b->jobs[i]->name,
			    err);
			printf("job %s: refused (%s)\n", b->jobs[i]->name,
			    err);
			b->all_ok = 0;
			continue;
		}
		b->jobs[n] = b->jobs[i];
		b->locks[n++] = l;
	}
	fflush(stdout);
	b->njobs = n;
	return n > 0 ? 0 : -1;
}

int
ctl_run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct batch	 b;
	struct cfg_job	*job;
	struct progress	*prog;
	size_t		 i;
	int		 ch, all = 0, bad = 0;

	if (ctl_wants_help(argc, argv, run_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch != 'a') {
			fputs(run_usage, stderr);
			return EXIT_USAGE;
		}
		all = 1;
	}
	if ((optind == argc) == !all) {
		fputs(run_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1)
		return 1;
	memset(&b, 0, sizeof(b));
	b.ctl = ctl;
	b.all_ok = 1;
	if (all) {
		TAILQ_FOREACH(job, &ctl->cfg->jobs, entry) {
			b.jobs = xreallocarray(b.jobs, b.njobs + 1,
			    sizeof(*b.jobs));
			b.jobs[b.njobs++] = job;
		}
	}
	for (i = optind; i < (size_t)argc; i++) {
		job = config_job(ctl->cfg, argv[i]);
		if (job == NULL) {
			log_warnx("%s: no [job:%s]", ctl->cfg->path, argv[i]);
			bad = 1;
			continue;
		}
		b.jobs = xreallocarray(b.jobs, b.njobs + 1, sizeof(*b.jobs));
		b.jobs[b.njobs++] = job;
	}
	if (bad || b.njobs == 0) {
		if (b.njobs == 0 && !bad)
			log_warnx("%s: no jobs configured", ctl->cfg->path);
		free(b.jobs);
		return 1;
	}
	if (lock_jobs(&b) == -1) {
		free(b.jobs);
		free(b.locks);
		return 1;
	}
	b.runs = xcalloc(b.njobs, sizeof(*b.runs));
	reactor_on_signal(on_signal, &b);
	prog = progress_start("backing up", 0, batch_bytes, &b);
	batch_next(&b);
	reactor_run_until(&b.done);
	progress_stop(prog);
	reactor_on_signal(NULL, NULL);
	for (i = 0; i < b.next; i++)
		run_free(b.runs[i]);
	for (i = 0; i < b.njobs; i++)
		state_unlock(b.locks[i]);
	free(b.runs);
	free(b.jobs);
	free(b.locks);
	return b.all_ok ? 0 : 1;
}
