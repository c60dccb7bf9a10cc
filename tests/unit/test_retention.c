/*
 * test_retention.c - the retention policy (core/retention.c) over
 * synthetic timelines, each compared with a table computed by hand: the
 * comment above every expected list says how it was derived.
 *
 * Calendar facts used below: 2026-01-01 and 2026-12-31 are Thursdays, so
 * 2026 has 53 ISO weeks and its last one is Mon 2026-12-28 .. Sun
 * 2027-01-03; every Sunday of 2026 is 2026-01-04 + 7k.
 */
#include "zb-build.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retention.h"
#include "util.h"

/*
 * A timeline: copies with their stamps (copy.data points at the stamp).
 * One static pool: a test uses one timeline at a time, and nothing leaks.
 */
#define TL_MAX	(400 * 24)
static struct retention_copy	 pool[TL_MAX];
static char			 pool_stamp[TL_MAX][ZB_STAMP_LEN];

struct tl {
	struct retention_copy	*c;
	char			(*stamp)[ZB_STAMP_LEN];
	size_t			 n, cap;
};

static void
tl_init(struct tl *t, size_t cap)
{
	cr_assert(cap <= TL_MAX);
	memset(pool, 0, sizeof(pool));
	t->c = pool;
	t->stamp = pool_stamp;
	t->n = 0;
	t->cap = cap;
}

static void
tl_add(struct tl *t, const char *stamp, const char *tag)
{
	struct retention_copy	*c;

	cr_assert(t->n < t->cap);
	c = &t->c[t->n];
	snprintf(t->stamp[t->n], sizeof(t->stamp[t->n]), "%s", stamp);
	cr_assert_eq(stamp_parse_seq(stamp, &c->time, &c->seq), 0,
	    "bad stamp %s", stamp);
	c->tag = tag;
	c->data = t->stamp[t->n];
	c->keep = -1;
	t->n++;
}

/* count copies every step seconds from the stamp first on */
static void
tl_series(struct tl *t, const char *first, size_t count, time_t step)
{
	char	 s[ZB_STAMP_LEN];
	time_t	 t0;
	size_t	 i;

	cr_assert_eq(stamp_parse(first, &t0), 0);
	for (i = 0; i < count; i++) {
		stamp_format(t0 + (time_t)i * step, s, sizeof(s));
		tl_add(t, s, NULL);
	}
}

static time_t
at(const char *stamp)
{
	time_t	 t;

	cr_assert_eq(stamp_parse(stamp, &t), 0, "bad stamp %s", stamp);
	return t;
}

static char	 out[1 << 16];

/* the kept stamps older than before (0: all), newest first */
static const char *
kept_before(const struct tl *t, time_t before)
{
	size_t	 i, len = 0;

	out[0] = '\0';
	for (i = 0; i < t->n; i++) {
		cr_assert(t->c[i].keep == 0 || t->c[i].keep == 1);
		cr_assert_eq(t->c[i].keep, t->c[i].rules != 0,
		    "%s: keep %d with rules %#x", (char *)t->c[i].data,
		    t->c[i].keep, t->c[i].rules);
		if (i > 0)
			cr_assert(t->c[i - 1].time > t->c[i].time ||
			    (t->c[i - 1].time == t->c[i].time &&
			    t->c[i - 1].seq > t->c[i].seq),
			    "not sorted newest first at %zu", i);
		if (!t->c[i].keep || (before != 0 && t->c[i].time >= before))
			continue;
		len += snprintf(out + len, sizeof(out) - len, "%s ",
		    (char *)t->c[i].data);
		cr_assert(len < sizeof(out));
	}
	return out;
}

static const char *
kept(const struct tl *t)
{
	return kept_before(t, 0);
}

static size_t
nkept(const struct tl *t)
{
	size_t	 i, k = 0;

	for (i = 0; i < t->n; i++)
		k += t->c[i].keep == 1;
	return k;
}

/* the rules that kept the copy with this stamp ("" when removed) */
static const char *
why(const struct tl *t, const char *stamp)
{
	static char	 buf[128];
	size_t		 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->c[i].data, stamp) == 0)
			return retention_rules_format(t->c[i].rules, ",", buf,
			    sizeof(buf));
	cr_assert_fail("no copy %s", stamp);
	return NULL;
}

static void
set(struct retention_policy *p, const char *key, const char *value)
{
	char	 err[256];

	err[0] = '\0';
	cr_assert_eq(retention_policy_parse_key(p, key, value, err,
	    sizeof(err)), 0, "%s = %s: %s", key, value, err);
}

#define assert_str(got, want)						\
	cr_assert_str_eq((got), (want), "\n got: %s\nwant: %s", (got), (want))

/* 2026-01-01T00 .. 2026-12-31T23 hourly, or 400 days to the same end */
#define YEAR_HOURS	(365 * 24)
#define DAYS400_HOURS	TL_MAX

/* ---- parsing --------------------------------------------------------- */

