/*
 * httpd.h - the daemon's HTTP server (evhttp on the reactor's loop):
 * `listen' addresses, optional TLS, bearer tokens and roles, the route
 * table.  The control API (api.c), /metrics and / register handlers.
 */
#ifndef ZB_HTTPD_H
#define ZB_HTTPD_H

#include "buf.h"
#include "config.h"

enum httpd_access {
	HTTPD_PUBLIC_METRICS,	/* auth only if metrics_auth = yes */
	HTTPD_AUDITOR,		/* GET for auditor+admin */
	HTTPD_ADMIN
};

struct httpd;
struct httpd_req;

struct httpd_reply {
	int		 status;
	const char	*content_type;
	struct buf	 body;
};

/* Synchronous: fill out (body is initialised, status 200, JSON). */
typedef void (*httpd_handler)(void *arg, const char *method,
    const char *path, const char *query, struct httpd_reply *out);
/*
 * Deferred: answer later (on the loop) with httpd_reply_send(req, ...),
 * exactly once.  If the client went away meanwhile the reply is dropped.
 */
typedef void (*httpd_async_handler)(void *arg, struct httpd_req *,
    const char *method, const char *path, const char *query);

/*
 * Check the [daemon] keys of the server: listen syntax, token files
 * (present, not readable by group or others, one token at least), TLS
 * files.  Logs each problem as FILE:LINE; returns their number.
 */
int		 httpd_check(struct zb_config *);
/*
 * The server of cfg's `listen' addresses; NULL when there is none
 * (*failed 0) or on an error (*failed 1, logged with FILE:LINE).
 */
struct httpd	*httpd_new(struct zb_config *, int *failed);
/*
 * A reload: tokens and metrics_auth are read again; listen and TLS
 * changes take effect at the next restart (logged).
 */
void		 httpd_reload(struct httpd *, struct zb_config *);
void		 httpd_free(struct httpd *);
/* path: exact, or with `*' segments matching any one segment. */
void		 httpd_route(struct httpd *, const char *method,
		    const char *path, enum httpd_access, httpd_handler,
		    void *arg);
void		 httpd_route_async(struct httpd *, const char *method,
		    const char *path, enum httpd_access, httpd_async_handler,
		    void *arg);
/* Send a deferred reply (and free out's body). */
void		 httpd_reply_send(struct httpd_req *, struct httpd_reply *out);
/* Set an error reply: {"error": msg} with status. */
void		 httpd_error(struct httpd_reply *, int status, const char *msg);

#endif
