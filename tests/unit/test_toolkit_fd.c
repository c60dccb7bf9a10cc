/*
 * test_toolkit_fd.c - the fd producer and the fd writer of ABI 1.5
 * (core/toolkit_fd.c) on a real stream, driven by the reactor, with
 * forked children at the other end of the pipes: every byte arrives in
 * order, reading stops while the stream is paused (the producer is never
 * more than the budget ahead of the slowest writer), a full pipe gives
 * ZB_AGAIN and the same chunk again, commit is end of file, on_commit
 * decides, a reader that quit is EPIPE, and abort kills before it closes.
 */
#include "zb-build.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "plugin.h"
#include "reactor.h"
#include "stream.h"
#include "testlib.h"
#include "toolkit.h"

#define CHUNK	(64 * 1024)
#define BUDGET	(4 * CHUNK)

static void
setup(void)
{
	test_log_start();
	log_set_level(ZB_LOG_INFO);
	reactor_init();
}

TestSuite(toolkit_fd, .init = setup, .timeout = 60);

static unsigned char
pattern(uint64_t i)
{
	return (unsigned char)((i * 31) ^ (i >> 16));
}

/* ---- children at the other end ----------------------------------------- */

/* A child writing n bytes of the pattern into the pipe it returns. */
static pid_t
spawn_source(uint64_t n, int *rfd)
{
	unsigned char	 b[8192];
	uint64_t	 i = 0;
	size_t		 k;
	int		 p[2];
	pid_t		 pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		while (i < n) {
			for (k = 0; k < sizeof(b) && i + k < n; k++)
				b[k] = pattern(i + k);
			if (write(p[1], b, k) != (ssize_t)k)
				_exit(3);
			i += k;
		}
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/*
 * A child reading the pipe it returns slowly (delay_us per read of 4 KiB),
 * checking the pattern; it exits 0 at end of file after exactly expect
 * bytes, 1 on anything else, 2 when it quits after stop_after bytes.
 */
static pid_t
spawn_sink(uint64_t expect, unsigned delay_us, uint64_t stop_after, int *wfd)
{
	unsigned char	 b[4096];
	uint64_t	 got = 0;
	ssize_t		 n, k;
	int		 p[2];
	pid_t		 pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(p[1]);
		for (;;) {
			if (stop_after > 0 && got >= stop_after)
				_exit(2);
			n = read(p[0], b, sizeof(b));
			if (n <= 0)
				break;
			for (k = 0; k < n; k++)
				if (b[k] != pattern(got + k))
					_exit(1);
			got += n;
			if (delay_us > 0)
				usleep(delay_us);
		}
		_exit(n == 0 && got == expect ? 0 : 1);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static int
reap(pid_t pid)
{
	int	 status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* ---- a stream and its owner -------------------------------------------- */

struct harness {
	struct stream	*st;
	int		 commit;	/* at drained: commit, or abort */
	int		 drained, finished;
};

static void
h_drained(struct stream *st, void *arg)
{
	struct harness	*h = arg;

	h->drained = 1;
	if (h->commit)
		stream_commit(st);
	else
		stream_abort(st, "aborted by the test");
}

static void
h_finished(struct stream *st, void *arg)
{
	struct harness	*h = arg;

	h->finished = 1;
}

static const struct stream_owner h_owner = { h_drained, h_finished };

static void
h_init_comp(struct harness *h, int algo)
{
	struct stream_params	 p;

	memset(h, 0, sizeof(*h));
	memset(&p, 0, sizeof(p));
	p.dir = STREAM_STORE;
	p.comp.algo = algo;
	p.comp.level = 3;
	p.chunk_size = CHUNK;
	p.budget = BUDGET;
	p.name = "test/fd";
	h->commit = 1;
	h->st = stream_new(&p, &h_owner, h);
}

static void
h_init(struct harness *h)
{
	h_init_comp(h, COMP_NONE);
}

/* ---- a slow writer that checks every byte ------------------------------ */

struct slow {
	struct harness	*h;
	struct writer	*w;
	uint64_t	 taken;
	uint64_t	 read;		/* by the producer (on_data) */
	uint64_t	 ahead_max;	/* read - taken, at most */
	int		 bad;		/* a byte out of order */
	int		 every;		/* ZB_AGAIN on every n-th offer */
	int		 offers;
	int		 fail_first;	/* ZB_ERR on the first write */
	struct zb_timer	*t;
	int		 committed, aborted;
	/* ABI 1.6, as the writer sees them */
	int64_t		 size_seen;	/* host->put_size at the first write */
	char		 sha_commit[65]; /* put_sha256 at commit */
	/* ABI 1.7: host->put_file at the first write: its size, or -1 */
	int64_t		 file_size;
	int		 file_bad;	/* its bytes are not the pattern */
};

static void
slow_ready(void *arg)
{
	struct slow	*s = arg;

	s->t = NULL;
	hostapi_get()->ready(&s->w->io);
}

/* What host->put_file gives: a descriptor of the pattern, at offset 0. */
static void
slow_put_file(struct slow *s)
{
	unsigned char	 b[4096];
	struct stat	 sb;
	ssize_t		 n, i;
	int		 fd;

	fd = hostapi_get()->put_file(&s->w->io);
	s->file_size = -1;
	if (fd == -1)
		return;
	if (fstat(fd, &sb) == 0)
		s->file_size = (int64_t)sb.st_size;
	n = read(fd, b, sizeof(b));
	for (i = 0; i < n; i++)
		if (b[i] != pattern((uint64_t)i))
			s->file_bad = 1;
	if (n <= 0)
		s->file_bad = 1;
	close(fd);
}

static int
slow_write(void *wctx, const struct zb_chunk *c)
{
	struct slow	*s = wctx;
	size_t		 i;

	if (s->fail_first)
		return ZB_ERR;
	if (s->offers == 0 && s->taken == 0) {
		s->size_seen = hostapi_get()->put_size(&s->w->io);
		slow_put_file(s);
	}

	if (s->every > 0 && ++s->offers % s->every == 0) {
		s->t = reactor_timer_add(2, slow_ready, s);
		return ZB_AGAIN;
	}
	for (i = 0; i < c->len; i++)
		if (c->data[i] != pattern(s->taken + i))
			s->bad = 1;
	s->taken += c->len;
	return ZB_OK;
}

static int
slow_commit(void *wctx)
{
	struct slow	*s = wctx;
	const char	*sha = hostapi_get()->put_sha256(&s->w->io);

	snprintf(s->sha_commit, sizeof(s->sha_commit), "%s",
	    sha != NULL ? sha : "(null)");
	s->committed = 1;
	return ZB_OK;
}

static void
slow_abort(void *wctx)
{
	struct slow	*s = wctx;

	if (s->t != NULL)
		reactor_timer_del(s->t);
	s->t = NULL;
	s->aborted = 1;
}

static const struct zb_writer_ops slow_ops = {
	slow_write, slow_commit, slow_abort
};

static void
slow_attach(struct harness *h, struct slow *s)
{
	memset(s, 0, sizeof(*s));
	s->h = h;
	s->w = stream_writer_new(h->st, "slow", 0);
	stream_writer_attach(s->w, &slow_ops, s);
}

/* ---- the producer's callbacks ------------------------------------------ */

struct pcb {
	struct slow	*slow;
	struct harness	*h;
	int		 refuse_at;	/* on_data: refuse the n-th slice */
	int		 slices;
	int		 ends, end_status, closes;
	char		 end_msg[256];
	int		 done_later;	/* on_end: done() from a timer */
};

static int
pcb_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct pcb	*c = arg;
	uint64_t	 ahead;

	(void)p;
	if (++c->slices == c->refuse_at) {
		snprintf(err, errlen, "bad header in slice %d", c->slices);
		return ZB_ERR;
	}
	if (c->slow != NULL) {
		c->slow->read += n;
		ahead = c->slow->read - c->slow->taken;
		if (ahead > c->slow->ahead_max)
			c->slow->ahead_max = ahead;
	}
	return ZB_OK;
}

static void
pcb_done_now(void *arg)
{
	struct pcb	*c = arg;

	hostapi_get()->done(&c->h->st->io, c->end_status, c->end_status ==
	    ZB_OK ? NULL : c->end_msg);
}

static void
pcb_end(void *arg, int status, const char *msg)
{
	struct pcb	*c = arg;

	c->ends++;
	c->end_status = status;
	snprintf(c->end_msg, sizeof(c->end_msg), "%s", msg ? msg : "");
	(void)reactor_timer_add(50, pcb_done_now, c);
}

static void
pcb_close(void *arg)
{
	((struct pcb *)arg)->closes++;
}

static void
open_producer(struct harness *h, int fd, struct pcb *c, int with_end)
{
	struct zb_fd_producer_spec	 spec;
	const struct zb_producer_ops	*ops;
	void				*pctx;

	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = fd;
	spec.on_data = pcb_data;
	spec.on_end = with_end ? pcb_end : NULL;
	spec.on_close = pcb_close;
	spec.arg = c;
	cr_assert_eq(hostapi_get()->fd_producer(&h->st->io, &spec, &ops,
	    &pctx), ZB_OK, "%s", test_logged());
	stream_set_producer(h->st, ops, pctx);
}

static void
run_stream(struct harness *h)
{
	reactor_run_until(&h->finished);
}

/* ---- producer ---------------------------------------------------------- */

Test(toolkit_fd, producer_reads_to_eof_and_stops_while_paused)
{
	struct harness	 h;
	struct slow	 s;
	struct pcb	 c = { 0 };
	uint64_t	 n = 8 * 1024 * 1024;
	int		 fd;
	pid_t		 pid;

	h_init(&h);
	slow_attach(&h, &s);
	s.every = 2;
	c.slow = &s;
	c.h = &h;
	pid = spawn_source(n, &fd);
	open_producer(&h, fd, &c, 0);
	run_stream(&h);
	cr_assert_eq(h.st->failed, 0, "%s", test_logged());
	cr_assert_eq(s.taken, n);
	cr_assert_eq(s.bad, 0, "bytes out of order");
	cr_assert_eq(s.committed, 1);
	cr_assert_gt(h.st->pauses, 0, "the slow writer never paused it");
	/* Paused, the adapter reads nothing: at most one slice more. */
	cr_assert_leq(s.ahead_max, BUDGET + CHUNK, "the producer ran %llu "
	    "bytes ahead of the writer (budget %d): it kept reading while "
	    "paused", (unsigned long long)s.ahead_max, BUDGET);
	cr_assert_eq(c.closes, 1);
	cr_assert_eq(c.ends, 0);
	cr_assert(WIFEXITED(reap(pid)));
	stream_free(h.st);
}

Test(toolkit_fd, producer_on_end_lets_the_plugin_call_done)
{
	struct harness	 h;
	struct slow	 s;
	struct pcb	 c = { 0 };
	int		 fd;
	pid_t		 pid;

	h_init(&h);
	slow_attach(&h, &s);
	c.h = &h;
	pid = spawn_source(300000, &fd);
	open_producer(&h, fd, &c, 1);
	run_stream(&h);
	cr_assert_eq(c.ends, 1);
	cr_assert_eq(c.end_status, ZB_OK);
	cr_assert_eq(h.st->failed, 0, "%s", test_logged());
	cr_assert_eq(s.taken, 300000);
	cr_assert_eq(c.closes, 1);
	(void)reap(pid);
	stream_free(h.st);
}

Test(toolkit_fd, producer_on_data_refusal_fails_the_stream)
{
	struct harness	 h;
	struct slow	 s;
	struct pcb	 c = { 0 };
	int		 fd, status;
	pid_t		 pid;

	h_init(&h);
	slow_attach(&h, &s);
	c.h = &h;
	c.refuse_at = 3;
	pid = spawn_source(64 * 1024 * 1024, &fd);
	open_producer(&h, fd, &c, 0);
	run_stream(&h);
	cr_assert_eq(h.st->failed, 1);
	cr_assert_not_null(strstr(h.st->error, "bad header in slice 3"),
	    "%s", h.st->error);
	cr_assert_eq(s.aborted, 1);
	cr_assert_eq(c.closes, 1);
	/* The read end is closed: the child does not block for ever. */
	status = reap(pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	stream_free(h.st);
}

Test(toolkit_fd, producer_close_on_failure_closes_the_fd)
{
	struct harness	 h;
	struct slow	 s;
	struct pcb	 c = { 0 };
	int		 fd, status;
	pid_t		 pid;

	h_init(&h);
	slow_attach(&h, &s);
	s.fail_first = 1;
	c.h = &h;
	pid = spawn_source(64 * 1024 * 1024, &fd);
	open_producer(&h, fd, &c, 1);
	run_stream(&h);
	cr_assert_eq(h.st->failed, 1);
	cr_assert_eq(c.ends, 0, "on_end after close");
	cr_assert_eq(c.closes, 1);
	status = reap(pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	stream_free(h.st);
}

/* A file of n pattern bytes in dir, open for reading; its bytes in
 * *datap (the caller frees), its path in *pathp. */
static int
pattern_file(const char *dir, size_t n, unsigned char **datap,
    char **pathp)
{
	unsigned char	*data = xmalloc(n);
	char		*path = xasprintf("%s/data", dir);
	size_t		 i;
	int		 fd;
	FILE		*f;

	for (i = 0; i < n; i++)
		data[i] = pattern(i);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	*datap = data;
	*pathp = path;
	return fd;
}

/* The stream's put_file opener (stream_set_put_file): the file again. */
static int
open_again(void *arg)
{
	return open((const char *)arg, O_RDONLY | O_CLOEXEC);
}

/*
 * One put of a pattern file's n bytes through a slow writer, which notes
 * what it saw of the ABI 1.6/1.7 facts in *s: announce is the put_size
 * the stream gets (-1: none), file whether the stream names the file
 * again (stream_set_put_file), algo its codec.  hexd gets the bytes'
 * SHA-256.
 */
static void
put_run(size_t n, int64_t announce, int file, int algo, struct slow *s,
    char hexd[65])
{
	struct harness	 h;
	struct pcb	 c = { 0 };
	char		*dir = test_tmpdir(), *path;
	unsigned char	*data, md[32];
	unsigned int	 mdlen;
	size_t		 i;
	int		 fd;

	fd = pattern_file(dir, n, &data, &path);
	EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hexd + 2 * i, 3, "%02x", md[i]);
	h_init_comp(&h, algo);
	if (announce >= 0)
		stream_set_put_size(h.st, announce);
	if (file)
		stream_set_put_file(h.st, open_again, path);
	slow_attach(&h, s);
	c.h = &h;
	open_producer(&h, fd, &c, 0);
	run_stream(&h);
	cr_assert_eq(h.st->failed, 0, "%s", test_logged());
	unlink(path);
	rmdir(dir);
	stream_free(h.st);
	free(path);
	free(dir);
	free(data);
}

/* ABI 1.6: the size a put will get, when known, and the host's digest. */
static void
put_facts_case(int known)
{
	struct slow	 s;
	char		 hexd[65];
	size_t		 n = 1024 * 1024 + 5;

	put_run(n, known ? (int64_t)n : -1, 0, COMP_NONE, &s, hexd);
	cr_assert_eq(s.taken, n);
	cr_assert_eq(s.size_seen, known ? (int64_t)n : -1);
	cr_assert_str_eq(s.sha_commit, hexd);
	cr_assert_eq(s.file_size, -1, "no file was named");
}

Test(toolkit_fd, put_size_known_and_the_hosts_sha256_at_commit)
{
	put_facts_case(1);
}

Test(toolkit_fd, put_size_unknown_is_minus_one)
{
	put_facts_case(0);
}

/*
 * ABI 1.7: a copy's writer may have the bytes as a file of their exact
 * size (a new descriptor each time); a file of another size, or a stream
 * whose codec changes the bytes, gives none.
 */
static void
put_file_case(int64_t announced, int zstd, int64_t want)
{
	struct slow	 s;
	char		 hexd[65];
	size_t		 n = 2 * 1024 * 1024 + 3;

	put_run(n, announced < 0 ? (int64_t)n : announced, 1,
	    zstd ? COMP_ZSTD : COMP_NONE, &s, hexd);
	if (!zstd)
		cr_assert_eq(s.taken, n);
	cr_assert_eq(s.file_size, want == 0 ? (int64_t)n : want);
	cr_assert_eq(s.file_bad, 0);
}

Test(toolkit_fd, put_file_gives_the_file_of_a_copy)
{
	put_file_case(-1, 0, 0);
}

Test(toolkit_fd, put_file_refuses_a_file_of_another_size)
{
	put_file_case(5, 0, -1);
}

Test(toolkit_fd, put_file_refuses_when_a_codec_changes_the_bytes)
{
	put_file_case(-1, 1, -1);
}

Test(toolkit_fd, producer_reads_a_regular_file)
{
	struct harness	 h;
	struct slow	 s;
	struct pcb	 c = { 0 };
	char		*dir = test_tmpdir(), *path;
	unsigned char	*data;
	size_t		 n = 3 * 1024 * 1024 + 17;
	int		 fd;

	fd = pattern_file(dir, n, &data, &path);
	h_init(&h);
	slow_attach(&h, &s);
	s.every = 3;
	c.slow = &s;
	c.h = &h;
	open_producer(&h, fd, &c, 0);
	run_stream(&h);
	cr_assert_eq(h.st->failed, 0, "%s", test_logged());
	cr_assert_eq(s.taken, n);
	cr_assert_eq(s.bad, 0);
	cr_assert_leq(s.ahead_max, BUDGET + CHUNK);
	unlink(path);
	rmdir(dir);
	stream_free(h.st);
}

/* ---- writer ------------------------------------------------------------ */

struct wcb {
	struct harness	*h;
	int		 fd;		/* the writer's, for on_abort */
	pid_t		 reader;
	int		 agains;
	int		 commits, aborts;
	int		 fd_open_at_abort;
	int		 decide;	/* on_commit: ZB_OK/ZB_ERR */
	int		 sync;		/* done() inside on_commit */
	int		 reader_status;
	int		 failed;	/* the stream */
	int		 state;		/* the writer's, at the end */
	struct zb_io	*cw;
	const struct zb_writer_ops *ops;
	void		*wctx;
};

static struct wcb	*cur_wcb;

static int
wrap_write(void *wctx, const struct zb_chunk *c)
{
	int	 rc = cur_wcb->ops->write(wctx, c);

	if (rc == ZB_AGAIN)
		cur_wcb->agains++;
	return rc;
}

static int
wrap_commit(void *wctx)
{
	return cur_wcb->ops->commit(wctx);
}

static void
wrap_abort(void *wctx)
{
	cur_wcb->ops->abort(wctx);
}

static const struct zb_writer_ops wrap_ops = {
	wrap_write, wrap_commit, wrap_abort
};

static void
wcb_decide(void *arg)
{
	struct wcb	*c = arg;

	/* The reader has seen end of file: its status is the outcome. */
	c->reader_status = reap(c->reader);
	c->reader = -1;
	hostapi_get()->done(c->cw, c->decide, c->decide == ZB_OK ? NULL :
	    "the reader said no");
}

static void
wcb_commit(void *arg, struct zb_io *w)
{
	struct wcb	*c = arg;

	c->commits++;
	c->cw = w;
	if (c->sync)
		wcb_decide(c);
	else
		(void)reactor_timer_add(20, wcb_decide, c);
}

static void
wcb_abort(void *arg)
{
	struct wcb	*c = arg;

	c->aborts++;
	c->fd_open_at_abort = fcntl(c->fd, F_GETFD) != -1;
}

/* source child -> fd producer -> stream -> fd writer -> sink child */
static void
writer_run(struct wcb *c, uint64_t n, unsigned delay_us, uint64_t stop_after,
    int with_commit)
{
	struct harness			 h;
	struct pcb			 pc = { 0 };
	struct zb_fd_writer_spec	 spec;
	struct writer			*w;
	int				 rfd;
	pid_t				 src;

	h_init(&h);
	c->h = &h;
	if (c->decide == 0 && !with_commit)
		c->decide = ZB_OK;
	c->reader = spawn_sink(n, delay_us, stop_after, &c->fd);
	w = stream_writer_new(h.st, "fd", 0);
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.fd = c->fd;
	spec.on_commit = with_commit ? wcb_commit : NULL;
	spec.on_abort = wcb_abort;
	spec.arg = c;
	cr_assert_eq(hostapi_get()->fd_writer(&w->io, &spec, &c->ops,
	    &c->wctx), ZB_OK, "%s", test_logged());
	cur_wcb = c;
	stream_writer_attach(w, &wrap_ops, c->wctx);
	pc.h = &h;
	src = spawn_source(n, &rfd);
	open_producer(&h, rfd, &pc, 0);
	run_stream(&h);
	(void)reap(src);
	if (c->reader != -1)
		c->reader_status = reap(c->reader);
	c->h = NULL;
	c->failed = h.st->failed;
	c->state = w->state;
	stream_free(h.st);
}

Test(toolkit_fd, writer_waits_on_a_full_pipe_and_commit_is_eof)
{
	struct wcb	 c = { 0 };

	writer_run(&c, 4 * 1024 * 1024, 50, 0, 0);
	cr_assert_eq(c.failed, 0, "stream failed: %s", test_logged());
	cr_assert_eq(c.state, W_COMMITTED);
	cr_assert_gt(c.agains, 0, "a slow reader never filled the pipe");
	cr_assert(WIFEXITED(c.reader_status) &&
	    WEXITSTATUS(c.reader_status) == 0, "the reader saw %s",
	    WIFEXITED(c.reader_status) && WEXITSTATUS(c.reader_status) ==
	    1 ? "wrong bytes or no end of file" : "something else");
	cr_assert_eq(c.aborts, 0);
}

Test(toolkit_fd, writer_on_commit_decides_after_eof)
{
	struct wcb	 c = { 0 };

	c.decide = ZB_OK;
	writer_run(&c, 1024 * 1024, 0, 0, 1);
	cr_assert_eq(c.commits, 1);
	cr_assert_eq(c.failed, 0, "%s", test_logged());
	cr_assert_eq(c.state, W_COMMITTED);
	/* wcb_decide reaped the reader: it had seen end of file. */
	cr_assert(WIFEXITED(c.reader_status) &&
	    WEXITSTATUS(c.reader_status) == 0);
	cr_assert_eq(c.aborts, 0);
}

Test(toolkit_fd, writer_on_commit_done_at_once)
{
	struct wcb	 c = { 0 };

	c.decide = ZB_OK;
	c.sync = 1;
	writer_run(&c, 200000, 0, 0, 1);
	cr_assert_eq(c.commits, 1);
	cr_assert_eq(c.state, W_COMMITTED, "%s", test_logged());
}

Test(toolkit_fd, writer_on_commit_failure_fails_the_copy)
{
	struct wcb	 c = { 0 };

	c.decide = ZB_ERR;
	writer_run(&c, 200000, 0, 0, 1);
	cr_assert_eq(c.commits, 1);
	cr_assert_eq(c.state, W_FAILED);
	assert_logged("the reader said no");
	/* A failed commit is not followed by abort. */
	cr_assert_eq(c.aborts, 0);
}

Test(toolkit_fd, writer_epipe_is_a_clear_error)
{
	struct wcb	 c = { 0 };

	writer_run(&c, 4 * 1024 * 1024, 0, 100000, 0);
	cr_assert_eq(c.failed, 1, "the stream did not fail");
	cr_assert_eq(c.state, W_FAILED);
	assert_logged("closed its end of the pipe");
	assert_logged("(EPIPE)");
	cr_assert_eq(c.aborts, 1);
	cr_assert(WIFEXITED(c.reader_status) &&
	    WEXITSTATUS(c.reader_status) == 2);
}

Test(toolkit_fd, writer_abort_kills_before_closing)
{
	struct wcb	 c = { 0 };

	/* The owner aborts at drained: on_abort, then the fd closes. */
	{
		struct harness			 h;
		struct pcb			 pc = { 0 };
		struct zb_fd_writer_spec	 spec;
		struct writer			*w;
		int				 rfd;
		pid_t				 src;

		h_init(&h);
		h.commit = 0;
		c.reader = spawn_sink(100000, 0, 0, &c.fd);
		w = stream_writer_new(h.st, "fd", 0);
		memset(&spec, 0, sizeof(spec));
		spec.struct_size = sizeof(spec);
		spec.fd = c.fd;
		spec.on_abort = wcb_abort;
		spec.arg = &c;
		cr_assert_eq(hostapi_get()->fd_writer(&w->io, &spec, &c.ops,
		    &c.wctx), ZB_OK);
		cur_wcb = &c;
		stream_writer_attach(w, &wrap_ops, c.wctx);
		pc.h = &h;
		src = spawn_source(100000, &rfd);
		open_producer(&h, rfd, &pc, 0);
		run_stream(&h);
		(void)reap(src);
		cr_assert_eq(c.aborts, 1);
		cr_assert_eq(c.fd_open_at_abort, 1, "the fd was closed before "
		    "on_abort");
		cr_assert_eq(fcntl(c.fd, F_GETFD), -1, "the fd was not closed");
		(void)reap(c.reader);
		stream_free(h.st);
	}
}
