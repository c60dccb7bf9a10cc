/*
 * run.h - one backup run of a job: plan, streams, sinks, commit.
 */
#ifndef ZB_RUN_H
#define ZB_RUN_H

#include <stdint.h>
#include <time.h>

#include "config.h"

struct run;

enum run_result { RUN_OK, RUN_PARTIAL, RUN_FAILED };

/* One (stream, sink) of a run: its last artifact's copy there. */
struct run_copy {
	const char	*stream;	/* valid while the summary is */
	size_t		 sink;		/* in job->sinks */
	int		 committed;	/* the manifest was written */
	uint64_t	 plain_bytes;	/* read from the source */
	uint64_t	 stored_bytes;	/* written (compressed, encrypted) */
	double		 duration_s;	/* start to end of the copy */
	double		 backpressure_s; /* the source was paused */
};

/* A running stream of a run, now (run_live). */
struct run_live {
	const char	*stream;
	uint64_t	 bytes_in, bytes_out;
	double		 backpressure_s;
	uint64_t	 buffered, budget;
};

struct run_summary {
	enum run_result	 result;
	unsigned	 streams;		/* planned */
	unsigned	 streams_ok;		/* on every sink */
	unsigned	 copies_ok;		/* (stream, sink) committed */
	unsigned	 copies_failed;
	uint64_t	 plain_bytes;
	uint64_t	 stored_bytes;
	uint64_t	 elapsed_ms;
	/* backpressure: the largest buffer use of any stream, its budget */
	uint64_t	 peak_buffered;
	uint64_t	 budget;
	uint64_t	 pauses;
	uint64_t	 resumes;
	/*
	 * Per sink of the job (job->sinks order, nsinks of them): how many
	 * planned streams were committed there.  A sink with all streams
	 * has this run whole, whatever the other sinks did (run_sink_whole).
	 */
	size_t		 nsinks;
	unsigned	 sink_streams_ok[CFG_MAX_SINKS];
	/* per (stream, sink), plan order then sink order (for metrics) */
	const struct run_copy *copies;
	size_t		 ncopies;
};

typedef void (*run_done_fn)(struct run *, const struct run_summary *,
	    void *arg);

struct job_lock;

/*
 * Start a run of job, whose lock (state.c) the caller holds, or NULL;
 * done is called on the loop when it has ended.  tag (NULL: none; else
 * valid as retention_tag_valid() says) goes into every manifest's "run"
 * record, for keep_<rule>_tag.
 */
struct run	*run_start(struct zb_config *, struct cfg_job *,
		    struct job_lock *, const char *tag, run_done_fn,
		    void *arg);
/*
 * 1 when the run s committed every planned stream (at least one) on the
 * job's i-th sink: retention may then prune that sink.
 */
int		 run_sink_whole(const struct run_summary *s, size_t i);
void		 run_free(struct run *);
const char	*run_job_name(const struct run *);
/* Plaintext bytes pushed so far (for progress lines). */
uint64_t	 run_bytes_in(const struct run *);
/*
 * Call fn for each stream of run that is copying now; the strings are
 * valid during the call.
 */
void		 run_live(const struct run *,
		    void (*fn)(void *, const struct run_live *), void *arg);
/* Abort everything still running (SIGINT/SIGTERM). */
void		 run_abort(struct run *, const char *why);
const char	*run_result_str(enum run_result);
/*
 * [sink:NAME] max_copies for copies written outside a run (copy.c): take
 * a slot on every limited sink of sinks, all or none, never ahead of a
 * run waiting for one of them (1 taken, 0 full: try again later); give
 * them back.
 */
int		 run_slots_take(struct cfg_section *const *sinks, size_t n);
void		 run_slots_release(struct cfg_section *const *sinks,
		    size_t n);

#endif
