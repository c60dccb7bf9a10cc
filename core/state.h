/*
 * state.h - what this host keeps in [daemon] state_dir: one lock per job
 * (a job never runs twice at once on this host) and the newest run stamp
 * handed to each source (ids stay unique when a source runs twice in a
 * second).  The sinks stay the truth about backups; nothing here is
 * needed to list, verify or restore.
 */
#ifndef ZB_STATE_H
#define ZB_STATE_H

#include <stddef.h>
#include <time.h>

#include "config.h"

struct job_lock;

/*
 * Take the lock of job without waiting.  NULL when another process (or
 * this one) holds it or it cannot be taken; err then says why, naming
 * the holder's pid.  The caller frees the lock with state_unlock().
 */
struct job_lock	*state_lock_job(const struct zb_config *, const char *job,
		    char *err, size_t errlen);
/* Record which run holds the lock (state_run_alive() asks for it). */
void		 state_lock_set_run(struct job_lock *, const char *stamp);
const char	*state_lock_path(const struct job_lock *);
void		 state_unlock(struct job_lock *);

/*
 * The stamp for a new run of source started at now, written to stamp
 * (ZB_STAMP_LEN bytes): later in byte order than every stamp this state
 * directory handed to the source before (a collision suffix -NN within a
 * second; the next second once those run out, or when the clock went
 * back).  0, or -1 with err.
 */
int		 state_next_stamp(const struct zb_config *, const char *source,
		    time_t now, char *stamp, char *err, size_t errlen);

/*
 * Whether the run stamped stamp still holds the job lock at lock_path
 * (a path this host's state_lock_path() gave): 1 it does, 0 it does not
 * (nobody holds the lock, or another run does).
 */
int		 state_run_alive(const char *lock_path, const char *stamp);

/* This host: "hostname boot-id", identifying it in in-progress markers. */
const char	*state_host_id(void);

#endif
