/*
 * retention.c - the retention policy (restic's "forget" semantics): the
 * keep_* keys, their parsing, and the decision keep/remove for each
 * committed copy of one source/stream on one sink.
 *
 * The algorithm follows restic's documented forget policy (doc/060_forget.rst,
 * restic 0.16 and later):
 *  - copies are walked from the newest to the oldest;
 *  - keep_last N keeps the N newest copies;
 *  - keep_hourly/daily/weekly/monthly/yearly N: each copy falls in a
 *    calendar period (hour, day, ISO week Monday..Sunday, month, year);
 *    the first copy met in a period (its newest) is kept as long as the
 *    rule has periods left, and each kept copy uses one period; periods
 *    without copies do not count;
 *  - when a rule still has periods left at its oldest copy, that copy is
 *    kept as well even if its period already has a copy ("oldest");
 *  - keep_within D keeps every copy newer than D before the newest copy
 *    that is not in the future (not relative to now, as restic); copies
 *    in the future are therefore kept;
 *  - a copy kept by any rule survives (the rules are ORed);
 *  - no key at all keeps everything;
 * and adds one rule restic does not have: the newest copy always survives.
 *
 * Pure: no I/O, no allocation, no logging; LOCAL time zones read the
 * process's TZ through localtime_r().
 */
#include "zb-build.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retention.h"

static const char *const rule_names[RETENTION_KEEP_NBITS] = {
	"last", "hourly", "daily", "weekly", "monthly", "yearly",
	"within", "oldest", "newest", "no-policy"
};

#define WITHIN_MAX	(100LL * 366 * 86400)	/* a century */
#define TZ_OFFSET_MAX	(14L * 3600)

void
retention_policy_init(struct retention_policy *p)
{
	int	 r;

	memset(p, 0, sizeof(*p));
	for (r = 0; r < RETENTION_NRULES; r++)
		p->keep[r] = RETENTION_UNSET;
	p->keep_within = -1;
}

int
retention_policy_is_set(const struct retention_policy *p)
{
	int	 r;

	for (r = 0; r < RETENTION_NRULES; r++)
		if (p->keep[r] != RETENTION_UNSET)
			return 1;
	return p->keep_within >= 0;
}

/* value for a message: at most 40 bytes, control bytes as '?' */
static void
shown(const char *v, char *buf, size_t bufsz)
{
	size_t	 i;

	for (i = 0; v[i] != '\0' && i + 1 < bufsz && i < 40; i++)
		buf[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ?
		    '?' : v[i];
	buf[i] = '\0';
}

static int
parse_count(const char *v, int *out)
{
	long	 n = 0;
	size_t	 i;

	if (strcmp(v, "unlimited") == 0) {
		*out = RETENTION_UNLIMITED;
		return 0;
	}
	if (v[0] == '\0')
		return -1;
	for (i = 0; v[i] != '\0'; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		n = n * 10 + (v[i] - '0');
		if (n > RETENTION_COUNT_MAX)
			return -1;
	}
	*out = (int)n;
	return 0;
}

/* "1w3d12h": numbers with units w, d, h, at least one; seconds */
static int
parse_within(const char *v, long long *out)
{
	long long	 total = 0, n;
	const char	*p = v;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return -1;
		n = 0;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > WITHIN_MAX)
				return -1;
		}
		switch (*p++) {
		case 'w':
			n *= 7 * 86400;
			break;
		case 'd':
			n *= 86400;
			break;
		case 'h':
			n *= 3600;
			break;
		default:
			return -1;
		}
		total += n;
		if (total > WITHIN_MAX)
			return -1;
	}
	*out = total;
	return 0;
}

int
retention_tag_valid(const char *v)
{
	size_t	 i;

	for (i = 0; v[i] != '\0'; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' &&
		    v[i] != '.' && v[i] != '-')
			return 0;
	return i > 0 && i < RETENTION_TAG_MAX;
}

/* rule index of "keep_<name><suffix>", or -1 */
static int
rule_of_key(const char *key, const char *suffix)
{
	size_t	 nl;
	int	 r;

	if (strncmp(key, "keep_", 5) != 0)
		return -1;
	key += 5;
	for (r = 0; r < RETENTION_NRULES; r++) {
		nl = strlen(rule_names[r]);
		if (strncmp(key, rule_names[r], nl) == 0 &&
		    strcmp(key + nl, suffix) == 0)
			return r;
	}
	return -1;
}

