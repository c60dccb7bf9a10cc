/*
 * test_toolkit_http.c - the HTTP adapters of ABI 1.5 (core/toolkit_http.c)
 * against tests/fakes/http_faults.py on 127.0.0.1 (started per test,
 * stopped by its PID): the request's retry policy (503 then OK,
 * idempotent methods only, Retry-After in seconds and as a date, the
 * deadline, per-attempt headers, redirects, the body cap, the error line
 * that never carries request headers), the download producer (a slow
 * consumer's pauses, a broken transfer resumed with Range, a 200 to a
 * Range accepted only with the same ETag, a short body, refusals), and
 * the upload writer (Content-Length or chunked, multipart/form-data,
 * backpressure, an early answer, a short body).
 *
 * The stream and the writer are stand-ins with their own io_vtbl, so
 * what the adapters push, and when, is seen directly.
 */
#include "zb-build.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "http.h"
#include "io.h"
#include "reactor.h"
#include "toolkit.h"
#include "testlib.h"

extern char **environ;

static pid_t	 server_pid = -1;
static int	 port;
static char	*dir;

static unsigned char
blob_byte(size_t i)
{
	return (unsigned char)((i * 7 + i / 1000) & 255);
}

static void
setup(void)
{
	char	*pf, *script;
	char	*argv[] = { "python3", NULL, "--port", "0", "--port-file",
	    NULL, NULL };
	FILE	*f;
	int	 i;

	test_log_start();
	reactor_init();
	cr_assert_eq(http_init(NULL), 0);
	dir = test_tmpdir();
	pf = xasprintf("%s/port", dir);
	script = xasprintf("%s/tests/fakes/http_faults.py",
	    getenv("ZB_SRCDIR") != NULL ? getenv("ZB_SRCDIR") : "..");
	argv[1] = script;
	argv[5] = pf;
	if (posix_spawnp(&server_pid, "python3", NULL, NULL, argv,
	    environ) != 0)
		cr_skip_test("python3 is not available");
	for (i = 0; i < 800; i++) {	/* 20 s: a loaded make -j check */
		f = fopen(pf, "r");
		if (f != NULL) {
			cr_assert_eq(fscanf(f, "%d", &port), 1);
			fclose(f);
			break;
		}
		usleep(25000);
	}
	cr_assert_gt(port, 0, "http_faults.py did not start");
	free(pf);
	free(script);
}

static void
teardown(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	http_free();
	reactor_free();
	rm_rf(dir);
	free(dir);
}

TestSuite(toolkit_http, .init = setup, .fini = teardown, .timeout = 60);

/* Strings the callbacks record stay reachable (no leak reports). */
static char	*kept[512];
static size_t	 nkept;

static char *
keep(char *s)
{
	if (nkept < sizeof(kept) / sizeof(kept[0]))
		kept[nkept++] = s;
	return s;
}

static char *
url(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", port, path);
}

static void
loop_until(const int *flag)
{
	while (!*flag)
		event_base_loop(reactor_base(), EVLOOP_ONCE);
}


static void
on_timer(void *arg)
{
	*(int *)arg = 1;
}

