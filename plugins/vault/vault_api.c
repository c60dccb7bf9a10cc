/*
 * vault_api.c - the small requests of the `vault' source: sys/health
 * (no token; the answer's state and version parsed from its JSON, which
 * Vault sends with every status code) and the AppRole login (the token
 * of auth.client_token kept in v->login, replacing the last one).  The
 * login body and answer hold secrets: both are wiped, never logged.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "vault.h"

#define VAULT_ANSWER_MAX	(64 * 1024)

char *
vault_url(const char *base, const char *path)
{
	size_t	 bl = strlen(base), pl = strlen(path);
	char	*u;

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	u = malloc(bl + pl + 1);
	if (u == NULL)
		return NULL;
	memcpy(u, base, bl);
	memcpy(u + bl, path, pl + 1);
	return u;
}

const char *
vault_token(const struct vault *v)
{
	return v->token != NULL ? v->token : v->login;
}

const char *
vault_health_state(const struct vault_health *h)
{
	if (!h->parsed)
		return "not answering sys/health with Vault's JSON";
	if (!h->initialized)
		return "not initialized";
	if (h->sealed)
		return "sealed";
	if (h->perf_standby)
		return "a performance standby";
	if (h->standby)
		return "a standby (give the active node's address)";
	if (h->status != 200)
		return "unhealthy (sys/health answers an error)";
	return "active";
}

struct health_q {
	struct vault		*v;
	vault_health_cb		 cb;
	void			*arg;
};

static void
copy_str(const struct zb_host_api *host, const struct zb_json *o,
    const char *key, char *dst, size_t len)
{
	const struct zb_json	*j = host->json_get(o, key);

	if (j != NULL && j->type == ZB_JSON_STRING)
		snprintf(dst, len, "%s", j->str);
}

static int
get_bool(const struct zb_host_api *host, const struct zb_json *o,
    const char *key)
{
	const struct zb_json	*j = host->json_get(o, key);

	return j != NULL && j->type == ZB_JSON_BOOL && j->boolean;
}

static void
health_done(void *arg, const struct zb_http_resp *r)
{
	struct health_q			*q = arg;
	const struct zb_host_api	*host = q->v->host;
	const struct zb_json		*root = NULL;
	struct vault_health		 h;
	char				 err[128];

	memset(&h, 0, sizeof(h));
	h.status = r->curlcode == 0 ? r->status : 0;
	if (r->body != NULL && r->body_len > 0)
		root = host->json_parse(r->body, r->body_len, err,
		    sizeof(err));
	if (root != NULL && root->type == ZB_JSON_OBJECT &&
	    host->json_get(root, "sealed") != NULL) {
		h.parsed = 1;
		h.initialized = get_bool(host, root, "initialized");
		h.sealed = get_bool(host, root, "sealed");
		h.standby = get_bool(host, root, "standby");
		h.perf_standby = get_bool(host, root, "performance_standby");
		copy_str(host, root, "version", h.version, sizeof(h.version));
		copy_str(host, root, "cluster_name", h.cluster,
		    sizeof(h.cluster));
	}
	if (root != NULL)
		host->json_free(root);
	if (r->error != NULL && r->error[0] != '\0')
		q->cb(q->arg, &h, r->error);
	else
		q->cb(q->arg, &h, h.parsed ? "ok" : "the answer is not "
		    "Vault's sys/health JSON");
	free(q);
}

/*
 * GET base/v1/sys/health[query].  attempts 0: the retry policy within
 * VAULT_HEALTH_DEADLINE_MS; 1: one attempt (a 503 means sealed, which
 * waiting does not cure).  NULL when it could not start (logged).
 */
struct zb_http_req *
vault_health(struct vault *v, const char *base, const char *query,
    int attempts, vault_health_cb cb, void *arg)
{
	static const struct zb_http_header hdr[] = {
		{ "X-Vault-Request", "true" }
	};
	struct zb_http_spec	 spec;
	struct zb_http_req	*req;
	struct health_q		*q;
	char			*path, *url;
	size_t			 pl = strlen(VAULT_HEALTH_PATH);

	q = calloc(1, sizeof(*q));
	path = malloc(pl + strlen(query) + 1);
	if (q == NULL || path == NULL) {
		free(q);
		free(path);
		return NULL;
	}
	memcpy(path, VAULT_HEALTH_PATH, pl);
	memcpy(path + pl, query, strlen(query) + 1);
	url = vault_url(base, path);
	free(path);
	if (url == NULL) {
		free(q);
		return NULL;
	}
	q->v = v;
	q->cb = cb;
	q->arg = arg;
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.method = "GET";
	spec.url = url;
	spec.headers = hdr;
	spec.nheaders = 1;
	spec.retry.max_attempts = attempts;
	spec.retry.deadline_ms = VAULT_HEALTH_DEADLINE_MS;
	spec.retry.timeout_ms = v->timeout_ms;
	spec.resp_max = VAULT_ANSWER_MAX;
	spec.done = health_done;
	spec.arg = q;
	req = v->host->http_request(v->inst, &spec);
	free(url);
	if (req == NULL)
		free(q);
	return req;
}