Test(retention, parse_keys)
{
	struct retention_policy	 p;
	char			 err[256] = "";

	retention_policy_init(&p);
	cr_assert_eq(retention_policy_is_set(&p), 0);
	set(&p, "keep_last", "0");
	cr_assert_eq(p.keep[RETENTION_LAST], 0);
	cr_assert_eq(retention_policy_is_set(&p), 1);
	set(&p, "keep_hourly", "168");
	set(&p, "keep_daily", "unlimited");
	set(&p, "keep_yearly", "1000000");
	cr_assert_eq(p.keep[RETENTION_HOURLY], 168);
	cr_assert_eq(p.keep[RETENTION_DAILY], RETENTION_UNLIMITED);
	cr_assert_eq(p.keep[RETENTION_YEARLY], 1000000);
	cr_assert_eq(p.keep[RETENTION_WEEKLY], RETENTION_UNSET);

	set(&p, "keep_within", "7d");
	cr_assert_eq(p.keep_within, 7 * 86400);
	set(&p, "keep_within", "36h");
	cr_assert_eq(p.keep_within, 36 * 3600);
	set(&p, "keep_within", "2w");
	cr_assert_eq(p.keep_within, 14 * 86400);
	set(&p, "keep_within", "1w3d12h");
	cr_assert_eq(p.keep_within, 10 * 86400 + 12 * 3600);

	set(&p, "keep_daily_tag", "daily");
	cr_assert_str_eq(p.tag[RETENTION_DAILY], "daily");
	cr_assert_str_eq(p.tag[RETENTION_HOURLY], "");

	/* a key that is not ours: 1, nothing changed, err untouched */
	cr_assert_eq(retention_policy_parse_key(&p, "keep_forever", "1", err,
	    sizeof(err)), 1);
	cr_assert_eq(retention_policy_parse_key(&p, "keep_dailyx", "1", err,
	    sizeof(err)), 1);
	cr_assert_eq(retention_policy_parse_key(&p, "plugin", "s3", err,
	    sizeof(err)), 1);
	cr_assert_str_eq(err, "");
	cr_assert(retention_is_key("keep_weekly"));
	cr_assert(retention_is_key("keep_within"));
	cr_assert(retention_is_key("keep_monthly_tag"));
	cr_assert(!retention_is_key("keep_within_tag"));
	cr_assert(!retention_is_key("keep"));
	cr_assert(!retention_is_key("timezone"));
}

static void
parse_fails(const char *key, const char *value, const char *want)
{
	struct retention_policy	 p, before;
	char			 err[256] = "";

	retention_policy_init(&p);
	set(&p, "keep_daily", "7");
	before = p;
	cr_assert_eq(retention_policy_parse_key(&p, key, value, err,
	    sizeof(err)), -1, "%s = '%s' accepted", key, value);
	assert_str(err, want);
	cr_assert_eq(p.keep[RETENTION_DAILY], before.keep[RETENTION_DAILY]);
}

Test(retention, parse_errors)
{
	parse_fails("keep_daily", "-3", "keep_daily: '-3' is not a whole "
	    "number from 0 to 1000000 or unlimited");
	parse_fails("keep_last", "-1", "keep_last: '-1' is not a whole "
	    "number from 0 to 1000000 or unlimited");
	parse_fails("keep_hourly", "1000001", "keep_hourly: '1000001' is not "
	    "a whole number from 0 to 1000000 or unlimited");
	parse_fails("keep_weekly", "", "keep_weekly: '' is not a whole "
	    "number from 0 to 1000000 or unlimited");
	parse_fails("keep_monthly", "12 ", "keep_monthly: '12 ' is not a "
	    "whole number from 0 to 1000000 or unlimited");
	parse_fails("keep_yearly", "all", "keep_yearly: 'all' is not a "
	    "whole number from 0 to 1000000 or unlimited");
	parse_fails("keep_within", "1y", "keep_within: '1y' is not a "
	    "duration in weeks, days and hours (like 7d, 36h, 2w or 1w3d12h; "
	    "months and years have no fixed length: write 30d or 365d)");
	parse_fails("keep_within", "7", "keep_within: '7' is not a "
	    "duration in weeks, days and hours (like 7d, 36h, 2w or 1w3d12h; "
	    "months and years have no fixed length: write 30d or 365d)");
	parse_fails("keep_within", "d", "keep_within: 'd' is not a "
	    "duration in weeks, days and hours (like 7d, 36h, 2w or 1w3d12h; "
	    "months and years have no fixed length: write 30d or 365d)");
	parse_fails("keep_within", "7d\x01", "keep_within: '7d?' is not a "
	    "duration in weeks, days and hours (like 7d, 36h, 2w or 1w3d12h; "
	    "months and years have no fixed length: write 30d or 365d)");
	/* 101 years of days: more than the century cap */
	parse_fails("keep_within", "36900d", "keep_within: '36900d' is not a "
	    "duration in weeks, days and hours (like 7d, 36h, 2w or 1w3d12h; "
	    "months and years have no fixed length: write 30d or 365d)");
	parse_fails("keep_daily_tag", "two words", "keep_daily_tag: 'two "
	    "words' is not a tag (letters, digits, '_', '.', '-'; 1 to 31 "
	    "bytes)");
	parse_fails("keep_daily_tag", "", "keep_daily_tag: '' is not a tag "
	    "(letters, digits, '_', '.', '-'; 1 to 31 bytes)");
	parse_fails("keep_daily_tag", "abcdefghijklmnopqrstuvwxyz012345",
	    "keep_daily_tag: 'abcdefghijklmnopqrstuvwxyz012345' is not a tag "
	    "(letters, digits, '_', '.', '-'; 1 to 31 bytes)");
}

Test(retention, parse_timezone)
{
	struct retention_tz	 tz;
	char			 err[256] = "";

	cr_assert_eq(retention_tz_parse(&tz, "UTC", err, sizeof(err)), 0);
	cr_assert_eq(tz.kind, RETENTION_TZ_UTC);
	cr_assert_eq(retention_tz_parse(&tz, "local", err, sizeof(err)), 0);
	cr_assert_eq(tz.kind, RETENTION_TZ_LOCAL);
	cr_assert_eq(retention_tz_parse(&tz, "utc", err, sizeof(err)), 0);
	cr_assert_eq(tz.kind, RETENTION_TZ_UTC);
	cr_assert_eq(retention_tz_parse(&tz, "+02:00", err, sizeof(err)), 0);
	cr_assert_eq(tz.kind, RETENTION_TZ_FIXED);
	cr_assert_eq(tz.offset, 7200);
	cr_assert_eq(retention_tz_parse(&tz, "-0530", err, sizeof(err)), 0);
	cr_assert_eq(tz.offset, -(5 * 3600 + 30 * 60));
	cr_assert_eq(retention_tz_parse(&tz, "+14", err, sizeof(err)), 0);
	cr_assert_eq(tz.offset, 14 * 3600);
	cr_assert_str_eq(err, "");

	cr_assert_eq(retention_tz_parse(&tz, "Europe/Berlin", err,
	    sizeof(err)), -1);
	assert_str(err, "timezone: 'Europe/Berlin' is not UTC, local or an "
	    "offset from -14:00 to +14:00 (like +01:00); for a named zone, "
	    "set TZ in the daemon's environment and write local");
	cr_assert_eq(retention_tz_parse(&tz, "+15:00", err, sizeof(err)), -1);
	cr_assert_eq(retention_tz_parse(&tz, "+01:60", err, sizeof(err)), -1);
	cr_assert_eq(retention_tz_parse(&tz, "+01:", err, sizeof(err)), -1);
	cr_assert_eq(retention_tz_parse(&tz, "+01:30x", err, sizeof(err)),
	    -1);
	cr_assert_eq(retention_tz_parse(&tz, "01:00", err, sizeof(err)), -1);
	cr_assert_eq(retention_tz_parse(&tz, "UTC+1", err, sizeof(err)), -1);
	cr_assert_eq(retention_tz_parse(&tz, "+1", err, sizeof(err)), -1);
	cr_assert(strstr(err, "'+1'") != NULL, "%s", err);
}

