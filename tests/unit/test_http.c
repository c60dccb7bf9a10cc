/*
 * test_http.c - the shared curl multi on the reactor: concurrent
 * transfers against a real HTTP server on 127.0.0.1 (python3 -m
 * http.server, stopped by its PID), pause and resume through the
 * deferred unpause (no byte while paused, nothing before http_resume, a
 * resume from inside the write callback), and a refused connection
 * reported through done.
 */
#include "zb-build.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <curl/curl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "http.h"
#include "reactor.h"
#include "testlib.h"

#define BLOB_SIZE	(3 * 1024 * 1024 + 123)

extern char **environ;

static pid_t	 server_pid = -1;
static int	 port;
static char	*dir;
static unsigned char *blob;

static int
free_port(void)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 s = socket(AF_INET, SOCK_STREAM, 0), p;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(s, (struct sockaddr *)&sin, &len);
	p = ntohs(sin.sin_port);
	close(s);
	return p;
}

static int
can_connect(int p)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	int			 s = socket(AF_INET, SOCK_STREAM, 0), ok;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	ok = connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(s);
	return ok;
}

static void
setup(void)
{
	char	*path, portstr[16];
	char	*argv[] = { "python3", "-m", "http.server", "--bind",
	    "127.0.0.1", "--directory", NULL, portstr, NULL };
	FILE	*f;
	size_t	 i;

	test_log_start();
	reactor_init();
	cr_assert_eq(http_init(NULL), 0);
	dir = test_tmpdir();
	blob = malloc(BLOB_SIZE);
	for (i = 0; i < BLOB_SIZE; i++)
		blob[i] = (unsigned char)(i * 7 + i / 1000);
	path = xasprintf("%s/blob", dir);
	f = fopen(path, "w");
	fwrite(blob, 1, BLOB_SIZE, f);
	fclose(f);
	free(path);
	port = free_port();
	snprintf(portstr, sizeof(portstr), "%d", port);
	argv[6] = dir;
	if (posix_spawnp(&server_pid, "python3", NULL, NULL, argv,
	    environ) != 0)
		cr_skip_test("python3 is not available");
	for (i = 0; i < 100 && !can_connect(port); i++)
		usleep(50000);
	cr_assert(can_connect(port), "the test HTTP server did not start");
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
	free(blob);
}

TestSuite(http, .init = setup, .fini = teardown);

struct get {
	CURL		*easy;
	size_t		 got;
	int		 mismatch;
	int		 pause_once;
	int		 resume_in_callback;
	int		 paused;		/* on_data returned PAUSE */
	int		 resumes;		/* http_resume calls */
	int		 early;			/* data before http_resume */
	uint64_t	 resumed_at;
	uint64_t	 first_after;		/* first byte after the pause */
	int		 done;
	int		 code;
	long		 status;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct get	*g = arg;

	if (g->pause_once && !g->paused) {
		g->paused = 1;
		if (g->resume_in_callback) {
			/* Legal: http_resume defers the unpause. */
			g->resumes++;
			g->resumed_at = now_ms();
			http_resume(g->easy);
		}
		return CURL_WRITEFUNC_PAUSE;	/* the same bytes come again */
	}
	if (g->paused && g->first_after == 0) {
		g->first_after = now_ms();
		if (g->resumes == 0)
			g->early = 1;
	}
	if (g->got + n > BLOB_SIZE || memcmp(blob + g->got, p, n) != 0)
		g->mismatch = 1;
	g->got += n;
	return n;
}

static void
on_done(void *arg, int code, long status)
{
	struct get	*g = arg;

	g->done = 1;
	g->code = code;
	g->status = status;
}

static void
start_get(struct get *g, int p)
{
	char	*url = xasprintf("http://127.0.0.1:%d/blob", p);

	g->easy = curl_easy_init();
	curl_easy_setopt(g->easy, CURLOPT_URL, url);
	curl_easy_setopt(g->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(g->easy, CURLOPT_WRITEDATA, g);
	cr_assert_eq(http_submit(g->easy, on_done, g), 0);
	free(url);
}

static int	 all_done;

static void
wait_all(struct get *g, size_t n)
{
	size_t	 i;

	for (;;) {
		all_done = 1;
		for (i = 0; i < n; i++)
			if (!g[i].done)
				all_done = 0;
		if (all_done)
			break;
		event_base_loop(reactor_base(), EVLOOP_ONCE);
	}
}

Test(http, concurrent_transfers_complete)
{
	struct get	 g[4];
	size_t		 i;

	memset(g, 0, sizeof(g));
	for (i = 0; i < 4; i++)
		start_get(&g[i], port);
	cr_assert_eq(http_running(), 4);
	wait_all(g, 4);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(g[i].code, CURLE_OK);
		cr_assert_eq(g[i].status, 200);
		cr_assert_eq(g[i].got, BLOB_SIZE);
		cr_assert(!g[i].mismatch);
		curl_easy_cleanup(g[i].easy);
	}
	cr_assert_eq(http_running(), 0);
}

static void
resume_later(void *arg)
{
	struct get	*g = arg;

	g->resumes++;
	g->resumed_at = now_ms();
	http_resume(g->easy);
}

/* A broken pause or resume would hang: the timeout makes it a failure. */
Test(http, paused_transfer_resumes, .timeout = 30)
{
	struct get	 g;
	uint64_t	 t0 = now_ms();

	memset(&g, 0, sizeof(g));
	g.pause_once = 1;
	start_get(&g, port);
	while (!g.paused)
		event_base_loop(reactor_base(), EVLOOP_ONCE);
	reactor_timer_add(200, resume_later, &g);
	wait_all(&g, 1);
	cr_assert_eq(g.resumes, 1);
	cr_assert(!g.early, "data came while paused");
	cr_assert_geq(g.first_after, g.resumed_at,
	    "data came before http_resume");
	cr_assert_geq(g.resumed_at - t0, 200, "it waited for the resume");
	cr_assert_eq(g.code, CURLE_OK);
	cr_assert_eq(g.got, BLOB_SIZE);
	cr_assert(!g.mismatch);
	curl_easy_cleanup(g.easy);
}

/*
 * A consumer that drains at once resumes from inside the write callback
 * that paused: the unpause must wait until curl has returned, else curl
 * stays paused and the transfer never ends.
 */
Test(http, resume_from_the_write_callback, .timeout = 30)
{
	struct get	 g;

	memset(&g, 0, sizeof(g));
	g.pause_once = 1;
	g.resume_in_callback = 1;
	start_get(&g, port);
	wait_all(&g, 1);
	cr_assert_eq(g.resumes, 1);
	cr_assert_eq(g.code, CURLE_OK);
	cr_assert_eq(g.got, BLOB_SIZE);
	cr_assert(!g.mismatch);
	curl_easy_cleanup(g.easy);
}

Test(http, refused_connection_is_reported)
{
	struct get	 g;

	memset(&g, 0, sizeof(g));
	start_get(&g, free_port());
	wait_all(&g, 1);
	cr_assert_eq(g.code, CURLE_COULDNT_CONNECT);
	cr_assert_eq(g.status, 0);
	curl_easy_cleanup(g.easy);
}
