/*
 * redis_sync.c - the backup stream `dump': facts from INFO (redis_info.c),
 * then the RDB over the replication protocol, as `redis-cli --rdb' gets
 * it, on a non-blocking socket of our own driven by libevent:
 *
 *	[AUTH [user] pass]	-> +OK, else fail (the password stays here)
 *	REPLCONF capa eof	-> an error only logged (diskless framing)
 *	REPLCONF rdb-only 1	-> an error only logged (before 6.2)
 *	SYNC			-> raw bytes to rdb_stream_feed()
 *
 * One command at a time: Redis refuses SYNC while replies to earlier
 * commands are still queued for the client.  rdb_stream.c strips the
 * framing and checks the magic and the CRC-64; only RDB bytes reach
 * host->push().  pause() stops reading the socket, so the master's
 * output buffer and TCP push back.  The read event carries the idle
 * timeout, which does not run while paused.
 *
 * Owns struct rsync.  After host->done() the socket is closed and every
 * event removed; close() frees.  The password is wiped from the output
 * buffer as soon as it is written.
 */
#include "zb-build.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rdb_stream.h"
#include "redis.h"

#define READ_SIZE	(64 * 1024)
#define LINE_MAX_LEN	512

enum rs_state {
	RS_INFO,	/* waiting for the facts */
	RS_CONNECT,	/* non-blocking connect in progress */
	RS_AUTH,	/* waiting for the reply to AUTH */
	RS_CAPA,	/* ... to REPLCONF capa eof */
	RS_RDBONLY,	/* ... to REPLCONF rdb-only 1 */
	RS_SYNC,	/* SYNC sent: everything goes to the parser */
	RS_DONE		/* host->done() called */
};

struct rsync {
	struct redis		*r;
	struct zb_io		*s;
	enum rs_state		 state;
	struct info_query	*q;
	int			 fd;
	struct event		*rev;		/* EV_READ, idle timeout */
	struct event		*wev;		/* connect, pending output */
	struct timeval		 tv;
	int			 paused;
	int			 torn;		/* push() said ZB_ERR */
	char			*out;		/* pending command bytes */
	size_t			 outlen, outoff;
	char			 line[LINE_MAX_LEN];
	size_t			 nline;
	struct rdb_stream	*rdb;
	unsigned char		*buf;
};

static void	rs_fail(struct rsync *, const char *, ...) ZB_PRINTF(2, 3);

static void
rs_stop(struct rsync *k)
{
	if (k->q != NULL) {
		info_cancel(k->q);
		k->q = NULL;
	}
	if (k->rev != NULL)
		event_del(k->rev);
	if (k->wev != NULL)
		event_del(k->wev);
	if (k->fd != -1) {
		close(k->fd);
		k->fd = -1;
	}
	if (k->out != NULL) {
		explicit_bzero(k->out, k->outlen);
		free(k->out);
		k->out = NULL;
	}
	k->state = RS_DONE;
}

static void
rs_fail(struct rsync *k, const char *fmt, ...)
{
	char	 msg[768];
	va_list	 ap;

	if (k->state == RS_DONE)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rs_stop(k);
	k->r->host->done(k->s, ZB_ERR, msg);
}

static void
rs_watch(struct rsync *k)
{
	if (k->state == RS_DONE || k->fd == -1)
		return;
	if (k->outoff < k->outlen || k->state == RS_CONNECT)
		event_add(k->wev, &k->tv);
	if (!k->paused && k->state != RS_CONNECT)
		event_add(k->rev, &k->tv);
	else
		event_del(k->rev);
}

/* Queue a command in RESP; the bytes may hold the password. */
static int
rs_send(struct rsync *k, int argc, const char **argv, const size_t *lens)
{
	size_t	 need = 32, off;
	int	 i, n;

	for (i = 0; i < argc; i++)
		need += lens[i] + 32;
	free(k->out);
	k->out = malloc(need);
	if (k->out == NULL)
		return -1;
	off = (size_t)snprintf(k->out, need, "*%d\r\n", argc);
	for (i = 0; i < argc; i++) {
		n = snprintf(k->out + off, need - off, "$%zu\r\n", lens[i]);
		off += (size_t)n;
		memcpy(k->out + off, argv[i], lens[i]);
		off += lens[i];
		memcpy(k->out + off, "\r\n", 2);
		off += 2;
	}
	k->outlen = off;
	k->outoff = 0;
	return 0;
}