Test(retention, rule_names)
{
	char	 buf[128];

	cr_assert_str_eq(retention_rule_name(RETENTION_KEEP_WEEKLY), "weekly");
	cr_assert_str_eq(retention_rule_name(RETENTION_KEEP_WITHIN), "within");
	cr_assert_str_eq(retention_rule_name(RETENTION_KEEP_NEWEST), "newest");
	cr_assert_null(retention_rule_name(RETENTION_KEEP_DAILY |
	    RETENTION_KEEP_WEEKLY));
	cr_assert_str_eq(retention_rules_format(RETENTION_KEEP_DAILY |
	    RETENTION_KEEP_LAST | RETENTION_KEEP_OLDEST, ", ", buf,
	    sizeof(buf)), "last, daily, oldest");
	cr_assert_str_eq(retention_rules_format(0, ",", buf, sizeof(buf)), "");
	/* truncation keeps whole names */
	cr_assert_str_eq(retention_rules_format(RETENTION_KEEP_HOURLY |
	    RETENTION_KEEP_MONTHLY, ",", buf, 10), "hourly");
}

/* ---- small timelines ------------------------------------------------- */

Test(retention, empty_policy_keeps_all)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	tl_init(&t, 3);
	tl_add(&t, "2026-01-01T000000Z", NULL);
	tl_add(&t, "2026-03-01T000000Z", NULL);
	tl_add(&t, "2025-01-01T000000Z", NULL);
	retention_apply(&p, t.c, t.n, at("2027-01-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-03-01T000000Z 2026-01-01T000000Z "
	    "2025-01-01T000000Z ");
	assert_str(why(&t, "2025-01-01T000000Z"), "no-policy");
	/* nothing to do, nothing touched */
	retention_apply(&p, NULL, 0, 0, NULL);
}

