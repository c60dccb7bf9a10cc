/*
 * test_s3_limits.c - the time bounds of an S3 request (plugins/s3/
 * s3_limits.c) at the curl option level: the values computed for
 * `timeout = 5s', the defaults and rounding; the exact options
 * s3_limits_apply() sets (curl_easy_setopt is wrapped: every call is
 * recorded, then passed on to libcurl); and real transfers against
 * servers on 127.0.0.1 that accept and never answer, never accept, or
 * trickle, which must end with CURLE_OPERATION_TIMEDOUT in the time the
 * options promise.  A unit mix-up (the option's milliseconds handed to
 * curl as seconds) fails every one of these.
 */
#include "zb-build.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CURL_DISABLE_TYPECHECK	/* this file defines curl_easy_setopt */
#include <curl/curl.h>

#include "s3_limits.h"
#include "testlib.h"

/* ---- curl_easy_setopt, recorded ----------------------------------------- */

#define MAX_SET	64

static struct {
	CURLoption	 opt;
	long		 lval;
} set[MAX_SET];
static size_t	 nset;

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	static CURLcode	(*real)(CURL *, CURLoption, ...);
	va_list		 ap;
	long		 l = 0;
	void		*p = NULL;
	curl_off_t	 o = 0;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "curl_easy_setopt");
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		l = va_arg(ap, long);
	else if (opt < CURLOPTTYPE_OFF_T)
		p = va_arg(ap, void *);
	else
		o = va_arg(ap, curl_off_t);
	va_end(ap);
	if (nset < MAX_SET) {
		set[nset].opt = opt;
		set[nset].lval = l;
		nset++;
	}
	if (real == NULL)
		return CURLE_FAILED_INIT;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		return real(h, opt, l);
	if (opt < CURLOPTTYPE_OFF_T)
		return real(h, opt, p);
	return real(h, opt, o);
}

/* The value last set for opt; -1 if it never was. */
static long
was_set(CURLoption opt)
{
	long	 v = -1;
	size_t	 i;

	for (i = 0; i < nset; i++)
		if (set[i].opt == opt)
			v = set[i].lval;
	return v;
}

/* ---- computed values ----------------------------------------------------- */

static void
limits(int64_t to, int64_t req, int64_t xfer, enum s3_req_kind kind,
    struct s3_limits *l)
{
	struct s3_timeouts	 t = { to, req, xfer };

	memset(l, 0xa5, sizeof(*l));
	s3_limits_for(&t, kind, l);
}