static int
rs_send2(struct rsync *k, const char *a, const char *b, const char *c)
{
	const char	*argv[3] = { a, b, c };
	size_t		 lens[3] = { strlen(a), strlen(b), strlen(c) };

	return rs_send(k, 3, argv, lens);
}

static void
rs_flush(struct rsync *k)
{
	ssize_t	 n;

	while (k->outoff < k->outlen) {
		n = write(k->fd, k->out + k->outoff, k->outlen - k->outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			rs_fail(k, "%s: write: %s", k->r->addr,
			    strerror(errno));
			return;
		}
		k->outoff += (size_t)n;
	}
	if (k->outoff == k->outlen && k->out != NULL) {
		explicit_bzero(k->out, k->outlen);
		free(k->out);
		k->out = NULL;
		k->outlen = k->outoff = 0;
	}
	rs_watch(k);
}

static void
rs_next(struct rsync *k, enum rs_state st)
{
	int	 rc = 0;

	k->state = st;
	switch (st) {
	case RS_CAPA:
		rc = rs_send2(k, "REPLCONF", "capa", "eof");
		break;
	case RS_RDBONLY:
		rc = rs_send2(k, "REPLCONF", "rdb-only", "1");
		break;
	case RS_SYNC:
		/* raw, as redis-cli writes it */
		free(k->out);
		k->out = strdup("SYNC\r\n");
		rc = k->out == NULL ? -1 : 0;
		k->outlen = 6;
		k->outoff = 0;
		k->r->host->log(k->r->inst, ZB_LOG_INFO, "%s: SYNC sent, "
		    "waiting for the RDB", k->r->addr);
		break;
	default:
		break;
	}
	if (rc == -1) {
		rs_fail(k, "%s: out of memory", k->r->addr);
		return;
	}
	rs_flush(k);
}

static void
rs_line(struct rsync *k, const char *line)
{
	switch (k->state) {
	case RS_AUTH:
		if (line[0] != '+') {
			rs_fail(k, "%s: authentication failed: %s",
			    k->r->addr, line + (line[0] == '-'));
			return;
		}
		rs_next(k, RS_CAPA);
		break;
	case RS_CAPA:
		if (line[0] != '+')
			k->r->host->log(k->r->inst, ZB_LOG_WARN, "%s: "
			    "REPLCONF capa eof: %s", k->r->addr, line);
		rs_next(k, RS_RDBONLY);
		break;
	case RS_RDBONLY:
		if (line[0] != '+')
			k->r->host->log(k->r->inst, ZB_LOG_INFO, "%s: "
			    "REPLCONF rdb-only refused (%s); the connection is "
			    "closed right after the RDB", k->r->addr, line);
		rs_next(k, RS_SYNC);
		break;
	default:
		break;
	}
}

static int
rs_emit(void *arg, const void *p, size_t n)
{
	struct rsync	*k = arg;
	int		 rc;

	rc = k->r->host->push(k->s, p, n);
	if (rc == ZB_ERR) {
		k->torn = 1;	/* torn down: close() follows */
		return -1;
	}
	/* ZB_AGAIN: paused already (pause() ran inside push). */
	return 0;
}

static void
rs_finished(struct rsync *k)
{
	struct rdb_stream	*p = k->rdb;
	struct redis		*r = k->r;

	r->host->fact_int(k->s, NULL, "rdb_version", rdb_stream_version(p));
	r->host->log(r->inst, ZB_LOG_INFO, "%s: RDB version %d, %llu bytes, "
	    "%s framing, CRC-64 %s", r->addr, rdb_stream_version(p),
	    (unsigned long long)rdb_stream_bytes(p),
	    rdb_stream_diskless(p) ? "diskless ($EOF)" : "disk-based ($len)",
	    rdb_stream_unchecked(p) ? "not checked: the server runs with "
	    "rdbchecksum no" : "verified");
	rs_stop(k);
	r->host->done(k->s, ZB_OK, NULL);
}

