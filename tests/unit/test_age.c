/*
 * test_age.c - the age v1 format: the C2SP/CCTV conformance vectors,
 * the worked intermediates, round trips, tampering and truncation,
 * Bech32 keys, key files, and interop with the stock age CLI.
 *
 * Every decryption is fed in odd-sized pieces, so header lines, the
 * nonce and chunk boundaries all get split somewhere.
 */
#include "zb-build.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "age.h"
#include "testlib.h"

#define MiB	(1024 * 1024)

/* ---- helpers ------------------------------------------------------------ */

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

struct hsink {
	EVP_MD_CTX	*md;
	size_t		 n;
};

static int
hash_emit(void *arg, const void *p, size_t n)
{
	struct hsink	*h = arg;

	EVP_DigestUpdate(h->md, p, n);
	h->n += n;
	return 0;
}

static void
hexstr(const unsigned char *p, size_t n, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void
fill(unsigned char *p, size_t n, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (unsigned char)(seed >> 23);
	}
}

/* Piece sizes that split lines, the nonce and chunks in odd places. */
static const size_t steps[] = { 1, 3, 7, 64, 65, 1000, 4093, 65551,
    65553, 100003, 2 };

static enum age_status
dec_feed(const struct age_keys *ks, const void *data, size_t len,
    age_emit_fn fn, void *arg, size_t seed, char *err, size_t errlen)
{
	const unsigned char	*p = data;
	struct age_dec		*d;
	enum age_status		 st = AGE_OK;
	size_t			 off = 0, i = seed, n;

	d = age_dec_new(ks);
	cr_assert_not_null(d);
	while (off < len && st == AGE_OK) {
		n = steps[i++ % ZB_NELEM(steps)];
		if (n > len - off)
			n = len - off;
		st = age_dec_update(d, p + off, n, fn, arg);
		off += n;
	}
	if (st == AGE_OK)
		st = age_dec_finish(d, fn, arg);
	if (err != NULL)
		snprintf(err, errlen, "%s", age_dec_error(d));
	age_dec_free(d);
	return st;
}

static enum age_status
dec_buf(const struct age_keys *ks, const void *data, size_t len,
    struct buf *out, size_t seed)
{
	char	 err[256];

	buf_reset(out);
	return dec_feed(ks, data, len, collect, out, seed, err, sizeof(err));
}

/* Encrypt in odd pieces into out. */
static void
enc_buf(const struct age_keys *ks, const void *data, size_t len,
    struct buf *out, size_t seed)
{
	const unsigned char	*p = data;
	struct age_enc		*e;
	char			 err[256];
	size_t			 off = 0, i = seed, n;

	buf_reset(out);
	e = age_enc_new(ks, err, sizeof(err));
	cr_assert_not_null(e, "age_enc_new: %s", err);
	while (off < len) {
		n = steps[i++ % ZB_NELEM(steps)] * 3;
		if (n > len - off)
			n = len - off;
		cr_assert_eq(age_enc_update(e, p + off, n, collect, out), 0);
		off += n;
	}
	cr_assert_eq(age_enc_finish(e, collect, out), 0);
	cr_assert(!out->failed);
	age_enc_free(e);
}

static const char *
status_class(enum age_status st)
{
	switch (st) {
	case AGE_OK:
		return "success";
	case AGE_NO_MATCH:
		return "no match";
	case AGE_HMAC_FAILURE:
		return "HMAC failure";
	case AGE_HEADER_FAILURE:
		return "header failure";
	case AGE_PAYLOAD_FAILURE:
		return "payload failure";
	default:
		return "error";
	}
}

static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE		*f = fopen(path, "rb");
	unsigned char	*p;
	long		 n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	p = xmalloc((size_t)n + 1);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