Test(retention, single_copy_and_newest_survives)
{
	struct retention_policy	 p;
	struct tl		 t;

	/* keep_last = 0 keeps nothing by itself; the newest survives */
	retention_policy_init(&p);
	set(&p, "keep_last", "0");
	tl_init(&t, 1);
	tl_add(&t, "2026-05-05T050505Z", NULL);
	retention_apply(&p, t.c, t.n, at("2026-06-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-05-05T050505Z ");
	assert_str(why(&t, "2026-05-05T050505Z"), "newest");

	tl_init(&t, 4);
	tl_add(&t, "2026-05-01T000000Z", NULL);
	tl_add(&t, "2026-05-03T000000Z", NULL);
	tl_add(&t, "2026-05-02T000000Z", NULL);
	tl_add(&t, "2026-05-03T000000Z-01", NULL);
	retention_apply(&p, t.c, t.n, at("2026-06-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-05-03T000000Z-01 ");

	/* keep_within = 0h keeps nothing either (strictly newer than the
	 * newest): again only the newest */
	retention_policy_init(&p);
	set(&p, "keep_within", "0h");
	retention_apply(&p, t.c, t.n, at("2026-06-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-05-03T000000Z-01 ");
	assert_str(why(&t, "2026-05-03T000000Z-01"), "newest");
}

/*
 * Five runs, three of them in one second (suffixes -01, -02), given out
 * of order.  Sorted newest first they are 103035Z, 103034Z-02,
 * 103034Z-01, 103034Z, 103000Z; keep_last 3 keeps the first three.
 */
Test(retention, same_second_suffixes)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_last", "3");
	tl_init(&t, 5);
	tl_add(&t, "2026-11-27T103034Z-01", NULL);
	tl_add(&t, "2026-11-27T103000Z", NULL);
	tl_add(&t, "2026-11-27T103035Z", NULL);
	tl_add(&t, "2026-11-27T103034Z", NULL);
	tl_add(&t, "2026-11-27T103034Z-02", NULL);
	retention_apply(&p, t.c, t.n, at("2026-11-28T000000Z"), NULL);
	assert_str(kept(&t), "2026-11-27T103035Z 2026-11-27T103034Z-02 "
	    "2026-11-27T103034Z-01 ");
	assert_str(why(&t, "2026-11-27T103034Z-02"), "last");
	assert_str(why(&t, "2026-11-27T103034Z"), "");
}

/*
 * Copies 10:00:00, 10:00:00-01, 10:30 and 11:00 of one day.
 * keep_hourly 2: 11:00 (hour 11), 10:30 (newest of hour 10); done.
 * keep_hourly 3: the same, and one period is left at the oldest copy
 * (10:00:00, hour 10 already kept): restic keeps it as "oldest".
 * 10:00:00-01 stays removed: it is neither a new hour nor the oldest.
 */
Test(retention, hourly_same_hour_and_oldest)
{
	struct retention_policy	 p;
	struct tl		 t;
	const time_t		 now = at("2026-11-28T000000Z");

	tl_init(&t, 4);
	tl_add(&t, "2026-11-27T100000Z", NULL);
	tl_add(&t, "2026-11-27T100000Z-01", NULL);
	tl_add(&t, "2026-11-27T103000Z", NULL);
	tl_add(&t, "2026-11-27T110000Z", NULL);

	retention_policy_init(&p);
	set(&p, "keep_hourly", "2");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-11-27T110000Z 2026-11-27T103000Z ");

	set(&p, "keep_hourly", "3");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-11-27T110000Z 2026-11-27T103000Z "
	    "2026-11-27T100000Z ");
	assert_str(why(&t, "2026-11-27T103000Z"), "hourly");
	assert_str(why(&t, "2026-11-27T100000Z"), "hourly,oldest");
	assert_str(why(&t, "2026-11-27T100000Z-01"), "");
}

/*
 * restic's own example (doc/060_forget.rst): one backup every Sunday at
 * 11:00 for 12 weeks; "forget --keep-daily 4" keeps the last four.
 */
Test(retention, restic_doc_sundays)
{
	static const char *const sundays[] = {
		"2019-09-01T110000Z", "2019-09-08T110000Z",
		"2019-09-15T110000Z", "2019-09-22T110000Z",
		"2019-09-29T110000Z", "2019-10-06T110000Z",
		"2019-10-13T110000Z", "2019-10-20T110000Z",
		"2019-10-27T110000Z", "2019-11-03T110000Z",
		"2019-11-10T110000Z", "2019-11-17T110000Z"
	};
	struct retention_policy	 p;
	struct tl		 t;
	size_t			 i;

	retention_policy_init(&p);
	set(&p, "keep_daily", "4");
	tl_init(&t, ZB_NELEM(sundays));
	for (i = 0; i < ZB_NELEM(sundays); i++)
		tl_add(&t, sundays[i], NULL);
	retention_apply(&p, t.c, t.n, at("2019-11-18T000000Z"), NULL);
	assert_str(kept(&t), "2019-11-17T110000Z 2019-11-10T110000Z "
	    "2019-11-03T110000Z 2019-10-27T110000Z ");
}

/*
 * restic's second example at a smaller scale: one copy a day at 12:00
 * from 2024-03-15 to 2026-12-31, keep_daily 7, keep_weekly 5,
 * keep_monthly 12, keep_yearly 75.
 *  daily 7:    2026-12-31 .. 2026-12-25.
 *  weekly 5:   the newest copy of the last 5 ISO weeks: 12-31 (week of
 *              Mon 12-28), then the Sundays 12-27, 12-20, 12-13, 12-06;
 *              12-31 and 12-27 are already daily.
 *  monthly 12: the last day of each month of 2026: 12-31, 11-30, 10-31,
 *              09-30, 08-31, 07-31, 06-30, 05-31, 04-30, 03-31, 02-28
 *              (2026 is no leap year), 01-31.
 *  yearly 75:  2026-12-31, 2025-12-31, 2024-12-31; 72 periods are left
 *              at the oldest copy 2024-03-15 (year 2024 already kept), so
 *              it is kept as "oldest".
 * 7 + 3 + 11 + 2 + 1 = 24 copies.
 */
Test(retention, daily_three_years_monthly_yearly)
{
	struct retention_policy	 p;
	struct tl		 t;
	size_t			 days;

	days = (size_t)((at("2026-12-31T120000Z") -
	    at("2024-03-15T120000Z")) / 86400) + 1;
	cr_assert_eq(days, 292 + 365 + 365);
	retention_policy_init(&p);
	set(&p, "keep_daily", "7");
	set(&p, "keep_weekly", "5");
	set(&p, "keep_monthly", "12");
	set(&p, "keep_yearly", "75");
	tl_init(&t, days);
	tl_series(&t, "2024-03-15T120000Z", days, 86400);
	retention_apply(&p, t.c, t.n, at("2027-01-01T000000Z"), NULL);
	assert_str(kept(&t),
	    "2026-12-31T120000Z 2026-12-30T120000Z 2026-12-29T120000Z "
	    "2026-12-28T120000Z 2026-12-27T120000Z 2026-12-26T120000Z "
	    "2026-12-25T120000Z 2026-12-20T120000Z 2026-12-13T120000Z "
	    "2026-12-06T120000Z 2026-11-30T120000Z 2026-10-31T120000Z "
	    "2026-09-30T120000Z 2026-08-31T120000Z 2026-07-31T120000Z "
	    "2026-06-30T120000Z 2026-05-31T120000Z 2026-04-30T120000Z "
	    "2026-03-31T120000Z 2026-02-28T120000Z 2026-01-31T120000Z "
	    "2025-12-31T120000Z 2024-12-31T120000Z 2024-03-15T120000Z ");
	assert_str(why(&t, "2026-12-31T120000Z"),
	    "daily,weekly,monthly,yearly");
	assert_str(why(&t, "2026-12-27T120000Z"), "daily,weekly");
	assert_str(why(&t, "2026-12-20T120000Z"), "weekly");
	assert_str(why(&t, "2026-11-30T120000Z"), "monthly");
	assert_str(why(&t, "2025-12-31T120000Z"), "yearly");
	assert_str(why(&t, "2024-03-15T120000Z"), "yearly,oldest");
}

/*
 * Month and year boundaries to the second: copies at 2026-11-30 23:59:59,
 * 2026-12-01 00:00:00, 2026-12-31 23:59:59, 2027-01-01 00:00:00 and
 * 00:00:01.  Months newest first: Jan 2027 (00:00:01), Dec 2026
 * (12-31 23:59:59), Nov 2026 (11-30 23:59:59).  Years: 2027 (00:00:01),
 * 2026 (12-31 23:59:59).
 */
Test(retention, month_year_boundaries)
{
	struct retention_policy	 p;
	struct tl		 t;
	const time_t		 now = at("2027-01-02T000000Z");

	tl_init(&t, 5);
	tl_add(&t, "2026-11-30T235959Z", NULL);
	tl_add(&t, "2026-12-01T000000Z", NULL);
	tl_add(&t, "2026-12-31T235959Z", NULL);
	tl_add(&t, "2027-01-01T000000Z", NULL);
	tl_add(&t, "2027-01-01T000001Z", NULL);

	retention_policy_init(&p);
	set(&p, "keep_monthly", "3");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2027-01-01T000001Z 2026-12-31T235959Z "
	    "2026-11-30T235959Z ");

	/* yearly 2: both years used up, the oldest is not kept */
	retention_policy_init(&p);
	set(&p, "keep_yearly", "2");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2027-01-01T000001Z 2026-12-31T235959Z ");

	/* yearly 3: one period left at the oldest copy (2026 again) */
	set(&p, "keep_yearly", "3");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2027-01-01T000001Z 2026-12-31T235959Z "
	    "2026-11-30T235959Z ");
	assert_str(why(&t, "2026-11-30T235959Z"), "yearly,oldest");
}

