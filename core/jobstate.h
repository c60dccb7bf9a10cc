/*
 * jobstate.h - what the daemon remembers of each job and check across
 * restarts: state_dir/jobs/<job>.json and state_dir/checks/<name>.json.
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
	uint64_t	 runs;		/* runs the daemon started */
	uint64_t	 skipped;	/* fires skipped (still running) */
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
 * The same off the loop (reactor_offload): takes text.  Writes of one
 * path happen in call order; a write asked for while one is under way
 * replaces any other still waiting (only the newest matters).  Failures
 * are logged.
 */
void	 jobstate_save_take(const char *path, char *text);
/* Writes not finished yet (shutdown waits for 0). */
size_t	 jobstate_pending(void);

#endif
