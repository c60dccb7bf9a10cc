/*
 * cron.c - owns schedule lines: parsing (5-field cron, @shortcuts,
 * @every D, tag=NAME), the next fire time in UTC or in the daemon's one
 * time zone with cronie's DST rules, and the catch-up test.
 *
 * Times are found by walking the local calendar field by field (month,
 * day, hour, minute) on "wall seconds" (local time counted like UTC
 * seconds), then mapping each wall time to instants. A wall time maps to
 * one instant, to none (a spring-forward gap) or to two (a fall-back
 * fold). Like cronie, a job at a fixed time (neither the minute nor the
 * hour field starts with '*') runs at the moment of the change when its
 * time falls in a gap, and once (at the first occurrence) in a fold; a
 * wildcard job skips gap times and runs at both occurrences in a fold.
 * Invariant: at most one UTC offset change within 36 hours (true of the
 * tz database).
 *
 * A named zone is read through localtime_r() with the process's TZ set
 * to ":NAME" (cron_tz_load); "local" reads the TZ as it is; a fixed offset
 * needs no zone data. Nothing else in the daemon uses local time, except
 * retention's "local", which is meant to follow the same TZ.
 */
#include "zb-build.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"

#define LINE_MAX_LEN	255
#define LIST_MAX	64
#define EVERY_MAX	(366LL * 86400)
/* 9999-12-31T23:59:59Z: the last `after' we compute from */
#define AFTER_MAX	253402300799LL
#define HORIZON_YEARS	400
/* every instant with a given wall time lies within WIN of it */
#define WIN		(18 * 3600)

struct field {
	const char		*name;
	int			 min, max;
	const char *const	*names;		/* 3-letter names or NULL */
	int			 base;		/* value of names[0] */
	const char		*what;		/* "month", "day" */
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };
static const struct field fields[] = {
	{ "minute", 0, 59, NULL, 0, NULL },
	{ "hour", 0, 23, NULL, 0, NULL },
	{ "day-of-month", 1, 31, NULL, 0, NULL },
	{ "month", 1, 12, month_names, 1, "month" },
	{ "day-of-week", 0, 7, day_names, 0, "day" },
};