static void
loop_for(uint64_t ms)
{
	int	 fired = 0;

	reactor_timer_add(ms, on_timer, &fired);
	loop_until(&fired);
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char	 md[32];
	unsigned int	 len = 0;
	int		 i;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- http_request -------------------------------------------------------- */

struct rq {
	int	 done;
	int	 curlcode;
	long	 status;
	int	 attempts;
	char	*error;
	char	*body;
	size_t	 body_len;
	char	*retry_after;
	char	*etag_at;		/* found by header_at */
	int	 on_attempt_calls;
	int	 fail_attempt;		/* on_attempt refuses this one */
	uint64_t t_done;
};

static void
rq_done(void *arg, const struct zb_http_resp *r)
{
	struct rq	*q = arg;
	const char	*ra, *name, *val;
	size_t		 i;

	cr_assert_eq(r->struct_size, sizeof(*r));
	q->done++;
	q->curlcode = r->curlcode;
	q->status = r->status;
	q->attempts = r->attempts;
	q->error = keep(xstrdup(r->error != NULL ? r->error : "(null)"));
	if (r->body != NULL) {
		cr_assert_eq(r->body[r->body_len], '\0');
		q->body = keep(xmalloc(r->body_len + 1));
		memcpy(q->body, r->body, r->body_len + 1);
	}
	q->body_len = r->body_len;
	ra = r->header(r, "RETRY-after");
	q->retry_after = ra != NULL ? keep(xstrdup(ra)) : NULL;
	for (i = 0; (name = r->header_at(r, i, &val)) != NULL; i++)
		if (strcasecmp(name, "etag") == 0)
			q->etag_at = keep(xstrdup(val));
	q->t_done = now_ms();
}

static int
rq_attempt(void *arg, struct zb_http_req *req, int attempt)
{
	struct rq	*q = arg;
	char		 v[32];

	q->on_attempt_calls++;
	if (attempt == q->fail_attempt)
		return ZB_ERR;
	snprintf(v, sizeof(v), "sig-%d", attempt);
	toolkit_http_set_header(req, "X-Sig", v);
	toolkit_http_set_header(req, "X-Sig", v);	/* replaces */
	return ZB_OK;
}

static void
spec_init(struct zb_http_spec *s, struct rq *q, const char *u)
{
	memset(s, 0, sizeof(*s));
	memset(q, 0, sizeof(*q));
	s->struct_size = sizeof(*s);
	s->url = u;
	s->retry.base_ms = 10;
	s->retry.cap_ms = 50;
	s->resp_max = 1 << 20;
	s->done = rq_done;
	s->arg = q;
}

static void
run_request(struct zb_http_spec *s, struct rq *q)
{
	cr_assert_not_null(toolkit_http_request(NULL, s));
	cr_assert_eq(q->done, 0, "done before http_request returned");
	loop_until(&q->done);
}

Test(toolkit_http, request_503_then_ok)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=100&fail=2");
	size_t			 i;

	spec_init(&s, &q, u);
	run_request(&s, &q);
	cr_assert_eq(q.curlcode, 0);
	cr_assert_eq(q.status, 200);
	cr_assert_eq(q.attempts, 3);
	cr_assert_str_empty(q.error);
	cr_assert_eq(q.body_len, 100);
	for (i = 0; i < 100; i++)
		cr_assert_eq((unsigned char)q.body[i], blob_byte(i));
	cr_assert_str_eq(q.etag_at, "\"blob-100\"");
	/* Retries are logged, without the query string. */
	free(u);
	u = xasprintf("GET http://127.0.0.1:%d/blob: HTTP 503 Service "
	    "Unavailable: busy, try later; retry 1 of 4 in ", port);
	assert_logged(u);
	assert_not_logged("fail=2");
	free(u);
}

Test(toolkit_http, post_is_not_retried_unless_allowed)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1");
	char			*u2 = url("/blob?size=11&fail=1");

	spec_init(&s, &q, u);
	s.method = "POST";
	s.body = "{}";
	s.body_len = 2;
	run_request(&s, &q);
	cr_assert_eq(q.status, 503);
	cr_assert_eq(q.attempts, 1);
	cr_assert_str_eq(q.error,
	    "HTTP 503 Service Unavailable: busy, try later");

	spec_init(&s, &q, u2);
	s.method = "POST";
	s.body = "{}";
	s.body_len = 2;
	s.retry.retry_unsafe = 1;
	run_request(&s, &q);
	cr_assert_eq(q.status, 200);
	cr_assert_eq(q.attempts, 2);
	free(u);
	free(u2);
}

/*
 * ABI 1.8 body_kept: the host sends the caller's bytes as they are when
 * curl reads them (no copy), also on a retry; without it, a copy made at
 * the call.  The buffer is changed after http_request() returned and
 * before the loop ran: what the server hashed tells which was sent.
 */
Test(toolkit_http, kept_body_is_sent_from_the_callers_buffer)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/echo?fail=1");
	char			*u2 = url("/echo");
	char			 before[65], after[65], *want;
	static char		 body[300000];

	memset(body, 'a', sizeof(body));
	sha256_hex(body, sizeof(body), before);
	memset(body, 'b', sizeof(body));
	sha256_hex(body, sizeof(body), after);

	memset(body, 'a', sizeof(body));
	spec_init(&s, &q, u);
	s.method = "PUT";
	s.body = body;
	s.body_len = sizeof(body);
	s.body_kept = 1;
	cr_assert_not_null(toolkit_http_request(NULL, &s));
	memset(body, 'b', sizeof(body));
	loop_until(&q.done);
	cr_assert_eq(q.status, 200, "%s", q.error);
	cr_assert_eq(q.attempts, 2, "one 503, then the body again");
	want = xasprintf("\"sha256\": \"%s\"", after);
	cr_assert(strstr(q.body, "\"len\": 300000") != NULL, "%s", q.body);
	cr_assert(strstr(q.body, want) != NULL, "kept: the buffer as it is "
	    "now; %s", q.body);
	free(want);

	memset(body, 'a', sizeof(body));
	spec_init(&s, &q, u2);
	s.method = "PUT";
	s.body = body;
	s.body_len = sizeof(body);
	cr_assert_not_null(toolkit_http_request(NULL, &s));
	memset(body, 'b', sizeof(body));
	loop_until(&q.done);
	cr_assert_eq(q.status, 200, "%s", q.error);
	want = xasprintf("\"sha256\": \"%s\"", before);
	cr_assert(strstr(q.body, want) != NULL, "copied: the buffer as it "
	    "was at the call; %s", q.body);
	free(want);
	free(u);
	free(u2);
}

