/*
 * test_toolkit_json.c - the JSON documents and buffers plugins get from
 * the host table (ABI 1.5: host->json_*, host->buf_*).
 */
#include "zb-build.h"

#include "plugin.h"
#include "testlib.h"

static const struct zb_host_api *h;

static void
setup(void)
{
	h = hostapi_get();
}

TestSuite(toolkit_json, .init = setup);

Test(toolkit_json, tree_and_raw_spans)
{
	const char	*text = "{\"name\": \"wf \\\"1\\\"\", \"nodes\": "
	    "[{\"id\": 1}, {\"id\": 2}], \"n\": 42, \"f\": 1.5, "
	    "\"on\": true}";
	const struct zb_json *root, *nodes, *v;
	char		 err[128];
	int64_t		 i;

	root = h->json_parse(text, strlen(text), err, sizeof(err));
	cr_assert_not_null(root, "%s", err);
	cr_assert_eq(root->type, ZB_JSON_OBJECT);
	cr_assert_str_eq(h->json_get(root, "name")->str, "wf \"1\"");
	nodes = h->json_get(root, "nodes");
	cr_assert_eq(nodes->type, ZB_JSON_ARRAY);
	cr_assert_eq(nodes->raw_len, strlen("[{\"id\": 1}, {\"id\": 2}]"));
	cr_assert(memcmp(text + nodes->raw_off, "[{\"id\": 1}, {\"id\": 2}]",
	    nodes->raw_len) == 0);
	cr_assert_eq(nodes->child->next->type, ZB_JSON_OBJECT);
	cr_assert_null(nodes->child->next->next);
	cr_assert_eq(h->json_int(h->json_get(root, "n"), &i), ZB_OK);
	cr_assert_eq(i, 42);
	cr_assert_eq(h->json_int(h->json_get(root, "f"), &i), ZB_ERR);
	v = h->json_get(root, "on");
	cr_assert_eq(v->type, ZB_JSON_BOOL);
	cr_assert_eq(v->boolean, 1);
	cr_assert_null(h->json_get(root, "missing"));
	cr_assert_null(h->json_get(nodes, "id"));
	h->json_free(root);
}

Test(toolkit_json, errors_name_the_offset)
{
	char	 err[128];

	cr_assert_null(h->json_parse("{\"a\" 1}", 7, err, sizeof(err)));
	cr_assert(strncmp(err, "offset 5: ", 10) == 0, "%s", err);
	cr_assert_null(h->json_parse("{\"a\":1,\"a\":2}", 13, err,
	    sizeof(err)));
}

Test(toolkit_json, buffers_cap_and_quote)
{
	struct zb_buf	 b;
	char		 big[600];

	h->buf_init(&b, 1024);
	cr_assert_eq(h->buf_printf(&b, "{\"k\":%d,\"s\":", 7), 0);
	cr_assert_eq(h->buf_json_str(&b, "a\"b\\c\n"), 0);
	cr_assert_eq(h->buf_add(&b, "}", 1), 0);
	cr_assert_str_eq(b.data, "{\"k\":7,\"s\":\"a\\\"b\\\\c\\n\"}");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(h->buf_printf(&b, "%s", big), 0);
	cr_assert_eq(b.len, 23 + 599);
	cr_assert_eq(h->buf_printf(&b, "%s", big), -1);
	cr_assert(b.failed);
	h->buf_free(&b);
	cr_assert_null(b.data);
}
