/*
 * test_cron.c - schedule lines: parsing and its errors, next fire times
 * over month ends, leap days, the day-of-month/day-of-week rule, steps,
 * names, shortcuts, @every, DST changes in Europe/Amsterdam and
 * America/New_York, catch-up, and speed.
 *
 * Expected times are worked out by hand from the calendar and written as
 * UTC ISO strings; each test says how. Zone facts used:
 * - Europe/Amsterdam: CET = UTC+1, CEST = UTC+2. In 2026 summer time
 *   starts Sunday 29 March at 01:00Z (02:00 CET -> 03:00 CEST, local
 *   02:00-02:59 does not exist) and ends Sunday 25 October at 01:00Z
 *   (03:00 CEST -> 02:00 CET, local 02:00-02:59 happens twice: first
 *   00:00-00:59Z, then 01:00-01:59Z).
 * - America/New_York: EST = UTC-5, EDT = UTC-4. In 2026 summer time
 *   starts Sunday 8 March at 07:00Z (02:00 EST -> 03:00 EDT) and ends
 *   Sunday 1 November at 06:00Z (02:00 EDT -> 01:00 EST, local
 *   01:00-01:59 twice: first 05:00-05:59Z, then 06:00-06:59Z).
 * Weekdays: 2026-01-01 is a Thursday, 2026-02-01 a Sunday.
 */
#include "zb-build.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* "2026-03-29T01:00:00Z" -> time_t */
static time_t
at(const char *iso)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	cr_assert_eq(sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6,
	    "bad test time %s", iso);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static const char *
iso(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	if (t == -1)
		return "-1";
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static struct cron_sched
parse_ok(const char *line)
{
	struct cron_sched	s;
	char			err[256] = "";

	cr_assert_eq(cron_parse(line, &s, err, sizeof(err)), 0,
	    "'%s' refused: %s", line, err);
	return s;
}

static struct cron_tz *
zone(const char *name)
{
	struct cron_tz	*tz;
	char		 err[256] = "";

	tz = cron_tz_load(name, err, sizeof(err));
	cr_assert_not_null(tz, "zone %s: %s", name, err);
	return tz;
}

/*
 * Checks the chain of fire times of `line' starting strictly after
 * `from': want is a NULL-terminated list of ISO UTC times.
 */
static void
chain(const char *line, const char *zname, const char *from,
    const char *const *want)
{
	struct cron_sched	 s = parse_ok(line);
	struct cron_tz		*tz = zname != NULL ? zone(zname) : NULL;
	time_t			 t = at(from);
	char			 got[32];
	size_t			 i;

	for (i = 0; want[i] != NULL; i++) {
		t = cron_next(&s, t, tz);
		cr_assert_str_eq(iso(t, got, sizeof(got)), want[i],
		    "'%s' (%s) fire %zu after %s: got %s, want %s", line,
		    zname != NULL ? zname : "UTC", i + 1, from, got, want[i]);
	}
	cron_tz_free(tz);
}

#define CHAIN(line, zname, from, ...) do {				\
	static const char *const w_[] = { __VA_ARGS__, NULL };		\
	chain((line), (zname), (from), w_);				\
} while (0)

/* ---- parsing ------------------------------------------------------------- */