static void
write_all_file(const char *path, const void *p, size_t n)
{
	FILE	*f = fopen(path, "wb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(p, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

static unsigned char *
inflate_all(const unsigned char *in, size_t len, size_t *outlen)
{
	z_stream	 zs;
	unsigned char	*out;
	size_t		 cap = 1 << 20;
	int		 rc;

	memset(&zs, 0, sizeof(zs));
	cr_assert_eq(inflateInit(&zs), Z_OK);
	out = xmalloc(cap);
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		if (zs.total_out == cap) {
			cr_assert_lt(cap, (size_t)256 * MiB);
			cap *= 2;
			out = xreallocarray(out, cap, 1);
		}
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		cr_assert(rc == Z_OK || (rc == Z_BUF_ERROR &&
		    zs.avail_out == 0), "inflate: %d", rc);
	}
	*outlen = zs.total_out;
	inflateEnd(&zs);
	return out;
}

/* "X25519:" and 16 hex digits of SHA-256 of a recipient string. */
static void
expect_fp(const char *recipient, char *out)
{
	unsigned char	 md[32];
	unsigned int	 n;

	EVP_Digest(recipient, strlen(recipient), md, &n, EVP_sha256(), NULL);
	memcpy(out, "X25519:", 7);
	hexstr(md, 8, out + 7);
}

static struct age_keys *
keys_of(const char *identity)
{
	struct age_keys	*ks = age_keys_new();
	char		 err[128];

	cr_assert_eq(age_keys_add_identity(ks, identity, err, sizeof(err)), 0,
	    "%s", err);
	return ks;
}

/* ---- (a) the CCTV conformance vectors ----------------------------------- */

struct vector {
	char		 expect[32];
	char		 payload[65];
	char		*ids[8];
	int		 nids;
	char		*pass[8];
	int		 npass;
	int		 compressed;
	const char	*skip;
	const unsigned char *body;
	size_t		 bodylen;
};

/* The key: value lines; sets v->skip for what we do not implement. */
static void
vector_parse(char *text, size_t len, struct vector *v)
{
	char	*p = text, *nl, *val;

	memset(v, 0, sizeof(*v));
	for (;;) {
		nl = memchr(p, '\n', len - (size_t)(p - text));
		cr_assert_not_null(nl, "no blank line after the vector header");
		*nl = '\0';
		if (*p == '\0')
			break;
		val = strstr(p, ": ");
		cr_assert_not_null(val, "bad vector line '%s'", p);
		*val = '\0';
		val += 2;
		if (strcmp(p, "expect") == 0)
			snprintf(v->expect, sizeof(v->expect), "%s", val);
		else if (strcmp(p, "payload") == 0)
			snprintf(v->payload, sizeof(v->payload), "%s", val);
		else if (strcmp(p, "identity") == 0 && v->nids < 8)
			v->ids[v->nids++] = val;
		else if (strcmp(p, "passphrase") == 0 && v->npass < 8)
			v->pass[v->npass++] = val;
		else if (strcmp(p, "compressed") == 0 &&
		    strcmp(val, "zlib") == 0)
			v->compressed = 1;
		else if (strcmp(p, "armored") == 0)
			v->skip = "armored";
		else if (strcmp(p, "file key") != 0 &&
		    strcmp(p, "comment") != 0)
			v->skip = "unknown key";
		p = nl + 1;
	}
	v->body = (unsigned char *)nl + 1;
	v->bodylen = len - (size_t)(v->body - (unsigned char *)text);
}

/*
 * Run one vector: 1 matched, 0 mismatched (logged), -1 skipped with
 * *why set.
 */
static int
vector_run(const char *name, char *text, size_t len, const char **why)
{
	struct vector	 v;
	struct age_keys	*ks;
	struct hsink	 h;
	unsigned char	*inflated = NULL, md[32];
	const unsigned char *age;
	size_t		 agelen, hlen;
	char		 err[256], got[65];
	enum age_status	 st;
	unsigned int	 mdlen;
	int		 i, ok;

	vector_parse(text, len, &v);
	*why = v.skip;
	if (v.skip != NULL)
		return -1;
	age = v.body;
	agelen = v.bodylen;
	if (v.compressed) {
		inflated = inflate_all(v.body, v.bodylen, &agelen);
		age = inflated;
	}
	/* ML-KEM hybrid recipients are not implemented. */
	hlen = agelen < AGE_HEADER_MAX ? agelen : AGE_HEADER_MAX;
	*why = "hybrid";
	if (memmem(age, hlen, "mlkem768x25519", 14) != NULL) {
		free(inflated);
		return -1;
	}
	ks = age_keys_new();
	for (i = 0; i < v.nids; i++) {
		if (strncmp(v.ids[i], "AGE-SECRET-KEY-PQ-", 18) == 0) {
			age_keys_free(ks);
			free(inflated);
			return -1;
		}
		cr_assert_eq(age_keys_add_identity(ks, v.ids[i], err,
		    sizeof(err)), 0, "%s: %s", name, err);
	}
	for (i = 0; i < v.npass; i++)
		cr_assert_eq(age_keys_add_passphrase(ks, v.pass[i],
		    strlen(v.pass[i]), 0, err, sizeof(err)), 0, "%s", err);
	h.md = EVP_MD_CTX_new();
	h.n = 0;
	EVP_DigestInit_ex(h.md, EVP_sha256(), NULL);
	st = dec_feed(ks, age, agelen, hash_emit, &h, strlen(name), err,
	    sizeof(err));
	EVP_DigestFinal_ex(h.md, md, &mdlen);
	EVP_MD_CTX_free(h.md);
	hexstr(md, 32, got);
	ok = strcmp(status_class(st), v.expect) == 0 &&
	    (v.payload[0] == '\0' || strcmp(got, v.payload) == 0);
	if (!ok)
		cr_log_error("age vector %s: expected %s%s%s, got %s (%s), "
		    "%zu bytes emitted, sha256 %s", name, v.expect,
		    v.payload[0] != '\0' ? " with payload " : "", v.payload,
		    status_class(st), err, h.n, got);
	age_keys_free(ks);
	free(inflated);
	return ok;
}

static int
skip_name(const struct dirent *de)
{
	return de->d_name[0] != '.' && strcmp(de->d_name, "README.md") != 0;
}

Test(age, cctv_vectors)
{
	const char	*shared = getenv("ZB_SHARED"), *why;
	struct dirent	**names;
	char		 dir[1024], path[1400];
	unsigned char	*text;
	size_t		 len;
	int		 n, i, rc, run = 0, bad = 0, armored = 0, hybrid = 0;
	int		 unknown = 0;

	snprintf(dir, sizeof(dir), "%s/testdata/age-testkit",
	    shared != NULL ? shared : "/work/shared");
	if (access(dir, R_OK) == -1)
		skip_vector_suite("age-testkit", "no age vectors at %s",
		    dir);
	n = scandir(dir, &names, skip_name, alphasort);
	cr_assert_geq(n, 0, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		text = read_all(path, &len);
		rc = vector_run(names[i]->d_name, (char *)text, len, &why);
		if (rc == -1 && strcmp(why, "armored") == 0)
			armored++;
		else if (rc == -1 && strcmp(why, "hybrid") == 0)
			hybrid++;
		else if (rc == -1)
			unknown++;
		else {
			run++;
			bad += rc == 0;
		}
		free(text);
		free(names[i]);
	}
	free(names);
	printf("age vectors: %d run, %d skipped (%d armored, %d hybrid, "
	    "%d unknown keys); %d mismatched\n", run, armored + hybrid +
	    unknown, armored, hybrid, unknown, bad);
	fflush(stdout);
	cr_log_info("age vectors: %d run, %d skipped", run,
	    armored + hybrid + unknown);
	cr_assert_geq(run, 80, "only %d vectors ran", run);
	cr_assert_eq(bad, 0, "%d of %d vectors did not match", bad, run);
}

/* ---- (b) worked intermediates and round trips --------------------------- */

/* CCTV "x25519": the intermediates in docs/protocols/age-format.md. */
static const char x25519_id[] =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMD"
    "KWYKLMGR48UAWX40Q2P2LM0";
static const char x25519_rcpt[] =
    "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";
static const char x25519_file[] =
    "age-encryption.org/v1\n"
    "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\n"
    "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\n"
    "--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n"
    "\xee\xcf\x62\xc7\xce\x91\xb4\x33\x27\x4e\x68\xd4\xf2\xf9\x13\x4c"
    "\xb7\x4c\x5b\xfe\xf7\xbe\xaa\x52\xc8\xf0\xbc\x0e\x99\x2c\x1e\x83"
    "\x31\xfb\x66";
/* CCTV "scrypt": passphrase "password", work factor 10. */
static const char scrypt_file[] =
    "age-encryption.org/v1\n"
    "-> scrypt rF0/NwblUHHTpgQgRpe5CQ 10\n"
    "gUjEymFKMVXQEKdMMHL24oYexjE3TIC0O0zGSqJ2aUY\n"
    "--- IOXiQYStkoT1mvZW2tFOqZdhRVvj58egABx/sWfZQbc\n"
    "\x1b\x35\xc6\xe6\x87\xdd\x00\xda\x3a\xc3\x79\xac\x9f\x74\x2c\x21"
    "\xfd\x18\x5a\x1b\x9e\x3d\xed\x73\x9d\x14\xac\x6a\x9a\x50\x12\x4d"
    "\xb8\x66\xd8";

Test(age, worked_intermediates)
{
	struct age_keys	*ks, *rk;
	struct buf	 out;
	char		 fp[32], err[128];
	size_t		 seed;

	/* identity -> public key -> Bech32 recipient */
	ks = keys_of(x25519_id);
	expect_fp(x25519_rcpt, fp);
	cr_assert_str_eq(age_keys_fingerprint(ks, 0), fp);
	rk = age_keys_new();
	cr_assert_eq(age_keys_add_recipient(rk, x25519_rcpt, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(age_keys_fingerprint(rk, 0), fp);
	age_keys_free(rk);
	/* shared secret, wrap key, header MAC key, payload key, STREAM */
	buf_init(&out, 1024);
	for (seed = 0; seed < ZB_NELEM(steps); seed++) {
		cr_assert_eq(dec_buf(ks, x25519_file, sizeof(x25519_file) - 1,
		    &out, seed), AGE_OK);
		cr_assert_eq(out.len, 3);
		cr_assert_eq(memcmp(out.data, "age", 3), 0);
	}
	age_keys_free(ks);
	/* the scrypt wrap key */
	ks = age_keys_new();
	cr_assert_eq(age_keys_add_passphrase(ks, "password", 8, 0, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(age_keys_fingerprint(ks, 0), "scrypt");
	cr_assert_eq(dec_buf(ks, scrypt_file, sizeof(scrypt_file) - 1, &out,
	    3), AGE_OK);
	cr_assert_eq(out.len, 3);
	cr_assert_eq(memcmp(out.data, "age", 3), 0);
	age_keys_free(ks);
	ks = age_keys_new();
	age_keys_add_passphrase(ks, "Password", 8, 0, err, sizeof(err));
	cr_assert_eq(dec_buf(ks, scrypt_file, sizeof(scrypt_file) - 1, &out,
	    3), AGE_NO_MATCH);
	cr_assert_eq(out.len, 0);
	age_keys_free(ks);
	buf_free(&out);
}

static const char spec_id[] =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ"
    "GFPYYSJZGFPYYSJZGFPQ4EGAEX";
static const char spec_rcpt[] =
    "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 3 * 65536,
    MiB + 5 };

static size_t
expect_len(size_t hdr, size_t n)
{
	size_t	 chunks = n == 0 ? 1 : (n + AGE_CHUNK - 1) / AGE_CHUNK;

	return hdr + 16 + n + 16 * chunks;
}

static size_t
header_len(const struct buf *c)
{
	const char	*mac = memmem(c->data, c->len, "\n--- ", 5);

	cr_assert_not_null(mac);
	return (size_t)(mac - c->data) + 5 + 43 + 1;
}

/* Encrypt every size to enc, decrypt with each key set in dec[]. */
static void
round_trips(const struct age_keys *enc, struct age_keys **dec, int ndec)
{
	unsigned char	*in = xmalloc(MiB + 5);
	struct buf	 c, out;
	size_t		 i;
	int		 j;

	fill(in, MiB + 5, 7);
	buf_init(&c, 2 * MiB);
	buf_init(&out, 2 * MiB);
	for (i = 0; i < ZB_NELEM(sizes); i++) {
		enc_buf(enc, in, sizes[i], &c, i);
		cr_assert_eq(c.len, expect_len(header_len(&c), sizes[i]),
		    "size %zu: %zu bytes of ciphertext", sizes[i], c.len);
		for (j = 0; j < ndec; j++) {
			cr_assert_eq(dec_buf(dec[j], c.data, c.len, &out,
			    i + (size_t)j), AGE_OK, "size %zu, key set %d",
			    sizes[i], j);
			cr_assert_eq(out.len, sizes[i]);
			cr_assert(sizes[i] == 0 ||
			    memcmp(out.data, in, sizes[i]) == 0);
		}
	}
	buf_free(&c);
	buf_free(&out);
	free(in);
}

Test(age, round_trip_one_recipient)
{
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 err[128];
	struct age_keys	*enc = age_keys_new(), *dec[1];

	cr_assert_eq(age_keygen(id, rc), 0);
	cr_assert_eq(age_keys_add_recipient(enc, rc, err, sizeof(err)), 0);
	dec[0] = keys_of(id);
	round_trips(enc, dec, 1);
	age_keys_free(enc);
	age_keys_free(dec[0]);
}

Test(age, round_trip_three_recipients)
{
	char		 id[3][AGE_IDENTITY_LEN + 1];
	char		 rc[AGE_RECIPIENT_LEN + 1], err[128];
	char		 other[AGE_IDENTITY_LEN + 1];
	struct age_keys	*enc = age_keys_new(), *dec[4], *none;
	struct buf	 c, out;
	int		 i;

	for (i = 0; i < 3; i++) {
		cr_assert_eq(age_keygen(id[i], rc), 0);
		cr_assert_eq(age_keys_add_recipient(enc, rc, err,
		    sizeof(err)), 0);
		dec[i] = keys_of(id[i]);
	}
	cr_assert_eq(age_keys_count(enc), 3);
	/* Keys that open nothing, and a passphrase, before the right one. */
	none = age_keys_new();
	cr_assert_eq(age_keygen(other, rc), 0);
	age_keys_add_identity(none, other, err, sizeof(err));
	age_keys_add_recipient(none, rc, err, sizeof(err));
	age_keys_add_passphrase(none, "nope", 4, 0, err, sizeof(err));
	age_keys_add_identity(none, spec_id, err, sizeof(err));
	cr_assert_eq(age_keys_count(none), 4);
	dec[3] = age_keys_new();
	age_keys_add_identity(dec[3], other, err, sizeof(err));
	age_keys_add_passphrase(dec[3], "nope", 4, 0, err, sizeof(err));
	age_keys_add_identity(dec[3], id[1], err, sizeof(err));
	round_trips(enc, dec, 4);

	/* Each stanza is there; a set with none of the keys finds none. */
	buf_init(&c, 1024);
	buf_init(&out, 1024);
	enc_buf(enc, "x", 1, &c, 0);
	cr_assert_eq(header_len(&c), 22 + 3 * (54 + 44) + 48);
	cr_assert_eq(dec_buf(none, c.data, c.len, &out, 1), AGE_NO_MATCH);
	cr_assert_eq(out.len, 0);
	buf_free(&c);
	buf_free(&out);
	for (i = 0; i < 4; i++)
		age_keys_free(dec[i]);
	age_keys_free(none);
	age_keys_free(enc);
}

Test(age, round_trip_passphrase)
{
	struct age_keys	*ks = age_keys_new(), *dec[1];
	struct buf	 c;
	char		 err[128];

	cr_assert_eq(age_keys_add_passphrase(ks, "correct horse", 13, 10, err,
	    sizeof(err)), 0);
	dec[0] = ks;
	round_trips(ks, dec, 1);
	buf_init(&c, 1024);
	enc_buf(ks, "x", 1, &c, 0);
	cr_assert_not_null(memmem(c.data, c.len, " 10\n", 4), "work factor");
	buf_free(&c);
	age_keys_free(ks);
}

Test(age, encryption_refuses_bad_recipient_sets)
{
	struct age_keys	*ks = age_keys_new();
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 err[128];

	cr_assert_null(age_enc_new(ks, err, sizeof(err)));
	cr_assert_eq(age_keys_add_passphrase(ks, "x", 1, 10, err,
	    sizeof(err)), 0);
	cr_assert_eq(age_keygen(id, rc), 0);
	cr_assert_eq(age_keys_add_recipient(ks, rc, err, sizeof(err)), 0);
	cr_assert_null(age_enc_new(ks, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "only"), "%s", err);
	cr_assert_eq(age_keys_add_passphrase(ks, "", 0, 10, err,
	    sizeof(err)), -1);
	cr_assert_eq(age_keys_add_passphrase(ks, "y", 1, AGE_SCRYPT_WF_MAX + 1,
	    err, sizeof(err)), -1);
	age_keys_free(ks);
}

/* An emit function that refuses stops both directions with an error. */
static int
refuse(void *arg, const void *p, size_t n)
{
	return -1;
}

Test(age, output_refusal_is_an_error)
{
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 err[128];
	struct age_keys	*ks = age_keys_new();
	struct age_enc	*e;

	cr_assert_eq(age_keygen(id, rc), 0);
	age_keys_add_recipient(ks, rc, err, sizeof(err));
	e = age_enc_new(ks, err, sizeof(err));
	cr_assert_eq(age_enc_update(e, "abc", 3, refuse, NULL), -1);
	cr_assert_eq(age_enc_finish(e, refuse, NULL), -1);
	age_enc_free(e);
	age_keys_free(ks);
	ks = keys_of(x25519_id);
	cr_assert_eq(dec_feed(ks, x25519_file, sizeof(x25519_file) - 1,
	    refuse, NULL, 0, NULL, 0), AGE_ERROR);
	age_keys_free(ks);
}

/* ---- (c) tampering and truncation --------------------------------------- */

struct sample {
	unsigned char	*in;
	size_t		 n;
	struct buf	 c;		/* ciphertext */
	size_t		 hdr;		/* header length */
	struct age_keys	*dec;
	struct age_keys	*dec2;		/* the second recipient */
};

/* 2 full chunks and a short one, to two recipients. */
static void
sample_make(struct sample *s)
{
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 id2[AGE_IDENTITY_LEN + 1], err[128];
	struct age_keys	*enc = age_keys_new();

	s->n = 2 * AGE_CHUNK + 1000;
	s->in = xmalloc(s->n);
	fill(s->in, s->n, 99);
	cr_assert_eq(age_keygen(id, rc), 0);
	age_keys_add_recipient(enc, rc, err, sizeof(err));
	cr_assert_eq(age_keygen(id2, rc), 0);
	age_keys_add_recipient(enc, rc, err, sizeof(err));
	buf_init(&s->c, 4 * AGE_CHUNK);
	enc_buf(enc, s->in, s->n, &s->c, 0);
	s->hdr = header_len(&s->c);
	s->dec = keys_of(id);
	s->dec2 = keys_of(id2);
	age_keys_free(enc);
}

static void
sample_free(struct sample *s)
{
	buf_free(&s->c);
	free(s->in);
	age_keys_free(s->dec);
	age_keys_free(s->dec2);
}

/* Decrypt a damaged copy; whatever came out must be authentic chunks. */
static enum age_status
damaged(struct sample *s, const unsigned char *p, size_t len,
    size_t *emitted)
{
	struct buf	 out;
	enum age_status	 st;

	buf_init(&out, 4 * AGE_CHUNK);
	st = dec_buf(s->dec, p, len, &out, len);
	cr_assert_eq(out.len % AGE_CHUNK, 0, "a partial chunk came out");
	cr_assert_leq(out.len, s->n);
	cr_assert(out.len == 0 || memcmp(out.data, s->in, out.len) == 0);
	*emitted = out.len;
	buf_free(&out);
	return st;
}

/* The ciphertext with the byte at off set to v. */
static enum age_status
alter(struct sample *s, size_t off, unsigned char v, size_t *emitted)
{
	unsigned char	*p = xmalloc(s->c.len);
	enum age_status	 st;

	memcpy(p, s->c.data, s->c.len);
	cr_assert_neq(p[off], v);
	p[off] = v;
	st = damaged(s, p, s->c.len, emitted);
	free(p);
	return st;
}

static enum age_status
flip(struct sample *s, size_t off, unsigned char x, size_t *emitted)
{
	return alter(s, off, (unsigned char)s->c.data[off] ^ x, emitted);
}

/* Another base64 character in place of the one at off. */
static enum age_status
rechar(struct sample *s, size_t off, size_t *emitted)
{
	return alter(s, off, s->c.data[off] == 'A' ? 'B' : 'A', emitted);
}

/* The first byte of the n-th header line that starts with prefix. */
static size_t
line_off(const struct sample *s, const char *prefix, int nth)
{
	size_t	 off = 0;

	for (;;) {
		if (strncmp(s->c.data + off, prefix, strlen(prefix)) == 0 &&
		    nth-- == 0)
			return off;
		off = (size_t)((char *)memchr(s->c.data + off, '\n',
		    s->hdr - off) - s->c.data) + 1;
		cr_assert_lt(off, s->hdr, "no header line '%s'", prefix);
	}
}

Test(age, tampered_header_fails_with_its_class)
{
	struct sample	 s;
	size_t		 off, em, share, body2, mac;
	enum age_status	 st;

	sample_make(&s);
	/* Every header byte: a failure of a header class, nothing out. */
	for (off = 0; off < s.hdr; off++) {
		st = flip(&s, off, 0x01, &em);
		cr_assert(st == AGE_HEADER_FAILURE || st == AGE_NO_MATCH ||
		    st == AGE_HMAC_FAILURE, "header byte %zu: %s", off,
		    status_class(st));
		cr_assert_eq(em, 0);
	}
	cr_assert_eq(flip(&s, 3, 0x20, &em), AGE_HEADER_FAILURE);
	/* Our share or body: the stanza is no longer ours. */
	share = line_off(&s, "-> X25519 ", 0) + 10;
	cr_assert_eq(rechar(&s, share, &em), AGE_NO_MATCH);
	cr_assert_eq(rechar(&s, share + 44 + 11, &em), AGE_NO_MATCH);
	/* Not base64, or not canonical: malformed. */
	cr_assert_eq(alter(&s, share + 3, '=', &em), AGE_HEADER_FAILURE);
	cr_assert_eq(alter(&s, share + 3, '-', &em), AGE_HEADER_FAILURE);
	cr_assert_eq(alter(&s, share + 42, s.c.data[share + 42] == '/' ? '+' :
	    '/', &em), AGE_HEADER_FAILURE);
	/* The other recipient's body: we still open ours, the MAC fails. */
	body2 = line_off(&s, "-> X25519 ", 1) + 54;
	cr_assert_eq(rechar(&s, body2 + 2, &em), AGE_HMAC_FAILURE);
	cr_assert_eq(em, 0);
	/* The MAC itself, and the "---" it covers. */
	mac = line_off(&s, "--- ", 0);
	cr_assert_eq(rechar(&s, mac + 4, &em), AGE_HMAC_FAILURE);
	cr_assert_eq(rechar(&s, mac + 20, &em), AGE_HMAC_FAILURE);
	cr_assert_eq(flip(&s, mac + 1, 0x01, &em), AGE_HEADER_FAILURE);
	cr_assert_eq(flip(&s, mac + 3, 0x01, &em), AGE_HEADER_FAILURE);
	/* "X25519" -> "X25518": an unknown type, ignored. */
	cr_assert_eq(flip(&s, share - 2, 0x01, &em), AGE_NO_MATCH);
	sample_free(&s);
}

Test(age, tampered_payload_stops_at_the_damaged_chunk)
{
	struct sample	 s;
	size_t		 off, em, chunk;
	enum age_status	 st;

	sample_make(&s);
	/* The nonce: no chunk opens. */
	for (off = s.hdr; off < s.hdr + 16; off++) {
		cr_assert_eq(flip(&s, off, 0x80, &em), AGE_PAYLOAD_FAILURE);
		cr_assert_eq(em, 0);
	}
	/* Payload bytes, tags included: chunks before the damage only. */
	for (off = s.hdr + 16; off < s.c.len; off += 997) {
		st = flip(&s, off, 0x04, &em);
		chunk = (off - s.hdr - 16) / (AGE_CHUNK + 16);
		cr_assert_eq(st, AGE_PAYLOAD_FAILURE, "offset %zu", off);
		cr_assert_eq(em, chunk * AGE_CHUNK, "offset %zu: %zu out",
		    off, em);
	}
	cr_assert_eq(flip(&s, s.c.len - 1, 0x01, &em), AGE_PAYLOAD_FAILURE);
	cr_assert_eq(em, 2 * AGE_CHUNK);
	sample_free(&s);
}

Test(age, truncation_and_trailing_data_fail)
{
	struct sample	 s;
	unsigned char	*p;
	size_t		 em, i;
	size_t		 cut[] = { 0, 10, 22, 23, 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t		 full = AGE_CHUNK + 16;
	enum age_status	 want[] = { AGE_HEADER_FAILURE, AGE_HEADER_FAILURE,
	    AGE_HEADER_FAILURE, AGE_HEADER_FAILURE, AGE_HEADER_FAILURE,
	    AGE_HEADER_FAILURE, AGE_PAYLOAD_FAILURE, AGE_PAYLOAD_FAILURE,
	    AGE_PAYLOAD_FAILURE, AGE_PAYLOAD_FAILURE, AGE_PAYLOAD_FAILURE,
	    AGE_PAYLOAD_FAILURE };
	size_t		 out[] = { 0, 0, 0, 0, 0, 0, 0, 0, AGE_CHUNK,
	    AGE_CHUNK, 2 * AGE_CHUNK, 2 * AGE_CHUNK };

	sample_make(&s);
	cut[4] = s.hdr - 1;			/* inside the MAC line */
	cut[5] = s.hdr + 7;			/* inside the nonce */
	cut[6] = s.hdr + 16;			/* no chunk at all */
	cut[7] = s.hdr + 16 + 100;		/* inside chunk 0 */
	cut[8] = s.hdr + 16 + full;		/* after chunk 0 */
	cut[9] = s.hdr + 16 + full + 15;	/* chunk 1 shorter than a tag */
	cut[10] = s.hdr + 16 + 2 * full;	/* the last chunk missing */
	cut[11] = s.c.len - 1;			/* the last byte missing */
	for (i = 0; i < ZB_NELEM(cut); i++) {
		cr_assert_eq(damaged(&s, (unsigned char *)s.c.data, cut[i],
		    &em), want[i], "cut at %zu", cut[i]);
		cr_assert_eq(em, out[i], "cut at %zu: %zu out", cut[i], em);
	}
	/* A byte after a short final chunk makes it fail to open. */
	p = xmalloc(s.c.len + 1);
	memcpy(p, s.c.data, s.c.len);
	p[s.c.len] = 0;
	cr_assert_eq(damaged(&s, p, s.c.len + 1, &em), AGE_PAYLOAD_FAILURE);
	cr_assert_eq(em, 2 * AGE_CHUNK);
	free(p);
	sample_free(&s);
}

Test(age, data_after_a_full_final_chunk_fails)
{
	struct age_keys	*enc = age_keys_new(), *dec;
	unsigned char	*in = xmalloc(2 * AGE_CHUNK);
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 err[128];
	struct buf	 c, out;

	fill(in, 2 * AGE_CHUNK, 5);
	cr_assert_eq(age_keygen(id, rc), 0);
	age_keys_add_recipient(enc, rc, err, sizeof(err));
	dec = keys_of(id);
	buf_init(&c, 4 * AGE_CHUNK);
	buf_init(&out, 4 * AGE_CHUNK);
	enc_buf(enc, in, 2 * AGE_CHUNK, &c, 0);
	cr_assert_eq(buf_add(&c, "z", 1), 0);
	/* The final chunk is authentic and goes out; the extra byte fails. */
	cr_assert_eq(dec_buf(dec, c.data, c.len, &out, 0),
	    AGE_PAYLOAD_FAILURE);
	cr_assert_eq(out.len, 2 * AGE_CHUNK);
	/* Not age at all. */
	cr_assert_eq(dec_buf(dec, "hello world\n", 12, &out, 0),
	    AGE_HEADER_FAILURE);
	cr_assert_eq(dec_buf(dec, "", 0, &out, 0), AGE_HEADER_FAILURE);
	buf_free(&c);
	buf_free(&out);
	free(in);
	age_keys_free(dec);
	age_keys_free(enc);
}

/* A sink that keeps nothing: the decryptor itself must stay bounded. */
static int
count_emit(void *arg, const void *p, size_t n)
{
	*(size_t *)arg += n;
	return 0;
}

static size_t	piped;

/* The encryptor's output goes straight into a decryptor. */
static int
pipe_emit(void *arg, const void *p, size_t n)
{
	return age_dec_update(arg, p, n, count_emit, &piped) == AGE_OK ?
	    0 : -1;
}

Test(age, a_long_stream_passes_through)
{
	struct age_keys	*enc = age_keys_new(), *dec;
	struct age_enc	*e;
	struct age_dec	*d;
	unsigned char	*block = xmalloc(100003);
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 err[128];
	size_t		 i;

	cr_assert_eq(age_keygen(id, rc), 0);
	age_keys_add_recipient(enc, rc, err, sizeof(err));
	dec = keys_of(id);
	e = age_enc_new(enc, err, sizeof(err));
	d = age_dec_new(dec);
	fill(block, 100003, 1);
	/* ~64 MiB straight from the encryptor into the decryptor. */
	for (i = 0; i < 640; i++)
		cr_assert_eq(age_enc_update(e, block, 100003, pipe_emit, d), 0,
		    "%s", age_dec_error(d));
	cr_assert_eq(age_enc_finish(e, pipe_emit, d), 0);
	cr_assert_eq(age_dec_finish(d, count_emit, &piped), AGE_OK);
	cr_assert_eq(piped, (size_t)640 * 100003);
	age_enc_free(e);
	age_dec_free(d);
	age_keys_free(enc);
	age_keys_free(dec);
	free(block);
}

/* ---- (d) Bech32 keys and key files -------------------------------------- */

Test(age, bech32_spec_example)
{
	struct age_keys	*ks = age_keys_new();
	char		 fp[32], err[128], s[128];
	size_t		 i;

	expect_fp(spec_rcpt, fp);
	cr_assert_eq(age_keys_add_identity(ks, spec_id, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(age_keys_add_recipient(ks, spec_rcpt, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_str_eq(age_keys_fingerprint(ks, 0), fp);
	cr_assert_str_eq(age_keys_fingerprint(ks, 1), fp);
	cr_assert_null(age_keys_fingerprint(ks, 2));
	cr_assert_eq(age_keys_count(ks), 2);

	/* Mixed case. */
	snprintf(s, sizeof(s), "%s", spec_id);
	s[20] = (char)(s[20] - 'A' + 'a');
	cr_assert_eq(age_keys_add_identity(ks, s, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "mixed"), "%s", err);
	snprintf(s, sizeof(s), "%s", spec_rcpt);
	s[10] = 'Q';
	cr_assert_eq(age_keys_add_recipient(ks, s, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "mixed"), "%s", err);
	/* One character off: the checksum catches it. */
	snprintf(s, sizeof(s), "%s", spec_rcpt);
	s[10] = s[10] == 'q' ? 'p' : 'q';
	cr_assert_eq(age_keys_add_recipient(ks, s, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "checksum"), "%s", err);
	snprintf(s, sizeof(s), "%s", spec_id);
	s[strlen(s) - 1] = s[strlen(s) - 1] == 'X' ? 'Y' : 'X';
	cr_assert_eq(age_keys_add_identity(ks, s, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "checksum"), "%s", err);
	/* Wrong kind, wrong case of the whole string, junk. */
	cr_assert_eq(age_keys_add_identity(ks, spec_rcpt, err, sizeof(err)),
	    -1);
	cr_assert_eq(age_keys_add_recipient(ks, spec_id, err, sizeof(err)),
	    -1);
	snprintf(s, sizeof(s), "%s", spec_id);
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	cr_assert_eq(age_keys_add_identity(ks, s, err, sizeof(err)), -1);
	cr_assert_eq(age_keys_add_recipient(ks, "age1", err, sizeof(err)),
	    -1);
	cr_assert_eq(age_keys_add_recipient(ks, "", err, sizeof(err)), -1);
	cr_assert_eq(age_keys_add_recipient(ks, "age1 zvkyg", err,
	    sizeof(err)), -1);
	cr_assert_eq(age_keys_count(ks), 2);
	age_keys_free(ks);
}

Test(age, keygen_pairs_match)
{
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 id2[AGE_IDENTITY_LEN + 1], err[128], fp[32];
	struct age_keys	*ks = age_keys_new();

	cr_assert_eq(age_keygen(id, rc), 0);
	cr_assert_eq(age_keygen(id2, rc), 0);
	cr_assert_str_neq(id, id2);
	cr_assert_eq(strlen(id), 74);
	cr_assert_eq(strlen(rc), 62);
	cr_assert_eq(strncmp(id, "AGE-SECRET-KEY-1", 16), 0);
	cr_assert_eq(strncmp(rc, "age1", 4), 0);
	cr_assert_eq(age_keys_add_identity(ks, id2, err, sizeof(err)), 0);
	expect_fp(rc, fp);
	cr_assert_str_eq(age_keys_fingerprint(ks, 0), fp);
	age_keys_free(ks);
}

Test(age, key_files)
{
	char		*dir = test_tmpdir(), path[256], text[1024], err[256];
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 rc2[AGE_RECIPIENT_LEN + 1];
	struct age_keys	*ks = age_keys_new();

	cr_assert_eq(age_keygen(id, rc), 0);
	cr_assert_eq(age_keygen(id, rc2), 0);
	snprintf(path, sizeof(path), "%s/recipients", dir);
	snprintf(text, sizeof(text), "# backup keys\n\n%s\r\n  %s  \n\n",
	    rc, rc2);
	write_all_file(path, text, strlen(text));
	cr_assert_eq(age_keys_load_file(ks, path, 0, err, sizeof(err)), 2,
	    "%s", err);
	/* A recipients file is not an identities file, and vice versa. */
	cr_assert_eq(age_keys_load_file(ks, path, 1, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "%s:3: ", path);
	cr_assert_eq(strncmp(err, text, strlen(text)), 0, "%s", err);
	snprintf(text, sizeof(text), "# created: now\n%s\n%s\nage1oops\n", id,
	    id);
	write_all_file(path, text, strlen(text));
	cr_assert_eq(age_keys_load_file(ks, path, 1, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "%s:4: ", path);
	cr_assert_eq(strncmp(err, text, strlen(text)), 0, "%s", err);
	/* Nothing of a failed file stays behind. */
	cr_assert_eq(age_keys_count(ks), 2);
	cr_assert_eq(age_keys_load_file(ks, "/nonexistent/keys", 1, err,
	    sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/keys"));
	age_keys_free(ks);
	rm_rf(dir);
	free(dir);
}

/* ---- (e) interop with the age CLI --------------------------------------- */

static int
have_prog(const char *name)
{
	const char	*path = getenv("PATH"), *d, *colon;
	char		 p[4200];

	for (d = path != NULL ? path : "/usr/bin:/bin"; *d != '\0';
	    d = *colon != '\0' ? colon + 1 : colon) {
		colon = strchr(d, ':');
		if (colon == NULL)
			colon = d + strlen(d);
		snprintf(p, sizeof(p), "%.*s/%s", (int)(colon - d), d, name);
		if (colon > d && access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static int
run(const char *fmt, ...) ZB_PRINTF(1, 2);

static int
run(const char *fmt, ...)
{
	va_list	 ap;
	char	 cmd[4096];
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Run argv on a new pseudo-terminal (age reads passphrases only from
 * /dev/tty) and type pass each time it asks for one.  The exit status,
 * or -2 when no pty can be had.
 */
static int
run_pty(char *const argv[], const char *pass)
{
	struct pollfd	 pfd;
	char		 out[8192];
	size_t		 len = 0, asked = 0, seen, i;
	ssize_t		 n;
	pid_t		 pid;
	int		 fd, st;
	time_t		 deadline = time(NULL) + 120;

	pid = forkpty(&fd, NULL, NULL, NULL);
	if (pid == -1)
		return -2;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) == 1) {
			n = read(fd, out + len, sizeof(out) - 1 - len);
			if (n <= 0)
				break;		/* EIO: the child closed it */
			len += (size_t)n;
			out[len] = '\0';
		}
		for (seen = 0, i = 0; i + 11 <= len; i++)
			seen += strncasecmp(out + i, "passphrase", 10) == 0 &&
			    (out[i + 10] == ':' || out[i + 10] == ' ');
		for (; asked < seen; asked++) {
			cr_assert_eq(write(fd, pass, strlen(pass)),
			    (ssize_t)strlen(pass));
			cr_assert_eq(write(fd, "\n", 1), 1);
		}
		cr_assert_lt(time(NULL), deadline, "age hangs: %s", out);
		cr_assert_lt(len, sizeof(out) - 1, "age says too much: %s",
		    out);
	}
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
need_age(void)
{
	if (!have_prog("age"))
		cr_skip_test("the age CLI is not installed (Debian: age)");
}

static void
compare_file(const char *path, const unsigned char *p, size_t n)
{
	unsigned char	*got;
	size_t		 len;

	got = read_all(path, &len);
	cr_assert_eq(len, n, "%s: %zu bytes, want %zu", path, len, n);
	cr_assert_eq(memcmp(got, p, n), 0, "%s differs", path);
	free(got);
}

Test(age, interop_ours_to_age_x25519)
{
	char		*dir, path[256], err[256];
	char		 id[AGE_IDENTITY_LEN + 1], rc[AGE_RECIPIENT_LEN + 1];
	char		 line[128];
	struct age_keys	*ks = age_keys_new();
	unsigned char	*in;
	struct buf	 c;
	size_t		 i, n[] = { 0, 65536, 300001 };

	need_age();
	dir = test_tmpdir();
	in = xmalloc(300001);
	fill(in, 300001, 3);
	buf_init(&c, MiB);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(age_keygen(id, rc), 0);
		cr_assert_eq(age_keys_add_recipient(ks, rc, err, sizeof(err)),
		    0);
	}
	/* An identity file as age-keygen writes one, for the second key. */
	snprintf(path, sizeof(path), "%s/key.txt", dir);
	snprintf(line, sizeof(line), "# test key\n%s\n", id);
	write_all_file(path, line, strlen(line));
	for (i = 0; i < ZB_NELEM(n); i++) {
		enc_buf(ks, in, n[i], &c, i);
		snprintf(path, sizeof(path), "%s/f.age", dir);
		write_all_file(path, c.data, c.len);
		/* age -o creates the file on its first write: none for "". */
		cr_assert_eq(run("rm -f %s/out && age -d -i %s/key.txt "
		    "-o %s/out %s/f.age && touch %s/out", dir, dir, dir, dir,
		    dir), 0, "age -d failed on %zu bytes", n[i]);
		snprintf(path, sizeof(path), "%s/out", dir);
		compare_file(path, in, n[i]);
	}
	buf_free(&c);
	free(in);
	age_keys_free(ks);
	rm_rf(dir);
	free(dir);
}

Test(age, interop_age_to_ours_x25519)
{
	char		*dir, path[256], err[256], cmd[1024];
	char		 id[3][AGE_IDENTITY_LEN + 1];
	char		 rc[3][AGE_RECIPIENT_LEN + 1];
	struct age_keys	*ks;
	unsigned char	*in, *f;
	struct buf	 out;
	size_t		 flen, i;

	need_age();
	dir = test_tmpdir();
	in = xmalloc(200003);
	fill(in, 200003, 4);
	snprintf(path, sizeof(path), "%s/plain", dir);
	write_all_file(path, in, 200003);
	for (i = 0; i < 3; i++)
		cr_assert_eq(age_keygen(id[i], rc[i]), 0);
	snprintf(cmd, sizeof(cmd), "age -e -r %s -r %s -r %s -o %s/f.age "
	    "%s/plain", rc[0], rc[1], rc[2], dir, dir);
	cr_assert_eq(run("%s", cmd), 0);
	snprintf(path, sizeof(path), "%s/f.age", dir);
	f = read_all(path, &flen);
	buf_init(&out, MiB);
	for (i = 0; i < 3; i++) {
		ks = keys_of(id[2 - i]);
		cr_assert_eq(dec_buf(ks, f, flen, &out, i), AGE_OK);
		cr_assert_eq(out.len, 200003);
		cr_assert_eq(memcmp(out.data, in, 200003), 0);
		age_keys_free(ks);
	}
	ks = keys_of(spec_id);
	cr_assert_eq(dec_buf(ks, f, flen, &out, 0), AGE_NO_MATCH);
	cr_assert_eq(out.len, 0);
	age_keys_free(ks);
	free(f);

	/* Keys from age-keygen, through our key file reader. */
	if (have_prog("age-keygen")) {
		ks = age_keys_new();
		cr_assert_eq(run("age-keygen -o %s/k.txt 2>/dev/null && "
		    "age-keygen -y -o %s/r.txt %s/k.txt", dir, dir, dir), 0);
		snprintf(path, sizeof(path), "%s/k.txt", dir);
		cr_assert_eq(age_keys_load_file(ks, path, 1, err,
		    sizeof(err)), 1, "%s", err);
		cr_assert_eq(run("age -e -R %s/r.txt -o %s/g.age %s/plain",
		    dir, dir, dir), 0);
		snprintf(path, sizeof(path), "%s/g.age", dir);
		f = read_all(path, &flen);
		cr_assert_eq(dec_buf(ks, f, flen, &out, 5), AGE_OK);
		cr_assert_eq(out.len, 200003);
		free(f);
		age_keys_free(ks);
	}
	buf_free(&out);
	free(in);
	rm_rf(dir);
	free(dir);
}

Test(age, interop_passphrase_both_ways)
{
	char		*dir, path[256], out[256], err[256];
	char		*argv[8];
	struct age_keys	*ks = age_keys_new();
	unsigned char	*in, *f;
	struct buf	 c;
	size_t		 flen;
	int		 rc;

	need_age();
	dir = test_tmpdir();
	in = xmalloc(70001);
	fill(in, 70001, 8);
	cr_assert_eq(age_keys_add_passphrase(ks, "stapler horse battery", 21,
	    10, err, sizeof(err)), 0);
	buf_init(&c, MiB);

	/* ours -> age -d, typing the passphrase on its terminal */
	enc_buf(ks, in, 70001, &c, 0);
	snprintf(path, sizeof(path), "%s/p.age", dir);
	write_all_file(path, c.data, c.len);
	snprintf(out, sizeof(out), "%s/out", dir);
	argv[0] = "age";
	argv[1] = "-d";
	argv[2] = "-o";
	argv[3] = out;
	argv[4] = path;
	argv[5] = NULL;
	rc = run_pty(argv, "stapler horse battery");
	if (rc == -2)
		cr_skip_test("no pseudo-terminal for age's passphrase prompt");
	cr_assert_eq(rc, 0, "age -d refused our passphrase file");
	compare_file(out, in, 70001);

	/* age -p -> ours (age's default work factor, 18) */
	snprintf(path, sizeof(path), "%s/plain", dir);
	write_all_file(path, in, 70001);
	snprintf(out, sizeof(out), "%s/q.age", dir);
	argv[0] = "age";
	argv[1] = "-p";
	argv[2] = "-o";
	argv[3] = out;
	argv[4] = path;
	argv[5] = NULL;
	cr_assert_eq(run_pty(argv, "stapler horse battery"), 0);
	f = read_all(out, &flen);
	cr_assert_eq(dec_buf(ks, f, flen, &c, 1), AGE_OK);
	cr_assert_eq(c.len, 70001);
	cr_assert_eq(memcmp(c.data, in, 70001), 0);
	age_keys_free(ks);
	ks = age_keys_new();
	age_keys_add_passphrase(ks, "stapler horse", 13, 0, err, sizeof(err));
	cr_assert_eq(dec_buf(ks, f, flen, &c, 1), AGE_NO_MATCH);
	free(f);
	buf_free(&c);
	free(in);
	age_keys_free(ks);
	rm_rf(dir);
	free(dir);
}
