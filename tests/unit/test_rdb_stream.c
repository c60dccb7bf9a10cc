/*
 * test_rdb_stream.c - the Redis plugin's CRC-64 and its parser of the
 * SYNC reply: both framings split everywhere, keepalives, refusals,
 * damage, and (when redis-server is installed) real snapshots.
 */
#include "zb-build.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "crc64.h"
#include "rdb_stream.h"
#include "testlib.h"

extern char	**environ;

static const char	mark[] = "0123456789abcdef0123456789abcdef01234567";

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

static int
refuse(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return -1;
}

/* A small RDB: header, SELECTDB 0, RESIZEDB 1 0, k=v, EOF, CRC-64. */
static size_t
make_rdb(uint8_t *p)
{
	static const uint8_t	body[] = { 'R', 'E', 'D', 'I', 'S', '0', '0',
	    '1', '1', 0xfe, 0x00, 0xfb, 0x01, 0x00, 0x00, 0x01, 'k', 0x01,
	    'v', 0xff };
	uint64_t		crc;
	size_t			n = sizeof(body);
	int			i;

	memcpy(p, body, n);
	crc = crc64_update(CRC64_INIT, p, n);
	for (i = 0; i < 8; i++)
		p[n++] = (uint8_t)(crc >> (8 * i));
	return n;
}

/* Frame p[0..n) as a disk-based ($len) or a diskless ($EOF:) reply. */
static void
frame(struct buf *f, const void *p, size_t n, int diskless)
{
	buf_reset(f);
	if (diskless) {
		cr_assert_eq(buf_printf(f, "$EOF:%s\r\n", mark), 0);
		cr_assert_eq(buf_add(f, p, n), 0);
		cr_assert_eq(buf_puts(f, mark), 0);
	} else {
		cr_assert_eq(buf_printf(f, "$%zu\r\n", n), 0);
		cr_assert_eq(buf_add(f, p, n), 0);
	}
}

/* Feed p[0..n) in pieces cut at a and b; returns the last status. */
static int
feed3(struct rdb_stream *s, const char *p, size_t n, size_t a, size_t b,
    struct buf *out)
{
	int	r;

	r = rdb_stream_feed(s, p, a, collect, out);
	if (r == RDB_STREAM_ERR)
		return r;
	r = rdb_stream_feed(s, p + a, b - a, collect, out);
	if (r == RDB_STREAM_ERR)
		return r;
	return rdb_stream_feed(s, p + b, n - b, collect, out);
}

/* The whole of p must parse to rdb (len n) for every 2-cut split. */
static void
check_all_splits(const char *p, size_t plen, const void *rdb, size_t n)
{
	struct rdb_stream	*s;
	struct buf		 out;
	size_t			 a, b;
	int			 r;

	buf_init(&out, 1 << 20);
	for (a = 0; a <= plen; a++) {
		for (b = a; b <= plen; b++) {
			buf_reset(&out);
			s = rdb_stream_new();
			cr_assert_not_null(s);
			r = feed3(s, p, plen, a, b, &out);
			cr_assert_eq(r, RDB_STREAM_DONE, "split %zu/%zu: %s",
			    a, b, rdb_stream_error(s));
			cr_assert_eq(rdb_stream_finish(s), 0);
			cr_assert_eq(out.len, n, "split %zu/%zu", a, b);
			cr_assert_eq(memcmp(out.data, rdb, n), 0);
			cr_assert_eq(rdb_stream_bytes(s), n);
			cr_assert_null(memmem(out.data, out.len, mark,
			    RDB_STREAM_MARK_LEN));
			rdb_stream_free(s);
		}
	}
	buf_free(&out);
}

/* Parse p whole; returns the status after finish, error in *err. */
static int
parse(const void *p, size_t n, struct buf *out, char *err, size_t errlen)
{
	struct rdb_stream	*s;
	int			 r;

	s = rdb_stream_new();
	cr_assert_not_null(s);
	r = rdb_stream_feed(s, p, n, collect, out);
	if (r != RDB_STREAM_ERR && rdb_stream_finish(s) == -1)
		r = RDB_STREAM_ERR;
	snprintf(err, errlen, "%s", rdb_stream_error(s));
	rdb_stream_free(s);
	return r;
}