/*
 * ISO weeks across a year change: one copy a day at 12:00 from Mon
 * 2026-12-21 to Sun 2027-01-10.  Weeks (Monday to Sunday): 2026-W52
 * 12-21..12-27, 2026-W53 12-28..2027-01-03, 2027-W01 01-04..01-10.
 * keep_weekly 3 keeps each week's Sunday: 01-10, 01-03, 12-27.  A
 * "year*100 + week" computed with the calendar year, or a Sunday-based
 * week, would split 12-28..01-03 and keep 12-31 or 01-02 as well.
 * keep_weekly 4: one period left at the oldest copy 12-21 (week 52 kept).
 */
Test(retention, iso_weeks_across_new_year)
{
	struct retention_policy	 p;
	struct tl		 t;
	const time_t		 now = at("2027-01-11T000000Z");

	retention_policy_init(&p);
	set(&p, "keep_weekly", "3");
	tl_init(&t, 21);
	tl_series(&t, "2026-12-21T120000Z", 21, 86400);
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2027-01-10T120000Z 2027-01-03T120000Z "
	    "2026-12-27T120000Z ");

	set(&p, "keep_weekly", "4");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2027-01-10T120000Z 2027-01-03T120000Z "
	    "2026-12-27T120000Z 2026-12-21T120000Z ");
	assert_str(why(&t, "2026-12-21T120000Z"), "weekly,oldest");
}

/*
 * "unlimited": keep_daily unlimited over hourly copies from 2026-05-01
 * 22:00 to 2026-05-03 01:00 keeps the newest of each day (05-03 01:00,
 * 05-02 23:00, 05-01 23:00) and, as the count never runs out, the oldest
 * copy (05-01 22:00) too.
 */
Test(retention, unlimited)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_daily", "unlimited");
	tl_init(&t, 28);
	tl_series(&t, "2026-05-01T220000Z", 28, 3600);
	retention_apply(&p, t.c, t.n, at("2026-06-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-05-03T010000Z 2026-05-02T230000Z "
	    "2026-05-01T230000Z 2026-05-01T220000Z ");
}

/*
 * keep_within 36h counts back from the newest copy (2026-06-10 00:00),
 * not from now (three weeks later): copies strictly newer than
 * 2026-06-08 12:00 survive, i.e. 06-08 13:00 .. 06-10 00:00, 36 copies.
 * Relative to now nothing but the newest would survive.  A copy in the
 * future (2026-07-05, after now) is not the newest for this count and is
 * never removed by keep_within.
 */
Test(retention, keep_within_relative_to_newest)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_within", "36h");
	tl_init(&t, 218);
	tl_series(&t, "2026-06-01T000000Z", 217, 3600);
	retention_apply(&p, t.c, t.n, at("2026-07-01T000000Z"), NULL);
	cr_assert_eq(nkept(&t), 36);
	assert_str(kept_before(&t, at("2026-06-08T160000Z")),
	    "2026-06-08T150000Z 2026-06-08T140000Z 2026-06-08T130000Z ");
	assert_str(why(&t, "2026-06-10T000000Z"), "within");
	assert_str(why(&t, "2026-06-08T120000Z"), "");

	tl_add(&t, "2026-07-05T000000Z", NULL);
	retention_apply(&p, t.c, t.n, at("2026-07-01T000000Z"), NULL);
	cr_assert_eq(nkept(&t), 37);
	assert_str(why(&t, "2026-07-05T000000Z"), "within");
	assert_str(kept_before(&t, at("2026-06-08T140000Z")),
	    "2026-06-08T130000Z ");

	/* every copy in the future: none is removed */
	retention_apply(&p, t.c, t.n, at("2026-05-01T000000Z"), NULL);
	cr_assert_eq(nkept(&t), 218);
}

/*
 * Tags: copies at 01:00 ("hourly"), 02:00 ("daily", the nightly schedule
 * line) and 03:00 ("hourly") on two days.  keep_hourly 3 on time alone:
 * day 2's 03:00, 02:00, 01:00.  keep_daily 2 counting only "daily"
 * copies: day 2's and day 1's 02:00.  On time alone keep_daily 2 would
 * keep day 1's 03:00 instead.
 */
