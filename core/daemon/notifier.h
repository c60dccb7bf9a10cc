/*
 * notifier.h - [notify:NAME] sinks: webhook, Slack and e-mail messages
 * when a run or a check ends, and a summary on a schedule.
 */
#ifndef ZB_NOTIFIER_H
#define ZB_NOTIFIER_H

#include <stddef.h>

struct zb_config;
struct jobq_result;
struct check_result;
struct notifier;

/*
 * The notifier of generation cfg (a reference is taken): reads each
 * section's secret files (token, password) and arms the summary timers.
 * Failures to read a secret are logged; that section then sends nothing.
 */
struct notifier	*notifier_new(struct zb_config *);
/* Switch to a new generation (summary timers re-armed). */
void		 notifier_reload(struct notifier *, struct zb_config *);
/* A run of a job ended (JOBQ_REFUSED: nothing is sent). */
void		 notifier_run_ended(struct notifier *, const struct jobq_result *);
/* A check ended. */
void		 notifier_check_ended(struct notifier *, const char *check,
		    const struct check_result *);
/* Stop: no more summaries, no more retries; messages in flight go on. */
void		 notifier_stop(struct notifier *);
/* Messages not delivered (or given up) yet. */
size_t		 notifier_pending(const struct notifier *);
void		 notifier_free(struct notifier *);

#endif