/* Handshake reply lines; the rest once SYNC is out. */
static void
rs_input(struct rsync *k, const unsigned char *p, size_t n)
{
	size_t	 i;
	int	 rc;

	while (n > 0 && k->state != RS_SYNC && k->state != RS_DONE) {
		for (i = 0; i < n && p[i] != '\n'; i++)
			;
		if (k->nline + i >= sizeof(k->line)) {
			rs_fail(k, "%s: reply line longer than %d bytes",
			    k->r->addr, LINE_MAX_LEN);
			return;
		}
		memcpy(k->line + k->nline, p, i);
		k->nline += i;
		if (i == n)
			return;
		p += i + 1;
		n -= i + 1;
		if (k->nline > 0 && k->line[k->nline - 1] == '\r')
			k->nline--;
		k->line[k->nline] = '\0';
		if (k->nline == 0)
			continue;
		k->nline = 0;
		if (k->outoff < k->outlen) {
			rs_fail(k, "%s: reply before the command was sent: %s",
			    k->r->addr, k->line);
			return;
		}
		rs_line(k, k->line);
	}
	if (n == 0 || k->state != RS_SYNC)
		return;
	rc = rdb_stream_feed(k->rdb, p, n, rs_emit, k);
	if (rc == RDB_STREAM_ERR) {
		if (k->state == RS_DONE)
			return;
		if (k->torn) {
			rs_stop(k);	/* no done(): close() follows */
			return;
		}
		rs_fail(k, "%s: %s", k->r->addr, rdb_stream_error(k->rdb));
	} else if (rc == RDB_STREAM_DONE)
		rs_finished(k);
}

static void
rs_read(evutil_socket_t fd, short what, void *arg)
{
	struct rsync	*k = arg;
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		rs_fail(k, "%s: timeout: nothing from the server for %.1f s "
		    "(%s)", k->r->addr, k->r->timeout_ms / 1000.0,
		    k->state == RS_SYNC ? "during SYNC" : "handshake");
		return;
	}
	n = read(k->fd, k->buf, READ_SIZE);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		rs_fail(k, "%s: read: %s", k->r->addr, strerror(errno));
		return;
	}
	if (n == 0) {
		if (k->state != RS_SYNC)
			rs_fail(k, "%s: the server closed the connection "
			    "during the handshake", k->r->addr);
		else if (rdb_stream_finish(k->rdb) == -1)
			rs_fail(k, "%s: connection closed: %s", k->r->addr,
			    rdb_stream_error(k->rdb));
		else
			rs_finished(k);
		return;
	}
	rs_input(k, k->buf, (size_t)n);
}

static void
rs_write(evutil_socket_t fd, short what, void *arg)
{
	struct rsync	*k = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (what & EV_TIMEOUT) {
		rs_fail(k, "%s: timeout: %s within %.1f s", k->r->addr,
		    k->state == RS_CONNECT ? "could not connect" :
		    "could not send", k->r->timeout_ms / 1000.0);
		return;
	}
	if (k->state != RS_CONNECT) {
		rs_flush(k);
		return;
	}
	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		rs_fail(k, "%s: connect: %s", k->r->addr, strerror(err));
		return;
	}
	if (k->r->pass != NULL) {
		const char	*argv[3];
		size_t		 lens[3];
		int		 n = 0;

		argv[n] = "AUTH";
		lens[n++] = 4;
		if (k->r->user != NULL) {
			argv[n] = k->r->user;
			lens[n++] = strlen(k->r->user);
		}
		argv[n] = k->r->pass;
		lens[n++] = k->r->passlen;
		k->state = RS_AUTH;
		if (rs_send(k, n, argv, lens) == -1) {
			rs_fail(k, "%s: out of memory", k->r->addr);
			return;
		}
		rs_flush(k);
	} else
		rs_next(k, RS_CAPA);
}