struct login_q {
	struct vault	*v;
	char		*url;
	vault_login_cb	 cb;
	void		*arg;
};

static void
login_done(void *arg, const struct zb_http_resp *r)
{
	struct login_q			*q = arg;
	struct vault			*v = q->v;
	const struct zb_host_api	*host = v->host;
	const struct zb_json		*root = NULL, *auth, *tok = NULL;
	char				 msg[512], err[128];
	int				 status = ZB_ERR;

	if (r->curlcode == 0 && r->status == 200 && r->body != NULL)
		root = host->json_parse(r->body, r->body_len, err,
		    sizeof(err));
	auth = root != NULL ? host->json_get(root, "auth") : NULL;
	if (auth != NULL && auth->type == ZB_JSON_OBJECT)
		tok = host->json_get(auth, "client_token");
	if (tok != NULL && tok->type == ZB_JSON_STRING && tok->str[0] != '\0' &&
	    strpbrk(tok->str, "\r\n") == NULL) {
		host->secret_free(v->login, v->loginlen);
		v->loginlen = strlen(tok->str);
		v->login = strdup(tok->str);
		if (v->login != NULL)
			status = ZB_OK;
		else
			v->loginlen = 0;
	}
	if (root != NULL)
		host->json_free(root);
	if (status == ZB_OK)
		msg[0] = '\0';
	else if (r->curlcode == 0 && r->status == 200)
		snprintf(msg, sizeof(msg), "AppRole login at %s: no "
		    "auth.client_token in the answer", q->url);
	else
		snprintf(msg, sizeof(msg), "AppRole login at %s: %s", q->url,
		    r->error);
	q->cb(q->arg, status, msg);
	free(q->url);
	free(q);
}

/* POST base/v1/auth/approle/login; the token lands in v->login. */
struct zb_http_req *
vault_login(struct vault *v, const char *base, vault_login_cb cb, void *arg)
{
	static const struct zb_http_header hdr[] = {
		{ "Content-Type", "application/json" },
		{ "X-Vault-Request", "true" }
	};
	const struct zb_host_api	*host = v->host;
	struct zb_http_spec		 spec;
	struct zb_http_req		*req = NULL;
	struct login_q			*q;
	struct zb_buf			 body;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->v = v;
	q->cb = cb;
	q->arg = arg;
	q->url = vault_url(base, VAULT_LOGIN_PATH);
	host->buf_init(&body, 256 * 1024);
	host->buf_add(&body, "{\"role_id\":", 11);
	host->buf_json_str(&body, v->role_id);
	if (v->secret_id != NULL) {
		host->buf_add(&body, ",\"secret_id\":", 13);
		host->buf_json_str(&body, v->secret_id);
	}
	host->buf_add(&body, "}", 1);
	if (q->url != NULL && !body.failed) {
		memset(&spec, 0, sizeof(spec));
		spec.struct_size = sizeof(spec);
		spec.method = "POST";
		spec.url = q->url;
		spec.headers = hdr;
		spec.nheaders = 2;
		spec.body = body.data;
		spec.body_len = body.len;
		spec.retry.retry_unsafe = 1;	/* a login only issues */
		spec.retry.deadline_ms = VAULT_HEALTH_DEADLINE_MS;
		spec.retry.timeout_ms = v->timeout_ms;
		spec.resp_max = VAULT_ANSWER_MAX;
		spec.done = login_done;
		spec.arg = q;
		req = host->http_request(v->inst, &spec);
	}
	if (body.data != NULL)
		explicit_bzero(body.data, body.len);
	host->buf_free(&body);
	if (req == NULL) {
		free(q->url);
		free(q);
	}
	return req;
}