int
retention_is_key(const char *key)
{
	return strcmp(key, "keep_within") == 0 ||
	    rule_of_key(key, "") >= 0 || rule_of_key(key, "_tag") >= 0;
}

int
retention_policy_parse_key(struct retention_policy *p, const char *key,
    const char *value, char *err, size_t errlen)
{
	char	 v[48];
	int	 r;

	shown(value, v, sizeof(v));
	if (strcmp(key, "keep_within") == 0) {
		if (parse_within(value, &p->keep_within) == 0)
			return 0;
		snprintf(err, errlen, "%s: '%s' is not a duration in weeks, "
		    "days and hours (like 7d, 36h, 2w or 1w3d12h; months and "
		    "years have no fixed length: write 30d or 365d)", key, v);
		return -1;
	}
	r = rule_of_key(key, "");
	if (r >= 0) {
		if (parse_count(value, &p->keep[r]) == 0)
			return 0;
		snprintf(err, errlen, "%s: '%s' is not a whole number from 0 "
		    "to %d or unlimited", key, v, RETENTION_COUNT_MAX);
		return -1;
	}
	r = rule_of_key(key, "_tag");
	if (r >= 0) {
		if (retention_tag_valid(value)) {
			snprintf(p->tag[r], sizeof(p->tag[r]), "%s", value);
			return 0;
		}
		snprintf(err, errlen, "%s: '%s' is not a tag (letters, "
		    "digits, '_', '.', '-'; 1 to %d bytes)", key, v,
		    RETENTION_TAG_MAX - 1);
		return -1;
	}
	return 1;
}