#define assert_fails_with(p, n, what) do {				\
	struct buf	 o_;						\
	char		 e_[300];					\
	buf_init(&o_, 1 << 20);						\
	cr_assert_eq(parse((p), (n), &o_, e_, sizeof(e_)),		\
	    RDB_STREAM_ERR, "expected failure: %s", (what));		\
	cr_assert(strstr(e_, (what)) != NULL, "error \"%s\" lacks \"%s\"", \
	    e_, (what));						\
	buf_free(&o_);							\
} while (0)

Test(crc64, vector)
{
	uint8_t		noise[4099];
	uint64_t	c;
	size_t		i, k;

	cr_assert_eq(crc64_update(CRC64_INIT, "123456789", 9),
	    0xe9c6d914c4b8d9caULL);
	cr_assert_eq(crc64_update_bitwise(CRC64_INIT, "123456789", 9),
	    0xe9c6d914c4b8d9caULL);
	for (i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 131 + (i >> 3));
	for (i = 0; i < 70; i++)
		cr_assert_eq(crc64_update(0, noise + i, sizeof(noise) - i),
		    crc64_update_bitwise(0, noise + i, sizeof(noise) - i));
	for (k = 1; k < 20; k++) {
		c = CRC64_INIT;
		for (i = 0; i < sizeof(noise); i += k)
			c = crc64_update(c, noise + i,
			    k < sizeof(noise) - i ? k : sizeof(noise) - i);
		cr_assert_eq(c, crc64_update(0, noise, sizeof(noise)));
	}
}

Test(rdb_stream, bulk_every_split)
{
	uint8_t		rdb[64];
	size_t		n = make_rdb(rdb);
	struct buf	f;

	buf_init(&f, 1 << 20);
	frame(&f, rdb, n, 0);
	check_all_splits(f.data, f.len, rdb, n);
	buf_free(&f);
}

Test(rdb_stream, diskless_every_split)
{
	uint8_t			 rdb[64];
	size_t			 n = make_rdb(rdb), i;
	struct buf		 f, out;
	struct rdb_stream	*s;

	buf_init(&f, 1 << 20);
	buf_init(&out, 1 << 20);
	frame(&f, rdb, n, 1);
	check_all_splits(f.data, f.len, rdb, n);

	/* One byte at a time; the mark is never handed out. */
	s = rdb_stream_new();
	for (i = 0; i < f.len; i++)
		cr_assert_eq(rdb_stream_feed(s, f.data + i, 1, collect, &out),
		    i + 1 == f.len ? RDB_STREAM_DONE : RDB_STREAM_MORE);
	cr_assert(rdb_stream_diskless(s));
	cr_assert_eq(rdb_stream_version(s), 11);
	cr_assert_eq(out.len, n);
	cr_assert_eq(memcmp(out.data, rdb, n), 0);
	rdb_stream_free(s);
	buf_free(&f);
	buf_free(&out);
}

Test(rdb_stream, keepalives_and_fullresync)
{
	uint8_t		rdb[64];
	size_t		n = make_rdb(rdb);
	struct buf	f, g;
	int		d;

	buf_init(&f, 1 << 20);
	buf_init(&g, 1 << 20);
	for (d = 0; d <= 1; d++) {
		frame(&f, rdb, n, d);
		buf_reset(&g);
		buf_puts(&g, "\n\n\n");
		buf_add(&g, f.data, f.len);
		check_all_splits(g.data, g.len, rdb, n);
		buf_reset(&g);
		buf_printf(&g, "\n+FULLRESYNC %s 0\r\n\n\n", mark);
		buf_add(&g, f.data, f.len);
		check_all_splits(g.data, g.len, rdb, n);
	}
	buf_free(&f);
	buf_free(&g);
}

Test(rdb_stream, extra_bytes_ignored)
{
	uint8_t			 rdb[64];
	size_t			 n = make_rdb(rdb);
	struct buf		 f, out;
	struct rdb_stream	*s;
	int			 d;

	buf_init(&f, 1 << 20);
	buf_init(&out, 1 << 20);
	for (d = 0; d <= 1; d++) {
		frame(&f, rdb, n, d);
		buf_puts(&f, "*1\r\n$4\r\nPING\r\n");
		buf_reset(&out);
		s = rdb_stream_new();
		cr_assert_eq(rdb_stream_feed(s, f.data, f.len, collect, &out),
		    RDB_STREAM_DONE, "%s", rdb_stream_error(s));
		cr_assert_eq(rdb_stream_extra(s), 14);
		cr_assert_eq(out.len, n);
		cr_assert_eq(rdb_stream_finish(s), 0);
		rdb_stream_free(s);
	}
	buf_free(&f);
	buf_free(&out);
}