static const struct {
	const char	*name;
	const char	*expansion;
} shortcuts[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* ---- parsing ------------------------------------------------------------- */

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* One number or name at *pp; advances *pp. */
static int
parse_value(const struct field *f, const char **pp, int *v, char *err,
    size_t errlen)
{
	const char	*p = *pp, *q;
	long		 n = 0;
	size_t		 len;
	int		 i;

	if (isdigit((unsigned char)*p)) {
		for (q = p; isdigit((unsigned char)*q); q++)
			if (n < 100000)
				n = n * 10 + (*q - '0');
		if (n < f->min || n > f->max)
			return fail(err, errlen, "%s: %.*s is out of range "
			    "%d-%d", f->name, (int)(q - p), p, f->min,
			    f->max);
		*v = (int)n;
		*pp = q;
		return 0;
	}
	for (q = p; isalpha((unsigned char)*q); q++)
		;
	len = (size_t)(q - p);
	if (len == 0)
		return fail(err, errlen, "%s: expected a number%s or '*' at "
		    "'%s'", f->name, f->names != NULL ? ", a name" : "", p);
	if (f->names == NULL)
		return fail(err, errlen, "%s: '%.*s' is not a number "
		    "(expected %d-%d)", f->name, (int)len, p, f->min, f->max);
	for (i = 0; len == 3 && f->names[i] != NULL; i++)
		if (strncasecmp(p, f->names[i], 3) == 0) {
			*v = f->base + i;
			*pp = q;
			return 0;
		}
	return fail(err, errlen, "unknown %s name '%.*s' (expected %s-%s)",
	    f->what, (int)len, p, f->names[0],
	    f->names[f == &fields[F_MON] ? 11 : 6]);
}

/* One comma-separated item: *, *\/S, N, N-M, N-M/S. */
static int
parse_item(const struct field *f, const char *item, uint64_t *bits,
    char *err, size_t errlen)
{
	const char	*p = item;
	int		 lo, hi, step = 1, range = 0, v;
	long		 n;

	if (*p == '*') {
		lo = f->min;
		hi = f == &fields[F_DOW] ? 6 : f->max;
		range = 1;
		p++;
	} else {
		if (parse_value(f, &p, &lo, err, errlen) == -1)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_value(f, &p, &hi, err, errlen) == -1)
				return -1;
			/* "fri-sun": Sunday as 7 closes the week */
			if (f == &fields[F_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (hi < lo)
				return fail(err, errlen, "%s: range %.*s goes "
				    "backwards", f->name, (int)(p - item),
				    item);
			range = 1;
		}
	}
	if (*p == '/') {
		if (!range)
			return fail(err, errlen, "%s: a step needs a range "
			    "or '*' before it (like */15 or 1-30/7), not "
			    "'%s'", f->name, item);
		p++;
		if (!isdigit((unsigned char)*p))
			return fail(err, errlen, "%s: expected a number "
			    "after '/' in '%s'", f->name, item);
		for (n = 0; isdigit((unsigned char)*p); p++)
			if (n < 100000)
				n = n * 10 + (*p - '0');
		if (n < 1 || n > f->max - f->min + 1)
			return fail(err, errlen, "%s: step %ld is out of "
			    "range 1-%d", f->name, n, f->max - f->min + 1);
		step = (int)n;
	}
	if (*p != '\0')
		return fail(err, errlen, "%s: unexpected '%c' in '%s'",
		    f->name, *p, item);
	for (v = lo; v <= hi; v += step)
		*bits |= 1ULL << (f == &fields[F_DOW] && v == 7 ? 0 : v);
	return 0;
}

/* A whole field (a token without blanks) into a bit set. */
static int
parse_field(const struct field *f, const char *tok, uint64_t *bits,
    char *err, size_t errlen)
{
	char		 item[LINE_MAX_LEN + 1];
	const char	*p = tok, *comma;
	size_t		 len;

	*bits = 0;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0)
			return fail(err, errlen, "%s: empty item in list "
			    "'%s'", f->name, tok);
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_item(f, item, bits, err, errlen) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* "30s", "6h", "1h30m", "2d" */
static int
parse_every(const char *s, int64_t *out)
{
	int64_t	 total = 0, n, unit;
	int	 digits;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		for (n = 0, digits = 0; isdigit((unsigned char)*s); s++) {
			if (n < EVERY_MAX)
				n = n * 10 + (*s - '0');
			digits++;
		}
		switch (*s) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return -1;
		}
		if (digits == 0)
			return -1;
		s++;
		if (n > EVERY_MAX)
			n = EVERY_MAX + 1;
		total += n * unit;
		if (total > EVERY_MAX)
			total = EVERY_MAX + 1;
	}
	*out = total;
	return 0;
}

static int
valid_tag(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return 0;
	return i > 0 && i <= CRON_TAG_MAX;
}