Test(retention, tags)
{
	struct retention_policy	 p;
	struct tl		 t;
	const time_t		 now = at("2026-02-03T000000Z");

	tl_init(&t, 7);
	tl_add(&t, "2026-02-01T010000Z", "hourly");
	tl_add(&t, "2026-02-01T020000Z", "daily");
	tl_add(&t, "2026-02-01T030000Z", "hourly");
	tl_add(&t, "2026-02-02T010000Z", "hourly");
	tl_add(&t, "2026-02-02T020000Z", "daily");
	tl_add(&t, "2026-02-02T030000Z", "hourly");

	retention_policy_init(&p);
	set(&p, "keep_hourly", "3");
	set(&p, "keep_daily", "2");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-02-02T030000Z 2026-02-02T020000Z "
	    "2026-02-02T010000Z 2026-02-01T030000Z ");

	set(&p, "keep_daily_tag", "daily");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-02-02T030000Z 2026-02-02T020000Z "
	    "2026-02-02T010000Z 2026-02-01T020000Z ");
	assert_str(why(&t, "2026-02-02T020000Z"), "hourly,daily");
	assert_str(why(&t, "2026-02-01T020000Z"), "daily");

	/* an untagged copy does not count for a tagged rule */
	tl_add(&t, "2026-02-02T040000Z", NULL);
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(why(&t, "2026-02-02T040000Z"), "hourly");
	assert_str(why(&t, "2026-02-01T020000Z"), "daily");
}

/*
 * Time zones: A 2026-01-15 22:30Z, B 01-15 23:30Z, C 07-15 21:30Z,
 * D 07-15 22:30Z and E 01-01 12:00Z; keep_daily 3.
 *  UTC:     D (07-15), C same day, B (01-15), A same day, E (01-01).
 *  +01:00:  D = 07-15 23:30, C = 22:30 same day, B = 01-16 00:30,
 *           A = 01-15 23:30; 3 days used, E removed.
 *  Europe/Berlin (CET +1 in January, CEST +2 in July): D = 07-16 00:30,
 *           C = 07-15 23:30, B = 01-16 00:30; A and E removed.
 */
static void
tz_timeline(struct tl *t)
{
	tl_init(t, 5);
	tl_add(t, "2026-01-15T223000Z", NULL);
	tl_add(t, "2026-01-15T233000Z", NULL);
	tl_add(t, "2026-07-15T213000Z", NULL);
	tl_add(t, "2026-07-15T223000Z", NULL);
	tl_add(t, "2026-01-01T120000Z", NULL);
}

Test(retention, timezone_fixed)
{
	struct retention_policy	 p;
	struct retention_tz	 tz;
	struct tl		 t;
	char			 err[256];
	const time_t		 now = at("2026-08-01T000000Z");

	retention_policy_init(&p);
	set(&p, "keep_daily", "3");
	tz_timeline(&t);
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-07-15T223000Z 2026-01-15T233000Z "
	    "2026-01-01T120000Z ");
	cr_assert_eq(retention_tz_parse(&tz, "UTC", err, sizeof(err)), 0);
	retention_apply(&p, t.c, t.n, now, &tz);
	assert_str(kept(&t), "2026-07-15T223000Z 2026-01-15T233000Z "
	    "2026-01-01T120000Z ");

	cr_assert_eq(retention_tz_parse(&tz, "+01:00", err, sizeof(err)), 0);
	retention_apply(&p, t.c, t.n, now, &tz);
	assert_str(kept(&t), "2026-07-15T223000Z 2026-01-15T233000Z "
	    "2026-01-15T223000Z ");
}

Test(retention, timezone_local_berlin)
{
	struct retention_policy	 p;
	struct retention_tz	 tz;
	struct tl		 t;
	char			 err[256];

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		cr_skip_test("no /usr/share/zoneinfo/Europe/Berlin");
	/* Criterion runs each test in its own process */
	cr_assert_eq(setenv("TZ", "Europe/Berlin", 1), 0);
	tzset();
	retention_policy_init(&p);
	set(&p, "keep_daily", "3");
	tz_timeline(&t);
	cr_assert_eq(retention_tz_parse(&tz, "local", err, sizeof(err)), 0);
	retention_apply(&p, t.c, t.n, at("2026-08-01T000000Z"), &tz);
	assert_str(kept(&t), "2026-07-15T223000Z 2026-07-15T213000Z "
	    "2026-01-15T233000Z ");
}

/* ---- the seed's policies over long timelines -------------------------- */

/*
 * PostgreSQL on the local sink: keep_hourly 168, keep_daily 30,
 * keep_weekly 12, over hourly copies for 400 days, 2025-11-27 00:00 ..
 * 2026-12-31 23:00 (9600 copies; now is 2027-01-01 00:30).
 *  hourly 168: the last 7 days, every copy from 12-25 00:00 to 12-31 23:00.
 *  daily 30:   23:00 of 12-31 .. 12-02; 12-25 .. 12-31 are hourly already,
 *              23 new ones: 12-24 .. 12-02.
 *  weekly 12:  12-31 (week of Mon 12-28), then the Sundays 12-27, 12-20,
 *              12-13, 12-06 (already daily), 11-29, 11-22, 11-15, 11-08,
 *              11-01, 10-25, 10-18 (7 new), each at 23:00.
 * 168 + 23 + 7 = 198 copies.
 */
