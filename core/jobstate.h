/*
 * jobstate.h - what is remembered of each job and check across runs
 * and restarts: state_dir/jobs/<job>.json (every front end's runs) and
 * state_dir/checks/<name>.json (the daemon's scheduled checks).
 */
#ifndef ZB_JOBSTATE_H
#define ZB_JOBSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JOBSTATE_MAX_FILE	(1 << 20)
#define JOBSTATE_OUTCOME_MAX	15

/* One job's (or check's) record; times are seconds since the epoch. */
struct jobstate {
	time_t		 last_fire;	/* the newest fire time handled */
	time_t		 last_start;	/* of the newest run; 0: never */
	time_t		 last_end;	/* 0: never ended (or running) */
	char		 outcome[JOBSTATE_OUTCOME_MAX + 1]; /* "" or a word */
	uint64_t	 runs;		/* runs started (CLI and daemon) */
	uint64_t	 skipped;	/* fires the daemon skipped */
	/* checks only: the last result */
	uint64_t	 duration_ms;
	uint64_t	 restore_ms;
	unsigned	 items, failed;
};

/*
 * The JSON text of st for job name (caller frees).  kind is "job" or
 * "check"; it is recorded and checked by jobstate_decode().  extra, if
 * not NULL, is more members (`"results": [...]'), written as they are
 * and ignored by jobstate_decode().
 */
char	*jobstate_encode(const char *kind, const char *name,
	    const struct jobstate *st, const char *extra);
/*
 * Parse a file's text into *st.  -1 with err saying what is wrong (not
 * JSON, cut short, another job's file, a field of the wrong type).
 */
int	 jobstate_decode(const char *kind, const char *name, const char *text,
	    size_t len, struct jobstate *st, char *err, size_t errlen);
/*
 * Read state_dir/<kind>s/<name>.json into *st: 0 (a missing file is a
 * zeroed state), or -1 with err naming the file and the problem.
 */
int	 jobstate_load(const char *state_dir, const char *kind,
	    const char *name, struct jobstate *st, char *err, size_t errlen);
/* Its path (caller frees). */
char	*jobstate_path(const char *state_dir, const char *kind,
	    const char *name);
/*
 * Write text to path atomically: a temporary file in the same directory
 * (created 0700 if missing), fsync, rename over path, fsync of the
 * directory.  A crash leaves the old file or the new one, never a mix.
 * Blocking: 0, or -1 with err.
 */
int	 jobstate_write_atomic(const char *path, const char *text,
	    char *err, size_t errlen);
/*
 * What one writer changes in a record (what: JOBSTATE_* bits); the
 * other fields stay as the file has them.  Several processes write one
 * file: the job queue of the CLI or the daemon records a run's start and
 * end (under the job lock), the daemon's scheduler its fires and skipped
 * fires (without it: a fire is skipped because another holds the lock),
 * so each change is a read-modify-write under an flock (below).
 */
#define JOBSTATE_FIRE		0x01	/* last_fire = fire */
#define JOBSTATE_START		0x02	/* last_start = start, runs + 1,
					   outcome "running" */
#define JOBSTATE_END		0x04	/* last_end = end, outcome */
#define JOBSTATE_SKIP		0x08	/* skipped + 1 */
#define JOBSTATE_RESULT		0x10	/* duration_ms ... failed (checks) */
#define JOBSTATE_INTERRUPTED	0x20	/* outcome "interrupted" if it is
					   still "running" since start */

struct jobstate_change {
	unsigned	 what;
	time_t		 fire, start, end;
	char		 outcome[JOBSTATE_OUTCOME_MAX + 1];	/* END */
	uint64_t	 duration_ms, restore_ms;		/* RESULT */
	unsigned	 items, failed;
	/* written as is (see jobstate_encode); NULL: none */
	const char	*extra;
};

void	 jobstate_apply(struct jobstate *, const struct jobstate_change *);
/*
 * Apply c to state_dir/<kind>s/<name>.json: take an exclusive flock on
 * <file>.lock, read the file (missing: a zeroed record), apply, write
 * atomically (jobstate_write_atomic), unlock.  Blocking.  0; 1 when the
 * file was refused and set aside as <file>.refused (err says why; the
 * record starts afresh); -1 with err when it could not be written.
 */
int	 jobstate_update(const char *state_dir, const char *kind,
	    const char *name, const struct jobstate_change *c, char *err,
	    size_t errlen);
/*
 * The same off the loop (reactor_offload), c copied (extra included).
 * Changes of one file are applied in call order, one at a time.
 * done(arg), if not NULL, is called on the loop once c is in the file
 * (or failed: failures are logged).
 */
void	 jobstate_update_async(const char *state_dir, const char *kind,
	    const char *name, const struct jobstate_change *c,
	    void (*done)(void *), void *arg);
/* Writes not finished yet (shutdown waits for 0). */
size_t	 jobstate_pending(void);

#endif
