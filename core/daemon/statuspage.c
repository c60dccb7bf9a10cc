/*
 * statuspage.c - GET /: owns the reply that serves the status page. The
 * page (statuspage.html, turned into statuspage_html[] at build time) is
 * static; it reads GET /v1/status (core/daemon/api.c) in the browser
 * with the user's bearer token, so this file needs no daemon state.
 */
#include "zb-build.h"

#include <string.h>

#include "buf.h"
#include "httpd.h"
#include "statuspage.h"

int
statuspage_render(const char *method, struct buf *body, const char **ctype)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		*ctype = STATUSPAGE_CONTENT_TYPE;
		if (strcmp(method, "GET") == 0)
			buf_add(body, statuspage_html, statuspage_html_len);
		return 200;
	}
	*ctype = "text/plain; charset=utf-8";
	buf_puts(body, "only GET and HEAD are allowed on /\n");
	return 405;
}

void
statuspage_http(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	(void)arg;
	(void)path;
	(void)query;
	out->status = statuspage_render(method, &out->body,
	    &out->content_type);
}
