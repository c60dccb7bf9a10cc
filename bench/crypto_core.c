/*
 * crypto_core.c - throughput of the stream core: age encryption
 * (ChaCha20-Poly1305 in 64 KiB chunks) and SHA-256 of the output, teed to
 * a discarding writer, as a backup runs it (age checks the plaintext, so
 * it is not hashed); and one SHA-256 pass without encryption.
 * Input comes from memory, so this measures the core, not a pipe or disk.
 * The stages run on WORKERS pool threads (`auto': the CPUs, as `[daemon]
 * workers = auto'; 0: all on the loop thread), as in the daemon.
 *
 *	crypto_core [MiB [WORKERS]]	(default 2048 auto)
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "age.h"
#include "io.h"
#include "log.h"
#include "reactor.h"
#include "stream.h"
#include "workers.h"
#include "writers.h"

struct state {
	int	 done;
};

static void
drained(struct stream *st, void *arg)
{
	stream_commit(st);
}

static void
finished(struct stream *st, void *arg)
{
	((struct state *)arg)->done = 1;
}

static const struct stream_owner owner = { drained, finished };

static void
noop(void *p)
{
}

static const struct zb_producer_ops mem_ops = { noop, noop, noop };

static double
run(const struct age_keys *keys, size_t total)
{
	struct stream_params	 p = { 0 };
	struct state		 s = { 0 };
	struct stream		*st;
	struct writer		*w;
	struct timespec		 a, b;
	static unsigned char	 block[256 * 1024];
	size_t			 sent = 0;

	memset(block, 0x5a, sizeof(block));
	p.dir = STREAM_STORE;
	p.comp.algo = COMP_NONE;
	p.chunk_size = sizeof(block);
	p.budget = 8 << 20;
	p.age = keys;
	p.name = "bench";
	p.skip_plain_sha256 = 1;	/* as run.c: age checks the plaintext */
	st = stream_new(&p, &owner, &s);
	w = stream_writer_new(st, "null", 0);
	stream_writer_attach(w, &null_writer_ops, NULL);
	stream_set_producer(st, &mem_ops, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (sent < total) {
		if (st->pause_mask != 0) {
			event_base_loop(reactor_base(), EVLOOP_ONCE);
			continue;
		}
		io_push(&st->io, block, sizeof(block));
		sent += sizeof(block);
	}
	io_done(&st->io, ZB_OK, NULL);
	reactor_run_until(&s.done);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "%s: %zu bytes in, %llu bytes out\n", keys != NULL ?
	    "age + sha256" : "no transform", total,
	    (unsigned long long)st->bytes_out);
	stream_free(st);
	return total / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
}

int
main(int argc, char **argv)
{
	char		 id[AGE_IDENTITY_LEN + 1], rec[AGE_RECIPIENT_LEN + 1];
	char		 err[256];
	struct age_keys	*keys;
	size_t		 mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	int		 nw;
	double		 plain, enc;

	if (argc > 2 && strcmp(argv[2], "auto") != 0)
		nw = (int)strtol(argv[2], NULL, 10);
	else
		nw = workers_auto();
	log_init("crypto_core", ZB_LOG_ERROR);
	reactor_init();
	if (nw > 0 && workers_start(nw) != 0) {
		fprintf(stderr, "crypto_core: cannot start %d workers\n", nw);
		return 1;
	}
	keys = age_keys_new();
	if (age_keygen(id, rec) == -1 ||
	    age_keys_add_recipient(keys, rec, err, sizeof(err)) == -1) {
		fprintf(stderr, "key: %s\n", err);
		return 1;
	}
	plain = run(NULL, mib << 20);
	enc = run(keys, mib << 20);
	printf("stream core, %zu MiB, %d workers: no transform (one sha256) "
	    "%.0f MB/s, age + sha256 %.0f MB/s\n", mib, workers_count(),
	    plain / 1e6, enc / 1e6);
	workers_stop();
	age_keys_free(keys);
	reactor_free();
	return 0;
}