Test(toolkit_http, retry_after_seconds_is_honoured)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1&retry_after=1");
	uint64_t		 t0 = now_ms();

	spec_init(&s, &q, u);
	s.retry.base_ms = 1;
	s.retry.cap_ms = 1;
	run_request(&s, &q);
	cr_assert_eq(q.status, 200);
	cr_assert_eq(q.attempts, 2);
	cr_assert_geq(q.t_done - t0, 1000, "waited %llu ms, not the 1 s "
	    "Retry-After asked", (unsigned long long)(q.t_done - t0));
	free(u);
}

Test(toolkit_http, retry_after_date_is_honoured)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1&retry_date=2");
	uint64_t		 t0 = now_ms();

	spec_init(&s, &q, u);
	s.retry.base_ms = 1;
	s.retry.cap_ms = 1;
	run_request(&s, &q);
	cr_assert_eq(q.status, 200);
	cr_assert_eq(q.attempts, 2);
	/* An HTTP date has whole seconds: at least 1 s of the 2 asked. */
	cr_assert_geq(q.t_done - t0, 1000, "waited %llu ms only",
	    (unsigned long long)(q.t_done - t0));
	free(u);
}

Test(toolkit_http, retry_after_past_the_deadline_gives_up)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1&retry_after=30");
	uint64_t		 t0 = now_ms();

	/* A Retry-After beyond the deadline ends it at once, not at the
	 * deadline: the bound sits well below the deadline but leaves a
	 * loaded machine time for the one request. */
	spec_init(&s, &q, u);
	s.retry.deadline_ms = 20000;
	run_request(&s, &q);
	cr_assert_eq(q.status, 503);
	cr_assert_eq(q.attempts, 1);
	cr_assert_str_eq(q.retry_after, "30");
	cr_assert_lt(q.t_done - t0, 10000, "took %llu ms",
	    (unsigned long long)(q.t_done - t0));
	free(u);
}

Test(toolkit_http, deadline_ends_the_retries)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1000");
	uint64_t		 t0 = now_ms();

	spec_init(&s, &q, u);
	s.retry.max_attempts = 1000;
	s.retry.base_ms = 100;
	s.retry.cap_ms = 100;
	s.retry.deadline_ms = 2000;
	run_request(&s, &q);
	cr_assert_eq(q.status, 503);
	cr_assert_gt(q.attempts, 2);
	cr_assert_lt(q.attempts, 100);
	/* 1000 attempts 100 ms apart would take 100 s; the bound leaves a
	 * loaded machine time for the attempt in flight at the deadline. */
	cr_assert_lt(q.t_done - t0, 8000, "took %llu ms",
	    (unsigned long long)(q.t_done - t0));
	cr_assert(strstr(q.error, "HTTP 503 Service Unavailable: busy, try "
	    "later (after ") != NULL, "error: %s", q.error);
	free(u);
}

Test(toolkit_http, max_attempts_bounds_the_retries)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=10&fail=1000");

	spec_init(&s, &q, u);
	s.retry.max_attempts = 3;
	run_request(&s, &q);
	cr_assert_eq(q.status, 503);
	cr_assert_eq(q.attempts, 3);
	cr_assert(strstr(q.error, "(after 3 attempts") != NULL, "%s",
	    q.error);
	free(u);
}

Test(toolkit_http, error_line_never_has_request_headers)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	struct zb_http_header	 h[] = { { "X-Secret-Token", "hunter2" } };
	char			*u = url("/status/404");

	spec_init(&s, &q, u);
	s.headers = h;
	s.nheaders = 1;
	run_request(&s, &q);
	cr_assert_eq(q.status, 404);
	cr_assert_eq(q.attempts, 1, "a 404 is not retried");
	cr_assert_str_eq(q.error, "HTTP 404 Not Found: line one");
	cr_assert_str_eq(q.body, "line one\nline two");
	assert_not_logged("hunter2");
	free(u);
}

Test(toolkit_http, on_attempt_sets_headers_per_attempt)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/echo?fail=1");

	spec_init(&s, &q, u);
	s.on_attempt = rq_attempt;
	run_request(&s, &q);
	cr_assert_eq(q.status, 200);
	cr_assert_eq(q.attempts, 2);
	cr_assert_eq(q.on_attempt_calls, 2);
	cr_assert(strstr(q.body, "\"x-sig\": \"sig-2\"") != NULL, "%s",
	    q.body);
	cr_assert(strstr(q.body, "sig-1") == NULL, "%s", q.body);
	free(u);
}

