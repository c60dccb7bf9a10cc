/*
 * redis_info.c - one hiredis async query on the host's loop: connect,
 * AUTH when a password is set, PING, INFO server, INFO keyspace.
 *
 * Owns struct info_query and its redisAsyncContext.  hiredis frees the
 * context by itself after a failed connect and after the server closed
 * the connection (then q->ac is set to NULL in the callbacks); every other
 * time we free it, and never from inside a hiredis callback: finish()
 * only records the outcome and activates q->done_ev, whose handler frees
 * the context (its pending callbacks then see q->finished and do nothing),
 * calls the owner back and frees q.  So the owner's callback never runs
 * inside info_start() or inside hiredis.
 */
#include "zb-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "redis.h"

enum step { STEP_AUTH, STEP_PING, STEP_SERVER, STEP_KEYSPACE };

struct info_query {
	struct redis		*r;
	struct redis_target	 t;
	redisAsyncContext	*ac;
	struct event		*timer;		/* connect/reply timeout */
	struct event		*done_ev;	/* finish outside hiredis */
	info_cb			 cb;
	void			*arg;
	int			 finished;
	int			 status;
	char			 err[512];
	struct redis_info	 info;
	int			 steps[4];	/* tags for the callbacks */
};

/* (Re)start the timeout: it counts silence, not the whole query. */
static void
arm(struct info_query *q)
{
	struct timeval	tv;

	tv.tv_sec = q->t.timeout_ms / 1000;
	tv.tv_usec = (q->t.timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);
}

static void	finish(struct info_query *, int, const char *, ...)
		    ZB_PRINTF(3, 4);

static void
finish(struct info_query *q, int status, const char *fmt, ...)
{
	va_list	 ap;

	if (q->finished)
		return;
	q->finished = 1;
	q->status = status;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(q->err, sizeof(q->err), fmt, ap);
		va_end(ap);
	}
	event_active(q->done_ev, EV_TIMEOUT, 0);
}

