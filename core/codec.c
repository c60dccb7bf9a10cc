/*
 * codec.c - streaming compression and decompression (zstd, gzip).
 *
 * The codec owns one fixed output window (CODEC_OUT bytes) and hands each
 * filled part of it to the caller's emit function, which copies it into
 * stream chunks.  Memory is therefore bounded by the library's own state
 * plus the window, whatever the stream's size.  Decompression refuses
 * trailing garbage and a truncated input at codec_finish().
 */
#include "zb-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "codec.h"
#include "util.h"

#define CODEC_OUT	(128 * 1024)
/*
 * zstd's job with threads: its buffers are a few jobs (bench/pg.sh: peak
 * RSS 38 MiB at 2 MiB, 52 MiB at 4 MiB; the library's default for level 3
 * is 8 MiB).
 */
#define ZSTD_MT_JOB	(2 * 1024 * 1024)

struct codec {
	struct compression	 comp;
	int			 decompress;
	ZSTD_CCtx		*zc;
	ZSTD_DCtx		*zd;
	size_t			 zd_last;	/* 0: a frame ended */
	z_stream		 z;
	int			 z_init;
	int			 z_end;		/* gzip stream ended */
	unsigned char		*out;
};

size_t
codec_min_room(const struct codec *c)
{
	return c->comp.algo == COMP_NONE ? 1 : CODEC_OUT;
}

const char *
codec_ext(const struct compression *c)
{
	switch (c->algo) {
	case COMP_ZSTD:
		return ".zst";
	case COMP_GZIP:
		return ".gz";
	default:
		return "";
	}
}

/*
 * The level; the frame checksum, which checks the plaintext at
 * decompression (the manifest's "check"); and with threads, zstd's own
 * workers on jobs of ZSTD_MT_JOB bytes, so that its buffers stay small
 * (a library built without threads refuses nbWorkers: then none).
 */
static void
zstd_setup(ZSTD_CCtx *zc, const struct compression *comp)
{
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, comp->level);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	if (comp->threads > 1 && !ZSTD_isError(ZSTD_CCtx_setParameter(zc,
	    ZSTD_c_nbWorkers, comp->threads)))
		ZSTD_CCtx_setParameter(zc, ZSTD_c_jobSize, ZSTD_MT_JOB);
}

struct codec *
codec_new(const struct compression *comp, int decompress, const char **err)
{
	struct codec	*c;
	int		 rc;

	c = xcalloc(1, sizeof(*c));
	c->comp = *comp;
	c->decompress = decompress;
	c->out = xmalloc(CODEC_OUT);
	switch (comp->algo) {
	case COMP_ZSTD:
		if (decompress) {
			c->zd = ZSTD_createDCtx();
			c->zd_last = 0;
		} else {
			c->zc = ZSTD_createCCtx();
			if (c->zc != NULL)
				zstd_setup(c->zc, comp);
		}
		if (c->zd == NULL && c->zc == NULL) {
			*err = "cannot create a zstd context";
			codec_free(c);
			return NULL;
		}
		break;
	case COMP_GZIP:
		/* 15 + 16: gzip wrapper, as gzip(1) writes and reads it. */
		rc = decompress ? inflateInit2(&c->z, 15 + 16) :
		    deflateInit2(&c->z, comp->level, Z_DEFLATED, 15 + 16, 8,
		    Z_DEFAULT_STRATEGY);
		if (rc != Z_OK) {
			*err = "cannot create a zlib stream";
			codec_free(c);
			return NULL;
		}
		c->z_init = 1;
		break;
	default:
		break;
	}
	return c;
}

void
codec_free(struct codec *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	if (c->z_init) {
		if (c->decompress)
			inflateEnd(&c->z);
		else
			deflateEnd(&c->z);
	}
	free(c->out);
	free(c);
}

/*
 * One ZSTD call per loop turn; returns when the input is used up and the
 * library has nothing more to flush, or once out_max bytes went out.
 */
