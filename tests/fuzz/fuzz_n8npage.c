/*
 * fuzz_n8npage.c - libFuzzer target: the n8n plugin's reading of the
 * API's list pages and workflow objects (plugins/n8n/n8n_page.c), which
 * come from the network, and the portable body it builds from a
 * workflow (plugins/n8n/n8n_body.c).  Every raw span lies inside the
 * input; a body built from any accepted workflow is valid JSON with only
 * the keys the API accepts; an escaped cursor holds only unreserved
 * characters and %XX.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "toolkit.h"
#include "n8n.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct zb_host_api	host;

static void
host_init(void)
{
	host.struct_size = sizeof(host);
	host.json_parse = toolkit_json_parse;
	host.json_free = toolkit_json_free;
	host.json_get = toolkit_json_get;
	host.json_int = toolkit_json_int;
	host.buf_init = toolkit_buf_init;
	host.buf_free = toolkit_buf_free;
	host.buf_add = toolkit_buf_add;
	host.buf_printf = toolkit_buf_printf;
	host.buf_json_str = toolkit_buf_json_str;
}

static void
check_body(const char *text, const struct zb_json *wf)
{
	static const char *const keys[] = { "name", "nodes", "connections",
	    "settings", "staticData" };
	const struct zb_json	*r, *m;
	struct zb_buf		 b;
	char			 err[128];
	size_t			 i;

	host.buf_init(&b, 1 << 24);
	if (n8n_body(&host, &b, text, wf, NULL, NULL) == ZB_OK) {
		r = host.json_parse(b.data, b.len, err, sizeof(err));
		if (r == NULL || r->type != ZB_JSON_OBJECT)
			abort();
		for (m = r->child; m != NULL; m = m->next) {
			for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (strcmp(m->key, keys[i]) == 0)
					break;
			if (i == sizeof(keys) / sizeof(keys[0]))
				abort();
		}
		host.json_free(r);
	}
	host.buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*text = (const char *)data;
	const struct zb_json	*it;
	struct n8n_page		 pg;
	char			 err[256], *esc, *p;

	if (host.struct_size == 0)
		host_init();
	if (n8n_page_parse(&host, text, size, &pg, err, sizeof(err)) !=
	    ZB_OK) {
		if (pg.root != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (pg.data == NULL || pg.data->type != ZB_JSON_ARRAY)
		abort();
	for (it = pg.data->child; it != NULL; it = it->next) {
		if (it->type != ZB_JSON_OBJECT ||
		    it->raw_off + it->raw_len > size)
			abort();
		(void)n8n_json_str(&host, it, "name");
		(void)n8n_json_true(&host, it, "active");
		if (n8n_wf_check(&host, it, err, sizeof(err)) == ZB_OK) {
			if (!n8n_id_ok(n8n_json_str(&host, it, "id")))
				abort();
			check_body(text, it);
		}
	}
	if (pg.next != NULL) {
		esc = n8n_api_escape(pg.next);
		if (esc == NULL)
			abort();
		for (p = esc; *p != '\0'; p++)
			if (strchr("%-._~", *p) == NULL &&
			    !(*p >= 'a' && *p <= 'z') &&
			    !(*p >= 'A' && *p <= 'Z') &&
			    !(*p >= '0' && *p <= '9'))
				abort();
		free(esc);
		p = n8n_api_list_path("workflows", 250, pg.next, 1);
		if (p == NULL || strncmp(p, "workflows?cursor=", 17) != 0)
			abort();
		free(p);
	}
	n8n_page_free(&host, &pg);
	return 0;
}
