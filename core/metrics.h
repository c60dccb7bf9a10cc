/*
 * metrics.h - what is remembered of each job x source x stream x sink
 * copy (state_dir/metrics/<job>.json, written by the job queue of the
 * CLI and the daemon when a run ends) and the Prometheus text (format
 * 0.0.4) rendered from it, the job and check state files and the
 * daemon's live view.
 */
#ifndef ZB_METRICS_H
#define ZB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "jobstate.h"
#include "run.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct obs_copy {	/* one job x source x stream x sink */
	const char	*job, *source, *stream, *sink;
	time_t		 last_run, last_success;	/* 0: never */
	int		 success;	/* the last run's copy committed */
	double		 duration_s;	/* of the last successful copy */
	uint64_t	 size_bytes;	/* of the last successful copy (stored) */
	/* cumulative over every run (counters) */
	uint64_t	 read_total, stored_total;
	double		 backpressure_s;
};

/* A set of copies owning its strings. */
struct obs_copies {
	struct obs_copy	*v;
	size_t		 n;
};

void	 metrics_copies_free(struct obs_copies *);
/* state_dir/metrics/<job>.json (caller frees). */
char	*metrics_copies_path(const char *state_dir, const char *job);
/*
 * Add the copies of state_dir/metrics/<job>.json to *c: 0 (a missing
 * file adds none) or -1 with err naming the file.
 */
int	 metrics_copies_load(const char *state_dir, const char *job,
	    struct obs_copies *c, char *err, size_t errlen);
/*
 * Merge a run's summary s of job (whose source is source, sinks in
 * job->sinks order: sinks[]) into state_dir/metrics/<job>.json, under an
 * flock, written atomically.  Blocking: 0 or -1 with err.
 */
#define METRICS_NOUTCOMES	5	/* ok partial failed aborted interrupted */
int	 metrics_record_run(const char *state_dir, const char *job,
	    const char *source, const char *const *sinks,
	    const char *outcome, time_t end,
	    const struct run_summary *s, char *err, size_t errlen);

/* The daemon's live view (NULL for the CLI: nothing running). */
struct obs_running {
	const char	*job, *stream, *sink;
	uint64_t	 bytes;
	double		 backpressure_s;
};
struct metrics_job {
	const char	*name;
	uint64_t	 runs[METRICS_NOUTCOMES];	/* by outcome */
	int		 running;
	time_t		 next_run;	/* 0: unknown */
	double		 rpo_s;		/* its rpo (config_job_rpo); 0: none */
};
struct metrics_check {
	const char	*name;
	const char	*kind;		/* check_kind_name() */
	struct jobstate	 st;		/* state_dir/checks/<name>.json */
};
/* What the last retention pass of source on sink kept. */
struct metrics_retained {
	char		*sink, *source;
	uint64_t	 copies;
	time_t		 time;
};
struct metrics_input {
	const char		*version;
	time_t			 now;
	const struct obs_copy	*copies;
	size_t			 ncopies;
	const struct metrics_job *jobs;
	size_t			 njobs;
	const struct metrics_check *checks;
	size_t			 nchecks;
	uint64_t		 buffer_in_use, buffer_budget;
	/* running streams: their bytes read and paused time so far are
	 * added to the copies of their job and stream (sink NULL: all) */
	const struct obs_running *running;
	size_t			 nrunning;
	/* backup_retained_copies: summed per sink */
	const struct metrics_retained *retained;
	size_t			 nretained;
};

/* The exposition text of in (0.0.4, HELP and TYPE, stable order). */
void	 metrics_render(struct buf *, const struct metrics_input *in);
/* A label value escaped for the text format (\\, \", \n). */
void	 metrics_escape(struct buf *, const char *);
/*
 * Everything from the state files of cfg (and live: the daemon's view;
 * NULL: nothing running) into text (caller frees).  A refused file is
 * logged and its job or check left out.  Blocking (small files).
 */
struct metrics_live {	/* the daemon's live view; NULL for the CLI */
	/* fill j->running, j->next_run, live_read/live_stored of j->name */
	void		(*job)(void *arg, struct metrics_job *j);
	void		*arg;
	uint64_t	 buffer_in_use, buffer_budget;
	const struct obs_running *running;
	size_t		 nrunning;
};
char	*metrics_render_state(struct zb_config *cfg,
	    const struct metrics_live *live, char *err, size_t errlen);
/*
 * Record that a retention pass of source on sink (the daemon's after a
 * run, `zentoria-backupctl prune') left copies committed copies there, in
 * state_dir/metrics/retained.json (flock, atomic).  Blocking (a small
 * file).  0 or -1 with err.
 */
int	 metrics_record_retained(const char *state_dir, const char *sink,
	    const char *source, uint64_t copies, char *err, size_t errlen);
void	 metrics_retained_free(struct metrics_retained *, size_t);
/*
 * Write text to path atomically (temporary file in the same directory
 * not ending in .prom, rename), mode 0644.  0 or -1 with err.
 */
int	 metrics_write_textfile(const char *path, const char *text,
	    char *err, size_t errlen);

#endif