/* two digits at s: their value, or -1 */
static int
two_digits(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int
retention_tz_parse(struct retention_tz *tz, const char *value, char *err,
    size_t errlen)
{
	char		 v[48];
	const char	*p = value;
	long		 h, m = 0;

	memset(tz, 0, sizeof(*tz));
	if (strcasecmp(value, "UTC") == 0 || strcmp(value, "Z") == 0)
		return 0;
	if (strcasecmp(value, "local") == 0) {
		tz->kind = RETENTION_TZ_LOCAL;
		return 0;
	}
	/* +HH, +HH:MM, +HHMM and the same with - */
	h = (*p == '+' || *p == '-') ? two_digits(p + 1) : -1;
	if (h >= 0) {
		p += 3;
		if (*p == ':' && two_digits(p + 1) >= 0) {
			m = two_digits(p + 1);
			p += 3;
		} else if (two_digits(p) >= 0) {
			m = two_digits(p);
			p += 2;
		}
		if (*p == '\0' && m < 60 &&
		    h * 3600 + m * 60 <= TZ_OFFSET_MAX) {
			tz->kind = RETENTION_TZ_FIXED;
			tz->offset = (value[0] == '-' ? -1 : 1) *
			    (h * 3600 + m * 60);
			return 0;
		}
	}
	shown(value, v, sizeof(v));
	snprintf(err, errlen, "timezone: '%s' is not UTC, local or an offset "
	    "from -14:00 to +14:00 (like +01:00); for a named zone, set TZ in "
	    "the daemon's environment and write local", v);
	return -1;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static long long
days_from_civil(long long y, int mon, int d)
{
	long long	 era, yoe, doy, doe;

	y -= mon <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
broken_down(time_t t, const struct retention_tz *tz, struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	if (tz != NULL && tz->kind == RETENTION_TZ_LOCAL)
		localtime_r(&t, tm);
	else if (tz != NULL && tz->kind == RETENTION_TZ_FIXED) {
		t += tz->offset;
		gmtime_r(&t, tm);
	} else
		gmtime_r(&t, tm);
}

/* the period of rule r that copy number i (time t) falls in */
static long long
period(int r, size_t i, time_t t, const struct retention_tz *tz)
{
	struct tm	 tm;
	long long	 days, year;

	if (r == RETENTION_LAST)
		return (long long)i;	/* every copy is a period */
	broken_down(t, tz, &tm);
	year = (long long)tm.tm_year + 1900;
	days = days_from_civil(year, tm.tm_mon + 1, tm.tm_mday);
	switch (r) {
	case RETENTION_HOURLY:
		return days * 24 + tm.tm_hour;
	case RETENTION_DAILY:
		return days;
	case RETENTION_WEEKLY:
		/* the week's Monday: same grouping as ISO year and week */
		return days - (tm.tm_wday + 6) % 7;
	case RETENTION_MONTHLY:
		return year * 12 + tm.tm_mon;
	default:
		return year;
	}
}

static int
newest_first(const void *a, const void *b)
{
	const struct retention_copy	*x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return 0;
}

static int
counts(const struct retention_policy *p, int r,
    const struct retention_copy *c)
{
	if (p->tag[r][0] == '\0')
		return 1;
	return c->tag != NULL && strcmp(c->tag, p->tag[r]) == 0;
}

/* keep_within: copies newer than within before the newest past copy */
static void
apply_within(const struct retention_policy *p, struct retention_copy *c,
    size_t n, time_t now)
{
	time_t	 latest = 0;
	int	 have = 0;
	size_t	 i;

	for (i = 0; i < n && !have; i++) {
		if (c[i].time <= now) {
			latest = c[i].time;
			have = 1;
		}
	}
	for (i = 0; i < n; i++) {
		/* no past copy: all are in the future, all are kept */
		if (!have || (long long)c[i].time >
		    (long long)latest - p->keep_within) {
			c[i].keep = 1;
			c[i].rules |= RETENTION_KEEP_WITHIN;
		}
	}
}

/* one counting rule over copies sorted newest first */
static void
apply_rule(const struct retention_policy *p, int r,
    struct retention_copy *c, size_t n, const struct retention_tz *tz)
{
	long long	 val, last = 0;
	int		 left = p->keep[r], have_last = 0;
	size_t		 i, oldest = n;

	for (i = n; i > 0; i--) {
		if (counts(p, r, &c[i - 1])) {
			oldest = i - 1;
			break;
		}
	}
	for (i = 0; i < n && left != 0; i++) {
		if (!counts(p, r, &c[i]))
			continue;
		val = period(r, i, c[i].time, tz);
		if (have_last && val == last && i != oldest)
			continue;
		c[i].keep = 1;
		c[i].rules |= 1u << r;
		if (have_last && val == last)
			c[i].rules |= RETENTION_KEEP_OLDEST;
		last = val;
		have_last = 1;
		if (left > 0)
			left--;
	}
}

void
retention_apply(const struct retention_policy *p,
    struct retention_copy *copies, size_t n, time_t now,
    const struct retention_tz *tz)
{
	size_t	 i;
	int	 r;

	if (n == 0)
		return;
	qsort(copies, n, sizeof(*copies), newest_first);
	for (i = 0; i < n; i++) {
		copies[i].keep = !retention_policy_is_set(p);
		copies[i].rules = copies[i].keep ? RETENTION_KEEP_NOPOLICY : 0;
	}
	if (!retention_policy_is_set(p))
		return;
	if (p->keep_within >= 0)
		apply_within(p, copies, n, now);
	for (r = 0; r < RETENTION_NRULES; r++)
		if (p->keep[r] != RETENTION_UNSET)
			apply_rule(p, r, copies, n, tz);
	if (!copies[0].keep) {
		copies[0].keep = 1;
		copies[0].rules = RETENTION_KEEP_NEWEST;
	}
}

const char *
retention_rule_name(unsigned bit)
{
	int	 i;

	for (i = 0; i < RETENTION_KEEP_NBITS; i++)
		if (bit == 1u << i)
			return rule_names[i];
	return NULL;
}

char *
retention_rules_format(unsigned rules, const char *sep, char *buf,
    size_t bufsz)
{
	size_t	 len = 0;
	int	 i, w;

	if (bufsz == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < RETENTION_KEEP_NBITS; i++) {
		if ((rules & (1u << i)) == 0)
			continue;
		w = snprintf(buf + len, bufsz - len, "%s%s",
		    len > 0 ? sep : "", rule_names[i]);
		if (w < 0 || (size_t)w >= bufsz - len) {
			buf[len] = '\0';	/* whole names only */
			break;
		}
		len += (size_t)w;
	}
	return buf;
}
