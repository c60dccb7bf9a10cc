/*
 * snapcheck.c - checks a raft snapshot while it streams: gunzip (zlib,
 * one gzip member, CRC and length checked by zlib), then a small tar
 * reader (512-byte headers, checksum checked, ustar prefix, pax `path'
 * and `size' records, base-256 sizes) over the entries Vault writes:
 * meta.json, state.bin, SHA256SUMS and optionally SHA256SUMS.sealed.
 * meta.json and state.bin are hashed as they pass; SHA256SUMS is kept
 * and compared once both sums and it are known.  Anything else -- an
 * unknown or repeated entry, a missing one, a wrong sum, a gzip or tar
 * that does not end -- fails the check, with a message saying which.
 *
 * No I/O and no host: the caller feeds bytes and asks at the end, so
 * that the fuzz target drives exactly what the plugin runs.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "snapcheck.h"

#define SUMS_MAX	4096		/* SHA256SUMS: two short lines */
#define PAX_MAX		65536		/* a pax extended header */
#define OUT_SLICE	16384		/* inflate output per round */

enum entry {
	E_META = 0,
	E_STATE,
	E_SUMS,
	E_SEALED,
	E_N,
	E_PAX,		/* a pax header of the next entry */
	E_SKIP		/* a pax global header */
};

static const char *const entry_names[E_N] = {
	"meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"
};

struct snapcheck {
	z_stream	 zs;
	int		 zinit;
	int		 zend;		/* the gzip member ended */
	int		 failed;
	char		 msg[256];

	unsigned char	 hdr[512];
	size_t		 hdrlen;
	int		 in_entry;
	enum entry	 cur;
	uint64_t	 remain;	/* entry bytes still to come */
	uint64_t	 pad;		/* then padding to 512 */
	int		 zeros;		/* zero blocks in a row */
	int		 ended;		/* the end-of-archive marker */

	int		 seen[E_N];
	EVP_MD_CTX	*md[2];		/* meta.json, state.bin */
	unsigned char	 dig[2][32];
	int		 verified;

	char		*meta;
	size_t		 metalen;
	char		 sums[SUMS_MAX];
	size_t		 sumslen;
	char		*pax;		/* the pending pax header */
	size_t		 paxlen;
	char		*pax_path;	/* what it said of the next entry */
	int64_t		 pax_size;	/* -1: nothing */
	uint64_t	 state_size;
	uint64_t	 tar_off;	/* uncompressed bytes so far */
	unsigned char	 out[OUT_SLICE];
};