Test(toolkit_http, on_attempt_failure_ends_the_request)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/echo?fail=1");

	spec_init(&s, &q, u);
	s.on_attempt = rq_attempt;
	q.fail_attempt = 2;
	run_request(&s, &q);
	cr_assert_eq(q.curlcode, -1);
	cr_assert_eq(q.on_attempt_calls, 2);
	cr_assert(strstr(q.error, "on_attempt") != NULL, "%s", q.error);
	free(u);
}

Test(toolkit_http, redirect_followed_with_the_headers)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	struct zb_http_header	 h[] = { { "X-Vault-Token", "tok" },
	    { "Authorization", "Bearer abc" } };
	char			*u = url("/redirect?to=/echo");

	spec_init(&s, &q, u);
	s.headers = h;
	s.nheaders = 2;
	run_request(&s, &q);
	cr_assert_eq(q.status, 307, "not followed unless asked");

	spec_init(&s, &q, u);
	s.headers = h;
	s.nheaders = 2;
	s.follow_redirects = 1;
	run_request(&s, &q);
	cr_assert_eq(q.status, 200);
	cr_assert(strstr(q.body, "\"x-vault-token\": \"tok\"") != NULL, "%s",
	    q.body);
	cr_assert(strstr(q.body, "\"authorization\": \"Bearer abc\"") !=
	    NULL, "%s", q.body);
	free(u);
}

Test(toolkit_http, body_over_resp_max_fails)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=5000");

	spec_init(&s, &q, u);
	s.resp_max = 1000;
	run_request(&s, &q);
	cr_assert_neq(q.curlcode, 0);
	cr_assert_str_eq(q.error, "response over 1000 bytes");
	cr_assert_eq(q.attempts, 1);
	free(u);
}

Test(toolkit_http, refused_connection_after_attempts)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u;
	int			 fd, p;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	p = ntohs(sin.sin_port);
	close(fd);
	u = xasprintf("http://127.0.0.1:%d/x", p);
	spec_init(&s, &q, u);
	s.retry.max_attempts = 2;
	run_request(&s, &q);
	cr_assert_eq(q.curlcode, CURLE_COULDNT_CONNECT);
	cr_assert_eq(q.attempts, 2);
	cr_assert(strstr(q.error, "(after 2 attempts") != NULL, "%s",
	    q.error);
	free(u);
}

Test(toolkit_http, stalled_attempt_times_out)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/hang");
	uint64_t		 t0 = now_ms();

	spec_init(&s, &q, u);
	s.retry.max_attempts = 1;
	s.retry.timeout_ms = 1000;
	run_request(&s, &q);
	cr_assert_eq(q.curlcode, CURLE_OPERATION_TIMEDOUT);
	cr_assert_lt(q.t_done - t0, 5000);
	free(u);
}

Test(toolkit_http, total_ms_bounds_a_trickling_attempt)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*u = url("/blob?size=3000000&slow_ms=300");
	uint64_t		 t0 = now_ms();

	/* 46 slices of 64 KiB 300 ms apart take 14 s; total_ms ends it
	 * after 1 s, the bound leaves a loaded machine some slack. */
	spec_init(&s, &q, u);
	s.retry.max_attempts = 1;
	s.resp_max = 4000000;
	s.total_ms = 1000;
	run_request(&s, &q);
	cr_assert_eq(q.curlcode, CURLE_OPERATION_TIMEDOUT, "%s", q.error);
	cr_assert_lt(q.t_done - t0, 7000, "took %llu ms",
	    (unsigned long long)(q.t_done - t0));
	free(u);
}

Test(toolkit_http, cancelled_request_never_calls_done)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	struct zb_http_req	*r;
	char			*u = url("/blob?size=10&fail=1&retry_after=1");

	spec_init(&s, &q, u);
	r = toolkit_http_request(NULL, &s);
	cr_assert_not_null(r);
	loop_for(300);		/* the 503 came; the retry waits */
	toolkit_http_request_cancel(r);
	loop_for(1500);
	cr_assert_eq(q.done, 0);
	free(u);
}

/* ---- http_download ------------------------------------------------------- */

struct dl {
	struct zb_io			 io;	/* first */
	const struct zb_producer_ops	*ops;
	void				*pctx;
	unsigned char			*got;
	size_t				 len, cap;
	int				 paused;
	int				 pushed_while_paused;
	size_t				 pause_every;	/* 0: never */
	size_t				 since_pause;
	int				 pauses;
	int				 done;
	int				 status;
	char				*msg;
	int				 closed;
	int				 responses;
	int64_t				 resp_length;
	int				 refuse_response;
	size_t				 refuse_data_at;	/* 0: never */
	size_t				 on_data_bytes;
};