static void
free_query(struct info_query *q)
{
	redisAsyncContext	*ac = q->ac;

	q->finished = 1;
	if (ac != NULL) {
		q->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	event_free(q->timer);
	event_free(q->done_ev);
	info_clear(&q->info);
	free(q);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct info_query	*q = arg;

	q->cb(q->arg, q->status, q->status == ZB_OK ? NULL : q->err,
	    &q->info);
	free_query(q);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct info_query	*q = arg;

	finish(q, ZB_ERR, "%s: no answer within %.1f s", q->t.name,
	    q->t.timeout_ms / 1000.0);
}

/* hiredis' wording for "nobody listens there (yet)". */
static int
not_there(const char *errstr)
{
	return strstr(errstr, "refused") != NULL ||
	    strstr(errstr, "No such file") != NULL;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct info_query	*q = ac->data;

	if (q == NULL || status == REDIS_OK)
		return;
	q->ac = NULL;		/* hiredis frees it after this returns */
	finish(q, not_there(ac->errstr) ? ZB_RETRY : ZB_ERR,
	    "%s: cannot connect: %s", q->t.name, ac->errstr);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct info_query	*q = ac->data;

	if (q == NULL)
		return;
	q->ac = NULL;
	finish(q, ZB_ERR, "%s: connection lost: %s", q->t.name,
	    ac->err ? ac->errstr : "closed by the server");
}

/* Copies at most 200 printable bytes of a reply for a message. */
static void
show(char *dst, size_t len, const char *s, size_t n)
{
	size_t	i, j = 0;

	for (i = 0; i < n && j + 1 < len && j < 200; i++)
		dst[j++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[j] = '\0';
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct info_query	*q = ac->data;
	redisReply		*rep = reply;
	int			 step = *(int *)priv;
	char			 msg[256];

	if (q == NULL || q->finished)
		return;
	if (rep == NULL) {
		finish(q, ZB_ERR, "%s: connection lost: %s", q->t.name,
		    ac->err ? ac->errstr : "no reply");
		return;
	}
	arm(q);
	if (rep->type == REDIS_REPLY_ERROR) {
		show(msg, sizeof(msg), rep->str, rep->len);
		if (step == STEP_AUTH)
			finish(q, ZB_ERR, "%s: authentication failed: %s",
			    q->t.name, msg);
		else if (strncmp(msg, "LOADING", 7) == 0)
			finish(q, ZB_RETRY, "%s: %s", q->t.name, msg);
		else
			finish(q, ZB_ERR, "%s: %s: %s", q->t.name,
			    step == STEP_PING ? "PING" : "INFO", msg);
		return;
	}
	if (step != STEP_SERVER && step != STEP_KEYSPACE)
		return;
	if (rep->type != REDIS_REPLY_STRING) {
		finish(q, ZB_ERR, "%s: INFO: unexpected reply type %d",
		    q->t.name, rep->type);
		return;
	}
	if (info_parse(rep->str, &q->info) == -1) {
		finish(q, ZB_ERR, "%s: INFO: out of memory or more than %d "
		    "databases", q->t.name, REDIS_MAX_DBS);
		return;
	}
	if (step == STEP_KEYSPACE)
		finish(q, ZB_OK, NULL);
}

static int
send_cmd(struct info_query *q, enum step step, int argc, const char **argv,
    const size_t *lens)
{
	q->steps[step] = step;
	return redisAsyncCommandArgv(q->ac, on_reply, &q->steps[step], argc,
	    argv, lens);
}

static int
send_all(struct info_query *q)
{
	const char	*argv[3];
	size_t		 lens[3];
	int		 n = 0;

	if (q->t.pass != NULL) {
		argv[n] = "AUTH";
		lens[n++] = 4;
		if (q->t.user != NULL) {
			argv[n] = q->t.user;
			lens[n] = strlen(q->t.user);
			n++;
		}
		argv[n] = q->t.pass;
		lens[n++] = q->t.passlen;
		if (send_cmd(q, STEP_AUTH, n, argv, lens) != REDIS_OK)
			return -1;
	}
	argv[0] = "PING";
	lens[0] = 4;
	if (send_cmd(q, STEP_PING, 1, argv, lens) != REDIS_OK)
		return -1;
	argv[0] = "INFO";
	argv[1] = "server";
	lens[1] = 6;
	if (send_cmd(q, STEP_SERVER, 2, argv, lens) != REDIS_OK)
		return -1;
	argv[1] = "keyspace";
	lens[1] = 8;
	return send_cmd(q, STEP_KEYSPACE, 2, argv, lens) == REDIS_OK ? 0 : -1;
}

struct info_query *
info_start(struct redis *r, const struct redis_target *t, info_cb cb,
    void *arg)
{
	struct event_base	*base = r->host->evbase();
	struct info_query	*q;
	redisAsyncContext	*ac;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->r = r;
	q->t = *t;
	q->cb = cb;
	q->arg = arg;
	q->timer = evtimer_new(base, on_timeout, q);
	q->done_ev = event_new(base, -1, 0, on_done, q);
	if (q->timer == NULL || q->done_ev == NULL) {
		free_query(q);
		return NULL;
	}
	/* hiredis resolves a host name with a blocking getaddrinfo. */
	ac = t->path != NULL ? redisAsyncConnectUnix(t->path) :
	    redisAsyncConnect(t->node, (int)strtol(t->port, NULL, 10));
	if (ac == NULL) {
		free_query(q);
		return NULL;
	}
	if (ac->err) {
		finish(q, not_there(ac->errstr) ? ZB_RETRY : ZB_ERR,
		    "%s: cannot connect: %s", t->name, ac->errstr);
		redisAsyncFree(ac);
		return q;
	}
	q->ac = ac;
	ac->data = q;
	if (redisLibeventAttach(ac, base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK ||
	    send_all(q) == -1) {
		free_query(q);
		return NULL;
	}
	arm(q);
	return q;
}

void
info_cancel(struct info_query *q)
{
	if (q != NULL)
		free_query(q);
}

/* Adds one "db3:keys=1,expires=0,avg_ttl=0[,...]" line; 0, or -1. */
static int
parse_db(const char *line, size_t len, struct redis_info *in)
{
	struct redis_db	*d;
	const char	*p = line + 2, *end = line + len;
	char		 kv[64], *e;
	long long	 v;
	long		 db;
	size_t		 n;

	db = strtol(p, &e, 10);
	if (e == p || *e != ':' || db < 0 || db >= REDIS_MAX_DBS)
		return 0;	/* not a keyspace line: ignore */
	if (in->ndbs == REDIS_MAX_DBS)
		return -1;
	d = reallocarray(in->dbs, in->ndbs + 1, sizeof(*d));
	if (d == NULL)
		return -1;
	in->dbs = d;
	d = &in->dbs[in->ndbs++];
	memset(d, 0, sizeof(*d));
	d->db = (int)db;
	p = e + 1;
	while (p < end) {
		for (n = 0; p + n < end && p[n] != ','; n++)
			;
		if (n < sizeof(kv)) {
			memcpy(kv, p, n);
			kv[n] = '\0';
			e = strchr(kv, '=');
			if (e != NULL) {
				*e++ = '\0';
				v = strtoll(e, NULL, 10);
				if (strcmp(kv, "keys") == 0)
					d->keys = v;
				else if (strcmp(kv, "expires") == 0)
					d->expires = v;
			}
		}
		p += n + (p + n < end);
	}
	return 0;
}

/*
 * Takes what an INFO reply says about the version and the keyspace,
 * loosely: unknown lines and unknown key=value pairs are ignored.
 */
int
info_parse(const char *text, struct redis_info *in)
{
	const char	*line = text, *nl;
	size_t		 len;

	while (*line != '\0') {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 14 && strncmp(line, "redis_version:", 14) == 0) {
			if (len - 14 < sizeof(in->version)) {
				memcpy(in->version, line + 14, len - 14);
				in->version[len - 14] = '\0';
			}
		} else if (len > 3 && strncmp(line, "db", 2) == 0 &&
		    parse_db(line, len, in) == -1)
			return -1;
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return 0;
}

void
info_clear(struct redis_info *in)
{
	free(in->dbs);
	in->dbs = NULL;
	in->ndbs = 0;
}
