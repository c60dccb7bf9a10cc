/*
 * ctl_run.c - `zentoria-backupctl run': back up jobs now.
 *
 * A thin front end over the job queue (core/jobq.c): jobs run
 * concurrently up to [daemon] max_parallel_jobs, in the order given.
 * Each job's lock is taken before anything runs: a job that is running
 * already (here, from cron, or in the daemon) is refused at once and
 * makes the exit status non-zero; the others run.  SIGINT/SIGTERM abort
 * what is running: every copy in progress is aborted, so nothing
 * half-written looks complete.
 */
#include "zb-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "jobq.h"
#include "log.h"
#include "progress.h"
#include "reactor.h"
#include "retention.h"
#include "run.h"
#include "util.h"

static const char run_usage[] =
    "usage: zentoria-backupctl [-c FILE] run [--tag NAME] JOB... | --all"
    "\n       zentoria-backupctl [-c FILE] run --daemon JOB\n\n"
    "Back up the named jobs now (at most [daemon] max_parallel_jobs at "
    "once) and\nprint one result line per job. Exit status 0 only when "
    "every job's every\nstream reached every sink.\n\n"
    "  --all        run every [job:NAME] of the configuration\n"
    "  --tag NAME   tag the runs NAME (letters, digits, _ . -, 1-31 bytes),"
    "\n               as a schedule line's tag=NAME does: keep_<rule>_tag "
    "counts them\n"
    "  --daemon     ask the running daemon to run JOB now (POST "
    "/v1/jobs/JOB/run\n               at the first [daemon] listen "
    "address, with admin_token_file):\n               it answers at once; "
    "exit 1 when the daemon is not reached,\n               runs JOB "
    "already or has no such job\n";

struct batch {
	struct jobq		*q;
	size_t			 pending;	/* submitted, not ended */
	int			 all_ok;
	int			 done;
};

static void
on_job_done(void *arg, const struct jobq_result *r)
{
	struct batch			*b = arg;
	const struct run_summary	*s = r->summary;
	char				 plain[32], stored[32];

	if (r->status != JOBQ_OK)
		b->all_ok = 0;
	if (r->status == JOBQ_REFUSED)
		printf("job %s: refused (%s)\n", r->job, r->error);
	else if (s != NULL) {
		human_bytes(s->plain_bytes, plain, sizeof(plain));
		human_bytes(s->stored_bytes, stored, sizeof(stored));
		printf("job %s: %s (%u of %u streams on every sink, %u "
		    "copies, %s read, %s stored, %.1f s)\n", r->job,
		    run_result_str(s->result), s->streams_ok, s->streams,
		    s->copies_ok, plain, stored, s->elapsed_ms / 1000.0);
	}
	/* (a job aborted before it started prints nothing) */
	fflush(stdout);
	if (r->status != JOBQ_REFUSED && --b->pending == 0)
		b->done = 1;
}

static void
on_signal(int sig, void *arg)
{
	struct batch	*b = arg;

	if (sig == SIGHUP)
		return;
	b->all_ok = 0;
	jobq_abort_all(b->q, "interrupted by a signal");
}

static uint64_t
batch_bytes(void *arg)
{
	return jobq_bytes_in(((struct batch *)arg)->q);
}

int
ctl_run(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "tag", required_argument, NULL, 't' },
		{ "daemon", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct jobq_opts opts;
	struct batch	 b;
	struct cfg_job	*job, **jobs = NULL;
	struct progress	*prog;
	size_t		 i, njobs = 0;
	int		 ch, all = 0, bad = 0, viad = 0;

	if (ctl_wants_help(argc, argv, run_usage))
		return 0;
	memset(&opts, 0, sizeof(opts));
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'a')
			all = 1;
		else if (ch == 'd')
			viad = 1;
		else if (ch == 't' && retention_tag_valid(optarg))
			opts.tag = optarg;
		else if (ch == 't') {
			fprintf(stderr, "zentoria-backupctl: run: --tag '%s': "
			    "a tag is 1-31 letters, digits, '_', '.' or '-'\n",
			    optarg);
			return EXIT_USAGE;
		} else {
			fputs(run_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if ((optind == argc) == !all) {
		fputs(run_usage, stderr);
		return EXIT_USAGE;
	}
	if (viad) {
		if (all || opts.tag != NULL || optind + 1 != argc) {
			fputs(run_usage, stderr);
			return EXIT_USAGE;
		}
		return ctl_run_daemon(ctl, argv[optind]);
	}
	if (ctl_load(ctl) == -1)
		return 1;
	memset(&b, 0, sizeof(b));
	b.all_ok = 1;
	if (all) {
		TAILQ_FOREACH(job, &ctl->cfg->jobs, entry) {
			jobs = xreallocarray(jobs, njobs + 1, sizeof(*jobs));
			jobs[njobs++] = job;
		}
	}
	for (i = optind; i < (size_t)argc; i++) {
		job = config_job(ctl->cfg, argv[i]);
		if (job == NULL) {
			log_warnx("%s: no [job:%s]", ctl->cfg->path, argv[i]);
			bad = 1;
			continue;
		}
		jobs = xreallocarray(jobs, njobs + 1, sizeof(*jobs));
		jobs[njobs++] = job;
	}
	if (bad || njobs == 0) {
		if (njobs == 0 && !bad)
			log_warnx("%s: no jobs configured", ctl->cfg->path);
		free(jobs);
		return 1;
	}
	/*
	 * Only these jobs share max_buffer_mb: their streams may borrow the
	 * shares of the rest (config_stream_budget).
	 */
	ctl->cfg->budget_jobs = njobs < (size_t)ctl->cfg->max_parallel_jobs ?
	    (int)njobs : ctl->cfg->max_parallel_jobs;
	/* Every job is locked (or refused) before any runs. */
	b.q = jobq_new(ctl->cfg->max_parallel_jobs);
	for (i = 0; i < njobs; i++) {
		if (jobq_submit(b.q, ctl->cfg, jobs[i]->name, &opts,
		    on_job_done, &b) == -1)
			fatalx("[job:%s] is not in the configuration",
			    jobs[i]->name);	/* looked up above */
	}
	free(jobs);
	b.pending = jobq_active(b.q);
	if (b.pending > 0) {
		reactor_on_signal(on_signal, &b);
		prog = progress_start("backing up", 0, batch_bytes, &b);
		ctl_wait(&b.done);
		progress_stop(prog);
		reactor_on_signal(NULL, NULL);
	}
	jobq_free(b.q);
	ctl_write_textfile(ctl);
	return b.all_ok ? 0 : 1;
}