static void *volatile dl_got;	/* written only: volatile */

static void
dl_resume_later(void *arg)
{
	struct dl	*d = arg;

	d->paused = 0;
	d->ops->resume(d->pctx);
}

static int
dl_push(struct zb_io *io, const void *p, size_t n)
{
	struct dl	*d = (struct dl *)io;

	if (d->paused)
		d->pushed_while_paused = 1;
	if (d->len + n > d->cap) {
		d->cap = (d->len + n) * 2;
		d->got = realloc(d->got, d->cap);
		dl_got = d->got;	/* reachable: no leak report */
	}
	memcpy(d->got + d->len, p, n);
	d->len += n;
	d->since_pause += n;
	if (d->pause_every > 0 && d->since_pause >= d->pause_every) {
		d->since_pause = 0;
		d->paused = 1;
		d->pauses++;
		d->ops->pause(d->pctx);
		reactor_timer_add(20, dl_resume_later, d);
		return ZB_AGAIN;
	}
	return ZB_OK;
}

static void
dl_done(struct zb_io *io, int status, const char *msg)
{
	struct dl	*d = (struct dl *)io;

	d->done++;
	d->status = status;
	d->msg = msg != NULL ? keep(xstrdup(msg)) : NULL;
}

static const struct io_vtbl dl_vtbl = {
	.kind = "stream",
	.push = dl_push,
	.done = dl_done,
};

static int
dl_on_response(void *arg, const struct zb_http_resp *r, char *err,
    size_t errlen)
{
	struct dl	*d = arg;
	const char	*cl = r->header(r, "content-length");

	d->responses++;
	d->resp_length = cl != NULL ? strtoll(cl, NULL, 10) : -1;
	if (d->refuse_response) {
		snprintf(err, errlen, "no thanks: %ld", r->status);
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
dl_on_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct dl	*d = arg;

	d->on_data_bytes += n;
	if (d->refuse_data_at > 0 && d->on_data_bytes >= d->refuse_data_at) {
		snprintf(err, errlen, "bad bytes at %zu", d->on_data_bytes);
		return ZB_ERR;
	}
	return ZB_OK;
}

static void
dl_on_close(void *arg)
{
	((struct dl *)arg)->closed++;
}

static void
dl_spec(struct zb_http_download_spec *s, struct dl *d, const char *u)
{
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	d->io.vt = &dl_vtbl;
	s->struct_size = sizeof(*s);
	s->url = u;
	s->retry.base_ms = 10;
	s->retry.cap_ms = 50;
	s->on_response = dl_on_response;
	s->on_data = dl_on_data;
	s->on_close = dl_on_close;
	s->arg = d;
}

static void
run_download(struct zb_http_download_spec *s, struct dl *d)
{
	cr_assert_eq(toolkit_http_download(&d->io, s, &d->ops, &d->pctx),
	    ZB_OK);
	loop_until(&d->done);
	cr_assert_eq(d->done, 1);
	d->ops->close(d->pctx);
	cr_assert_eq(d->closed, 1);
}

static void
assert_blob(const struct dl *d, size_t size)
{
	size_t	 i;

	cr_assert_eq(d->len, size, "got %zu bytes of %zu", d->len, size);
	for (i = 0; i < size; i++)
		if (d->got[i] != blob_byte(i))
			cr_assert_fail("byte %zu differs", i);
}

/* What the server says about path: /count or /statuses. */
static char *
server_says(const char *what, const char *path)
{
	struct zb_http_spec	 s;
	struct rq		 q;
	char			*esc, *u;
	CURL			*c = curl_easy_init();

	esc = curl_easy_escape(c, path, 0);
	u = xasprintf("http://127.0.0.1:%d/%s?path=%s", port, what, esc);
	spec_init(&s, &q, u);
	run_request(&s, &q);
	curl_free(esc);
	curl_easy_cleanup(c);
	free(u);
	return q.body;
}

static int
server_count(const char *path)
{
	return (int)strtol(server_says("count", path), NULL, 10);
}

Test(toolkit_http, download_with_a_slow_consumer)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=3000000");

	dl_spec(&s, &d, u);
	d.pause_every = 256 * 1024;
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_OK, "%s", d.msg);
	assert_blob(&d, 3000000);
	cr_assert_gt(d.pauses, 5);
	cr_assert_not(d.pushed_while_paused, "pushed while paused");
	cr_assert_eq(d.responses, 1);
	cr_assert_eq(d.resp_length, 3000000);
	cr_assert_eq(d.on_data_bytes, 3000000);
	free(u);
}