static int
fail(struct snapcheck *sc, const char *fmt, ...)
{
	va_list	ap;

	if (sc->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(sc->msg, sizeof(sc->msg), fmt, ap);
	va_end(ap);
	sc->failed = 1;
	return -1;
}

struct snapcheck *
snapcheck_new(void)
{
	struct snapcheck	*sc;

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return NULL;
	sc->pax_size = -1;
	if (inflateInit2(&sc->zs, 16 + MAX_WBITS) != Z_OK) {
		free(sc);
		return NULL;
	}
	sc->zinit = 1;
	sc->md[0] = EVP_MD_CTX_new();
	sc->md[1] = EVP_MD_CTX_new();
	if (sc->md[0] == NULL || sc->md[1] == NULL ||
	    EVP_DigestInit_ex(sc->md[0], EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(sc->md[1], EVP_sha256(), NULL) != 1) {
		snapcheck_free(sc);
		return NULL;
	}
	return sc;
}

void
snapcheck_free(struct snapcheck *sc)
{
	if (sc == NULL)
		return;
	if (sc->zinit)
		inflateEnd(&sc->zs);
	EVP_MD_CTX_free(sc->md[0]);
	EVP_MD_CTX_free(sc->md[1]);
	free(sc->meta);
	free(sc->pax);
	free(sc->pax_path);
	free(sc);
}

/* An octal (NUL/space padded) or base-256 number field; -1: bad. */
static int64_t
tar_num(const unsigned char *f, size_t len)
{
	uint64_t	v = 0;
	size_t		i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative or too large */
		for (i = 1; i < len; i++) {
			if (v >> 55)
				return -1;
			v = (v << 8) | f[i];
		}
		return (int64_t)v;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	return (int64_t)v;
}

static int
tar_sum_ok(const unsigned char *h)
{
	int64_t		want;
	uint64_t	u = 0;
	int64_t		s = 0;
	size_t		i;

	want = tar_num(h + 148, 8);
	if (want < 0)
		return 0;
	for (i = 0; i < 512; i++) {
		unsigned char	c = (i >= 148 && i < 156) ? ' ' : h[i];

		u += c;
		s += (signed char)c;
	}
	return (uint64_t)want == u || want == s;
}

/* The entry a header names, from a pax path or the header's fields. */
static int
tar_name(struct snapcheck *sc, const unsigned char *h, char *name,
    size_t namelen)
{
	size_t	nlen, plen = 0;

	if (sc->pax_path != NULL) {
		if (strlen(sc->pax_path) >= namelen)
			return fail(sc, "a tar entry name is too long");
		memcpy(name, sc->pax_path, strlen(sc->pax_path) + 1);
		return 0;
	}
	nlen = strnlen((const char *)h, 100);
	if (memcmp(h + 257, "ustar", 5) == 0)
		plen = strnlen((const char *)h + 345, 155);
	if (plen + 1 + nlen >= namelen)
		return fail(sc, "a tar entry name is too long");
	if (plen > 0) {
		memcpy(name, h + 345, plen);
		name[plen] = '/';
		memcpy(name + plen + 1, h, nlen);
		name[plen + 1 + nlen] = '\0';
	} else {
		memcpy(name, h, nlen);
		name[nlen] = '\0';
	}
	return 0;
}

/* Printable for a message: control bytes as '?'. */
static void
tame(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int
tar_header(struct snapcheck *sc)
{
	const unsigned char	*h = sc->hdr;
	char			 name[300];
	int64_t			 size;
	int			 i, type = h[156];

	if (!tar_sum_ok(h))
		return fail(sc, "tar header at byte %llu: bad checksum",
		    (unsigned long long)sc->tar_off - 512);
	size = tar_num(h + 124, 12);
	if (type != 'x' && type != 'g' && sc->pax_size >= 0)
		size = sc->pax_size;
	if (size < 0)
		return fail(sc, "tar header at byte %llu: bad size field",
		    (unsigned long long)sc->tar_off - 512);
	sc->remain = (uint64_t)size;
	sc->pad = (512 - (uint64_t)size % 512) % 512;
	sc->in_entry = 1;
	if (type == 'x' || type == 'g') {
		if (type == 'g') {
			sc->cur = E_SKIP;
			return 0;
		}
		if (size > PAX_MAX)
			return fail(sc, "a pax header of %lld bytes",
			    (long long)size);
		sc->pax = malloc((size_t)size + 1);
		if (sc->pax == NULL)
			return fail(sc, "out of memory");
		sc->paxlen = 0;
		sc->cur = E_PAX;
		return 0;
	}
	if (tar_name(sc, h, name, sizeof(name)) == -1)
		return -1;
	free(sc->pax_path);
	sc->pax_path = NULL;
	sc->pax_size = -1;
	tame(name);
	if (type != '0' && type != '\0')
		return fail(sc, "unexpected tar entry type '%c' (%s) in the "
		    "snapshot", type >= 0x20 && type < 0x7f ? type : '?', name);
	for (i = 0; i < E_N; i++)
		if (strcmp(name, entry_names[i]) == 0)
			break;
	if (i == E_N)
		return fail(sc, "unexpected file '%s' in the snapshot", name);
	if (sc->seen[i])
		return fail(sc, "%s appears twice in the snapshot", name);
	sc->seen[i] = 1;
	sc->cur = i;
	if (i == E_META && size > SNAPCHECK_META_MAX)
		return fail(sc, "meta.json is %lld bytes: too large",
		    (long long)size);
	if (i == E_SUMS && size >= SUMS_MAX)
		return fail(sc, "SHA256SUMS is %lld bytes: too large",
		    (long long)size);
	if (i == E_META) {
		sc->meta = malloc((size_t)size + 1);
		if (sc->meta == NULL)
			return fail(sc, "out of memory");
	}
	if (i == E_STATE)
		sc->state_size = (uint64_t)size;
	return 0;
}

/* "LEN key=value\n" records: path and size apply to the next entry. */
static int
pax_parse(struct snapcheck *sc)
{
	char	*p = sc->pax, *end = sc->pax + sc->paxlen, *eq, *rec;
	long	 len;
	char	*q;

	while (p < end) {
		rec = p;
		len = strtol(p, &q, 10);
		if (q == p || *q != ' ' || len <= 0 || len > end - rec ||
		    rec[len - 1] != '\n')
			return fail(sc, "a malformed pax header");
		rec[len - 1] = '\0';
		p = q + 1;
		eq = strchr(p, '=');
		if (eq == NULL)
			return fail(sc, "a malformed pax header");
		*eq++ = '\0';
		if (strcmp(p, "path") == 0) {
			free(sc->pax_path);
			sc->pax_path = strdup(eq);
			if (sc->pax_path == NULL)
				return fail(sc, "out of memory");
		} else if (strcmp(p, "size") == 0) {
			sc->pax_size = strtoll(eq, &q, 10);
			if (q == eq || *q != '\0' || sc->pax_size < 0)
				return fail(sc, "a bad pax size");
		}
		p = rec + len;
	}
	free(sc->pax);
	sc->pax = NULL;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Compare SHA256SUMS with the digests of meta.json and state.bin. */
static int
sums_verify(struct snapcheck *sc)
{
	unsigned char	 want[32];
	char		*line, *nl, *name;
	int		 listed[2] = { 0, 0 }, i, k, hi, lo;

	sc->sums[sc->sumslen] = '\0';
	if (strlen(sc->sums) != sc->sumslen)
		return fail(sc, "SHA256SUMS holds a NUL byte");
	for (line = sc->sums; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			return fail(sc, "SHA256SUMS: the last line has no "
			    "newline");
		*nl = '\0';
		for (k = 0; k < 32; k++) {
			hi = hexval(line[2 * k]);
			lo = hi < 0 ? -1 : hexval(line[2 * k + 1]);
			if (lo < 0)
				return fail(sc, "SHA256SUMS: a line without a "
				    "SHA-256");
			want[k] = (unsigned char)(hi << 4 | lo);
		}
		name = line + 64;
		if (name[0] != ' ' || (name[1] != ' ' && name[1] != '*'))
			return fail(sc, "SHA256SUMS: a malformed line");
		name += 2;
		for (i = 0; i < 2; i++)
			if (strcmp(name, entry_names[i]) == 0)
				break;
		tame(name);
		if (i == 2)
			return fail(sc, "SHA256SUMS names '%s', which is "
			    "not in a snapshot", name);
		if (listed[i]++)
			return fail(sc, "SHA256SUMS lists %s twice", name);
		if (memcmp(want, sc->dig[i], 32) != 0)
			return fail(sc, "SHA256SUMS: %s does not match its "
			    "sum", name);
	}
	for (i = 0; i < 2; i++)
		if (!listed[i])
			return fail(sc, "SHA256SUMS has no sum for %s",
			    entry_names[i]);
	sc->verified = 1;
	return 0;
}

static int
entry_end(struct snapcheck *sc)
{
	unsigned int	len;

	switch (sc->cur) {
	case E_META:
	case E_STATE:
		if (EVP_DigestFinal_ex(sc->md[sc->cur], sc->dig[sc->cur],
		    &len) != 1)
			return fail(sc, "SHA-256 failed");
		break;
	case E_PAX:
		return pax_parse(sc);
	default:
		break;
	}
	if (sc->seen[E_META] && sc->seen[E_STATE] && sc->seen[E_SUMS] &&
	    !sc->verified && sc->cur != E_SEALED && sc->cur != E_SKIP)
		return sums_verify(sc);
	return 0;
}

static int
entry_data(struct snapcheck *sc, const unsigned char *p, size_t n)
{
	switch (sc->cur) {
	case E_META:
		memcpy(sc->meta + sc->metalen, p, n);
		sc->metalen += n;
		/* FALLTHROUGH */
	case E_STATE:
		if (EVP_DigestUpdate(sc->md[sc->cur], p, n) != 1)
			return fail(sc, "SHA-256 failed");
		break;
	case E_SUMS:
		memcpy(sc->sums + sc->sumslen, p, n);
		sc->sumslen += n;
		break;
	case E_PAX:
		memcpy(sc->pax + sc->paxlen, p, n);
		sc->paxlen += n;
		break;
	default:
		break;
	}
	return 0;
}

static int
is_zero(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Uncompressed tar bytes. */
static int
tar_feed(struct snapcheck *sc, const unsigned char *p, size_t n)
{
	size_t	take;

	while (n > 0) {
		if (sc->ended) {
			if (!is_zero(p, n))
				return fail(sc, "data after the end of the "
				    "tar archive");
			sc->tar_off += n;
			return 0;
		}
		if (sc->in_entry && sc->remain > 0) {
			take = n < sc->remain ? n : (size_t)sc->remain;
			if (entry_data(sc, p, take) == -1)
				return -1;
			sc->remain -= take;
		} else if (sc->in_entry) {
			take = n < sc->pad ? n : (size_t)sc->pad;
			sc->pad -= take;
		} else {
			take = 512 - sc->hdrlen;
			if (take > n)
				take = n;
			memcpy(sc->hdr + sc->hdrlen, p, take);
			sc->hdrlen += take;
		}
		p += take;
		n -= take;
		sc->tar_off += take;
		if (sc->in_entry && sc->remain == 0 && sc->pad == 0) {
			sc->in_entry = 0;
			if (entry_end(sc) == -1)
				return -1;
		} else if (!sc->in_entry && sc->hdrlen == 512) {
			sc->hdrlen = 0;
			if (is_zero(sc->hdr, 512)) {
				if (++sc->zeros == 2)
					sc->ended = 1;
				continue;
			}
			if (sc->zeros > 0)
				return fail(sc, "a tar header after a zero "
				    "block");
			if (tar_header(sc) == -1)
				return -1;
			if (sc->remain == 0 && sc->pad == 0) {
				sc->in_entry = 0;
				if (entry_end(sc) == -1)
					return -1;
			}
		}
	}
	return 0;
}

int
snapcheck_feed(struct snapcheck *sc, const unsigned char *p, size_t n,
    char *err, size_t errlen)
{
	int	r;

	if (sc->failed)
		goto out;
	if (n > 0 && sc->zend) {
		fail(sc, "data after the end of the gzip stream");
		goto out;
	}
	sc->zs.next_in = (unsigned char *)(uintptr_t)p;
	sc->zs.avail_in = (uInt)n;
	while (sc->zs.avail_in > 0 && !sc->zend) {
		sc->zs.next_out = sc->out;
		sc->zs.avail_out = sizeof(sc->out);
		r = inflate(&sc->zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
			fail(sc, "not a valid gzip stream (%s)",
			    sc->zs.msg != NULL ? sc->zs.msg : "zlib error");
			goto out;
		}
		if (tar_feed(sc, sc->out, sizeof(sc->out) -
		    sc->zs.avail_out) == -1)
			goto out;
		if (r == Z_STREAM_END)
			sc->zend = 1;
		else if (r == Z_BUF_ERROR && sc->zs.avail_out != 0)
			break;
	}
	if (sc->zs.avail_in > 0) {
		fail(sc, "data after the end of the gzip stream");
		goto out;
	}
	return 0;
out:
	snprintf(err, errlen, "snapshot check: %s", sc->msg);
	return -1;
}

int
snapcheck_finish(struct snapcheck *sc, char *err, size_t errlen)
{
	int	i;

	if (sc->failed)
		goto out;
	if (!sc->zend) {
		fail(sc, "truncated: the gzip stream ends early (after %llu "
		    "bytes of tar)", (unsigned long long)sc->tar_off);
		goto out;
	}
	if (!sc->ended) {
		fail(sc, "truncated: the tar archive has no end marker");
		goto out;
	}
	for (i = 0; i < 3; i++)
		if (!sc->seen[i]) {
			fail(sc, "no %s in the snapshot", entry_names[i]);
			goto out;
		}
	if (!sc->verified && sums_verify(sc) == -1)
		goto out;
	return 0;
out:
	snprintf(err, errlen, "snapshot check: %s", sc->msg);
	return -1;
}

const char *
snapcheck_meta(const struct snapcheck *sc, size_t *len)
{
	*len = sc->metalen;
	return sc->meta;
}

uint64_t
snapcheck_state_size(const struct snapcheck *sc)
{
	return sc->state_size;
}
