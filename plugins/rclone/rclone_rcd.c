/*
 * rclone_rcd.c - one `rclone rcd' per sink instance, for the operations
 * that move no stream of unknown length: the listing that verifies a
 * put, the move of a temporary into place, the deletion of a file, and
 * the upload of a small object from memory.  An rclone process costs
 * 50 to 200 ms to start (more on a loaded machine, and OneDrive's token
 * is read and maybe refreshed each time); a copy of one artifact made
 * sixteen of them, which cost more than uploading a GiB to a fast
 * remote.  The server keeps the remote (its connections, its token, its
 * directory cache) across calls; each call is one HTTP request to it
 * over the host's curl multi.
 *
 * The server is started on first use, on 127.0.0.1 at a port picked
 * from the kernel's free ones, with a random user and password that
 * reach it in its environment (RCLONE_RC_USER, RCLONE_RC_PASS: never in
 * argv); calls wait until its log says it is serving (it listens before
 * it says so).  It runs beside a
 * `cat' of a pipe we hold (rclone_run.c's watchdog): closing the pipe at
 * fini stops it, and so does our death, so no server outlives us.  A
 * server that stopped answering is stopped and started again by the next
 * call.
 *
 * Calls are JSON in and out (operations/list, operations/movefile, ...:
 * rclone's rc API); an rc error is {"error": "...", ...} with a non-2xx
 * status, and its error text is what the caller gets.
 */
#include "zb-build.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rclone.h"

#define RCD_START_MS	15000		/* from spawn to the first answer */
#define RCD_IDLE_MS	20		/* no call, no put: the server stops */
#define RCD_RESP_MAX	(8u * 1024 * 1024)	/* over: list by lsjson */

enum rcd_state { RCD_DOWN, RCD_STARTING, RCD_UP };

struct rcd_call {
	TAILQ_ENTRY(rcd_call)	 entry;
	struct rclone		*rc;
	char			*method;
	char			*query;		/* "?fs=...", or NULL */
	char			*ctype;		/* NULL: application/json */
	char			*body;
	size_t			 body_len;
	rcd_done_fn		 done;
	void			*arg;
	char			 what[200];
};
TAILQ_HEAD(rcd_calls, rcd_call);

struct rcd {
	enum rcd_state		 state;
	struct rc_cmd		*cmd;
	int			 stdin_fd;	/* the watchdog's pipe */
	int			 port;
	char			 base[48];	/* http://127.0.0.1:PORT/ */
	char			 auth[160];	/* Basic ... */
	char			 env_user[40];
	char			 env_pass[80];
	struct rcd_calls	 queue;		/* waiting for the start */
	struct zb_timer		*start_timer;	/* RCD_START_MS */
	int			 inflight;	/* calls sent, not answered */
	struct zb_timer		*idle;
	char			 why[512];	/* why the last start failed */
};

static void	rcd_send(struct rcd_call *);
static void	fail_queue(struct rclone *, const char *);
static void	start_failed(struct rclone *);

static void
call_free(struct rcd_call *c)
{
	free(c->method);
	free(c->query);
	free(c->ctype);
	free(c->body);
	free(c);
}

static void
call_end(struct rcd_call *c, int ok, const struct zb_json *root,
    const char *err)
{
	struct rclone	*rc = c->rc;

	c->done(c->arg, ok, root, err);
	call_free(c);
	rclone_rcd_idle(rc);
	rclone_unref(rc);
}

/* ---- the server --------------------------------------------------------- */

static void
rcd_exit(void *arg, int ok, int code, const char *err)
{
	struct rclone	*rc = arg;
	struct rcd	*d = rc->rcd;

	(void)ok;
	(void)code;
	if (d == NULL)
		return;
	d->cmd = NULL;
	if (d->stdin_fd != -1) {
		close(d->stdin_fd);
		d->stdin_fd = -1;
	}
	if (d->state == RCD_STARTING) {
		/* It gave up before serving (a port taken meanwhile, a bad
		 * flag): say why now, not at the deadline. */
		snprintf(d->why, sizeof(d->why), "rclone rcd did not start: "
		    "%s", err != NULL && err[0] != '\0' ? err : "it exited");
		start_failed(rc);
		return;
	}
	if (d->state == RCD_UP)
		rc->host->log(rc->inst, ZB_LOG_DEBUG, "rclone rcd exited");
	d->state = RCD_DOWN;
}

