/*
 * progress.c - a progress line on a terminal (bytes, rate, ETA).
 *
 * Only when stderr is a terminal: logs and pipes get no carriage-return
 * noise.  The line is redrawn from a one-second timer on the loop.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "reactor.h"
#include "util.h"

struct progress {
	char		*label;
	uint64_t	 total;
	uint64_t	(*bytes)(void *);
	void		*arg;
	uint64_t	 start_ms;
	struct event	*ev;
	int		 drawn;
};

static void
draw(evutil_socket_t fd, short what, void *arg)
{
	struct progress	*p = arg;
	uint64_t	 n = p->bytes(p->arg), ms = now_ms() - p->start_ms;
	char		 done[32], tot[32], rate[32], eta[32] = "";
	double		 bps = ms > 0 ? (double)n * 1000 / ms : 0;

	human_bytes(n, done, sizeof(done));
	human_bytes((uint64_t)bps, rate, sizeof(rate));
	if (p->total > 0 && bps > 0 && n <= p->total)
		snprintf(eta, sizeof(eta), ", ETA %.0f s",
		    (p->total - n) / bps);
	if (p->total > 0) {
		human_bytes(p->total, tot, sizeof(tot));
		fprintf(stderr, "\r\033[K%s: %s of %s (%.0f%%), %s/s%s",
		    p->label, done, tot, 100.0 * n / p->total, rate, eta);
	} else
		fprintf(stderr, "\r\033[K%s: %s, %s/s", p->label, done, rate);
	p->drawn = 1;
}

struct progress *
progress_start(const char *label, uint64_t total, uint64_t (*bytes)(void *),
    void *arg)
{
	struct progress	*p;
	struct timeval	 sec = { 1, 0 };

	if (!isatty(STDERR_FILENO))
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->label = xstrdup(label);
	p->total = total;
	p->bytes = bytes;
	p->arg = arg;
	p->start_ms = now_ms();
	p->ev = event_new(reactor_base(), -1, EV_PERSIST, draw, p);
	evtimer_add(p->ev, &sec);
	return p;
}

void
progress_stop(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->drawn)
		fprintf(stderr, "\r\033[K");
	event_free(p->ev);
	free(p->label);
	free(p);
}
