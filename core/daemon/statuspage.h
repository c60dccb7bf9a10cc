/*
 * statuspage.h - the status page served at GET / (statuspage.html,
 * compiled in as statuspage_html[] by core/local.mk).
 */
#ifndef ZB_STATUSPAGE_H
#define ZB_STATUSPAGE_H

#include <stddef.h>

struct buf;

/* The page, NUL-terminated; the generated statuspage_html.c. */
extern const unsigned char statuspage_html[];
extern const size_t	statuspage_html_len;

#define STATUSPAGE_CONTENT_TYPE	"text/html; charset=utf-8"
/*
 * What the page's own <meta> policy says, for a server that can send it
 * as a header too: nothing but inline script and style and same-origin
 * fetches.
 */
#define STATUSPAGE_CSP	"default-src 'none'; script-src 'unsafe-inline'; " \
	"style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/*
 * The reply to `method' on `/': 200 with the page in body (GET, and HEAD
 * without it), or 405 with a short text. *ctype is set to the content
 * type. The page itself needs no data: it fetches /v1/status with the
 * user's token.
 */
int	statuspage_render(const char *method, struct buf *body,
	    const char **ctype);

/*
 * The httpd_handler (core/daemon/httpd.h) of GET /: the page, which
 * itself asks for a token before it fetches /v1/status.
 */
struct httpd_reply;
void	statuspage_http(void *arg, const char *method, const char *path,
	    const char *query, struct httpd_reply *out);

#endif /* ZB_STATUSPAGE_H */
