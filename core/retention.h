/*
 * retention.h - the retention policy: which committed copies of one
 * source/stream on one sink to keep (restic's "forget" semantics).
 *
 * Pure: no I/O, no config.h, no logging.  The config layer feeds INI keys
 * to retention_policy_parse_key(); prune and the daemon fill an array of
 * struct retention_copy (committed copies only: those with a manifest)
 * and call retention_apply().  docs/configuration.md ("Retention") is the
 * user-facing description.
 */
#ifndef ZB_RETENTION_H
#define ZB_RETENTION_H

#include <stddef.h>
#include <time.h>

/* Counting rules, in the order they are evaluated and printed. */
enum retention_rule {
	RETENTION_LAST = 0,
	RETENTION_HOURLY,
	RETENTION_DAILY,
	RETENTION_WEEKLY,
	RETENTION_MONTHLY,
	RETENTION_YEARLY,
	RETENTION_NRULES
};

/*
 * Why a copy is kept: bits of struct retention_copy.rules, named "last",
 * "hourly", "daily", "weekly", "monthly", "yearly", "within", "oldest",
 * "newest", "no-policy" (retention_rule_name()).
 */
#define RETENTION_KEEP_LAST	(1u << RETENTION_LAST)
#define RETENTION_KEEP_HOURLY	(1u << RETENTION_HOURLY)
#define RETENTION_KEEP_DAILY	(1u << RETENTION_DAILY)
#define RETENTION_KEEP_WEEKLY	(1u << RETENTION_WEEKLY)
#define RETENTION_KEEP_MONTHLY	(1u << RETENTION_MONTHLY)
#define RETENTION_KEEP_YEARLY	(1u << RETENTION_YEARLY)
#define RETENTION_KEEP_WITHIN	(1u << 6)		/* "within" */
/*
 * "oldest": a counting rule still had periods left when it reached its
 * oldest copy and kept it although its period already had a kept copy
 * (restic >= 0.16: history as long as the policy allows).  Always set
 * together with that rule's bit.
 */
#define RETENTION_KEEP_OLDEST	(1u << 7)
/* "newest": the newest copy, which no rule kept; it always survives. */
#define RETENTION_KEEP_NEWEST	(1u << 8)
/* "no-policy": no keep key is set; every copy is kept. */
#define RETENTION_KEEP_NOPOLICY	(1u << 9)
#define RETENTION_KEEP_NBITS	10

#define RETENTION_UNSET		(-1)	/* key not given */
#define RETENTION_UNLIMITED	(-2)	/* "unlimited": every period */
#define RETENTION_COUNT_MAX	1000000
#define RETENTION_TAG_MAX	32	/* with the NUL */

/*
 * A policy.  retention_policy_init() makes the empty one (keep all).
 * Plain data, copied by assignment; no pointers.
 */
struct retention_policy {
	/* keep_last .. keep_yearly: RETENTION_UNSET, RETENTION_UNLIMITED
	 * or 0 .. RETENTION_COUNT_MAX */
	int		 keep[RETENTION_NRULES];
	/* keep_within in seconds, or -1 (unset) */
	long long	 keep_within;
	/* keep_<rule>_tag: the rule counts only copies with this tag;
	 * "" = every copy (the default: time alone, as restic) */
	char		 tag[RETENTION_NRULES][RETENTION_TAG_MAX];
};

/*
 * How calendar periods are cut.  A NULL pointer means UTC.
 * FIXED adds offset seconds to UTC (no daylight saving); LOCAL uses
 * localtime_r(), i.e. the process's TZ (environment or /etc/localtime),
 * which the daemon sets once at start-up, before threads exist.
 */
enum retention_tz_kind {
	RETENTION_TZ_UTC = 0,
	RETENTION_TZ_FIXED,
	RETENTION_TZ_LOCAL
};
struct retention_tz {
	enum retention_tz_kind	 kind;
	long			 offset;	/* FIXED: seconds east */
};

/*
 * One committed copy.  The caller fills time, seq, tag and data;
 * retention_apply() fills keep and rules.
 */
struct retention_copy {
	time_t		 time;	/* the run stamp's time */
	int		 seq;	/* its suffix: NN of "-NN", or 0 */
	/* the tag of the schedule line that made it, or NULL; borrowed */
	const char	*tag;
	void		*data;	/* the caller's, untouched */
	int		 keep;	/* out: 1 keep, 0 remove */
	unsigned	 rules;	/* out: RETENTION_KEEP_* bits */
};

void	 retention_policy_init(struct retention_policy *);
/* 1 when any keep key is set (keep_within included), else 0. */
int	 retention_policy_is_set(const struct retention_policy *);
/* 1 when key is one of the retention keys retention_policy_parse_key()
 * takes (keep_last ... keep_within, keep_<rule>_tag), else 0. */
int	 retention_is_key(const char *key);

/*
 * 1 when v is a valid tag: [A-Za-z0-9_.-], 1 .. RETENTION_TAG_MAX - 1
 * bytes (a schedule line's tag=, a run's --tag, keep_<rule>_tag).
 */
int	 retention_tag_valid(const char *v);

/*
 * Set one INI key.  0 on success; 1 when key is not a retention key
 * (nothing changed, err untouched); -1 when the value is bad, with a
 * message in err that names the key and value and says what was expected
 * ("keep_daily: '-3' is not a whole number from 0 to 1000000 or
 * unlimited"); the caller adds file:line and the section.
 *   keep_last ... keep_yearly  0 .. 1000000, or "unlimited"
 *   keep_within                a duration: numbers with units w, d, h
 *                              ("7d", "36h", "2w", "1w3d12h")
 *   keep_<rule>_tag            a tag: [A-Za-z0-9_.-], 1..31 bytes
 */
int	 retention_policy_parse_key(struct retention_policy *,
	    const char *key, const char *value, char *err, size_t errlen);

/*
 * Parse a timezone value: "UTC" (any case, or "Z"), a fixed offset "+HH",
 * "+HH:MM", "-HHMM" (at most 14 hours), or "local" (any case: the
 * process's TZ).  0 or -1 with a message in err.
 */
int	 retention_tz_parse(struct retention_tz *, const char *value,
	    char *err, size_t errlen);

/*
 * Decide every copy of one source/stream on one sink.  copies (borrowed,
 * committed copies only) is sorted in place, newest first: by time, then
 * by seq (the order of their stamps).  now is the current time: copies
 * after it are never removed by keep_within and do not count as the newest
 * copy for it.  tz NULL means UTC.  Every copy gets keep and rules.
 */
void	 retention_apply(const struct retention_policy *,
	    struct retention_copy *copies, size_t n, time_t now,
	    const struct retention_tz *tz);

/* "daily" for RETENTION_KEEP_DAILY, ...; NULL for a bit with no name. */
const char	*retention_rule_name(unsigned bit);
/*
 * The names of the bits of rules, joined by sep ("daily,weekly"), into
 * buf (truncated to bufsz).  Returns buf.
 */
char	*retention_rules_format(unsigned rules, const char *sep, char *buf,
	    size_t bufsz);

#endif
