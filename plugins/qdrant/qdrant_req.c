/*
 * qdrant_req.c - how the qdrant source talks to its server: URLs (each
 * collection or snapshot name percent-encoded into the path), the
 * api-key header, the retry policy every request shares (the toolkit's
 * host->http_request), and the deletes of snapshots that must outlive
 * the stream that made them (an aborted stream still removes its
 * snapshot from the server; fini cancels what is still running).
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "qdrant.h"

/* A delete started for a stream that is gone. */
struct qd_pending {
	struct qdrant		*q;
	struct zb_http_req	*req;
	char			 what[1024];
	struct qd_pending	*next;
};

static int
unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

/*
 * q->url, then fmt with each %s replaced by its argument percent-encoded
 * (a path segment or a query value); nothing else of fmt is special.
 */
int
qd_url(struct qdrant *q, char *out, size_t outlen, const char *fmt, ...)
{
	static const char hex[] = "0123456789ABCDEF";
	va_list		 ap;
	const char	*f, *a;
	size_t		 o;
	int		 n;

	n = snprintf(out, outlen, "%s", q->url);
	if (n < 0 || (size_t)n >= outlen)
		goto toolong;
	o = (size_t)n;
	va_start(ap, fmt);
	for (f = fmt; *f != '\0'; f++) {
		if (f[0] == '%' && f[1] == 's') {
			f++;
			for (a = va_arg(ap, const char *); *a != '\0'; a++) {
				if (o + 4 > outlen) {
					va_end(ap);
					goto toolong;
				}
				if (unreserved((unsigned char)*a))
					out[o++] = *a;
				else {
					out[o++] = '%';
					out[o++] = hex[(unsigned char)*a >> 4];
					out[o++] = hex[(unsigned char)*a & 15];
				}
			}
			continue;
		}
		if (o + 2 > outlen) {
			va_end(ap);
			goto toolong;
		}
		out[o++] = *f;
	}
	va_end(ap);
	out[o] = '\0';
	return ZB_OK;
toolong:
	q->host->log(q->inst, ZB_LOG_ERROR, "a URL for %s is too long",
	    q->url);
	return ZB_ERR;
}

/* The headers of every request: the api-key when there is one. */
void
qd_headers(struct qdrant *q, struct zb_http_header *hd, size_t *n)
{
	*n = 0;
	if (q->key != NULL) {
		hd[0].name = "api-key";
		hd[0].value = q->key;
		*n = 1;
	}
}

void
qd_retry(struct qdrant *q, struct zb_http_retry *r)
{
	memset(r, 0, sizeof(*r));
	r->deadline_ms = q->deadline_ms;
	r->timeout_ms = q->timeout_ms;
}

/*
 * A request with a JSON answer (POST is not retried by the toolkit).
 * timeout_ms: the longest silence, 0 for the configured timeout.
 */
struct zb_http_req *
qd_call(struct qdrant *q, const char *method, const char *url,
    uint32_t timeout_ms, void (*done)(void *, const struct zb_http_resp *),
    void *arg)
{
	struct zb_http_header	 hd[1];
	struct zb_http_spec	 spec;

	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.method = method;
	spec.url = url;
	qd_headers(q, hd, &spec.nheaders);
	spec.headers = hd;
	qd_retry(q, &spec.retry);
	if (timeout_ms != 0)
		spec.retry.timeout_ms = timeout_ms;
	spec.resp_max = QD_RESP_MAX;
	spec.done = done;
	spec.arg = arg;
	return q->host->http_request(q->inst, &spec);
}

static void
pending_done(void *arg, const struct zb_http_resp *r)
{
	struct qd_pending	*p = arg, **pp;
	struct qdrant		*q = p->q;

	for (pp = &q->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (r->status == 200 || r->status == 404)
		q->host->log(q->inst, ZB_LOG_INFO, "%s: deleted on the server",
		    p->what);
	else
		q->host->log(q->inst, ZB_LOG_WARN, "%s: could not delete it "
		    "on the server: %s", p->what, r->error);
	free(p);
}

/* Delete url (a snapshot) for a stream that has ended already. */
void
qd_delete_detached(struct qdrant *q, const char *url, const char *what)
{
	struct qd_pending	*p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return;
	p->q = q;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->req = qd_call(q, "DELETE", url, 0, pending_done, p);
	if (p->req == NULL) {
		q->host->log(q->inst, ZB_LOG_WARN, "%s: could not delete it "
		    "on the server", what);
		free(p);
		return;
	}
	p->next = q->pending;
	q->pending = p;
}

void
qd_pending_cancel_all(struct qdrant *q)
{
	struct qd_pending	*p;

	while (q->pending != NULL) {
		p = q->pending;
		q->pending = p->next;
		q->host->http_request_cancel(p->req);
		q->host->log(q->inst, ZB_LOG_WARN, "%s: left on the server "
		    "(its delete did not finish)", p->what);
		free(p);
	}
}