/* Stop the server: its watchdog sees the pipe close. */
static void
rcd_stop(struct rcd *d)
{
	/* (the timers are the callers' to cancel, with the rclone) */
	if (d->stdin_fd != -1) {
		close(d->stdin_fd);
		d->stdin_fd = -1;
	}
	if (d->cmd != NULL) {
		rc_cmd_detach(d->cmd);
		d->cmd = NULL;
	}
	d->state = RCD_DOWN;
}

static void
fail_queue(struct rclone *rc, const char *why)
{
	struct rcd	*d = rc->rcd;
	struct rcd_call	*c;

	while (!TAILQ_EMPTY(&d->queue)) {
		c = TAILQ_FIRST(&d->queue);
		TAILQ_REMOVE(&d->queue, c, entry);
		call_end(c, 0, NULL, why);
	}
}

/* d->why says why: every waiting call fails with it. */
static void
start_failed(struct rclone *rc)
{
	struct rcd	*d = rc->rcd;

	if (d->start_timer != NULL) {
		rc->host->timer_del(d->start_timer);
		d->start_timer = NULL;
	}
	rc->host->log(rc->inst, ZB_LOG_ERROR, "%s", d->why);
	rcd_stop(d);
	fail_queue(rc, d->why);
}

static void
on_start_timeout(void *arg)
{
	struct rclone	*rc = arg;
	struct rcd	*d = rc->rcd;

	d->start_timer = NULL;
	if (d->state != RCD_STARTING)
		return;
	snprintf(d->why, sizeof(d->why), "rclone rcd did not start: not "
	    "serving after %d s", RCD_START_MS / 1000);
	start_failed(rc);
}

/* Its log: "Serving remote control on http://127.0.0.1:PORT/". */
static void
on_rcd_log(void *arg, const char *msg)
{
	struct rclone	*rc = arg;
	struct rcd	*d = rc->rcd;
	struct rcd_call	*c;

	if (d == NULL || d->state != RCD_STARTING ||
	    strstr(msg, "Serving remote control on") == NULL)
		return;
	if (d->start_timer != NULL) {
		rc->host->timer_del(d->start_timer);
		d->start_timer = NULL;
	}
	d->state = RCD_UP;
	rc->host->log(rc->inst, ZB_LOG_DEBUG, "rclone rcd on 127.0.0.1:%d",
	    d->port);
	while (!TAILQ_EMPTY(&d->queue)) {
		c = TAILQ_FIRST(&d->queue);
		TAILQ_REMOVE(&d->queue, c, entry);
		rcd_send(c);
	}
}

/* A free port on 127.0.0.1, from the kernel (0: none). */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

