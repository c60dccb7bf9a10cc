/*
 * n8n_page.c - reading what the API answers: a list page
 * ({"data": [...], "nextCursor": "..." | null}) and a workflow object.
 * Everything here comes from the network: every accessor checks types,
 * and the fuzz target tests/fuzz/fuzz_n8npage.c runs it on any input.
 */
#include "zb-build.h"

#include <stdio.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

int
n8n_page_parse(const struct zb_host_api *host, const char *body,
    size_t len, struct n8n_page *pg, char *err, size_t errlen)
{
	const struct zb_json	*nc, *it;
	char			 jerr[128];

	memset(pg, 0, sizeof(*pg));
	if (body == NULL || len == 0) {
		snprintf(err, errlen, "empty answer where a list page was "
		    "expected");
		return ZB_ERR;
	}
	pg->root = host->json_parse(body, len, jerr, sizeof(jerr));
	if (pg->root == NULL) {
		snprintf(err, errlen, "the list page is not JSON: %s", jerr);
		return ZB_ERR;
	}
	if (pg->root->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "the list page is not a JSON object");
		goto fail;
	}
	pg->data = host->json_get(pg->root, "data");
	if (pg->data == NULL || pg->data->type != ZB_JSON_ARRAY) {
		snprintf(err, errlen, "the list page has no \"data\" array");
		goto fail;
	}
	for (it = pg->data->child; it != NULL; it = it->next)
		if (it->type != ZB_JSON_OBJECT) {
			snprintf(err, errlen, "an item of \"data\" is not an "
			    "object");
			goto fail;
		}
	nc = host->json_get(pg->root, "nextCursor");
	if (nc != NULL && nc->type == ZB_JSON_STRING && nc->str[0] != '\0')
		pg->next = nc->str;
	else if (nc != NULL && nc->type != ZB_JSON_NULL &&
	    nc->type != ZB_JSON_STRING) {
		snprintf(err, errlen, "\"nextCursor\" is neither a string nor "
		    "null");
		goto fail;
	}
	return ZB_OK;
fail:
	n8n_page_free(host, pg);
	return ZB_ERR;
}

void
n8n_page_free(const struct zb_host_api *host, struct n8n_page *pg)
{
	if (pg->root != NULL)
		host->json_free(pg->root);
	memset(pg, 0, sizeof(*pg));
}

/* A string member, or NULL. */
const char *
n8n_json_str(const struct zb_host_api *host, const struct zb_json *obj,
    const char *key)
{
	const struct zb_json	*v;

	if (obj == NULL || obj->type != ZB_JSON_OBJECT)
		return NULL;
	v = host->json_get(obj, key);
	return v != NULL && v->type == ZB_JSON_STRING ? v->str : NULL;
}

/* 1 when the member is the boolean true. */
int
n8n_json_true(const struct zb_host_api *host, const struct zb_json *obj,
    const char *key)
{
	const struct zb_json	*v;

	if (obj == NULL || obj->type != ZB_JSON_OBJECT)
		return 0;
	v = host->json_get(obj, key);
	return v != NULL && v->type == ZB_JSON_BOOL && v->boolean;
}

/*
 * An id we put into a URL path: n8n's are 16 alphanumerics (nanoid),
 * older ones decimal; accept [A-Za-z0-9_-]{1,64}.
 */
int
n8n_id_ok(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++)
		if (i >= 64 || !((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '_' ||
		    id[i] == '-'))
			return 0;
	return i > 0;
}

/* A workflow object as the list and GET give it. */
int
n8n_wf_check(const struct zb_host_api *host, const struct zb_json *wf,
    char *err, size_t errlen)
{
	const struct zb_json	*v;
	const char		*id;

	if (wf == NULL || wf->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "a workflow is not a JSON object");
		return ZB_ERR;
	}
	id = n8n_json_str(host, wf, "id");
	if (id == NULL || !n8n_id_ok(id)) {
		snprintf(err, errlen, "a workflow has no usable \"id\"");
		return ZB_ERR;
	}
	if (n8n_json_str(host, wf, "name") == NULL) {
		snprintf(err, errlen, "workflow %s has no \"name\"", id);
		return ZB_ERR;
	}
	v = host->json_get(wf, "nodes");
	if (v == NULL || v->type != ZB_JSON_ARRAY) {
		snprintf(err, errlen, "workflow %s has no \"nodes\" array", id);
		return ZB_ERR;
	}
	v = host->json_get(wf, "connections");
	if (v == NULL || v->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "workflow %s has no \"connections\" "
		    "object", id);
		return ZB_ERR;
	}
	return ZB_OK;
}

/* qsort comparator for an array of char *. */
int
n8n_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