Test(rdb_stream, truncation_fails)
{
	uint8_t			 rdb[64];
	size_t			 n = make_rdb(rdb), i;
	struct buf		 f, out;
	struct rdb_stream	*s;
	int			 d;

	buf_init(&f, 1 << 20);
	buf_init(&out, 1 << 20);
	for (d = 0; d <= 1; d++) {
		frame(&f, rdb, n, d);
		for (i = 0; i < f.len; i++) {
			buf_reset(&out);
			s = rdb_stream_new();
			cr_assert_eq(rdb_stream_feed(s, f.data, i, collect,
			    &out), RDB_STREAM_MORE, "prefix %zu", i);
			cr_assert_eq(rdb_stream_finish(s), -1);
			cr_assert_neq(rdb_stream_error(s)[0], '\0');
			/* Only RDB bytes come out: never the mark. */
			cr_assert_leq(out.len, n);
			cr_assert(out.len == 0 ||
			    memcmp(out.data, rdb, out.len) == 0);
			rdb_stream_free(s);
		}
	}
	assert_fails_with("$30\r\nREDIS0011", 14, "truncated: 9 of 30");
	assert_fails_with("\n\n", 2, "before the RDB header");
	buf_free(&f);
	buf_free(&out);
}

Test(rdb_stream, damage_fails)
{
	uint8_t	rdb[64], bad[64];
	size_t	n = make_rdb(rdb), i;
	char	hdr[600];
	int	bit;

	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			struct buf	f, out;
			char		err[300];

			memcpy(bad, rdb, n);
			bad[i] ^= (uint8_t)(1 << bit);
			buf_init(&f, 1 << 20);
			buf_init(&out, 1 << 20);
			frame(&f, bad, n, bit & 1);
			cr_assert_eq(parse(f.data, f.len, &out, err,
			    sizeof(err)), RDB_STREAM_ERR, "byte %zu bit %d",
			    i, bit);
			buf_free(&f);
			buf_free(&out);
		}
	}
	memcpy(bad, rdb, n);
	bad[12] ^= 0x10;
	snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
	memcpy(hdr + strlen(hdr), bad, n);
	assert_fails_with(hdr, strlen("$28\r\n") + n, "checksum mismatch");
	assert_fails_with("$20\r\nREDIX0011\xfe\x00\xff\0\0\0\0\0\0\0\0", 25,
	    "not an RDB");
	assert_fails_with("$18\r\nREDIS0004\xff\0\0\0\0\0\0\0\0", 23,
	    "has no checksum");
	assert_fails_with("$18\r\nREDIS0011\xfe\0\0\0\0\0\0\0\0", 23,
	    "EOF opcode");
	assert_fails_with("$5\r\nREDIS", 9, "too short");
	assert_fails_with("REDIS0011", 9, "unexpected byte 0x52");
	assert_fails_with("$-1\r\n", 5, "bad bulk length");
	assert_fails_with("$EOF:abc\r\n", 10, "EOF mark is 3 bytes");
	memset(hdr, '1', sizeof(hdr));
	hdr[0] = '$';
	assert_fails_with(hdr, sizeof(hdr), "longer than 512");
}

Test(rdb_stream, checksum_disabled)
{
	uint8_t			 rdb[64];
	size_t			 n = make_rdb(rdb);
	struct rdb_stream	*s;
	struct buf		 f;

	memset(rdb + n - 8, 0, 8);
	buf_init(&f, 1 << 20);
	frame(&f, rdb, n, 0);
	s = rdb_stream_new();
	cr_assert_eq(rdb_stream_feed(s, f.data, f.len, NULL, NULL),
	    RDB_STREAM_DONE, "%s", rdb_stream_error(s));
	cr_assert(rdb_stream_unchecked(s));
	rdb_stream_free(s);
	buf_free(&f);
}