void
rclone_hex(const unsigned char *p, size_t n, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/*
 * A fresh user and password for the server: in its environment (never
 * argv) and, base64'd, in our requests' Authorization header.
 */
static int
rcd_credentials(struct rcd *d)
{
	unsigned char	 rnd[24], b64[128];
	char		 user[17], pass[33], cred[64];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	rclone_hex(rnd, 8, user);
	rclone_hex(rnd + 8, 16, pass);
	explicit_bzero(rnd, sizeof(rnd));
	snprintf(d->env_user, sizeof(d->env_user), "RCLONE_RC_USER=%s", user);
	snprintf(d->env_pass, sizeof(d->env_pass), "RCLONE_RC_PASS=%s", pass);
	snprintf(cred, sizeof(cred), "%s:%s", user, pass);
	EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
	snprintf(d->auth, sizeof(d->auth), "Basic %s", (char *)b64);
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

static int
rcd_start(struct rclone *rc)
{
	struct rcd		*d = rc->rcd;
	struct rc_cmd_spec	 spec;
	char			 addr[32];
	const char		*env[3];
	const char		*argv[] = { "rcd", "--rc-addr", addr,
				    "--rc-serve", NULL };

	d->port = free_port();
	if (d->port == 0 || rcd_credentials(d) == -1) {
		snprintf(d->why, sizeof(d->why), "rclone rcd: no free port "
		    "on 127.0.0.1, or no random bytes");
		return ZB_ERR;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", d->port);
	snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d/", d->port);
	env[0] = d->env_user;
	env[1] = d->env_pass;
	env[2] = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.env = env;
	spec.watchdog = 1;
	spec.quiet = 1;		/* failed calls are answered, and logged
				   by their callers */
	spec.on_exit = rcd_exit;
	spec.on_log = on_rcd_log;
	spec.arg = rc;
	spec.what = "rcd";
	d->cmd = rc_cmd_start(rc, &spec, &d->stdin_fd, NULL);
	explicit_bzero(d->env_pass, sizeof(d->env_pass));
	if (d->cmd == NULL) {
		snprintf(d->why, sizeof(d->why), "cannot start rclone rcd");
		return ZB_ERR;
	}
	/* Only the watchdog may hold the pipe: not rcat children. */
	(void)fcntl(d->stdin_fd, F_SETFD, FD_CLOEXEC);
	d->state = RCD_STARTING;

	d->start_timer = rc->host->timer_add(RCD_START_MS, on_start_timeout,
	    rc);
	return ZB_OK;
}

/* ---- calls -------------------------------------------------------------- */

/* The "error" of an rc error body, or the HTTP error line. */
static void
rc_error(struct rclone *rc, const struct zb_http_resp *r, char *out,
    size_t len)
{
	const struct zb_json	*root = NULL, *e;
	char			 perr[128];

	if (r->body != NULL && r->body_len > 0)
		root = rc->host->json_parse(r->body, r->body_len, perr,
		    sizeof(perr));
	e = root != NULL ? rc->host->json_get(root, "error") : NULL;
	if (e != NULL && e->type == ZB_JSON_STRING)
		snprintf(out, len, "%s", e->str);
	else
		snprintf(out, len, "%s", r->error != NULL && r->error[0] !=
		    '\0' ? r->error : "no answer from rclone rcd");
	if (root != NULL)
		rc->host->json_free(root);
}

static void
call_done(void *arg, const struct zb_http_resp *r)
{
	struct rcd_call		*c = arg;
	struct rclone		*rc = c->rc;
	const struct zb_json	*root;
	char			 err[700];

	if (rc->rcd != NULL)
		rc->rcd->inflight--;
	if (r->curlcode != 0) {
		/* No answer: the server is gone or stuck; a fresh one for
		 * the next call. */
		snprintf(err, sizeof(err), "rclone rcd: %s", r->error);
		if (rc->rcd != NULL && rc->rcd->state == RCD_UP)
			rcd_stop(rc->rcd);
		call_end(c, 0, NULL, err);
		return;
	}
	if (r->status != 200) {
		rc_error(rc, r, err, sizeof(err));
		call_end(c, 0, NULL, err);
		return;
	}
	root = rc->host->json_parse(r->body != NULL ? r->body : "{}",
	    r->body != NULL ? r->body_len : 2, err, sizeof(err));
	if (root == NULL || root->type != ZB_JSON_OBJECT) {
		call_end(c, 0, NULL, "rclone rcd: an answer that is not a "
		    "JSON object");
		if (root != NULL)
			rc->host->json_free(root);
		return;
	}
	call_end(c, 1, root, NULL);
	rc->host->json_free(root);
}

static void
rcd_send(struct rcd_call *c)
{
	struct rclone		*rc = c->rc;
	struct rcd		*d = rc->rcd;
	struct zb_http_spec	 hs;
	struct zb_http_header	 h[2];
	char			*url;

	if (asprintf(&url, "%s%s%s", d->base, c->method, c->query != NULL ?
	    c->query : "") == -1) {
		call_end(c, 0, NULL, "out of memory");
		return;
	}
	h[0].name = "Authorization";
	h[0].value = d->auth;
	h[1].name = "Content-Type";
	h[1].value = c->ctype != NULL ? c->ctype : "application/json";
	memset(&hs, 0, sizeof(hs));
	hs.struct_size = sizeof(hs);
	hs.method = "POST";
	hs.url = url;
	hs.headers = h;
	hs.nheaders = 2;
	hs.body = c->body;
	hs.body_len = c->body_len;
	/* One attempt: rclone retries the remote itself; a server-side
	 * move of a big object may take long without a byte to us. */
	hs.retry.max_attempts = 1;
	hs.retry.timeout_ms = rc->timeout_ms > 0 ? (uint32_t)rc->timeout_ms :
	    3600000;
	hs.resp_max = RCD_RESP_MAX;
	hs.done = call_done;
	hs.arg = c;
	hs.what = c->what;
	d->inflight++;
	if (rc->host->http_request(rc->inst, &hs) == NULL) {
		d->inflight--;
		call_end(c, 0, NULL, "rclone rcd: cannot send the request");
	}
	free(url);
}

void
rclone_rcd_call(struct rclone *rc, const char *method, struct zb_buf *body,
    const char *what, rcd_done_fn done, void *arg)
{
	rclone_rcd_post(rc, method, NULL, NULL, body, what, done, arg);
}

void
rclone_rcd_post(struct rclone *rc, const char *method, const char *query,
    const char *ctype, struct zb_buf *body, const char *what,
    rcd_done_fn done, void *arg)
{
	struct rcd_call	*c;
	struct rcd	*d;

	c = calloc(1, sizeof(*c));
	if (c == NULL || body->failed || body->data == NULL) {
		free(c);
		rc->host->buf_free(body);
		done(arg, 0, NULL, "out of memory");
		return;
	}
	c->rc = rc;
	rc->refs++;
	c->method = strdup(method);
	c->query = query != NULL ? strdup(query) : NULL;
	c->ctype = ctype != NULL ? strdup(ctype) : NULL;
	c->body = body->data;		/* taken over */
	c->body_len = body->len;
	memset(body, 0, sizeof(*body));
	c->done = done;
	c->arg = arg;
	snprintf(c->what, sizeof(c->what), "rclone %s (%s)", method, what);
	if (c->method == NULL || (query != NULL && c->query == NULL) ||
	    (ctype != NULL && c->ctype == NULL)) {
		call_end(c, 0, NULL, "out of memory");
		return;
	}
	if (rc->rcd == NULL) {
		rc->rcd = calloc(1, sizeof(*rc->rcd));
		if (rc->rcd == NULL) {
			call_end(c, 0, NULL, "out of memory");
			return;
		}
		rc->rcd->stdin_fd = -1;
		TAILQ_INIT(&rc->rcd->queue);
	}
	d = rc->rcd;
	if (d->idle != NULL) {
		rc->host->timer_del(d->idle);
		d->idle = NULL;
	}
	switch (d->state) {
	case RCD_UP:
		rcd_send(c);
		return;
	case RCD_STARTING:
		TAILQ_INSERT_TAIL(&d->queue, c, entry);
		return;
	case RCD_DOWN:
		TAILQ_INSERT_TAIL(&d->queue, c, entry);
		if (rcd_start(rc) != ZB_OK) {
			rc->host->log(rc->inst, ZB_LOG_ERROR, "%s", d->why);
			fail_queue(rc, d->why);
		}
		return;
	}
}

static void
on_idle(void *arg)
{
	struct rclone	*rc = arg;
	struct rcd	*d = rc->rcd;

	d->idle = NULL;
	if (d->state == RCD_UP && d->inflight == 0 &&
	    TAILQ_EMPTY(&d->queue) && rc->busy == 0) {
		rc->host->log(rc->inst, ZB_LOG_DEBUG, "rclone rcd: idle, "
		    "stopped");
		rcd_stop(d);
	}
}

/*
 * After a call or a put ended: with nothing left to do, the server stops
 * RCD_IDLE_MS later (a run's next put follows at once; a command-line
 * run waits for its children before it ends, and a daemon keeps no
 * process with the remote's credentials between runs).
 */
void
rclone_rcd_idle(struct rclone *rc)
{
	struct rcd	*d = rc->rcd;

	if (d == NULL || d->state != RCD_UP || d->inflight > 0 ||
	    !TAILQ_EMPTY(&d->queue) || rc->busy > 0 || d->idle != NULL ||
	    rc->finished)
		return;
	d->idle = rc->host->timer_add(RCD_IDLE_MS, on_idle, rc);
}

/* fini: the server stops (its watchdog sees the pipe close). */
void
rclone_rcd_stop(struct rclone *rc)
{
	if (rc->rcd == NULL)
		return;
	if (rc->rcd->idle != NULL) {
		rc->host->timer_del(rc->rcd->idle);
		rc->rcd->idle = NULL;
	}
	if (rc->rcd->state == RCD_STARTING) {
		snprintf(rc->rcd->why, sizeof(rc->rcd->why), "the sink is "
		    "going away");
		start_failed(rc);
		return;
	}
	rcd_stop(rc->rcd);
}

/* The last unref: every call held a reference, so none is left. */
void
rclone_rcd_free(struct rclone *rc)
{
	free(rc->rcd);
	rc->rcd = NULL;
}

/* {"fs": remote, ...} members: a JSON string of "remote" itself. */
int
rclone_rcd_fs(struct rclone *rc, struct zb_buf *b, const char *member)
{
	return rc->host->buf_printf(b, "\"%s\":", member) == 0 &&
	    rc->host->buf_json_str(b, rc->remote) == 0 ? 0 : -1;
}

/* A fresh body {"fs":<the sink's remote>,"remote":<rel>, left open. */
void
rclone_rcd_body(struct rclone *rc, struct zb_buf *b, const char *rel)
{
	memset(b, 0, sizeof(*b));
	rc->host->buf_init(b, 64 * 1024);
	rc->host->buf_add(b, "{", 1);
	rclone_rcd_fs(rc, b, "fs");
	rc->host->buf_printf(b, ",\"remote\":");
	rc->host->buf_json_str(b, rel);
}

void
rclone_rcd_deletefile(struct rclone *rc, const char *rel, const char *what,
    rcd_done_fn done, void *arg)
{
	struct zb_buf	 b;

	rclone_rcd_body(rc, &b, rel);
	rc->host->buf_add(&b, "}", 1);
	rclone_rcd_call(rc, "operations/deletefile", &b, what, done, arg);
}

/* Append s to b percent-encoded for a URL's query (RFC 3986 unreserved
 * characters as they are). */
/* Percent-encode s onto b: RFC 3986 unreserved characters, and those of
 * keep, as they are; 0 or -1. */
static int
pct_encode(struct rclone *rc, struct zb_buf *b, const char *s,
    const char *keep)
{
	static const char hexd[] = "0123456789ABCDEF";
	char		 e[3];

	for (; *s != '\0'; s++) {
		unsigned char	 ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL ||
		    strchr(keep, ch) != NULL) {
			if (rc->host->buf_add(b, s, 1) != 0)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hexd[ch >> 4];
		e[2] = hexd[ch & 15];
		if (rc->host->buf_add(b, e, 3) != 0)
			return -1;
	}
	return 0;
}

int
rclone_rcd_query_str(struct rclone *rc, struct zb_buf *b, const char *s)
{
	return pct_encode(rc, b, s, "");
}

int
rclone_rcd_object_url(struct rclone *rc, const char *key, struct zb_buf *url,
    const char **auth)
{
	struct rcd	*d = rc->rcd;

	if (d == NULL || d->state != RCD_UP)
		return -1;
	if (rc->host->buf_printf(url, "%s%%5B", d->base) != 0 ||
	    pct_encode(rc, url, rc->remote, "") != 0 ||
	    rc->host->buf_add(url, "%5D/", 4) != 0 ||
	    pct_encode(rc, url, key, "/") != 0)
		return -1;
	*auth = d->auth;
	return 0;
}