/* "tag=NAME" */
static int
set_tag(struct cron_sched *out, const char *tok, char *err, size_t errlen)
{
	const char	*name = tok + 4;

	if (out->tag[0] != '\0')
		return fail(err, errlen, "more than one tag=");
	if (!valid_tag(name))
		return fail(err, errlen, "tag: '%s' is not 1-%d letters, "
		    "digits, '_', '.' or '-'", name, CRON_TAG_MAX);
	memcpy(out->tag, name, strlen(name) + 1);
	return 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int	 d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* With the AND rule, some selected month must have a selected day. */
static int
check_possible(const struct cron_sched *s, char *err, size_t errlen)
{
	int	m, d, first = 0;

	if ((s->flags & (CRON_DOM_STAR | CRON_DOW_STAR)) == 0)
		return 0;	/* OR rule: the weekdays fire anyway */
	for (d = 31; d >= 1; d--)
		if (s->dom & (1u << d))
			first = d;
	for (m = 1; m <= 12; m++)
		if ((s->month & (1u << m)) && first <= days_in_month(2000, m))
			return 0;
	return fail(err, errlen, "day-of-month: no selected month has a day "
	    "%d, the job would never run", first);
}

#define NTOK	9

static int
parse_tokens(char **tok, int ntok, struct cron_sched *out, char *err,
    size_t errlen)
{
	uint64_t	 bits[5];
	int		 i, nf = 0;

	for (i = 0; i < ntok; i++) {
		if (strncmp(tok[i], "tag=", 4) == 0) {
			if (set_tag(out, tok[i], err, errlen) == -1)
				return -1;
			continue;
		}
		if (out->tag[0] != '\0' && nf < 5)
			return fail(err, errlen, "tag= must come after the "
			    "schedule, not before '%s'", tok[i]);
		if (out->tag[0] != '\0' || nf == 5)
			return fail(err, errlen, "unexpected '%s' after the "
			    "schedule (a tag is written tag=NAME)", tok[i]);
		if (parse_field(&fields[nf], tok[i], &bits[nf], err,
		    errlen) == -1)
			return -1;
		if (tok[i][0] == '*' && nf == F_DOM)
			out->flags |= CRON_DOM_STAR;
		if (tok[i][0] == '*' && nf == F_DOW)
			out->flags |= CRON_DOW_STAR;
		if (tok[i][0] == '*' && (nf == F_MIN || nf == F_HOUR))
			out->flags |= CRON_WILD;
		nf++;
	}
	if (nf != 5)
		return fail(err, errlen, "expected 5 fields (minute hour "
		    "day-of-month month day-of-week), got %d", nf);
	out->minute = bits[F_MIN];
	out->hour = (uint32_t)bits[F_HOUR];
	out->dom = (uint32_t)bits[F_DOM];
	out->month = (uint16_t)bits[F_MON];
	out->dow = (uint8_t)bits[F_DOW];
	return check_possible(out, err, errlen);
}

static int
parse_at(char **tok, int ntok, struct cron_sched *out, char *err,
    size_t errlen)
{
	char		 buf[LINE_MAX_LEN + 1];
	char		*t[NTOK];
	size_t		 i;
	int		 j;

	if (strcasecmp(tok[0], "@every") == 0) {
		if (ntok < 2 || parse_every(tok[1], &out->every) == -1)
			return fail(err, errlen, "@every: expected a duration "
			    "like 30s or 6h%s%s%s", ntok < 2 ? "" : ", not '",
			    ntok < 2 ? "" : tok[1], ntok < 2 ? "" : "'");
		if (out->every < 1)
			return fail(err, errlen, "@every: the duration must "
			    "be at least 1s");
		if (out->every > EVERY_MAX)
			return fail(err, errlen, "@every: '%s' is longer than "
			    "366d", tok[1]);
		for (j = 2; j < ntok; j++) {
			if (strncmp(tok[j], "tag=", 4) != 0)
				return fail(err, errlen, "unexpected '%s' "
				    "after the schedule (a tag is written "
				    "tag=NAME)", tok[j]);
			if (set_tag(out, tok[j], err, errlen) == -1)
				return -1;
		}
		return 0;
	}
	for (i = 0; i < sizeof(shortcuts) / sizeof(shortcuts[0]); i++) {
		if (strcasecmp(tok[0], shortcuts[i].name) != 0)
			continue;
		/* the 5 fields, then the rest (a tag) */
		if (ntok > 3)
			return fail(err, errlen, "unexpected '%s' after the "
			    "schedule (a tag is written tag=NAME)", tok[3]);
		snprintf(buf, sizeof(buf), "%s", shortcuts[i].expansion);
		for (j = 0; j < 5; j++)
			t[j] = buf + 2 * j;
		for (j = 0; j < 9; j += 2)
			buf[j + 1] = '\0';
		for (j = 1; j < ntok; j++)
			t[j + 4] = tok[j];
		return parse_tokens(t, ntok + 4, out, err, errlen);
	}
	return fail(err, errlen, "unknown shortcut '%s' (expected @hourly, "
	    "@daily, @weekly, @monthly, @yearly or @every DURATION)", tok[0]);
}

int
cron_parse(const char *line, struct cron_sched *out, char *err,
    size_t errlen)
{
	char	 buf[LINE_MAX_LEN + 1];
	char	*tok[NTOK], *p;
	size_t	 len = strlen(line);
	int	 ntok = 0;

	memset(out, 0, sizeof(*out));
	if (len > LINE_MAX_LEN)
		return fail(err, errlen, "schedule is longer than %d "
		    "characters", LINE_MAX_LEN);
	memcpy(buf, line, len + 1);
	for (p = buf; *p != '\0'; ) {
		while (isspace((unsigned char)*p))
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (ntok == NTOK)
			return fail(err, errlen, "too many fields (expected "
			    "minute hour day-of-month month day-of-week, "
			    "then tag=NAME)");
		tok[ntok++] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
	}
	if (ntok == 0)
		return fail(err, errlen, "empty schedule");
	if (tok[0][0] == '@')
		return parse_at(tok, ntok, out, err, errlen);
	return parse_tokens(tok, ntok, out, err, errlen);
}

int
cron_parse_list(const char *value, struct cron_sched **out, size_t *n,
    char *err, size_t errlen)
{
	struct cron_sched	*v;
	char			 one[LINE_MAX_LEN + 1], msg[256];
	const char		*p = value, *end;
	size_t			 len, k = 0, idx = 0;

	*out = NULL;
	*n = 0;
	v = calloc(LIST_MAX, sizeof(*v));
	if (v == NULL)
		return fail(err, errlen, "out of memory");
	while (*p != '\0') {
		/* a schedule ends at a newline or at ", " */
		for (end = p; *end != '\0' && *end != '\n' && *end != '\r' &&
		    !(*end == ',' && (end[1] == ' ' || end[1] == '\t' ||
		    end[1] == '\n' || end[1] == '\r' || end[1] == '\0'));
		    end++)
			;
		len = (size_t)(end - p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0) {
			idx++;
			if (k == LIST_MAX) {
				free(v);
				return fail(err, errlen, "more than %d "
				    "schedules", LIST_MAX);
			}
			if (len > LINE_MAX_LEN) {
				free(v);
				return fail(err, errlen, "schedule %zu: "
				    "longer than %d characters", idx,
				    LINE_MAX_LEN);
			}
			memcpy(one, p, len);
			one[len] = '\0';
			if (cron_parse(one, &v[k], msg, sizeof(msg)) == -1) {
				free(v);
				return fail(err, errlen, "schedule %zu "
				    "('%s'): %s", idx, one, msg);
			}
			k++;
		}
		p = *end != '\0' ? end + 1 : end;
	}
	if (k == 0) {
		free(v);
		return fail(err, errlen, "empty schedule");
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- time zone ----------------------------------------------------------- */

static int
zone_name_ok(const char *s)
{
	size_t	i;

	if (s[0] == '/' || s[0] == '.' || strstr(s, "..") != NULL ||
	    strlen(s) > CRON_TZ_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("/_+-.", s[i]) ==
		    NULL)
			return 0;
	return 1;
}

/* Makes the process's TZ this zone, unless it already is. */
static int
tz_use(const struct cron_tz *tz)
{
	char		 want[CRON_TZ_MAX + 2];
	const char	*cur = getenv("TZ");

	snprintf(want, sizeof(want), ":%s", tz->name);
	if (cur != NULL && strcmp(cur, want) == 0)
		return 0;
	if (setenv("TZ", want, 1) == -1)
		return -1;
	tzset();
	return 0;
}

static int
two_digits(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "+HH", "+HH:MM", "+HHMM" and the same with '-', at most 14 hours */
static int
parse_offset(const char *s, long *out)
{
	const char	*p = s + 1;
	int		 h, m = 0;

	h = two_digits(p);
	if (h < 0)
		return -1;
	p += 2;
	if (*p == ':')
		p++;
	if (*p != '\0') {
		m = two_digits(p);
		if (m < 0 || m > 59)
			return -1;
		p += 2;
	}
	if (*p != '\0' || h * 60 + m > 14 * 60 || (*(p - 1) == ':'))
		return -1;
	*out = (s[0] == '-' ? -1L : 1L) * (h * 3600L + m * 60L);
	return 0;
}

struct cron_tz *
cron_tz_load(const char *name, char *err, size_t errlen)
{
	struct cron_tz	*tz;
	char		 path[1024], magic[4];
	const char	*dir = getenv("TZDIR");
	FILE		*f;
	size_t		 got;

	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	tz = calloc(1, sizeof(*tz));
	if (tz == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	if (name == NULL || *name == '\0' || strcasecmp(name, "UTC") == 0 ||
	    strcmp(name, "Z") == 0)
		return tz;
	if (strcasecmp(name, "local") == 0) {
		tz->kind = CRON_TZ_LOCAL;
		return tz;
	}
	if (name[0] == '+' || name[0] == '-') {
		if (parse_offset(name, &tz->offset) == -1) {
			fail(err, errlen, "timezone: '%s' is not an offset "
			    "from -14:00 to +14:00 (like +01:00 or -0530)",
			    name);
			free(tz);
			return NULL;
		}
		tz->kind = CRON_TZ_FIXED;
		return tz;
	}
	if (!zone_name_ok(name)) {
		fail(err, errlen, "timezone: '%s' is not a zone name (like "
		    "Europe/Amsterdam or UTC)", name);
		free(tz);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	got = f != NULL ? fread(magic, 1, sizeof(magic), f) : 0;
	if (f != NULL)
		fclose(f);
	if (got != sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		fail(err, errlen, "timezone: unknown zone '%s' (%s is %s)",
		    name, path, f == NULL ? "missing" : "not a zoneinfo file");
		free(tz);
		return NULL;
	}
	tz->kind = CRON_TZ_NAMED;
	memcpy(tz->name, name, strlen(name) + 1);
	if (tz_use(tz) == -1) {
		fail(err, errlen, "timezone: cannot set TZ: %s",
		    strerror(errno));
		free(tz);
		return NULL;
	}
	return tz;
}

void
cron_tz_free(struct cron_tz *tz)
{
	free(tz);
}

/* ---- calendar ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (unsigned)((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1);
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	unsigned	doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int
day_matches(const struct cron_sched *s, int64_t days, int d)
{
	int	dow = (int)(((days % 7) + 11) % 7);	/* 1970-01-01: Thu */
	int	dom_ok = (s->dom >> d) & 1, dow_ok = (s->dow >> dow) & 1;

	if (s->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

/*
 * The first wall time (minute-aligned wall seconds) >= w whose fields
 * match, or -1 when none within HORIZON_YEARS.
 */
static int64_t
next_wall(const struct cron_sched *s, int64_t w)
{
	int64_t	days = floordiv(w, 86400), y, ylimit;
	int	secs = (int)(w - days * 86400), m, d, h, mi;

	civil_from_days(days, &y, &m, &d);
	h = secs / 3600;
	mi = (secs % 3600) / 60;
	ylimit = y + HORIZON_YEARS;
	while (y <= ylimit) {
		if (!((s->month >> m) & 1) || d > days_in_month(y, m)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			continue;
		}
		days = days_from_civil(y, m, d);
		if (!day_matches(s, days, d)) {
			d++;
			h = mi = 0;
			continue;
		}
		if (!((s->hour >> h) & 1)) {
			mi = 0;
			if (++h > 23) {
				h = 0;
				d++;
			}
			continue;
		}
		if (!((s->minute >> mi) & 1)) {
			if (++mi > 59) {
				mi = 0;
				if (++h > 23) {
					h = 0;
					d++;
				}
			}
			continue;
		}
		return days * 86400 + h * 3600 + mi * 60;
	}
	return -1;
}

/* ---- wall time to instants ----------------------------------------------- */

static long
tz_off(const struct cron_tz *tz, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (tz == NULL || tz->kind == CRON_TZ_UTC)
		return 0;
	if (tz->kind == CRON_TZ_FIXED)
		return tz->offset;
	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

enum { W_NORMAL, W_GAP, W_FOLD };

/*
 * The instants whose local time is wall time w: W_NORMAL (*t1), W_FOLD
 * (*t1 first, *t2 second occurrence) or W_GAP (*t1 = the instant of the
 * change, when local time jumps over w).
 */
static int
resolve(const struct cron_tz *tz, int64_t w, int64_t *t1, int64_t *t2)
{
	long	o_lo, o_hi;
	int64_t	lo, hi, mid, a, b;
	int	a_ok, b_ok;

	o_lo = tz_off(tz, w - WIN);
	o_hi = tz_off(tz, w + WIN);
	if (o_lo == o_hi) {
		*t1 = w - o_lo;
		return W_NORMAL;
	}
	/* the change: the first instant with the new offset */
	lo = w - WIN;
	hi = w + WIN;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (tz_off(tz, mid) == o_lo)
			lo = mid;
		else
			hi = mid;
	}
	a = w - o_lo;
	b = w - o_hi;
	a_ok = a < hi;
	b_ok = b >= hi;
	if (a_ok && b_ok) {
		*t1 = a;
		*t2 = b;
		return W_FOLD;
	}
	if (a_ok || b_ok) {
		*t1 = a_ok ? a : b;
		return W_NORMAL;
	}
	*t1 = hi;
	return W_GAP;
}

/* ---- next fire ----------------------------------------------------------- */

time_t
cron_next(const struct cron_sched *s, time_t after,
    const struct cron_tz *tz)
{
	int64_t	 w, wall, wstart, t1, t2 = 0, best = -1, cand[2];
	long	 o, o2;
	int	 kind, fixed = !(s->flags & CRON_WILD), stop, nc, i;

	if (after < 0 || after > AFTER_MAX)
		return -1;
	if (s->every > 0)
		return after + s->every;
	if (tz != NULL && tz->kind == CRON_TZ_UTC)
		tz = NULL;
	if (tz != NULL && tz->kind == CRON_TZ_NAMED && tz_use(tz) == -1)
		return -1;
	/*
	 * No instant after `after' has a wall time before after + the
	 * smaller of the offsets now and WIN later.
	 */
	o = tz_off(tz, after);
	o2 = tz_off(tz, (int64_t)after + WIN);
	w = (int64_t)after + (o < o2 ? o : o2) + 1;
	w = floordiv(w + 59, 60) * 60;
	wstart = w;
	for (;;) {
		wall = next_wall(s, w);
		if (wall == -1 || wall - wstart >
		    (int64_t)(HORIZON_YEARS + 1) * 366 * 86400)
			return (time_t)best;
		kind = resolve(tz, wall, &t1, &t2);
		nc = 0;
		stop = 0;
		if (kind == W_NORMAL || (kind == W_GAP && fixed)) {
			cand[nc++] = t1;
			stop = t1 > after;
		} else if (kind == W_FOLD) {
			cand[nc++] = t1;
			if (!fixed)
				cand[nc++] = t2;
			stop = fixed && t1 > after;
		}
		for (i = 0; i < nc; i++)
			if (cand[i] > after && (best == -1 || cand[i] < best))
				best = cand[i];
		/*
		 * Instants of later wall times are not earlier, except the
		 * second occurrences of a fold (which we keep walking).
		 */
		if (stop && best != -1)
			return (time_t)best;
		w = wall + 60;
	}
}

int
cron_missed(const struct cron_sched *s, time_t last_start, time_t now,
    const struct cron_tz *tz)
{
	time_t	t;

	if (now <= last_start)
		return 0;
	t = cron_next(s, last_start, tz);
	return t != -1 && t <= now;
}

time_t
cron_next_any(const struct cron_sched *v, size_t n, time_t after,
    const struct cron_tz *tz, size_t *which)
{
	time_t	t, best = -1;
	size_t	i;

	for (i = 0; i < n; i++) {
		t = cron_next(&v[i], after, tz);
		if (t != -1 && (best == -1 || t < best)) {
			best = t;
			if (which != NULL)
				*which = i;
		}
	}
	return best;
}