Test(rdb_stream, refusals)
{
	static const char	nomaster[] = "\n\n-NOMASTERLINK Can't SYNC "
	    "while not connected with my master\r\n";
	uint8_t			rdb[64];
	size_t			n = make_rdb(rdb);
	struct rdb_stream	*s;
	struct buf		f;

	assert_fails_with("-ERR unknown command 'SYNC'\r\n", 29,
	    "master refused the sync: -ERR unknown command 'SYNC'");
	assert_fails_with(nomaster, sizeof(nomaster) - 1,
	    "refused the sync: -NOMASTERLINK Can't SYNC");
	assert_fails_with("+CONTINUE\r\n", 11, "partial resync");
	assert_fails_with("+OK\r\n", 5, "unexpected reply to SYNC: +OK");

	/* Storage failing stops the parse. */
	buf_init(&f, 1 << 20);
	frame(&f, rdb, n, 0);
	s = rdb_stream_new();
	cr_assert_eq(rdb_stream_feed(s, f.data, f.len, refuse, NULL),
	    RDB_STREAM_ERR);
	cr_assert(strstr(rdb_stream_error(s), "storing") != NULL);
	cr_assert_eq(rdb_stream_feed(s, "x", 1, collect, NULL),
	    RDB_STREAM_ERR, "errors are sticky");
	rdb_stream_free(s);
	buf_free(&f);
}

/* ---- a real redis-server ------------------------------------------- */

static pid_t	server_pid = -1;
static char	*server_dir;

static int
in_path(const char *prog)
{
	const char	*path = getenv("PATH");
	char		*dirs, *d, *next, file[4096];
	int		 found = 0;

	if (path == NULL)
		return 0;
	dirs = xstrdup(path);
	for (d = dirs; d != NULL && !found; d = next) {
		next = strchr(d, ':');
		if (next != NULL)
			*next++ = '\0';
		snprintf(file, sizeof(file), "%s/%s", *d ? d : ".", prog);
		found = access(file, X_OK) == 0;
	}
	free(dirs);
	return found;
}

static pid_t
spawn(char *const argv[], int quiet)
{
	posix_spawn_file_actions_t	fa;
	pid_t				pid;

	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
		    O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
		    O_WRONLY, 0);
	}
	cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ),
	    0, "cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
dial(int port)
{
	struct sockaddr_in	sin;
	struct timeval		tv = { 10, 0 };
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send an inline command and read its one-line reply into line. */
static void
command(int fd, const char *cmd, char *line, size_t len)
{
	size_t	i = 0;
	char	c;

	cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	while (i + 1 < len) {
		cr_assert_eq(read(fd, &c, 1), 1, "no reply to %s", cmd);
		if (c == '\n')
			break;
		if (c != '\r')
			line[i++] = c;
	}
	line[i] = '\0';
}

static void
stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
}

/* Start redis-server with a few keys; returns its port. */
static int
start_server(void)
{
	char	port_s[16], line[256];
	char	*argv[] = { "redis-server", "--port", port_s, "--bind",
	    "127.0.0.1", "--dir", NULL, "--save", "", "--appendonly", "no",
	    "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
	    "--logfile", "redis.log", NULL };
	int	port, fd = -1, i;

	if (!in_path("redis-server") || !in_path("redis-cli"))
		cr_skip_test("redis-server or redis-cli is not in PATH");
	server_dir = test_tmpdir();
	argv[6] = server_dir;
	port = free_port();
	snprintf(port_s, sizeof(port_s), "%d", port);
	server_pid = spawn(argv, 1);
	for (i = 0; i < 200 && fd == -1; i++) {
		fd = dial(port);
		if (fd == -1)
			usleep(50000);
	}
	cr_assert_geq(fd, 0, "redis-server did not come up on %d", port);
	command(fd, "PING\r\n", line, sizeof(line));
	cr_assert_str_eq(line, "+PONG");
	command(fd, "SET alpha 1\r\n", line, sizeof(line));
	cr_assert_str_eq(line, "+OK");
	command(fd, "SET beta \"a longer value, longer than sixty-four bytes "
	    "to get past the short-string encodings\"\r\n", line,
	    sizeof(line));
	cr_assert_str_eq(line, "+OK");
	command(fd, "RPUSH gamma x y z\r\n", line, sizeof(line));
	cr_assert_str_eq(line, ":3");
	command(fd, "SET delta 12345 EX 3600\r\n", line, sizeof(line));
	cr_assert_str_eq(line, "+OK");
	close(fd);
	return port;
}