/* Start a non-blocking connect; -1 with a message in err. */
static int
rs_connect(struct rsync *k, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_un	 sun;
	int			 fd = -1, rc;

	if (k->r->path != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(k->r->path) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "socket path too long");
			return -1;
		}
		memcpy(sun.sun_path, k->r->path, strlen(k->r->path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1 || (connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == -1 && errno != EINPROGRESS)) {
			snprintf(err, errlen, "connect: %s", strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		k->fd = fd;
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* Like hiredis: a blocking lookup for a name (none for numbers). */
	rc = getaddrinfo(k->r->node, k->r->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s", gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return -1;
	k->fd = fd;
	return 0;
}

static void
rs_facts(struct rsync *k, const struct redis_info *in)
{
	const struct zb_host_api *h = k->r->host;
	char			 key[24];
	int64_t			 keys = 0;
	size_t			 i;

	if (in->version[0] != '\0')
		h->fact_str(k->s, NULL, "redis_version", in->version);
	for (i = 0; i < in->ndbs; i++) {
		snprintf(key, sizeof(key), "db%d", in->dbs[i].db);
		h->fact_int(k->s, "keyspace", key, in->dbs[i].keys);
		h->fact_int(k->s, "expires", key, in->dbs[i].expires);
		keys += in->dbs[i].keys;
	}
	h->log(k->r->inst, ZB_LOG_INFO, "%s: redis %s, %lld keys in %zu "
	    "database(s)", k->r->addr, in->version[0] ? in->version : "(?)",
	    (long long)keys, in->ndbs);
}

static void
rs_on_info(void *arg, int status, const char *err,
    const struct redis_info *in)
{
	struct rsync	*k = arg;
	char		 msg[256];

	k->q = NULL;	/* freed by redis_info.c after this */
	if (status != ZB_OK) {
		rs_fail(k, "%s", err);
		return;
	}
	rs_facts(k, in);
	if (rs_connect(k, msg, sizeof(msg)) == -1) {
		rs_fail(k, "%s: %s", k->r->addr, msg);
		return;
	}
	k->rev = event_new(k->r->host->evbase(), k->fd, EV_READ | EV_PERSIST,
	    rs_read, k);
	k->wev = event_new(k->r->host->evbase(), k->fd, EV_WRITE, rs_write,
	    k);
	if (k->rev == NULL || k->wev == NULL) {
		rs_fail(k, "%s: out of memory", k->r->addr);
		return;
	}
	k->state = RS_CONNECT;
	rs_watch(k);
}

static void
rs_pause(void *pctx)
{
	struct rsync	*k = pctx;

	k->paused = 1;
	rs_watch(k);
}

static void
rs_resume(void *pctx)
{
	struct rsync	*k = pctx;

	k->paused = 0;
	rs_watch(k);
}

static void
rs_close(void *pctx)
{
	struct rsync	*k = pctx;

	rs_stop(k);
	if (k->rev != NULL)
		event_free(k->rev);
	if (k->wev != NULL)
		event_free(k->wev);
	rdb_stream_free(k->rdb);
	free(k->buf);
	free(k);
}

static const struct zb_producer_ops sync_ops = {
	rs_pause, rs_resume, rs_close
};

int
sync_open(struct redis *r, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct redis_target	 t;
	struct rsync		*k;

	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return ZB_ERR;
	k->r = r;
	k->s = s;
	k->fd = -1;
	k->state = RS_INFO;
	k->tv.tv_sec = r->timeout_ms / 1000;
	k->tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	k->rdb = rdb_stream_new();
	k->buf = malloc(READ_SIZE);
	if (k->rdb == NULL || k->buf == NULL) {
		rs_close(k);
		return ZB_ERR;
	}
	r->host->log(r->inst, ZB_LOG_INFO, "%s: connecting", r->addr);
	redis_target_of(r, &t);
	k->q = info_start(r, &t, rs_on_info, k);
	if (k->q == NULL) {
		rs_close(k);
		return ZB_ERR;
	}
	*ops = &sync_ops;
	*pctx = k;
	return ZB_OK;
}
