/*
 * test_util.c - number, size, duration, list and time helpers; buffers.
 */
#include "zb-build.h"

#include <errno.h>

#include "testlib.h"

Test(util, sizes)
{
	int64_t		 v;
	const char	*err;

	cr_assert_eq(parse_size("0", &v, &err), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(parse_size("16M", &v, &err), 0);
	cr_assert_eq(v, 16 << 20);
	cr_assert_eq(parse_size("5 GiB", &v, &err), 0);
	cr_assert_eq(v, 5LL << 30);
	cr_assert_eq(parse_size("64K", &v, &err), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(parse_size("-1", &v, &err), -1);
	cr_assert_eq(parse_size("12X", &v, &err), -1);
	cr_assert_eq(parse_size("99999999999T", &v, &err), -1);
}

Test(util, durations)
{
	int64_t		 v;
	const char	*err;

	cr_assert_eq(parse_duration_ms("30", &v, &err), 0);
	cr_assert_eq(v, 30000);
	cr_assert_eq(parse_duration_ms("250ms", &v, &err), 0);
	cr_assert_eq(v, 250);
	cr_assert_eq(parse_duration_ms("2h", &v, &err), 0);
	cr_assert_eq(v, 7200000);
	cr_assert_eq(parse_duration_ms("1y", &v, &err), -1);
}

Test(util, ints_and_bools)
{
	int64_t		 v;
	int		 b;
	const char	*err;

	cr_assert_eq(parse_int("64", 1, 64, &v, &err), 0);
	cr_assert_eq(parse_int("65", 1, 64, &v, &err), -1);
	cr_assert_str_eq(err, "a whole number from 1 to 64");
	cr_assert_eq(parse_int("1x", 1, 64, &v, &err), -1);
	cr_assert_eq(parse_bool("Yes", &b, &err), 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(parse_bool("off", &b, &err), 0);
	cr_assert_eq(b, 0);
	cr_assert_eq(parse_bool("maybe", &b, &err), -1);
}

Test(util, lists)
{
	char	**v;
	size_t	 n;

	cr_assert_eq(split_list(" a, b ,c ", &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0], "a");
	cr_assert_str_eq(v[1], "b");
	cr_assert_str_eq(v[2], "c");
	strv_free(v, n);
	cr_assert_eq(split_list("a,,b", &v, &n), -1);
	cr_assert_eq(split_list("", &v, &n), -1);
}

Test(util, stamps_round_trip)
{
	char	 s[ZB_STAMP_LEN];
	time_t	 t;

	stamp_format(1795772673, s, sizeof(s));
	cr_assert_str_eq(s, "2026-11-27T094433Z");
	cr_assert_eq(stamp_parse(s, &t), 0);
	cr_assert_eq(t, 1795772673);
	cr_assert_eq(stamp_parse("2026-11-27T09:44:33Z", &t), -1);
	cr_assert_eq(stamp_parse("2026-11-27T094433Zx", &t), -1);
}

Test(util, stamp_collision_suffix)
{
	char	 s[ZB_STAMP_LEN];
	time_t	 t;
	int	 seq;

	stamp_format_seq(1795772673, 7, s, sizeof(s));
	cr_assert_str_eq(s, "2026-11-27T094433Z-07");
	cr_assert_eq(stamp_parse_seq(s, &t, &seq), 0);
	cr_assert_eq(t, 1795772673);
	cr_assert_eq(seq, 7);
	cr_assert_eq(stamp_parse_seq("2026-11-27T094433Z", &t, &seq), 0);
	cr_assert_eq(seq, 0);
	/* byte order is time order */
	cr_assert_lt(strcmp("2026-11-27T094433Z", "2026-11-27T094433Z-01"), 0);
	cr_assert_lt(strcmp("2026-11-27T094433Z-09", "2026-11-27T094433Z-10"),
	    0);
	cr_assert_lt(strcmp("2026-11-27T094433Z-99", "2026-11-27T094434Z"), 0);
	cr_assert_eq(stamp_parse("2026-11-27T094433Z-00", &t), -1);
	cr_assert_eq(stamp_parse("2026-11-27T094433Z-1", &t), -1);
	cr_assert_eq(stamp_parse("2026-11-27T094433Z-100", &t), -1);
	cr_assert_eq(stamp_parse("2026-11-27T094433Z01", &t), -1);
	cr_assert_eq(stamp_parse("2026-1-27T0944330Z", &t), -1);
}

Test(util, names)
{
	cr_assert(valid_name("pg-main_1.x"));
	cr_assert(!valid_name(".."));
	cr_assert(!valid_name("a/b"));
	cr_assert(!valid_name(""));
	cr_assert(!valid_name("a b"));
}

Test(util, buffer_cap_is_enforced_and_sticky)
{
	struct buf	 b;

	buf_init(&b, 8);
	cr_assert_eq(buf_puts(&b, "12345678"), 0);
	cr_assert_eq(buf_puts(&b, "9"), -1);
	cr_assert_eq(errno, EMSGSIZE);
	cr_assert(b.failed);
	cr_assert_eq(b.len, 8);
	buf_free(&b);
	buf_init(&b, 64);
	cr_assert_eq(buf_json_str(&b, "a\"b\\c\n\x01"), 0);
	cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_free(&b);
}