static void
teardown(void)
{
	char	cmd[600];

	stop_server();
	if (server_dir != NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", server_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", server_dir);
	}
}

Test(rdb_stream, redis_cli_file, .fini = teardown, .timeout = 60)
{
	char	 port_s[16], file[600], *data;
	char	*argv[] = { "redis-cli", "-p", port_s, "--rdb", file, NULL };
	int	 status, d;
	size_t	 n, step;
	pid_t	 pid;
	FILE	*fp;
	long	 len;

	snprintf(port_s, sizeof(port_s), "%d", start_server());
	snprintf(file, sizeof(file), "%s/cli.rdb", server_dir);
	pid = spawn(argv, 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "redis-cli --rdb failed");
	fp = fopen(file, "rb");
	cr_assert_not_null(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	cr_assert_gt(len, 18);
	data = malloc(len);
	cr_assert_eq(fread(data, 1, len, fp), (size_t)len);
	fclose(fp);
	n = (size_t)len;
	for (d = 0; d <= 1; d++) {
		struct buf		 f, out;
		struct rdb_stream	*s;
		size_t			 i;
		int			 r = RDB_STREAM_MORE;

		buf_init(&f, 64 << 20);
		buf_init(&out, 64 << 20);
		frame(&f, data, n, d);
		for (step = 1; step < 70; step += 17) {
			buf_reset(&out);
			s = rdb_stream_new();
			for (i = 0; i < f.len; i += step)
				r = rdb_stream_feed(s, f.data + i, step <
				    f.len - i ? step : f.len - i, collect,
				    &out);
			cr_assert_eq(r, RDB_STREAM_DONE, "%s",
			    rdb_stream_error(s));
			cr_assert_eq(rdb_stream_finish(s), 0);
			cr_assert(!rdb_stream_unchecked(s));
			cr_assert_eq(out.len, n);
			cr_assert_eq(memcmp(out.data, data, n), 0);
			rdb_stream_free(s);
		}
		buf_free(&f);
		buf_free(&out);
	}
	free(data);
	stop_server();
}

/* Speak SYNC ourselves: capa eof gets diskless framing, else $len. */
static void
sync_real(int diskless)
{
	struct rdb_stream	*s;
	struct buf		 out;
	char			 line[256], chunk[1000];
	ssize_t			 r;
	int			 fd, st = RDB_STREAM_MORE;

	fd = dial(start_server());
	cr_assert_geq(fd, 0);
	if (diskless) {
		command(fd, "REPLCONF capa eof\r\n", line, sizeof(line));
		cr_assert_str_eq(line, "+OK");
	}
	command(fd, "REPLCONF rdb-only 1\r\n", line, sizeof(line));
	cr_assert_str_eq(line, "+OK");
	cr_assert_eq(write(fd, "SYNC\r\n", 6), 6);
	buf_init(&out, 64 << 20);
	s = rdb_stream_new();
	while (st == RDB_STREAM_MORE) {
		/* Odd read sizes put the cuts everywhere. */
		r = read(fd, chunk, 1 + (size_t)out.len % sizeof(chunk));
		cr_assert_geq(r, 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		st = rdb_stream_feed(s, chunk, (size_t)r, collect, &out);
	}
	cr_assert_eq(st, RDB_STREAM_DONE, "%s", rdb_stream_error(s));
	cr_assert_eq(rdb_stream_finish(s), 0);
	cr_assert_eq(rdb_stream_diskless(s), diskless);
	cr_assert_gt(rdb_stream_version(s), 5);
	cr_assert_eq(rdb_stream_bytes(s), out.len);
	cr_assert_not_null(memmem(out.data, out.len, "gamma", 5));
	cr_assert_eq(memcmp(out.data, "REDIS", 5), 0);
	rdb_stream_free(s);
	buf_free(&out);
	close(fd);
	stop_server();
}

Test(rdb_stream, redis_sync_disk, .fini = teardown, .timeout = 60)
{
	sync_real(0);
}

Test(rdb_stream, redis_sync_diskless, .fini = teardown, .timeout = 60)
{
	sync_real(1);
}
