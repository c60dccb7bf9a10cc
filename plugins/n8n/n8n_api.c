/*
 * n8n_api.c - one request to n8n's public API (BASE/api/v1/PATH) through
 * host->http_request: the X-N8N-API-KEY header, a JSON body, the retry
 * policy from the options (idempotent methods only: a create is never
 * sent twice), and the URL pieces (base, list paths, escaping).
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "n8n.h"

int
n8n_api_is_url(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
	    (strncmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/* url without trailing slashes and without a trailing /api/v1. */
char *
n8n_api_base(const char *url)
{
	char	*b;
	size_t	 n;

	b = strdup(url);
	if (b == NULL)
		return NULL;
	n = strlen(b);
	while (n > 0 && b[n - 1] == '/')
		b[--n] = '\0';
	if (n > 7 && strcmp(b + n - 7, "/api/v1") == 0)
		b[n - 7] = '\0';
	return b;
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
char *
n8n_api_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*o, *p;
	unsigned char		 c;

	o = malloc(strlen(s) * 3 + 1);
	if (o == NULL)
		return NULL;
	for (p = o; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return o;
}

/*
 * "what?limit=N" for the first page, "what?cursor=C" after it (the API
 * takes limit and offset from the cursor).
 */
char *
n8n_api_list_path(const char *what, int limit, const char *cursor,
    int exclude_pin)
{
	char	*esc = NULL, *p;
	size_t	 n;

	if (cursor != NULL) {
		esc = n8n_api_escape(cursor);
		if (esc == NULL)
			return NULL;
	}
	n = strlen(what) + (esc != NULL ? strlen(esc) : 0) + 64;
	p = malloc(n);
	if (p == NULL) {
		free(esc);
		return NULL;
	}
	if (esc != NULL)
		snprintf(p, n, "%s?cursor=%s%s", what, esc,
		    exclude_pin ? "&excludePinnedData=true" : "");
	else
		snprintf(p, n, "%s?limit=%d%s", what, limit,
		    exclude_pin ? "&excludePinnedData=true" : "");
	free(esc);
	return p;
}

struct zb_http_req *
n8n_api(struct n8n *n, const char *base, const char *method,
    const char *path, const char *body, size_t bodylen,
    void (*cb)(void *arg, const struct zb_http_resp *r), void *arg)
{
	struct zb_http_header	 h[3];
	struct zb_http_spec	 sp;
	struct zb_http_req	*req;
	char			*url;
	size_t			 len, nh = 0;

	len = strlen(base) + strlen(path) + 16;
	url = malloc(len);
	if (url == NULL)
		return NULL;
	snprintf(url, len, "%s/api/v1/%s", base, path);
	h[nh].name = "X-N8N-API-KEY";
	h[nh++].value = n->key;
	h[nh].name = "Accept";
	h[nh++].value = "application/json";
	if (body != NULL) {
		h[nh].name = "Content-Type";
		h[nh++].value = "application/json";
	}
	memset(&sp, 0, sizeof(sp));
	sp.struct_size = sizeof(sp);
	sp.method = method;
	sp.url = url;
	sp.headers = h;
	sp.nheaders = nh;
	sp.body = body;
	sp.body_len = bodylen;
	sp.retry.max_attempts = 8;
	sp.retry.deadline_ms = n->deadline_ms;
	sp.retry.timeout_ms = n->timeout_ms;
	sp.resp_max = n->max_response;
	sp.done = cb;
	sp.arg = arg;
	req = n->host->http_request(n->inst, &sp);
	free(url);
	return req;
}
