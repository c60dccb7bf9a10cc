/*
 * http.c - the one libcurl multi handle, driven by the reactor.
 *
 * Every HTTP transfer of every plugin (S3, Qdrant, Vault, n8n, OneDrive,
 * notifications) runs in this multi, as in curl's hiperfifo example:
 * CURLMOPT_SOCKETFUNCTION keeps one persistent libevent event per socket
 * curl cares about, CURLMOPT_TIMERFUNCTION arms one evtimer, and both
 * event callbacks call curl_multi_socket_action() and then collect
 * finished transfers.  Done callbacks run after socket_action returned,
 * never from inside curl.  Connections are reused across transfers by
 * the multi's connection cache.
 *
 * Backpressure: a plugin's write callback returns CURL_WRITEFUNC_PAUSE;
 * http_resume() unpauses later from a deferred event, because curl must
 * not be unpaused from inside its own callbacks.
 *
 * Interrupt (SIGINT/SIGTERM, reactor.c): transfers may go on for
 * REACTOR_INTERRUPT_GRACE_MS (so that the S3 abort of a multipart upload
 * reaches a healthy server); then every transfer still running ends with
 * CURLE_ABORTED_BY_CALLBACK through its done function, and new ones are
 * refused, so that whatever waits on a stalled server ends.  Timeouts
 * are the plugins' business (CURLOPT_CONNECTTIMEOUT_MS etc.); this file
 * sets none.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "reactor.h"
#include "util.h"

struct transfer {
	TAILQ_ENTRY(transfer)	 entry;
	CURL			*easy;
	http_done_fn		 done;
	void			*arg;
	struct event		*resume_ev;
};

static CURLM		*multi;
static struct event	*timer_ev;
static int		 running;
static TAILQ_HEAD(, transfer) transfers = TAILQ_HEAD_INITIALIZER(transfers);
static struct zb_timer	*grace_timer;
static int		 refusing;	/* interrupted, grace over */
static char		*ca_file;
static long		 tls_min = CURL_SSLVERSION_TLSv1_2;

static void
collect(void)
{
	struct transfer	*t;
	CURLMsg		*msg;
	CURLcode	 rc;
	long		 status;
	int		 left;

	for (;;) {
		msg = curl_multi_info_read(multi, &left);
		if (msg == NULL)
			break;
		if (msg->msg != CURLMSG_DONE)
			continue;
		t = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
		rc = msg->data.result;
		status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
		    &status);
		curl_multi_remove_handle(multi, msg->easy_handle);
		running--;
		if (t == NULL)
			continue;
		TAILQ_REMOVE(&transfers, t, entry);
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
		event_free(t->resume_ev);
		t->done(t->arg, (int)rc, status);
		free(t);
	}
}

/* The interrupt's grace is over: end every transfer, take no more. */
static void
on_grace_over(void *arg)
{
	struct transfer	*t;

	grace_timer = NULL;
	refusing = 1;
	if (running > 0)
		log_warnx("interrupted: ending %d HTTP transfer%s still "
		    "running", running, running == 1 ? "" : "s");
	/* A done function may cancel others: take the first each time. */
	for (;;) {
		t = TAILQ_FIRST(&transfers);
		if (t == NULL)
			break;
		TAILQ_REMOVE(&transfers, t, entry);
		curl_multi_remove_handle(multi, t->easy);
		running--;
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
		event_free(t->resume_ev);
		t->done(t->arg, (int)CURLE_ABORTED_BY_CALLBACK, 0);
		free(t);
	}
}

static void
on_interrupt(int sig, void *arg)
{
	if (grace_timer == NULL && !refusing)
		grace_timer = reactor_timer_add(REACTOR_INTERRUPT_GRACE_MS,
		    on_grace_over, NULL);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	int	 flags = 0, n;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(multi, fd, flags, &n);
	collect();
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	int	 n;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &n);
	collect();
}

/* curl tells which sockets to watch for what. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct event	*ev = socketp;
	short		 kind;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (ev != NULL)
		event_free(ev);
	ev = event_new(reactor_base(), s, kind, on_socket, NULL);
	event_add(ev, NULL);
	curl_multi_assign(multi, s, ev);
	return 0;
}

static int
timer_cb(CURLM *m, long ms, void *userp)
{
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(timer_ev);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(timer_ev, &tv);
	return 0;
}

int
http_init(const struct zb_config *cfg)
{
	if (multi != NULL)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("cannot initialise libcurl");
		return -1;
	}
	multi = curl_multi_init();
	if (multi == NULL) {
		log_warnx("cannot create the curl multi handle");
		return -1;
	}
	timer_ev = evtimer_new(reactor_base(), on_timer, NULL);
	reactor_on_interrupt(on_interrupt, NULL);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	if (cfg != NULL && cfg->ca_file != NULL)
		ca_file = xstrdup(cfg->ca_file);
	if (cfg != NULL && cfg->tls_min_13)
		tls_min = CURL_SSLVERSION_TLSv1_3;
	return 0;
}

void
http_free(void)
{
	if (multi == NULL)
		return;
	reactor_timer_del(grace_timer);
	grace_timer = NULL;
	refusing = 0;
	curl_multi_cleanup(multi);
	multi = NULL;
	event_free(timer_ev);
	timer_ev = NULL;
	free(ca_file);
	ca_file = NULL;
	curl_global_cleanup();
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct transfer	*t = arg;
	int		 n;

	curl_easy_pause(t->easy, CURLPAUSE_CONT);
	/* Let curl act on the unpause now rather than at its next timeout. */
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &n);
	collect();
}

int
http_submit(void *easy, http_done_fn done, void *arg)
{
	struct transfer	*t;
	CURLMcode	 rc;

	if (multi == NULL && http_init(NULL) == -1)
		return -1;
	if (refusing) {
		log_debug("interrupted: no new HTTP transfer");
		return -1;
	}
	t = xcalloc(1, sizeof(*t));
	t->easy = easy;
	t->done = done;
	t->arg = arg;
	t->resume_ev = event_new(reactor_base(), -1, 0, on_resume, t);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, tls_min);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
	rc = curl_multi_add_handle(multi, easy);
	if (rc != CURLM_OK) {
		log_warnx("curl refused a transfer: %s",
		    curl_multi_strerror(rc));
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		event_free(t->resume_ev);
		free(t);
		return -1;
	}
	TAILQ_INSERT_TAIL(&transfers, t, entry);
	running++;
	return 0;
}

void
http_cancel(void *easy)
{
	struct transfer	*t = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
	if (t == NULL)
		return;
	curl_multi_remove_handle(multi, easy);
	running--;
	TAILQ_REMOVE(&transfers, t, entry);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	event_free(t->resume_ev);
	free(t);
}

void
http_resume(void *easy)
{
	struct transfer	*t = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
	if (t != NULL)
		event_active(t->resume_ev, 0, 0);
}

int
http_running(void)
{
	return running;
}
