/*
 * test_json.c - the JSON reader used for manifests read back from sinks.
 */
#include "zb-build.h"

#include "artifact.h"
#include "json.h"
#include "plugin.h"
#include "reactor.h"
#include "stream.h"
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

Test(json, duplicate_member_names_are_refused_at_any_depth)
{
	static const char *const bad[] = {
		"{\"a\": 1, \"a\": 2}",
		"{\"a\": 1, \"b\": {\"x\": [], \"y\": 0, \"x\": {}}}",
		"[0, {\"k\": {\"deep\": [{\"v\": 1, \"w\": 2, \"v\": 1}]}}]",
		/* the same name once escaped, once not */
		"{\"format\": \"x\", \"\\u0066ormat\": \"y\"}",
	};
	const char	*err;
	size_t		 i, pos;
	struct json	*j;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		j = json_parse(bad[i], strlen(bad[i]), &err, &pos);
		cr_assert_null(j, "accepted: %s", bad[i]);
		cr_assert_not_null(err);
		cr_assert(strstr(err, "given twice in one object") != NULL,
		    "reason for %s: %s", bad[i], err);
		/* errpos points at the second occurrence's name. */
		cr_assert_eq(bad[i][pos], '"', "pos %zu in %s", pos, bad[i]);
	}
	err = NULL;
	j = json_parse(bad[0], strlen(bad[0]), &err, &pos);
	cr_assert_str_eq(err, "member name \"a\" given twice in one object");
	cr_assert_eq(pos, 9);
	/* The same name in sibling objects is fine. */
	j = parse("[{\"a\": 1}, {\"a\": 2}, {\"b\": {\"a\": 3}, \"a\": 4}]", &err);
	cr_assert_not_null(j, "%s", err);
	json_free(j);
}

Test(json, many_members_are_checked_quickly)
{
	struct buf	 b;
	const char	*err = NULL;
	struct json	*j;
	size_t		 pos;
	int		 i;

	buf_init(&b, 8 << 20);
	cr_assert_eq(buf_puts(&b, "{"), 0);
	for (i = 0; i < 100000; i++)
		cr_assert_eq(buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i),
		    0);
	cr_assert_eq(buf_puts(&b, "}"), 0);
	j = json_parse(b.data, b.len, &err, &pos);
	cr_assert_not_null(j, "%s", err);
	json_free(j);
	b.len--;
	cr_assert_eq(buf_puts(&b, ",\"k77777\":0}"), 0);
	cr_assert_null(json_parse(b.data, b.len, &err, &pos));
	cr_assert_str_eq(err, "member name \"k77777\" given twice in one "
	    "object");
	buf_free(&b);
}

/* The writer's side: facts a plugin records never repeat a manifest key. */
static void
no_cb(struct stream *st, void *arg)
{
}

Test(json, facts_set_twice_never_make_a_duplicate_manifest_key)
{
	static const struct stream_owner owner = { no_cb, no_cb };
	const struct zb_host_api	*h = hostapi_get();
	struct stream_params		 p;
	struct stream			*st;
	const struct fact		*f;
	int				 n = 0;

	test_log_start();
	reactor_init();
	memset(&p, 0, sizeof(p));
	p.dir = STREAM_STORE;
	p.comp.algo = COMP_NONE;
	p.chunk_size = 65536;
	p.budget = 4 * 65536;
	p.name = "t";
	st = stream_new(&p, &owner, NULL);
	h->fact_str(&st->io, NULL, "rows", "1");
	h->fact_int(&st->io, NULL, "rows", 2);
	h->fact_str(&st->io, "tables", "a", "x");
	h->fact_str(&st->io, "tables", "a", "y");
	h->fact_str(&st->io, NULL, "tables", "clash");
	h->fact_int(&st->io, "rows", "b", 3);
	for (f = st->facts; f != NULL; f = f->next, n++) {
		if (f->group == NULL) {
			cr_assert_str_eq(f->key, "rows");
			cr_assert_null(f->str);
			cr_assert_eq(f->num, 2, "the last value counts");
		} else {
			cr_assert_str_eq(f->group, "tables");
			cr_assert_str_eq(f->key, "a");
			cr_assert_str_eq(f->str, "y");
		}
	}
	cr_assert_eq(n, 2);
	assert_logged("t: fact 'tables' ignored: 'tables' is both a fact and "
	    "a group of facts");
	assert_logged("t: fact 'rows.b' ignored: 'rows' is both");
	stream_free(st);
	reactor_free();
}