Test(toolkit_http, download_503_then_ok)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=1000&fail=2");

	dl_spec(&s, &d, u);
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_OK, "%s", d.msg);
	assert_blob(&d, 1000);
	cr_assert_eq(d.responses, 1, "on_response sees the 2xx answer once");
	free(u);
}

Test(toolkit_http, download_resumes_with_range)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	const char			*path =
	    "/blob?size=1000000&drop=300000";
	char				*u = url(path);

	dl_spec(&s, &d, u);
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_OK, "%s", d.msg);
	assert_blob(&d, 1000000);
	cr_assert_eq(d.responses, 1);
	cr_assert_eq(server_count(path), 2);
	cr_assert_str_eq(server_says("statuses", path), "200,206");
	assert_logged("resuming at byte 300000, retry 1 of 4 in ");
	free(u);
}

Test(toolkit_http, download_200_to_a_range_with_the_same_etag_skips)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u =
	    url("/blob?size=1000000&drop=300000&norange=1");

	dl_spec(&s, &d, u);
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_OK, "%s", d.msg);
	assert_blob(&d, 1000000);
	free(u);
}

Test(toolkit_http, download_200_to_a_range_with_another_etag_fails)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=1000000"
	    "&drop=300000&norange=1&etag_change=1");

	dl_spec(&s, &d, u);
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert(strstr(d.msg, "another ETag: cannot resume") != NULL,
	    "%s", d.msg);
	cr_assert_eq(d.len, 300000, "nothing after the break was pushed");
	free(u);
}

Test(toolkit_http, download_short_body_fails)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=50000&short=1");

	dl_spec(&s, &d, u);
	s.retry.max_attempts = 1;
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert_lt(d.len, 50000);
	cr_assert_str_eq(d.msg, "Transferred a partial file");
	cr_assert_eq(d.len, 49900);
	free(u);
}

Test(toolkit_http, download_short_body_every_time_fails_after_retries)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=50000&short=1");

	dl_spec(&s, &d, u);
	s.retry.max_attempts = 3;
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert(strstr(d.msg, "(after 3 attempts") != NULL, "%s", d.msg);
	free(u);
}

Test(toolkit_http, download_404_pushes_nothing)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/status/404");

	dl_spec(&s, &d, u);
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert_str_eq(d.msg, "HTTP 404 Not Found: line one");
	cr_assert_eq(d.len, 0);
	cr_assert_eq(d.responses, 0);
	free(u);
}

Test(toolkit_http, download_refused_by_on_response)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=1000");

	dl_spec(&s, &d, u);
	d.refuse_response = 1;
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert_str_eq(d.msg, "no thanks: 200");
	cr_assert_eq(d.len, 0);
	free(u);
}

Test(toolkit_http, download_refused_by_on_data)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=1000000");

	dl_spec(&s, &d, u);
	d.refuse_data_at = 100000;
	run_download(&s, &d);
	cr_assert_eq(d.status, ZB_ERR);
	cr_assert(strncmp(d.msg, "bad bytes at ", 13) == 0, "%s", d.msg);
	cr_assert_lt(d.len, 1000000);
	free(u);
}

static void
on_end_record(void *arg, int status, const char *msg)
{
	struct dl	*d = arg;

	/* The plugin finishes the stream itself, later. */
	d->status = status;
	d->msg = msg != NULL ? keep(xstrdup(msg)) : NULL;
	d->done = 100;
}

Test(toolkit_http, download_on_end_replaces_done)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u = url("/blob?size=1000");

	dl_spec(&s, &d, u);
	s.on_end = on_end_record;
	cr_assert_eq(toolkit_http_download(&d.io, &s, &d.ops, &d.pctx),
	    ZB_OK);
	loop_until(&d.done);
	cr_assert_eq(d.done, 100, "done() was called despite on_end");
	cr_assert_eq(d.status, ZB_OK);
	d.ops->close(d.pctx);
	assert_blob(&d, 1000);
	free(u);
}

Test(toolkit_http, download_closed_midway)
{
	struct zb_http_download_spec	 s;
	struct dl			 d;
	char				*u =
	    url("/blob?size=3000000&slow_ms=50");

	dl_spec(&s, &d, u);
	cr_assert_eq(toolkit_http_download(&d.io, &s, &d.ops, &d.pctx),
	    ZB_OK);
	while (d.len < 100000)
		event_base_loop(reactor_base(), EVLOOP_ONCE);
	d.ops->close(d.pctx);
	cr_assert_eq(d.closed, 1);
	loop_for(300);
	cr_assert_eq(d.done, 0);
	cr_assert_eq(http_running(), 0);
	free(u);
}

/* ---- http_upload --------------------------------------------------------- */