Test(cron, parse_fields_steps_names)
{
	struct cron_sched	s;

	/* minute 1-30/7: 1, 8, 15, 22, 29; hour every 6th: 0, 6, 12, 18 */
	s = parse_ok("1-30/7 */6 1,15 jan-mar mon-fri");
	cr_assert_eq(s.minute, (1ULL << 1) | (1ULL << 8) | (1ULL << 15) |
	    (1ULL << 22) | (1ULL << 29));
	cr_assert_eq(s.hour, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
	cr_assert_eq(s.dom, (1u << 1) | (1u << 15));
	cr_assert_eq(s.month, (1u << 1) | (1u << 2) | (1u << 3));
	cr_assert_eq(s.dow, 0x3e);		/* Monday (1) to Friday (5) */
	cr_assert_eq(s.flags, CRON_WILD);	/* hour starts with '*' */
	cr_assert_eq(s.every, 0);
	cr_assert_str_eq(s.tag, "");

	s = parse_ok("*/15 2 * * *");
	cr_assert_eq(s.minute, 1ULL | (1ULL << 15) | (1ULL << 30) |
	    (1ULL << 45));
	cr_assert_eq(s.flags, CRON_WILD | CRON_DOM_STAR | CRON_DOW_STAR);
	s = parse_ok("0 2 * * *");
	cr_assert_eq(s.flags, CRON_DOM_STAR | CRON_DOW_STAR);	/* fixed */
	cr_assert_eq(s.dom, 0xfffffffeu);	/* 1-31 */
	cr_assert_eq(s.month, 0x1ffe);		/* 1-12 */
	cr_assert_eq(s.dow, 0x7f);		/* 0-6 */

	/* names in any case, lists of names */
	s = parse_ok("0 0 * JAN,Dec Sun");
	cr_assert_eq(s.month, (1u << 1) | (1u << 12));
	cr_assert_eq(s.dow, 1);
	/* blanks: tabs and several spaces */
	s = parse_ok("  5\t4  3 2 1 ");
	cr_assert_eq(s.minute, 1ULL << 5);
	cr_assert_eq(s.hour, 1u << 4);
}

Test(cron, parse_sunday_0_and_7)
{
	cr_assert_eq(parse_ok("0 0 * * 0").dow, 1);
	cr_assert_eq(parse_ok("0 0 * * 7").dow, 1);
	cr_assert_eq(parse_ok("0 0 * * sun").dow, 1);
	/* Friday to Sunday, as numbers and as names (sun closes the week) */
	cr_assert_eq(parse_ok("0 0 * * 5-7").dow, (1 << 5) | (1 << 6) | 1);
	cr_assert_eq(parse_ok("0 0 * * fri-sun").dow, (1 << 5) | (1 << 6) |
	    1);
	cr_assert_eq(parse_ok("0 0 * * 0-7").dow, 0x7f);
	/* day-of-week steps: 0, 2, 4, 6 */
	cr_assert_eq(parse_ok("0 0 * * */2").dow, 0x55);
}

Test(cron, parse_shortcuts_every_tags)
{
	struct cron_sched	s;

	s = parse_ok("@hourly");
	cr_assert_eq(s.minute, 1);
	cr_assert_eq(s.hour, 0xffffff);
	cr_assert_eq(s.flags & CRON_WILD, CRON_WILD);	/* '*' hour */
	s = parse_ok("@daily");
	cr_assert_eq(s.minute, 1);
	cr_assert_eq(s.hour, 1);
	cr_assert_eq(s.flags & CRON_WILD, 0);
	s = parse_ok("@weekly tag=weekly");
	cr_assert_eq(s.dow, 1);
	cr_assert_eq(s.flags & CRON_DOW_STAR, 0);
	cr_assert_str_eq(s.tag, "weekly");
	s = parse_ok("@monthly");
	cr_assert_eq(s.dom, 1u << 1);
	s = parse_ok("@yearly");
	cr_assert_eq(s.month, 1u << 1);
	cr_assert_eq(s.dom, 1u << 1);
	cr_assert_eq(parse_ok("@MIDNIGHT").hour, 1);

	cr_assert_eq(parse_ok("@every 30s").every, 30);
	cr_assert_eq(parse_ok("@every 6h").every, 21600);
	cr_assert_eq(parse_ok("@every 1h30m").every, 5400);
	cr_assert_eq(parse_ok("@every 2d").every, 172800);
	s = parse_ok("@every 15m tag=quarter");
	cr_assert_eq(s.every, 900);
	cr_assert_str_eq(s.tag, "quarter");

	s = parse_ok("0 2 * * * tag=daily");
	cr_assert_str_eq(s.tag, "daily");
	cr_assert_eq(s.hour, 1u << 2);
	s = parse_ok("0 * * * * tag=Hourly_1.a-b");
	cr_assert_str_eq(s.tag, "Hourly_1.a-b");
	s = parse_ok("0 * * * * tag=abcdefghijklmnopqrstuvwxyz01234");
	cr_assert_str_eq(s.tag, "abcdefghijklmnopqrstuvwxyz01234");
}

static void
parse_err(const char *line, const char *want)
{
	struct cron_sched	s;
	char			err[256] = "";

	cr_assert_eq(cron_parse(line, &s, err, sizeof(err)), -1,
	    "'%s' accepted", line);
	cr_assert_str_eq(err, want, "'%s': got \"%s\", want \"%s\"", line,
	    err, want);
}

Test(cron, parse_errors)
{
	parse_err("", "empty schedule");
	parse_err("   ", "empty schedule");
	parse_err("0 25 * * *", "hour: 25 is out of range 0-23");
	parse_err("60 * * * *", "minute: 60 is out of range 0-59");
	parse_err("0 0 0 * *", "day-of-month: 0 is out of range 1-31");
	parse_err("0 0 32 * *", "day-of-month: 32 is out of range 1-31");
	parse_err("0 0 * 13 *", "month: 13 is out of range 1-12");
	parse_err("0 0 * * 8", "day-of-week: 8 is out of range 0-7");
	parse_err("0 0 * * 99999999999",
	    "day-of-week: 99999999999 is out of range 0-7");
	parse_err("0 0 * jna *",
	    "unknown month name 'jna' (expected jan-dec)");
	parse_err("0 0 * january *",
	    "unknown month name 'january' (expected jan-dec)");
	parse_err("0 0 * * mnd", "unknown day name 'mnd' (expected sun-sat)");
	parse_err("x * * * *", "minute: 'x' is not a number (expected 0-59)");
	parse_err("0 0 * * *x", "day-of-week: unexpected 'x' in '*x'");
	parse_err("0 0 * * -1",
	    "day-of-week: expected a number, a name or '*' at '-1'");
	parse_err("0 5-2 * * *", "hour: range 5-2 goes backwards");
	parse_err("0 0 * * sat-mon",
	    "day-of-week: range sat-mon goes backwards");
	parse_err("5/15 * * * *", "minute: a step needs a range or '*' "
	    "before it (like */15 or 1-30/7), not '5/15'");
	parse_err("*/0 * * * *", "minute: step 0 is out of range 1-60");
	parse_err("*/61 * * * *", "minute: step 61 is out of range 1-60");
	parse_err("*/ * * * *", "minute: expected a number after '/' in "
	    "'*/'");
	parse_err("1,,2 * * * *", "minute: empty item in list '1,,2'");
	parse_err("0 0 * *", "expected 5 fields (minute hour day-of-month "
	    "month day-of-week), got 4");
	parse_err("0 0 * * * *", "unexpected '*' after the schedule (a tag "
	    "is written tag=NAME)");
	parse_err("0 0 * * * tag=a tag=b", "more than one tag=");
	parse_err("0 0 * * * tag=", "tag: '' is not 1-31 letters, digits, "
	    "'_', '.' or '-'");
	parse_err("0 0 * * * tag=a/b", "tag: 'a/b' is not 1-31 letters, "
	    "digits, '_', '.' or '-'");
	/* 32 characters: one too many (retention's tags have 31) */
	parse_err("0 0 * * * tag=abcdefghijklmnopqrstuvwxyz012345",
	    "tag: 'abcdefghijklmnopqrstuvwxyz012345' is not 1-31 letters, "
	    "digits, '_', '.' or '-'");
	parse_err("tag=x 0 0 * * *",
	    "tag= must come after the schedule, not before '0'");
	parse_err("0 0 30 2 *", "day-of-month: no selected month has a day "
	    "30, the job would never run");
	parse_err("0 0 31 apr,jun,sep,nov *", "day-of-month: no selected "
	    "month has a day 31, the job would never run");
	parse_err("@every", "@every: expected a duration like 30s or 6h");
	parse_err("@every 30", "@every: expected a duration like 30s or 6h, "
	    "not '30'");
	parse_err("@every 5x", "@every: expected a duration like 30s or 6h, "
	    "not '5x'");
	parse_err("@every h", "@every: expected a duration like 30s or 6h, "
	    "not 'h'");
	parse_err("@every 0s", "@every: the duration must be at least 1s");
	parse_err("@every 367d", "@every: '367d' is longer than 366d");
	parse_err("@every 6h daily", "unexpected 'daily' after the schedule "
	    "(a tag is written tag=NAME)");
	parse_err("@reboot", "unknown shortcut '@reboot' (expected @hourly, "
	    "@daily, @weekly, @monthly, @yearly or @every DURATION)");
	parse_err("@daily 1 2 3", "unexpected '3' after the schedule (a tag "
	    "is written tag=NAME)");
	parse_err("@daily x", "unexpected 'x' after the schedule (a tag is "
	    "written tag=NAME)");
}

Test(cron, parse_valid_when_or_rule_saves_it)
{
	/* Feb 30 with a restricted weekday: the OR rule fires on Mondays */
	cr_assert_eq(parse_ok("0 0 30 2 mon").dow, 1 << 1);
	/* day 29: February has one in leap years */
	cr_assert_eq(parse_ok("0 0 29 2 *").dom, 1u << 29);
}

Test(cron, parse_list)
{
	struct cron_sched	*v;
	size_t			 n;
	char			 err[256] = "";

	cr_assert_eq(cron_parse_list("0 * * * *, 0 2 * * * tag=daily", &v,
	    &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].hour, 0xffffff);
	cr_assert_str_eq(v[0].tag, "");
	cr_assert_eq(v[1].hour, 1u << 2);
	cr_assert_str_eq(v[1].tag, "daily");
	free(v);

	/* one per line (inih joins continuation lines with '\n') */
	cr_assert_eq(cron_parse_list("0,30 * * * * tag=half\n"
	    "  @every 6h\n\n", &v, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].minute, 1ULL | (1ULL << 30));	/* a comma inside */
	cr_assert_eq(v[1].every, 21600);
	free(v);

	cr_assert_eq(cron_parse_list("0 * * * *, 0 25 * * *", &v, &n, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "schedule 2 ('0 25 * * *'): hour: 25 is out "
	    "of range 0-23");
	cr_assert_null(v);
	cr_assert_eq(cron_parse_list(" , \n", &v, &n, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "empty schedule");
	/* a comma without a blank is a list inside a field */
	cr_assert_eq(cron_parse_list("0 * * * *,0 2 * * *", &v, &n, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "schedule 1 ('0 * * * *,0 2 * * *'): "
	    "unexpected '2' after the schedule (a tag is written tag=NAME)");
}

/* ---- next fire, UTC ------------------------------------------------------ */

Test(cron, next_is_strictly_after)
{
	/* from a fire time itself: the next one, not the same */
	CHAIN("*/15 * * * *", NULL, "2026-12-06T10:15:00Z",
	    "2026-12-06T10:30:00Z", "2026-12-06T10:45:00Z",
	    "2026-12-06T11:00:00Z");
	/* seconds count: 10:14:59 -> 10:15, 10:15:01 -> 10:30 */
	CHAIN("*/15 * * * *", NULL, "2026-12-06T10:14:59Z",
	    "2026-12-06T10:15:00Z");
	CHAIN("*/15 * * * *", NULL, "2026-12-06T10:15:01Z",
	    "2026-12-06T10:30:00Z");
	/* 1-30/7 = 1, 8, 15, 22, 29: after 10:29 the next hour's :01 */
	CHAIN("1-30/7 * * * *", NULL, "2026-12-06T10:22:00Z",
	    "2026-12-06T10:29:00Z", "2026-12-06T11:01:00Z",
	    "2026-12-06T11:08:00Z");
	/* year rollover: the last minute of the year */
	CHAIN("59 23 31 12 *", NULL, "2026-06-01T00:00:00Z",
	    "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
}

Test(cron, month_ends)
{
	/*
	 * Day 31 exists in Jan, Mar, May, Jul, Aug, Oct, Dec: from
	 * 31 Jan 2026 (a fire time) the next are 31 Mar, 31 May, 31 Jul,
	 * 31 Aug, 31 Oct, 31 Dec, then 31 Jan 2027.
	 */
	CHAIN("0 0 31 * *", NULL, "2026-01-31T00:00:00Z",
	    "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
	    "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z",
	    "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z",
	    "2027-01-31T00:00:00Z");
	/* day 30: every month but February */
	CHAIN("0 12 30 * *", NULL, "2026-01-30T12:00:00Z",
	    "2026-03-30T12:00:00Z", "2026-04-30T12:00:00Z");
	/* @monthly from 31 Jan 12:00 -> 1 Feb 00:00 */
	CHAIN("@monthly", NULL, "2026-01-31T12:00:00Z",
	    "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
}

Test(cron, leap_days)
{
	/* 2026, 2027 are not leap years; 2028 and 2032 are */
	CHAIN("0 0 29 2 *", NULL, "2026-01-01T00:00:00Z",
	    "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
	/* 2100 is not a leap year (divisible by 100, not by 400) */
	CHAIN("0 0 29 2 *", NULL, "2096-02-29T00:00:00Z",
	    "2104-02-29T00:00:00Z");
	/* 2000 was (divisible by 400) */
	CHAIN("0 0 29 2 *", NULL, "1999-01-01T00:00:00Z",
	    "2000-02-29T00:00:00Z", "2004-02-29T00:00:00Z");
	/* the day after 28 Feb in a common year is 1 Mar */
	CHAIN("0 0 * 2,3 *", NULL, "2027-02-28T00:00:00Z",
	    "2027-03-01T00:00:00Z");
}

Test(cron, dom_dow_rule)
{
	/*
	 * Both restricted: the 1st OR a Monday. 2026-01-01 is a Thursday:
	 * Mondays are 5, 12, 19, 26 Jan and 2 Feb; 1 Feb is a Sunday.
	 */
	CHAIN("0 0 1 * 1", NULL, "2026-01-01T00:00:00Z",
	    "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z",
	    "2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z",
	    "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z");
	/* day-of-month '*': Mondays only */
	CHAIN("0 0 * * mon", NULL, "2026-01-01T00:00:00Z",
	    "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z");
	/*
	 * cron's rule: a field starting with '*' (here a step of 2 from
	 * '*': odd days) makes it AND: odd days that are Mondays: 5 and
	 * 19 Jan, then 9 Feb (2 Feb is even).
	 */
	CHAIN("0 0 */2 * 1", NULL, "2026-01-01T00:00:00Z",
	    "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z",
	    "2026-02-09T00:00:00Z");
	/* Sunday as 7 and as 0: 2026-01-04 and 2026-01-11 */
	CHAIN("0 0 * * 7", NULL, "2026-01-01T00:00:00Z",
	    "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z");
	CHAIN("0 0 * * 0", NULL, "2026-01-01T00:00:00Z",
	    "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z");
	/* Feb 30 or a Monday: the Mondays of February 2026 */
	CHAIN("0 0 30 2 mon", NULL, "2026-01-01T00:00:00Z",
	    "2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z",
	    "2026-02-16T00:00:00Z", "2026-02-23T00:00:00Z",
	    "2027-02-01T00:00:00Z");
}

Test(cron, names)
{
	/* jan-mar, mon-fri: Thursday 1 Jan 2026 09:00 is the first */
	CHAIN("0 9 * jan-mar mon-fri", NULL, "2025-12-31T12:00:00Z",
	    "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z",
	    "2026-01-05T09:00:00Z");
	/* after 31 Mar 2026 (a Tuesday): next January's first weekday */
	CHAIN("0 9 * jan-mar mon-fri", NULL, "2026-03-31T09:00:00Z",
	    "2027-01-01T09:00:00Z");
}

Test(cron, shortcuts)
{
	CHAIN("@hourly", NULL, "2026-12-06T10:00:00Z",
	    "2026-12-06T11:00:00Z", "2026-12-06T12:00:00Z");
	CHAIN("@daily", NULL, "2026-12-06T10:00:00Z",
	    "2026-12-07T00:00:00Z");
	/* 2026-12-06 is a Sunday: @weekly fires on the next one */
	CHAIN("@weekly", NULL, "2026-12-06T00:00:00Z",
	    "2026-12-13T00:00:00Z");
	CHAIN("@yearly", NULL, "2026-12-06T00:00:00Z",
	    "2027-01-01T00:00:00Z");
}

Test(cron, every)
{
	/* @every D: `after' (the last start) + D, whatever the zone */
	CHAIN("@every 30s", NULL, "2026-12-06T10:00:10Z",
	    "2026-12-06T10:00:40Z", "2026-12-06T10:01:10Z");
	CHAIN("@every 6h", "Europe/Amsterdam", "2026-03-28T22:00:00Z",
	    "2026-03-29T04:00:00Z", "2026-03-29T10:00:00Z");
}

/*
 * Minute-by-minute reference in UTC over 200 days (with 29 Feb 2028),
 * compared with cron_next for assorted schedules: any field walk mistake
 * shows.
 */
static int
ref_match(const struct cron_sched *s, time_t t)
{
	struct tm	tm;
	int		dom_ok, dow_ok;

	gmtime_r(&t, &tm);
	if (!((s->minute >> tm.tm_min) & 1) || !((s->hour >> tm.tm_hour) &
	    1) || !((s->month >> (tm.tm_mon + 1)) & 1))
		return 0;
	dom_ok = (s->dom >> tm.tm_mday) & 1;
	dow_ok = (s->dow >> tm.tm_wday) & 1;
	if (s->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

Test(cron, matches_minute_walk_reference)
{
	static const char *const lines[] = {
		"*/7 */5 * * *", "0 0 1 * 1", "13 4 */3 feb-apr,oct *",
		"59 23 28-31 * *", "0 12 * * sat,sun", "30 1 29 2 *",
		"5-10/2 22 15 * fri", "0 0 */2 * 1", "@weekly",
	};
	struct cron_sched	 s;
	time_t			 start = at("2027-11-20T00:00:00Z"), t, ref;
	time_t			 end = start + 200 * 86400;
	char			 a[32], b[32];
	size_t			 i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		s = parse_ok(lines[i]);
		t = start;
		for (;;) {
			for (ref = (t / 60 + 1) * 60; ref < end &&
			    !ref_match(&s, ref); ref += 60)
				;
			if (ref >= end)
				break;
			t = cron_next(&s, t, NULL);
			cr_assert_eq(t, ref, "'%s': got %s, want %s",
			    lines[i], iso(t, a, sizeof(a)),
			    iso(ref, b, sizeof(b)));
		}
	}
}

/* ---- DST ----------------------------------------------------------------- */

Test(cron, dst_amsterdam_spring_forward)
{
	/*
	 * 02:30 local does not exist on 29 March: a fixed-time job runs at
	 * the change, 03:00 CEST = 01:00Z (cronie: skipped jobs run right
	 * after it). Before: 02:30 CET = 01:30Z; after: 02:30 CEST = 00:30Z.
	 */
	CHAIN("30 2 * * *", "Europe/Amsterdam", "2026-03-27T12:00:00Z",
	    "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z",
	    "2026-03-30T00:30:00Z");
	/* two skipped times of one job: one run at the change */
	CHAIN("0,30 2 * * *", "Europe/Amsterdam", "2026-03-28T02:00:00Z",
	    "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z");
	/* a fixed job at 03:00 and 02:30: one run at 01:00Z */
	CHAIN("30 2,3 * * *", "Europe/Amsterdam", "2026-03-29T00:00:00Z",
	    "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z");
	/*
	 * Wildcard jobs skip the missing times: every 20 minutes runs at
	 * 01:40 CET (00:40Z), then 03:00 CEST (01:00Z), 03:20 (01:20Z).
	 */
	CHAIN("*/20 * * * *", "Europe/Amsterdam", "2026-03-29T00:30:00Z",
	    "2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z",
	    "2026-03-29T01:20:00Z");
	/* 30 * * * *: 01:30 CET (00:30Z), then 03:30 CEST (01:30Z) */
	CHAIN("30 * * * *", "Europe/Amsterdam", "2026-03-29T00:00:00Z",
	    "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z");
}

Test(cron, dst_amsterdam_fall_back)
{
	/*
	 * 02:30 happens twice on 25 October (00:30Z CEST, 01:30Z CET): a
	 * fixed-time job runs once, at the first; the next day 02:30 CET is
	 * 01:30Z.
	 */
	CHAIN("30 2 * * *", "Europe/Amsterdam", "2026-10-24T12:00:00Z",
	    "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
	/* even when asked from between the two 02:30s */
	CHAIN("30 2 * * *", "Europe/Amsterdam", "2026-10-25T01:00:00Z",
	    "2026-10-26T01:30:00Z");
	/*
	 * A wildcard job runs at both: 30 * * * * at 01:30 CEST (23:30Z),
	 * 02:30 CEST (00:30Z), 02:30 CET (01:30Z), 03:30 CET (02:30Z).
	 */
	CHAIN("30 * * * *", "Europe/Amsterdam", "2026-10-24T23:00:00Z",
	    "2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z",
	    "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z");
	/*
	 * Asked at 02:50 CEST (00:50Z): 15 * * * * next fires at the second
	 * 02:15 (CET, 01:15Z), which is a wall time before 02:50.
	 */
	CHAIN("15 * * * *", "Europe/Amsterdam", "2026-10-25T00:50:00Z",
	    "2026-10-25T01:15:00Z", "2026-10-25T02:15:00Z");
	/* 55 * * * *: 02:55 CEST (00:55Z) then 02:55 CET (01:55Z) */
	CHAIN("55 * * * *", "Europe/Amsterdam", "2026-10-25T00:50:00Z",
	    "2026-10-25T00:55:00Z", "2026-10-25T01:55:00Z");
	/*
	 * 0,55 * * * * from 02:50 CEST: the second 02:00 (01:00Z) comes
	 * first in wall time, but the first 02:55 (00:55Z) is earlier.
	 */
	CHAIN("0,55 * * * *", "Europe/Amsterdam", "2026-10-25T00:50:00Z",
	    "2026-10-25T00:55:00Z", "2026-10-25T01:00:00Z",
	    "2026-10-25T01:55:00Z", "2026-10-25T02:00:00Z");
	/* @daily (00:00) is far from the change: 22:00Z before, 23:00Z after */
	CHAIN("@daily", "Europe/Amsterdam", "2026-10-24T12:00:00Z",
	    "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
}

Test(cron, dst_new_york)
{
	/* 8 March: 02:30 EST does not exist; the change is 07:00Z */
	CHAIN("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
	    "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z");
	/* 1 November: 01:30 twice (05:30Z EDT, 06:30Z EST): runs once */
	CHAIN("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
	    "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z");
	/* minute field with '*' (wildcard job): both 01:30s and 01:00 EST */
	CHAIN("*/30 1 * * *", "America/New_York", "2026-11-01T05:10:00Z",
	    "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
	    "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z");
	/* 17:00 local across the spring change: 22:00Z EST, 21:00Z EDT */
	CHAIN("0 17 * * *", "America/New_York", "2026-03-07T12:00:00Z",
	    "2026-03-07T22:00:00Z", "2026-03-08T21:00:00Z");
}

Test(cron, zones)
{
	struct cron_tz	*tz;
	char		 err[256] = "";

	static const char *const utc[] = { "", "UTC", "utc", "Z" };
	const char	*env = getenv("TZ");
	char		 before[128];
	size_t		 i;

	/* the messages below name the default zoneinfo directory */
	cr_assert_eq(unsetenv("TZDIR"), 0);
	/* whatever TZ the test runs with, it must stay as it is */
	snprintf(before, sizeof(before), "%s", env != NULL ? env : "(unset)");
	tz = cron_tz_load(NULL, err, sizeof(err));
	cr_assert_not_null(tz);
	cr_assert_eq(tz->kind, CRON_TZ_UTC);
	cron_tz_free(tz);
	for (i = 0; i < sizeof(utc) / sizeof(utc[0]); i++) {
		tz = zone(utc[i]);
		cr_assert_eq(tz->kind, CRON_TZ_UTC, "'%s'", utc[i]);
		cron_tz_free(tz);
	}
	/* UTC and offsets leave the process's TZ alone */
	env = getenv("TZ");
	cr_assert_str_eq(env != NULL ? env : "(unset)", before);

	cr_assert_null(cron_tz_load("Europe/Amsterdm", err, sizeof(err)));
	cr_assert_str_eq(err, "timezone: unknown zone 'Europe/Amsterdm' "
	    "(/usr/share/zoneinfo/Europe/Amsterdm is missing)");
	cr_assert_null(cron_tz_load("../../etc/passwd", err, sizeof(err)));
	cr_assert_str_eq(err, "timezone: '../../etc/passwd' is not a zone "
	    "name (like Europe/Amsterdam or UTC)");
	cr_assert_null(cron_tz_load("/etc/passwd", err, sizeof(err)));
	cr_assert_null(cron_tz_load("Europe", err, sizeof(err)));
	cr_assert_str_eq(err, "timezone: unknown zone 'Europe' "
	    "(/usr/share/zoneinfo/Europe is not a zoneinfo file)");
	cr_assert_null(cron_tz_load("+15:00", err, sizeof(err)));
	cr_assert_str_eq(err, "timezone: '+15:00' is not an offset from "
	    "-14:00 to +14:00 (like +01:00 or -0530)");
	cr_assert_null(cron_tz_load("+1", err, sizeof(err)));
	cr_assert_null(cron_tz_load("+01:", err, sizeof(err)));
	cr_assert_null(cron_tz_load("+01:60", err, sizeof(err)));
	cr_assert_null(cron_tz_load("-0530x", err, sizeof(err)));
	env = getenv("TZ");
	cr_assert_str_eq(env != NULL ? env : "(unset)", before);

	/* the same schedule in UTC and in Amsterdam (CET in winter) */
	tz = zone("Europe/Amsterdam");
	{
		struct cron_sched	s = parse_ok("0 12 * * *");
		char			b[32];

		cr_assert_str_eq(iso(cron_next(&s, at("2026-12-06T00:00:00Z"),
		    tz), b, sizeof(b)), "2026-12-06T11:00:00Z");
		cr_assert_str_eq(iso(cron_next(&s, at("2026-12-06T00:00:00Z"),
		    NULL), b, sizeof(b)), "2026-12-06T12:00:00Z");
	}
	cron_tz_free(tz);
}

Test(cron, fixed_offsets_and_local)
{
	struct cron_tz	*tz;

	/* +05:30: 02:00 local is 20:30Z the day before, all year */
	CHAIN("0 2 * * *", "+05:30", "2026-03-28T00:00:00Z",
	    "2026-03-28T20:30:00Z", "2026-03-29T20:30:00Z");
	/* -0500 and -05: 02:30 local is 07:30Z, no DST on 8 March */
	CHAIN("30 2 * * *", "-0500", "2026-03-07T12:00:00Z",
	    "2026-03-08T07:30:00Z", "2026-03-09T07:30:00Z");
	CHAIN("30 2 * * *", "-05", "2026-03-07T12:00:00Z",
	    "2026-03-08T07:30:00Z");
	tz = zone("+14:00");
	cr_assert_eq(tz->offset, 14 * 3600);
	cron_tz_free(tz);

	/*
	 * "local" follows the process's TZ, set here the way the daemon's
	 * environment would: the New York spring change again (07:00Z).
	 */
	cr_assert_eq(setenv("TZ", ":America/New_York", 1), 0);
	tzset();
	tz = zone("LOCAL");
	cr_assert_eq(tz->kind, CRON_TZ_LOCAL);
	cron_tz_free(tz);
	CHAIN("30 2 * * *", "local", "2026-03-07T12:00:00Z",
	    "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z");
	/* a named zone replaces it */
	CHAIN("30 2 * * *", "Europe/Amsterdam", "2026-03-28T02:00:00Z",
	    "2026-03-29T01:00:00Z");
	cr_assert_str_eq(getenv("TZ"), ":Europe/Amsterdam");
}

/* ---- catch-up ------------------------------------------------------------ */

Test(cron, missed)
{
	struct cron_sched	 d = parse_ok("0 2 * * *");
	struct cron_sched	 e = parse_ok("@every 6h");
	struct cron_sched	 a = parse_ok("30 2 * * *");
	struct cron_tz		*tz = zone("Europe/Amsterdam");
	time_t			 last = at("2026-12-05T02:00:00Z");

	/* daily 02:00Z, last run 5 Dec 02:00: due again 6 Dec 02:00 */
	cr_assert_eq(cron_missed(&d, last, at("2026-12-06T01:59:59Z"),
	    NULL), 0);
	cr_assert_eq(cron_missed(&d, last, at("2026-12-06T02:00:00Z"),
	    NULL), 1);	/* t <= now counts */
	cr_assert_eq(cron_missed(&d, at("2026-12-01T02:00:00Z"),
	    at("2026-12-06T12:00:00Z"), NULL), 1);	/* several: once */
	cr_assert_eq(cron_missed(&d, last, last, NULL), 0);
	cr_assert_eq(cron_missed(&d, last, last - 3600, NULL), 0);
	/* a start between fire times misses nothing */
	cr_assert_eq(cron_missed(&d, at("2026-12-05T02:00:01Z"),
	    at("2026-12-06T01:00:00Z"), NULL), 0);

	/* @every 6h: last start + 6h */
	cr_assert_eq(cron_missed(&e, last, last + 6 * 3600 - 1, NULL), 0);
	cr_assert_eq(cron_missed(&e, last, last + 6 * 3600, NULL), 1);
	cr_assert_eq(cron_missed(&e, last, last + 30 * 86400, NULL), 1);

	/*
	 * Amsterdam 02:30 daily: the run of 29 March is at the change
	 * (01:00Z), so a daemon down from 28 March 01:30Z until 00:59:59Z
	 * missed nothing, until 01:00Z it did.
	 */
	cr_assert_eq(cron_missed(&a, at("2026-03-28T01:30:00Z"),
	    at("2026-03-29T00:59:59Z"), tz), 0);
	cr_assert_eq(cron_missed(&a, at("2026-03-28T01:30:00Z"),
	    at("2026-03-29T01:00:00Z"), tz), 1);
	/* in UTC the same line is due at 02:30Z */
	cr_assert_eq(cron_missed(&a, at("2026-03-28T02:30:00Z"),
	    at("2026-03-29T02:29:59Z"), NULL), 0);
	cron_tz_free(tz);
}

Test(cron, next_any)
{
	struct cron_sched	*v;
	size_t			 n, which = 99;
	char			 err[256], b[32];

	cr_assert_eq(cron_parse_list("0 * * * * tag=hourly, "
	    "0 2 * * * tag=daily", &v, &n, err, sizeof(err)), 0);
	/* 01:30 -> 02:00: both fire; the first schedule (hourly) wins */
	cr_assert_str_eq(iso(cron_next_any(v, n, at("2026-12-06T01:30:00Z"),
	    NULL, &which), b, sizeof(b)), "2026-12-06T02:00:00Z");
	cr_assert_eq(which, 0);
	free(v);
	cr_assert_eq(cron_parse_list("0 2 * * * tag=daily, 0 0 1 * * "
	    "tag=monthly", &v, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(iso(cron_next_any(v, n, at("2026-11-30T03:00:00Z"),
	    NULL, &which), b, sizeof(b)), "2026-12-01T00:00:00Z");
	cr_assert_eq(which, 1);
	cr_assert_str_eq(v[which].tag, "monthly");
	free(v);
}

/* ---- speed --------------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(cron, ten_thousand_fires_fast)
{
	static const char *const lines[] = {
		"*/7 * * * *", "30 2 * * *", "0 12 * * sat,sun",
		"0 0 */2 * 1",
	};
	struct cron_sched	 s;
	struct cron_tz		*tz = zone("Europe/Amsterdam");
	time_t			 t, prev;
	double			 t0, spent;
	size_t			 i;
	int			 k;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		s = parse_ok(lines[i]);
		t = at("2026-01-01T00:00:00Z");
		t0 = now_s();
		for (k = 0; k < 10000; k++) {
			prev = t;
			t = cron_next(&s, t, tz);
			cr_assert_gt(t, prev, "'%s' stuck at fire %d", lines[i],
			    k);
		}
		spent = now_s() - t0;
		/* a sanitizer build is slower: a second is the limit */
		cr_assert_lt(spent, 1.0, "'%s': 10000 fires took %.3f s",
		    lines[i], spent);
	}
	cron_tz_free(tz);
}
