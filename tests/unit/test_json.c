/*
 * test_json.c - the JSON reader used for manifests read back from sinks.
 */
#include "zb-build.h"

#include "json.h"
#include "testlib.h"

static struct json *
parse(const char *s, const char **err)
{
	size_t	 pos;

	return json_parse(s, strlen(s), err, &pos);
}

Test(json, objects_arrays_and_values)
{
	const char	*err = NULL;
	struct json	*j = parse(" {\"a\": 1, \"b\": [true, null, -2.5e3],"
	    " \"c\": {\"d\": \"x\\ty\\u00e9\\ud83d\\ude00\"},"
	    " \"big\": 18446744073709551615} ", &err);
	const struct json *b;
	int64_t		 v;

	cr_assert_not_null(j, "%s", err);
	cr_assert_eq(json_get_i64(j, "a", &v), 0);
	cr_assert_eq(v, 1);
	b = json_get(j, "b");
	cr_assert_eq(b->type, JSON_ARRAY);
	cr_assert_eq(b->child->type, JSON_BOOL);
	cr_assert_eq(b->child->next->type, JSON_NULL);
	cr_assert_float_eq(b->child->next->next->num, -2500.0, 1e-9);
	cr_assert_str_eq(json_get_str(json_get(j, "c"), "d"),
	    "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	cr_assert_str_eq(json_get(j, "big")->str, "18446744073709551615");
	cr_assert_eq(json_get_i64(j, "big", &v), -1, "too big for int64");
	json_free(j);
}

Test(json, rejects_malformed_input)
{
	static const char *const bad[] = {
		"", "{", "{\"a\"}", "{\"a\":}", "[1,]", "[1 2]", "01",
		"\"\\x\"", "\"\\ud800\"", "\"a\nb\"", "{} x", "tru", "-",
		"1.", "1e", "\"\\u00\"", "{\"a\":1,}", "\"\\u0000\"",
	};
	const char	*err;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		cr_assert_null(parse(bad[i], &err), "accepted: %s", bad[i]);
		cr_assert_not_null(err);
	}
}

Test(json, nesting_is_bounded)
{
	char		 deep[JSON_MAX_DEPTH * 2 + 8];
	const char	*err = NULL;
	size_t		 i;

	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	for (; i < 2 * (JSON_MAX_DEPTH + 1); i++)
		deep[i] = ']';
	deep[i] = '\0';
	cr_assert_null(parse(deep, &err));
	cr_assert_str_eq(err, "nested too deeply");
	deep[0] = ' ';
	deep[2 * (JSON_MAX_DEPTH + 1) - 1] = ' ';
	cr_assert_not_null(parse(deep, &err), "depth %d is allowed",
	    JSON_MAX_DEPTH);
}

Test(json, does_not_read_past_len)
{
	const char	*err;
	size_t		 pos;
	struct json	*j = json_parse("[1]garbage", 3, &err, &pos);

	cr_assert_not_null(j);
	json_free(j);
}