struct up {
	struct zb_io			 io;	/* first */
	const struct zb_writer_ops	*ops;
	void				*wctx;
	int				 ready;
	int				 agains;
	int				 done;
	int				 status;
	char				*msg;
	char				*body;
	int				 aborted;
	int				 responses;
	int				 later;	/* on_response: ZB_AGAIN */
};

static void
up_ready(struct zb_io *io)
{
	((struct up *)io)->ready = 1;
}

static void
up_done(struct zb_io *io, int status, const char *msg)
{
	struct up	*u = (struct up *)io;

	u->done++;
	u->status = status;
	u->msg = msg != NULL ? keep(xstrdup(msg)) : NULL;
}

static const struct io_vtbl up_vtbl = {
	.kind = "writer",
	.done = up_done,
	.ready = up_ready,
};

/* The plugin's follow-up request ended: it ends the writer itself. */
static void
up_done_later(void *arg)
{
	struct up	*u = arg;

	u->later = 2;
	io_done(&u->io, ZB_OK, "done by the plugin");
}

static int
up_on_response(void *arg, const struct zb_http_resp *r, char *err,
    size_t errlen)
{
	struct up	*u = arg;

	u->responses++;
	if (u->later) {
		reactor_timer_add(100, up_done_later, u);
		return ZB_AGAIN;
	}
	u->body = r->body != NULL ?
	    keep(xstrndup(r->body, r->body_len)) : NULL;
	if (r->status != 200) {
		snprintf(err, errlen, "upload refused: %s", r->error);
		return ZB_ERR;
	}
	return ZB_OK;
}

static void
up_on_abort(void *arg)
{
	((struct up *)arg)->aborted++;
}

static void
up_spec(struct zb_http_upload_spec *s, struct up *u, const char *url_)
{
	memset(s, 0, sizeof(*s));
	memset(u, 0, sizeof(*u));
	u->io.vt = &up_vtbl;
	s->struct_size = sizeof(*s);
	s->url = url_;
	s->size = -1;
	s->retry.base_ms = 10;
	s->resp_max = 65536;
	s->on_response = up_on_response;
	s->on_abort = up_on_abort;
	s->arg = u;
}

/*
 * Write len bytes of the blob in chunks of csize as the stream would: a
 * ZB_AGAIN is followed by the same chunk once ready() came.  Returns the
 * last write's status.
 */
static int
feed(struct up *u, size_t len, size_t csize)
{
	unsigned char	*data = malloc(len + 1);
	struct zb_chunk	 c;
	size_t		 off = 0, i;
	int		 rc = ZB_OK;

	for (i = 0; i < len; i++)
		data[i] = blob_byte(i);
	while (off < len) {
		c.data = data + off;
		c.len = len - off < csize ? len - off : csize;
		u->ready = 0;
		rc = u->ops->write(u->wctx, &c);
		if (rc == ZB_ERR)
			break;
		if (rc == ZB_AGAIN) {
			u->agains++;
			loop_until(&u->ready);
			continue;
		}
		off += c.len;
	}
	free(data);
	return rc;
}

static void
commit_and_wait(struct up *u)
{
	int	 rc = u->ops->commit(u->wctx);

	if (rc == ZB_AGAIN)
		loop_until(&u->done);
	else
		u->status = rc;
}

static void
assert_has(const char *body, const char *s)
{
	cr_assert(body != NULL && strstr(body, s) != NULL,
	    "expected %s in %s", s, body != NULL ? body : "(null)");
}

static void
check_upload(size_t len, int64_t size, const char *method, const char *field)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload"), hex[65], *want;
	unsigned char			*data = malloc(len + 1);
	size_t				 i;

	for (i = 0; i < len; i++)
		data[i] = blob_byte(i);
	sha256_hex(data, len, hex);
	up_spec(&s, &u, ur);
	s.method = method;
	s.size = size;
	s.form_field = field;
	s.form_filename = "snap \"1\".snapshot";
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, len, 256 * 1024), ZB_OK);
	commit_and_wait(&u);
	cr_assert_eq(u.status, ZB_OK, "%s", u.msg);
	cr_assert_eq(u.responses, 1);
	assert_has(u.body, method != NULL ? method : "PUT");
	if (field == NULL) {
		want = xasprintf("\"len\": %zu", len);
		assert_has(u.body, want);
		free(want);
		want = xasprintf("\"sha256\": \"%s\"", hex);
		assert_has(u.body, want);
		free(want);
	} else {
		want = xasprintf("\"part\": {\"field\": \"%s\", \"filename\": "
		    "\"snap _1_.snapshot\", \"type\": "
		    "\"application/octet-stream\", \"len\": %zu, \"sha256\": "
		    "\"%s\"}", field, len, hex);
		assert_has(u.body, want);
		free(want);
		assert_has(u.body, "multipart/form-data; boundary=");
	}
	if (size >= 0)
		assert_has(u.body, "\"transfer_encoding\": null");
	else
		assert_has(u.body, "\"transfer_encoding\": \"chunked\"");
	cr_assert_eq(u.aborted, 0);
	free(data);
	free(ur);
}