Test(retention, seed_postgresql_policy)
{
	struct retention_policy	 p;
	struct tl		 t;
	char			 s[ZB_STAMP_LEN];
	time_t			 h;
	size_t			 i;

	retention_policy_init(&p);
	set(&p, "keep_hourly", "168");
	set(&p, "keep_daily", "30");
	set(&p, "keep_weekly", "12");
	tl_init(&t, DAYS400_HOURS);
	tl_series(&t, "2025-11-27T000000Z", DAYS400_HOURS, 3600);
	cr_assert_str_eq(t.stamp[t.n - 1], "2026-12-31T230000Z");
	retention_apply(&p, t.c, t.n, at("2027-01-01T003000Z"), NULL);
	cr_assert_eq(nkept(&t), 198);
	/* the hourly week: copies 0 .. 167, every hour */
	for (i = 0; i < 168; i++) {
		h = at("2026-12-31T230000Z") - (time_t)i * 3600;
		stamp_format(h, s, sizeof(s));
		cr_assert_str_eq(t.c[i].data, s);
		cr_assert(t.c[i].keep && (t.c[i].rules &
		    RETENTION_KEEP_HOURLY), "%s not kept hourly", s);
	}
	assert_str(kept_before(&t, at("2026-12-25T000000Z")),
	    /* daily */
	    "2026-12-24T230000Z 2026-12-23T230000Z 2026-12-22T230000Z "
	    "2026-12-21T230000Z 2026-12-20T230000Z 2026-12-19T230000Z "
	    "2026-12-18T230000Z 2026-12-17T230000Z 2026-12-16T230000Z "
	    "2026-12-15T230000Z 2026-12-14T230000Z 2026-12-13T230000Z "
	    "2026-12-12T230000Z 2026-12-11T230000Z 2026-12-10T230000Z "
	    "2026-12-09T230000Z 2026-12-08T230000Z 2026-12-07T230000Z "
	    "2026-12-06T230000Z 2026-12-05T230000Z 2026-12-04T230000Z "
	    "2026-12-03T230000Z 2026-12-02T230000Z "
	    /* weekly */
	    "2026-11-29T230000Z 2026-11-22T230000Z 2026-11-15T230000Z "
	    "2026-11-08T230000Z 2026-11-01T230000Z 2026-10-25T230000Z "
	    "2026-10-18T230000Z ");
	assert_str(why(&t, "2026-12-31T230000Z"), "hourly,daily,weekly");
	assert_str(why(&t, "2026-12-31T220000Z"), "hourly");
	assert_str(why(&t, "2026-12-27T230000Z"), "hourly,daily,weekly");
	assert_str(why(&t, "2026-12-24T230000Z"), "daily");
	assert_str(why(&t, "2026-12-20T230000Z"), "daily,weekly");
	assert_str(why(&t, "2026-11-29T230000Z"), "weekly");
	assert_str(why(&t, "2026-10-11T230000Z"), "");
	assert_str(why(&t, "2025-11-27T000000Z"), "");
}

/*
 * The offsite tier: keep_daily 30, keep_weekly 52, same 400 days.
 *  daily 30:  23:00 of 12-31 .. 12-02.
 *  weekly 52: 12-31 (week of Mon 12-28), then 51 Sundays 12-27, 12-20,
 *             ... back to 2026-01-11 (12-27 - 50 weeks); the 4 Sundays in
 *             December are daily already: 47 new, 11-29 .. 01-11.
 * 30 + 47 = 77 copies; the week of Sun 2026-01-04 and older are removed.
 */
Test(retention, seed_offsite_policy)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_daily", "30");
	set(&p, "keep_weekly", "52");
	tl_init(&t, DAYS400_HOURS);
	tl_series(&t, "2025-11-27T000000Z", DAYS400_HOURS, 3600);
	retention_apply(&p, t.c, t.n, at("2027-01-01T003000Z"), NULL);
	cr_assert_eq(nkept(&t), 77);
	assert_str(kept(&t),
	    /* daily */
	    "2026-12-31T230000Z 2026-12-30T230000Z 2026-12-29T230000Z "
	    "2026-12-28T230000Z 2026-12-27T230000Z 2026-12-26T230000Z "
	    "2026-12-25T230000Z 2026-12-24T230000Z 2026-12-23T230000Z "
	    "2026-12-22T230000Z 2026-12-21T230000Z 2026-12-20T230000Z "
	    "2026-12-19T230000Z 2026-12-18T230000Z 2026-12-17T230000Z "
	    "2026-12-16T230000Z 2026-12-15T230000Z 2026-12-14T230000Z "
	    "2026-12-13T230000Z 2026-12-12T230000Z 2026-12-11T230000Z "
	    "2026-12-10T230000Z 2026-12-09T230000Z 2026-12-08T230000Z "
	    "2026-12-07T230000Z 2026-12-06T230000Z 2026-12-05T230000Z "
	    "2026-12-04T230000Z 2026-12-03T230000Z 2026-12-02T230000Z "
	    /* weekly: every Sunday from 11-29 back to 01-11 */
	    "2026-11-29T230000Z 2026-11-22T230000Z 2026-11-15T230000Z "
	    "2026-11-08T230000Z 2026-11-01T230000Z 2026-10-25T230000Z "
	    "2026-10-18T230000Z 2026-10-11T230000Z 2026-10-04T230000Z "
	    "2026-09-27T230000Z 2026-09-20T230000Z 2026-09-13T230000Z "
	    "2026-09-06T230000Z 2026-08-30T230000Z 2026-08-23T230000Z "
	    "2026-08-16T230000Z 2026-08-09T230000Z 2026-08-02T230000Z "
	    "2026-07-26T230000Z 2026-07-19T230000Z 2026-07-12T230000Z "
	    "2026-07-05T230000Z 2026-06-28T230000Z 2026-06-21T230000Z "
	    "2026-06-14T230000Z 2026-06-07T230000Z 2026-05-31T230000Z "
	    "2026-05-24T230000Z 2026-05-17T230000Z 2026-05-10T230000Z "
	    "2026-05-03T230000Z 2026-04-26T230000Z 2026-04-19T230000Z "
	    "2026-04-12T230000Z 2026-04-05T230000Z 2026-03-29T230000Z "
	    "2026-03-22T230000Z 2026-03-15T230000Z 2026-03-08T230000Z "
	    "2026-03-01T230000Z 2026-02-22T230000Z 2026-02-15T230000Z "
	    "2026-02-08T230000Z 2026-02-01T230000Z 2026-01-25T230000Z "
	    "2026-01-18T230000Z 2026-01-11T230000Z ");
	assert_str(why(&t, "2026-12-31T230000Z"), "daily,weekly");
	assert_str(why(&t, "2026-01-11T230000Z"), "weekly");
	assert_str(why(&t, "2026-01-04T230000Z"), "");
}

/*
 * A year of hourly copies (2026-01-01 00:00 .. 12-31 23:00), keep_weekly
 * 54: 2026 has 53 ISO weeks, the first being Mon 2025-12-29 .. Sun
 * 2026-01-04 (copies from 01-01 on), the last Mon 12-28 .. 12-31.  All
 * 53 are kept (12-31 23:00, the Sundays 12-27 .. 01-04 at 23:00) and one
 * period is left at the oldest copy, 01-01 00:00: kept as "oldest".
 * keep_monthly 12 with keep_yearly unlimited on the same year: the last
 * hour of each month, and 01-01 00:00 as the oldest for "yearly".
 */