Test(s3_limits, timeout_5s_is_5000_ms_and_5_s)
{
	struct s3_limits	 l;

	limits(5000, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(l.connect_ms, 5000);
	cr_assert_eq(l.low_speed_limit, 1);
	cr_assert_eq(l.low_speed_time, 5);
	cr_assert_eq(l.total_ms, 300000);
	limits(5000, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_DATA, &l);
	cr_assert_eq(l.connect_ms, 5000);
	cr_assert_eq(l.low_speed_time, 5);
	cr_assert_eq(l.total_ms, 0, "a data transfer has no total bound");
}

Test(s3_limits, defaults)
{
	struct s3_limits	 l;

	limits(S3_TIMEOUT_DEFAULT_MS, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0,
	    S3_REQ_SMALL, &l);
	cr_assert_eq(l.connect_ms, 60000);
	cr_assert_eq(l.low_speed_time, 60);
	cr_assert_eq(l.total_ms, 300000);
	/* 0 (a sink's "no copy timeout") and less: the default. */
	limits(0, 1000, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(l.connect_ms, 60000);
	cr_assert_eq(l.low_speed_time, 60);
	limits(-5, 1000, 0, S3_REQ_DATA, &l);
	cr_assert_eq(l.connect_ms, 60000);
}

Test(s3_limits, stall_seconds_round_up)
{
	struct s3_limits	 l;

	limits(1500, 2000, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(l.connect_ms, 1500);
	cr_assert_eq(l.low_speed_time, 2);
	cr_assert_eq(l.total_ms, 2000);
	limits(100, 2000, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(l.low_speed_time, 1, "never 0: that turns it off");
	limits(86400000, 86400000, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(l.connect_ms, 86400000);
	cr_assert_eq(l.low_speed_time, 86400);
}

Test(s3_limits, transfer_timeout_caps_data_only)
{
	struct s3_limits	 l;

	limits(5000, 60000, 3600000, S3_REQ_DATA, &l);
	cr_assert_eq(l.total_ms, 3600000);
	limits(5000, 60000, 3600000, S3_REQ_SMALL, &l);
	cr_assert_eq(l.total_ms, 60000);
}

/* ---- the options set ----------------------------------------------------- */

Test(s3_limits, apply_sets_the_ms_options)
{
	struct s3_limits	 l;
	CURL			*h = curl_easy_init();

	cr_assert_not_null(h);
	limits(5000, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_SMALL, &l);
	nset = 0;
	s3_limits_apply(h, &l);
	cr_assert_eq(was_set(CURLOPT_CONNECTTIMEOUT_MS), 5000);
	cr_assert_eq(was_set(CURLOPT_LOW_SPEED_LIMIT), 1);
	cr_assert_eq(was_set(CURLOPT_LOW_SPEED_TIME), 5);
	cr_assert_eq(was_set(CURLOPT_TIMEOUT_MS), 300000);
	cr_assert_eq(was_set(CURLOPT_CONNECTTIMEOUT), -1, "seconds: unused");
	cr_assert_eq(was_set(CURLOPT_TIMEOUT), -1, "seconds: unused");
	cr_assert_eq(nset, 4);

	limits(S3_TIMEOUT_DEFAULT_MS, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0,
	    S3_REQ_DATA, &l);
	nset = 0;
	s3_limits_apply(h, &l);
	cr_assert_eq(was_set(CURLOPT_CONNECTTIMEOUT_MS), 60000);
	cr_assert_eq(was_set(CURLOPT_LOW_SPEED_TIME), 60);
	cr_assert_eq(was_set(CURLOPT_TIMEOUT_MS), 0);
	curl_easy_cleanup(h);
}

/* ---- real transfers ------------------------------------------------------ */

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A socket listening on 127.0.0.1 (backlog as given); its port in *port. */
static int
listener(int backlog, int *port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 s = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(s, backlog), 0);
	getsockname(s, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return s;
}

static size_t
sink_body(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* GET http://127.0.0.1:port/ with l; the result, the seconds in *secs. */
static CURLcode
get(int port, const struct s3_limits *l, double *secs)
{
	CURL		*h = curl_easy_init();
	CURLcode	 rc;
	char		 url[64];
	double		 t0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_body);
	s3_limits_apply(h, l);
	t0 = mono();
	rc = curl_easy_perform(h);
	*secs = mono() - t0;
	curl_easy_cleanup(h);
	return rc;
}

/* Accepted by the kernel, never answered: the stall bound ends it. */
Test(s3_limits, stalled_server_ends_at_the_stall_bound, .timeout = 30)
{
	struct s3_limits	 l;
	double			 secs;
	int			 s, port;

	s = listener(16, &port);
	limits(1000, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(get(port, &l, &secs), CURLE_OPERATION_TIMEDOUT);
	cr_assert(secs >= 0.9 && secs < 4.0, "took %.2f s", secs);
	limits(1000, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_DATA, &l);
	cr_assert_eq(get(port, &l, &secs), CURLE_OPERATION_TIMEDOUT);
	cr_assert(secs >= 0.9 && secs < 4.0, "took %.2f s", secs);
	close(s);
}

/* A full accept queue drops the SYN: the connect bound ends it. */
Test(s3_limits, unaccepted_connect_ends_at_the_connect_bound, .timeout = 30)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct s3_limits	 l;
	double			 secs;
	int			 s, port, c[4], i;

	s = listener(0, &port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	for (i = 0; i < 4; i++) {	/* fill the queue */
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(c[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(200000);
	limits(700, S3_REQUEST_TIMEOUT_DEFAULT_MS, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(get(port, &l, &secs), CURLE_OPERATION_TIMEDOUT);
	cr_assert(secs >= 0.6 && secs < 2.5, "took %.2f s", secs);
	for (i = 0; i < 4; i++)
		close(c[i]);
	close(s);
}

/* One byte every 100 ms never stalls; request_timeout ends it. */
Test(s3_limits, trickle_ends_at_the_total_bound, .timeout = 30)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Length: "
	    "100000\r\n\r\n";
	struct s3_limits	 l;
	double			 secs;
	char			 buf[4096];
	pid_t			 pid;
	int			 s, port, c, i;

	s = listener(4, &port);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		c = accept(s, NULL, NULL);
		(void)read(c, buf, sizeof(buf));
		(void)write(c, hdr, sizeof(hdr) - 1);
		for (i = 0; i < 1000; i++) {
			if (write(c, "x", 1) != 1)
				break;
			usleep(100000);
		}
		_exit(0);
	}
	limits(2000, 1500, 0, S3_REQ_SMALL, &l);
	cr_assert_eq(get(port, &l, &secs), CURLE_OPERATION_TIMEDOUT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(s);
	cr_assert(secs >= 1.4 && secs < 3.0, "took %.2f s", secs);
}