static int
zstd_run(struct codec *c, const void *buf, size_t len, int end,
    size_t *used, size_t out_max, codec_emit_fn emit, void *arg,
    const char **err)
{
	ZSTD_inBuffer	 in = { buf, len, 0 };
	ZSTD_outBuffer	 out;
	size_t		 rc, sent = 0;

	for (;;) {
		out.dst = c->out;
		out.size = CODEC_OUT;
		out.pos = 0;
		if (c->decompress)
			rc = ZSTD_decompressStream(c->zd, &out, &in);
		else
			rc = ZSTD_compressStream2(c->zc, &out, &in,
			    end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(rc)) {
			*err = ZSTD_getErrorName(rc);
			return -1;
		}
		if (out.pos > 0 && emit(arg, c->out, out.pos) == -1) {
			*err = "output refused";
			return -1;
		}
		sent += out.pos;
		*used = in.pos;
		if (c->decompress) {
			/*
			 * 0: a frame ended and is flushed.  Do not call again
			 * without input: that would ask for the next frame's
			 * header and make a complete stream look truncated.
			 */
			c->zd_last = rc;
			if (in.pos == in.size &&
			    (rc == 0 || out.pos < out.size))
				return 0;
		} else if (end ? rc == 0 :
		    (in.pos == in.size && out.pos < out.size))
			return 0;
		if (sent + CODEC_OUT > out_max)
			return 1;
	}
}

static int
gzip_run(struct codec *c, const void *buf, size_t len, int end,
    size_t *used, size_t out_max, codec_emit_fn emit, void *arg,
    const char **err)
{
	size_t	 n, sent = 0;
	int	 rc;

	c->z.next_in = (unsigned char *)(uintptr_t)buf;
	c->z.avail_in = len;
	for (;;) {
		c->z.next_out = c->out;
		c->z.avail_out = CODEC_OUT;
		if (c->decompress) {
			if (c->z_end && c->z.avail_in > 0) {
				*err = "trailing data after the gzip stream";
				return -1;
			}
			rc = inflate(&c->z, Z_NO_FLUSH);
			if (rc == Z_STREAM_END)
				c->z_end = 1;
			else if (rc != Z_OK && rc != Z_BUF_ERROR) {
				*err = c->z.msg ? c->z.msg : "corrupt gzip data";
				return -1;
			}
		} else {
			rc = deflate(&c->z, end ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR) {
				*err = "deflate failed";
				return -1;
			}
		}
		n = CODEC_OUT - c->z.avail_out;
		if (n > 0 && emit(arg, c->out, n) == -1) {
			*err = "output refused";
			return -1;
		}
		sent += n;
		*used = len - c->z.avail_in;
		if (!c->decompress && end) {
			if (rc == Z_STREAM_END)
				return 0;
			if (sent + CODEC_OUT > out_max)
				return 1;
			continue;
		}
		if (c->z.avail_in == 0 && c->z.avail_out > 0)
			return 0;
		if (c->decompress && c->z_end && c->z.avail_in > 0) {
			*err = "trailing data after the gzip stream";
			return -1;
		}
		if (sent + CODEC_OUT > out_max)
			return 1;
	}
}

int
codec_update(struct codec *c, const void *buf, size_t len, size_t *used,
    size_t out_max, codec_emit_fn emit, void *arg, const char **err)
{
	*used = 0;
	switch (c->comp.algo) {
	case COMP_ZSTD:
		return zstd_run(c, buf, len, 0, used, out_max, emit, arg, err);
	case COMP_GZIP:
		return gzip_run(c, buf, len, 0, used, out_max, emit, arg, err);
	default:
		*used = len > out_max ? out_max : len;
		if (*used > 0 && emit(arg, buf, *used) == -1) {
			*err = "output refused";
			return -1;
		}
		return *used < len ? 1 : 0;
	}
}

int
codec_finish(struct codec *c, codec_emit_fn emit, void *arg,
    const char **err)
{
	return codec_finish_max(c, SIZE_MAX, emit, arg, err);
}

int
codec_finish_max(struct codec *c, size_t out_max, codec_emit_fn emit,
    void *arg, const char **err)
{
	size_t	 used;

	switch (c->comp.algo) {
	case COMP_ZSTD:
		if (c->decompress) {
			if (c->zd_last != 0) {
				*err = "truncated zstd data";
				return -1;
			}
			return 0;
		}
		return zstd_run(c, "", 0, 1, &used, out_max, emit, arg, err);
	case COMP_GZIP:
		if (c->decompress) {
			if (!c->z_end) {
				*err = "truncated gzip data";
				return -1;
			}
			return 0;
		}
		return gzip_run(c, "", 0, 1, &used, out_max, emit, arg, err);
	default:
		return 0;
	}
}
