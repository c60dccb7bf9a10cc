/*
 * cron.h - schedule lines (5-field cron, @hourly..@yearly, @every D),
 * their next fire time in UTC or in one named time zone, and catch-up.
 * No config.h dependency: plain strings in, structs out.
 */
#ifndef ZB_CRON_H
#define ZB_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CRON_TAG_MAX	31	/* [A-Za-z0-9_.-]{1,31}, as retention's tags */
#define CRON_TZ_MAX	64	/* longest zone name we accept */

/* cron_sched.flags */
#define CRON_DOM_STAR	0x01	/* day-of-month field starts with '*' */
#define CRON_DOW_STAR	0x02	/* day-of-week field starts with '*' */
#define CRON_WILD	0x04	/* minute or hour field starts with '*' */

/*
 * One schedule line. Either a cron schedule (every == 0: bit i of a set
 * means value i matches) or an interval (every > 0 seconds).
 * Day matching follows cron: when the day-of-month or the day-of-week
 * field starts with '*', a day must match both; when both are
 * restricted, a day matching either one fires ("0 0 1 * 1": the 1st and
 * every Monday). CRON_WILD selects cronie's DST handling (cron_next).
 */
struct cron_sched {
	uint64_t	minute;		/* bits 0-59 */
	uint32_t	hour;		/* bits 0-23 */
	uint32_t	dom;		/* bits 1-31 */
	uint16_t	month;		/* bits 1-12 */
	uint8_t		dow;		/* bits 0-6, Sunday is 0 */
	uint8_t		flags;		/* CRON_* */
	int64_t		every;		/* @every, seconds; 0 otherwise */
	char		tag[CRON_TAG_MAX + 1];	/* "" when none */
};

/* The time zone schedules are read in. */
enum cron_tz_kind {
	CRON_TZ_UTC = 0,
	CRON_TZ_FIXED,		/* offset seconds east of UTC, no DST */
	CRON_TZ_LOCAL,		/* the process's TZ as it is ("local") */
	CRON_TZ_NAMED		/* a zoneinfo zone, made the process's TZ */
};
struct cron_tz {
	enum cron_tz_kind	kind;
	long			offset;			/* FIXED */
	char			name[CRON_TZ_MAX + 1];	/* NAMED */
};

/*
 * Parses one schedule line into *out. Returns 0, or -1 with a message
 * naming the field and what was expected in err (the caller adds
 * file:line and the job).
 */
int	cron_parse(const char *line, struct cron_sched *out, char *err,
	    size_t errlen);

/*
 * Parses a `schedule =' value: schedules separated by newlines or by a
 * comma followed by a blank ("0 * * * *, 0 2 * * *"). Returns 0 with a
 * malloc'd array in *out (caller frees) and its length in *n, or -1 with
 * "schedule N: ..." in err.
 */
int	cron_parse_list(const char *value, struct cron_sched **out, size_t *n,
	    char *err, size_t errlen);

/*
 * Returns the zone for a `timezone' value, or NULL with a message in err:
 * NULL, "", "UTC" (any case) or "Z": UTC; "+HH", "+HH:MM", "-HHMM" (at
 * most 14 hours): a fixed offset; "local" (any case): the process's TZ
 * as it is; else a zone name under $TZDIR or /usr/share/zoneinfo
 * ("Europe/Amsterdam"), which becomes the process's TZ (setenv, tzset):
 * the daemon has one zone, and other code (retention's "local") then
 * follows it. The values other than zone names are those of
 * retention_tz_parse(). The caller frees the result with cron_tz_free().
 * Load a named zone at daemon start, before any thread starts;
 * cron_next() sets TZ again only when something changed it, so call it
 * from the loop thread.
 */
struct cron_tz	*cron_tz_load(const char *name, char *err, size_t errlen);
void		 cron_tz_free(struct cron_tz *);

/*
 * First fire time strictly after `after' (tz NULL means UTC), or -1 when
 * none within 400 years. For @every D it is after + D: pass the last
 * start of the job as `after'. DST: see docs/configuration.md.
 */
time_t	cron_next(const struct cron_sched *, time_t after,
	    const struct cron_tz *tz);

/*
 * Catch-up: 1 when a fire time t with last_start < t <= now exists
 * (@every D: last_start + D <= now), else 0.
 */
int	cron_missed(const struct cron_sched *, time_t last_start, time_t now,
	    const struct cron_tz *tz);

/*
 * Earliest cron_next() over n schedules of one job, with the index of
 * the schedule that fires in *which (may be NULL); -1 when none fires.
 */
time_t	cron_next_any(const struct cron_sched *, size_t n, time_t after,
	    const struct cron_tz *tz, size_t *which);

#endif /* ZB_CRON_H */
