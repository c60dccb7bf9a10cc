/*
 * n8n_body.c - the portable create/update body of a backed-up workflow.
 *
 * The API's workflow schemas have additionalProperties: false, and its
 * validator refuses read-only keys (id, active, tags, versionId, ...):
 * a body may carry only name, nodes, connections, settings and
 * staticData.  settings and each node are filtered down to the keys of
 * their schemas (settings a newer n8n stored, a node key the schema does
 * not know): the dropped ones are reported through a callback.  Values
 * are copied verbatim from the backup's text (struct zb_json raw spans).
 */
#include "zb-build.h"

#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

/* shared/docs/apis/n8n-api.md, "Create and update body". */
static const char *const settings_keys[] = {
	"saveExecutionProgress", "saveManualExecutions",
	"saveDataErrorExecution", "saveDataSuccessExecution",
	"executionTimeout", "errorWorkflow", "timezone", "executionOrder",
	"callerPolicy", "callerIds", "timeSavedPerExecution",
	"availableInMCP", "redactionPolicy", NULL
};

static const char *const node_keys[] = {
	"id", "name", "webhookId", "disabled", "notesInFlow", "notes", "type",
	"typeVersion", "executeOnce", "alwaysOutputData", "retryOnFail",
	"maxTries", "waitBetweenTries", "continueOnFail", "onError",
	"position", "parameters", "credentials", NULL
};

static int
listed(const char *const *keys, const char *k)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, k) == 0)
			return 1;
	return 0;
}

static void
raw(const struct zb_host_api *host, struct zb_buf *b, const char *text,
    const struct zb_json *v)
{
	host->buf_add(b, text + v->raw_off, v->raw_len);
}

/* obj's members whose keys are listed, as an object. */
static void
filtered(const struct zb_host_api *host, struct zb_buf *b, const char *text,
    const struct zb_json *obj, const char *const *keys, const char *what,
    void (*dropped)(void *, const char *, const char *), void *arg)
{
	const struct zb_json	*m;
	int			 first = 1;

	host->buf_add(b, "{", 1);
	for (m = obj->child; m != NULL; m = m->next) {
		if (!listed(keys, m->key)) {
			if (dropped != NULL)
				dropped(arg, what, m->key);
			continue;
		}
		if (!first)
			host->buf_add(b, ",", 1);
		first = 0;
		host->buf_json_str(b, m->key);
		host->buf_add(b, ":", 1);
		raw(host, b, text, m);
	}
	host->buf_add(b, "}", 1);
}

int
n8n_body(const struct zb_host_api *host, struct zb_buf *b, const char *text,
    const struct zb_json *wf, void (*dropped)(void *, const char *,
    const char *), void *arg)
{
	const struct zb_json	*name, *nodes, *conns, *settings, *sd, *n;

	name = host->json_get(wf, "name");
	nodes = host->json_get(wf, "nodes");
	conns = host->json_get(wf, "connections");
	settings = host->json_get(wf, "settings");
	sd = host->json_get(wf, "staticData");
	if (name == NULL || name->type != ZB_JSON_STRING || nodes == NULL ||
	    nodes->type != ZB_JSON_ARRAY || conns == NULL ||
	    conns->type != ZB_JSON_OBJECT)
		return ZB_ERR;
	host->buf_add(b, "{\"name\":", 8);
	raw(host, b, text, name);
	host->buf_add(b, ",\"nodes\":[", 10);
	for (n = nodes->child; n != NULL; n = n->next) {
		if (n != nodes->child)
			host->buf_add(b, ",", 1);
		if (n->type == ZB_JSON_OBJECT)
			filtered(host, b, text, n, node_keys, "node", dropped,
			    arg);
		else
			raw(host, b, text, n);
	}
	host->buf_add(b, "],\"connections\":", 16);
	raw(host, b, text, conns);
	host->buf_add(b, ",\"settings\":", 12);
	if (settings != NULL && settings->type == ZB_JSON_OBJECT)
		filtered(host, b, text, settings, settings_keys, "settings",
		    dropped, arg);
	else
		host->buf_add(b, "{}", 2);
	if (sd != NULL && sd->type != ZB_JSON_NULL) {
		host->buf_add(b, ",\"staticData\":", 14);
		raw(host, b, text, sd);
	}
	host->buf_add(b, "}", 1);
	return b->failed ? ZB_ERR : ZB_OK;
}