Test(toolkit_http, upload_put_with_length)
{
	check_upload(3000000, 3000000, NULL, NULL);
}

Test(toolkit_http, upload_put_chunked)
{
	check_upload(3000000, -1, NULL, NULL);
}

Test(toolkit_http, upload_post_chunked)
{
	check_upload(1000000, -1, "POST", NULL);
}

Test(toolkit_http, upload_post_with_length)
{
	check_upload(1000000, 1000000, "POST", NULL);
}

Test(toolkit_http, upload_multipart_with_length)
{
	check_upload(1000000, 1000000, "POST", "snapshot");
}

Test(toolkit_http, upload_multipart_chunked)
{
	check_upload(700000, -1, "POST", "snapshot");
}

Test(toolkit_http, upload_empty_body)
{
	check_upload(0, 0, "PUT", NULL);
}

Test(toolkit_http, upload_backpressure)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload");

	up_spec(&s, &u, ur);
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, 4000000, 256 * 1024), ZB_OK);
	cr_assert_gt(u.agains, 0, "the writer never said ZB_AGAIN");
	commit_and_wait(&u);
	cr_assert_eq(u.status, ZB_OK, "%s", u.msg);
	assert_has(u.body, "\"len\": 4000000");
	free(ur);
}

Test(toolkit_http, upload_refused_early)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload?early=401");
	int				 rc;

	up_spec(&s, &u, ur);
	s.on_response = NULL;
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	rc = feed(&u, 8000000, 256 * 1024);
	if (rc == ZB_ERR) {
		assert_logged("HTTP 401 Unauthorized: refused early");
		u.ops->abort(u.wctx);
	} else {
		commit_and_wait(&u);
		cr_assert_eq(u.status, ZB_ERR);
		cr_assert_str_eq(u.msg, "HTTP 401 Unauthorized: refused early");
	}
	cr_assert_eq(u.aborted, 1);
	free(ur);
}

Test(toolkit_http, upload_decided_by_on_response)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/status/409");

	up_spec(&s, &u, ur);
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, 1000, 256 * 1024), ZB_OK);
	commit_and_wait(&u);
	cr_assert_eq(u.status, ZB_ERR);
	cr_assert_str_eq(u.msg, "upload refused: HTTP 409 Conflict: line one");
	cr_assert_eq(u.aborted, 1, "on_abort after a failed commit");
	free(ur);
}

Test(toolkit_http, upload_shorter_than_its_size_fails)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload");

	up_spec(&s, &u, ur);
	s.size = 100000;
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, 50000, 256 * 1024), ZB_OK);
	commit_and_wait(&u);
	cr_assert_eq(u.status, ZB_ERR);
	cr_assert_str_eq(u.msg, "the body ended after 50000 of the 100000 "
	    "bytes announced");
	free(ur);
}

Test(toolkit_http, upload_aborted)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload");

	up_spec(&s, &u, ur);
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, 100000, 256 * 1024), ZB_OK);
	u.ops->abort(u.wctx);
	cr_assert_eq(u.aborted, 1);
	loop_for(200);
	cr_assert_eq(u.done, 0);
	cr_assert_eq(http_running(), 0);
	free(ur);
}

Test(toolkit_http, upload_retried_before_bytes_went_out)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/echo?fail=1");

	up_spec(&s, &u, ur);
	s.size = 0;
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	commit_and_wait(&u);
	cr_assert_eq(u.status, ZB_OK, "%s", u.msg);
	assert_has(u.body, "\"nth\": 2");
	free(ur);
}

Test(toolkit_http, upload_on_response_again_lets_the_plugin_end_it)
{
	struct zb_http_upload_spec	 s;
	struct up			 u;
	char				*ur = url("/upload");

	up_spec(&s, &u, ur);
	u.later = 1;
	cr_assert_eq(toolkit_http_upload(&u.io, &s, &u.ops, &u.wctx), ZB_OK);
	cr_assert_eq(feed(&u, 1000, 256 * 1024), ZB_OK);
	commit_and_wait(&u);
	cr_assert_eq(u.later, 2, "done came before the plugin's own");
	cr_assert_eq(u.done, 1);
	cr_assert_eq(u.status, ZB_OK);
	cr_assert_str_eq(u.msg, "done by the plugin");
	cr_assert_eq(u.aborted, 0);
	loop_for(200);
	cr_assert_eq(u.done, 1);
	free(ur);
}