Test(retention, year_weekly_and_monthly)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_weekly", "54");
	tl_init(&t, YEAR_HOURS);
	tl_series(&t, "2026-01-01T000000Z", YEAR_HOURS, 3600);
	retention_apply(&p, t.c, t.n, at("2027-01-01T000000Z"), NULL);
	cr_assert_eq(nkept(&t), 54);
	assert_str(kept_before(&t, at("2026-02-01T000000Z")),
	    "2026-01-25T230000Z 2026-01-18T230000Z 2026-01-11T230000Z "
	    "2026-01-04T230000Z 2026-01-01T000000Z ");
	assert_str(why(&t, "2026-01-01T000000Z"), "weekly,oldest");

	set(&p, "keep_weekly", "53");
	retention_apply(&p, t.c, t.n, at("2027-01-01T000000Z"), NULL);
	cr_assert_eq(nkept(&t), 53);
	assert_str(why(&t, "2026-01-01T000000Z"), "");

	retention_policy_init(&p);
	set(&p, "keep_monthly", "12");
	set(&p, "keep_yearly", "unlimited");
	retention_apply(&p, t.c, t.n, at("2027-01-01T000000Z"), NULL);
	assert_str(kept(&t),
	    "2026-12-31T230000Z 2026-11-30T230000Z 2026-10-31T230000Z "
	    "2026-09-30T230000Z 2026-08-31T230000Z 2026-07-31T230000Z "
	    "2026-06-30T230000Z 2026-05-31T230000Z 2026-04-30T230000Z "
	    "2026-03-31T230000Z 2026-02-28T230000Z 2026-01-31T230000Z "
	    "2026-01-01T000000Z ");
	assert_str(why(&t, "2026-12-31T230000Z"), "monthly,yearly");
	assert_str(why(&t, "2026-01-01T000000Z"), "yearly,oldest");
}

/*
 * keep_last with the other rules ORed: hourly copies 2026-03-01 00:00 ..
 * 2026-03-03 23:00, keep_last 2 and keep_daily 2: 03-03 23:00 (last,
 * daily), 03-03 22:00 (last), 03-02 23:00 (daily).
 */
Test(retention, rules_are_ored)
{
	struct retention_policy	 p;
	struct tl		 t;

	retention_policy_init(&p);
	set(&p, "keep_last", "2");
	set(&p, "keep_daily", "2");
	tl_init(&t, 72);
	tl_series(&t, "2026-03-01T000000Z", 72, 3600);
	retention_apply(&p, t.c, t.n, at("2026-03-04T000000Z"), NULL);
	assert_str(kept(&t), "2026-03-03T230000Z 2026-03-03T220000Z "
	    "2026-03-02T230000Z ");
	assert_str(why(&t, "2026-03-03T230000Z"), "last,daily");
	assert_str(why(&t, "2026-03-03T220000Z"), "last");
}

/*
 * Irregular copies: only periods that have copies count, gaps do not.
 * Copies 04-01 08:15, 08:45, 09:05, 13:30, 04-02 00:10, 04-05 17:00.
 * Hours with copies, newest first: 04-05 17h (17:00), 04-02 00h (00:10),
 * 04-01 13h (13:30), 09h (09:05), 08h (08:45, its newest).
 * keep_hourly 3: the first three.  keep_hourly 5: all five hours; the
 * count is used up before the oldest copy 08:15, which goes.
 */
Test(retention, irregular_copies)
{
	struct retention_policy	 p;
	struct tl		 t;
	const time_t		 now = at("2026-04-06T000000Z");

	tl_init(&t, 6);
	tl_add(&t, "2026-04-01T081500Z", NULL);
	tl_add(&t, "2026-04-01T084500Z", NULL);
	tl_add(&t, "2026-04-01T090500Z", NULL);
	tl_add(&t, "2026-04-01T133000Z", NULL);
	tl_add(&t, "2026-04-02T001000Z", NULL);
	tl_add(&t, "2026-04-05T170000Z", NULL);

	retention_policy_init(&p);
	set(&p, "keep_hourly", "3");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-04-05T170000Z 2026-04-02T001000Z "
	    "2026-04-01T133000Z ");

	set(&p, "keep_hourly", "5");
	retention_apply(&p, t.c, t.n, now, NULL);
	assert_str(kept(&t), "2026-04-05T170000Z 2026-04-02T001000Z "
	    "2026-04-01T133000Z 2026-04-01T090500Z 2026-04-01T084500Z ");
}

/*
 * Periods are absolute: 03:00 on three days are three hours, and June
 * of three years are three months.  keep_hourly 2 keeps 06-15 and 06-14
 * (an hour-of-day bucket would merge all three and keep 06-15 and, as
 * the oldest, 06-13); keep_monthly 2 keeps 2026-06 and 2025-06.
 */
Test(retention, periods_are_absolute)
{
	struct retention_policy	 p;
	struct tl		 t;

	tl_init(&t, 3);
	tl_series(&t, "2026-06-13T030000Z", 3, 86400);
	retention_policy_init(&p);
	set(&p, "keep_hourly", "2");
	retention_apply(&p, t.c, t.n, at("2026-07-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-06-15T030000Z 2026-06-14T030000Z ");

	tl_init(&t, 3);
	tl_add(&t, "2024-06-15T120000Z", NULL);
	tl_add(&t, "2025-06-15T120000Z", NULL);
	tl_add(&t, "2026-06-15T120000Z", NULL);
	retention_policy_init(&p);
	set(&p, "keep_monthly", "2");
	retention_apply(&p, t.c, t.n, at("2026-07-01T000000Z"), NULL);
	assert_str(kept(&t), "2026-06-15T120000Z 2025-06-15T120000Z ");
}
