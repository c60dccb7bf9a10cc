/*
 * age.c - the age v1 file format (age-encryption.org/v1), streaming.
 *
 * Owns: the header (recipient stanzas, which wrap and unwrap the file
 * key with X25519 or scrypt, and the header MAC), both when writing and
 * when parsing, and the STREAM payload in both directions, as struct
 * age_enc and struct age_dec.  Key sets are age_keys.c's and the text
 * encodings age_encode.c's.  All cryptography is OpenSSL 3 EVP; only
 * the encodings are ours.
 *
 * Invariants:
 * - Nothing reaches the caller's emit function before the header MAC has
 *   verified, and a payload chunk's plaintext only after its tag has
 *   verified.  Failures are sticky: once a decryptor reports a class, it
 *   reports the same class again and emits nothing more.
 * - Memory is bounded whatever the input size: the header buffer (at most
 *   AGE_HEADER_MAX, freed once parsed) plus one ciphertext chunk and one
 *   plaintext chunk.
 * - Secrets (file and payload keys, shared secrets, wrap keys, plaintext
 *   buffers, a decryptor's copy of its identities) are wiped with
 *   OPENSSL_cleanse before their memory is released.
 */
#include "zb-build.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "age.h"
#include "age_encode.h"
#include "age_keys.h"
#include "util.h"

#define FILE_KEY_LEN	16
#define TAG_LEN		16
#define NONCE_LEN	16		/* payload nonce after the header */
#define AEAD_NONCE_LEN	12
#define SALT_LEN	16		/* scrypt stanza salt */
#define ENC_CHUNK	(AGE_CHUNK + TAG_LEN)

#define VERSION_LINE	"age-encryption.org/v1\n"
#define X25519_LABEL	"age-encryption.org/v1/X25519"
#define SCRYPT_LABEL	"age-encryption.org/v1/scrypt"

struct age_enc {
	unsigned char	 key[AGE_KEY_LEN];	/* payload key */
	unsigned char	*head;			/* header + nonce, until sent */
	size_t		 headlen;
	unsigned char	*pt;			/* AGE_CHUNK bytes */
	size_t		 ptlen;
	unsigned char	*ct;			/* ENC_CHUNK bytes */
	uint64_t	 counter;
	EVP_CIPHER_CTX	*cctx;
	int		 done;
	int		 failed;
};

enum dec_state {
	DEC_HEADER,		/* collecting header lines */
	DEC_NONCE,		/* header verified, reading the nonce */
	DEC_PAYLOAD,		/* chunks */
	DEC_FINAL,		/* the final chunk verified; EOF must follow */
	DEC_FINISHED
};

struct age_dec {
	struct age_keys	 keys;			/* a private copy */
	enum dec_state	 state;
	enum age_status	 status;		/* sticky failure */
	char		 err[160];
	unsigned char	*hdr;			/* AGE_HEADER_MAX bytes */
	size_t		 hdrlen;
	size_t		 linestart;		/* offset of the current line */
	unsigned char	 filekey[FILE_KEY_LEN];
	unsigned char	 nonce[NONCE_LEN];
	size_t		 noncelen;
	unsigned char	 key[AGE_KEY_LEN];	/* payload key */
	unsigned char	*ct;			/* ENC_CHUNK bytes */
	size_t		 ctlen;
	unsigned char	*pt;			/* AGE_CHUNK bytes */
	uint64_t	 counter;
	EVP_CIPHER_CTX	*cctx;
};

/* One parsed stanza: its argument line and its decoded body. */
struct stanza {
	const char	*args;		/* after "-> ", not NUL-terminated */
	size_t		 argslen;
	int		 nargs;
	unsigned char	*body;
	size_t		 bodylen;
};

struct header {
	struct stanza	*st;
	size_t		 n;
	size_t		 maclen;	/* bytes covered by the MAC */
	unsigned char	 mac[AGE_KEY_LEN];
};

static void
seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---- OpenSSL primitives ------------------------------------------------- */

/* Constant time: the shared secret must not leak through a branch. */
static int
all_zero(const unsigned char *p, size_t n)
{
	unsigned char	 acc = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* HKDF-SHA-256, 32 bytes out; an empty salt is left out (RFC 5869). */
static int
hkdf(unsigned char out[AGE_KEY_LEN], const unsigned char *ikm, size_t ikmlen,
    const unsigned char *salt, size_t saltlen, const char *info)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx = NULL;
	OSSL_PARAM	 params[5], *p = params;
	int		 rc = -1;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf != NULL)
		kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, AGE_KEY_LEN, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

static int
hmac_sha256(unsigned char out[AGE_KEY_LEN],
    const unsigned char key[AGE_KEY_LEN], const void *data, size_t len)
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*mctx = NULL;
	OSSL_PARAM	 params[2];
	size_t		 outlen = 0;
	int		 rc = -1;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac != NULL)
		mctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (mctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(mctx, key, AGE_KEY_LEN, params) == 1 &&
	    EVP_MAC_update(mctx, data, len) == 1 &&
	    EVP_MAC_final(mctx, out, &outlen, AGE_KEY_LEN) == 1 &&
	    outlen == AGE_KEY_LEN)
		rc = 0;
	EVP_MAC_CTX_free(mctx);
	return rc;
}

/* The 12-byte STREAM nonce: 11-byte big-endian counter, then the flag. */
static void
chunk_nonce(unsigned char n[AEAD_NONCE_LEN], uint64_t counter, int last)
{
	int	 i;

	memset(n, 0, AEAD_NONCE_LEN);
	for (i = 0; i < 8; i++)
		n[10 - i] = (unsigned char)(counter >> (8 * i));
	n[11] = last ? 1 : 0;
}

/* ChaCha20-Poly1305: len bytes in, len + TAG_LEN out.  0 or -1. */
static int
aead_seal(EVP_CIPHER_CTX *ctx, const unsigned char key[AGE_KEY_LEN],
    const unsigned char nonce[AEAD_NONCE_LEN], const unsigned char *in,
    size_t len, unsigned char *out)
{
	int	 n = 0, fin = 0;

	if (len > INT_MAX ||
	    EVP_EncryptInit_ex2(ctx, EVP_chacha20_poly1305(), key, nonce,
	    NULL) != 1)
		return -1;
	if (len > 0 && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1)
		return -1;
	if (EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
	    out + len) != 1)
		return -1;
	return 0;
}

/*
 * Open len bytes (tag included) into out (len - TAG_LEN bytes).  1 when
 * the tag verified, 0 when it did not (out is wiped: unauthenticated
 * plaintext never survives), -1 when OpenSSL itself failed.
 */
static int
aead_open(EVP_CIPHER_CTX *ctx, const unsigned char key[AGE_KEY_LEN],
    const unsigned char nonce[AEAD_NONCE_LEN], const unsigned char *in,
    size_t len, unsigned char *out)
{
	unsigned char	 tag[TAG_LEN];
	int		 n = 0, fin = 0;

	if (len < TAG_LEN)
		return 0;
	len -= TAG_LEN;
	memcpy(tag, in + len, TAG_LEN);
	if (len > INT_MAX ||
	    EVP_DecryptInit_ex2(ctx, EVP_chacha20_poly1305(), key, nonce,
	    NULL) != 1)
		return -1;
	if (len > 0 && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1)
		return -1;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
	    tag) != 1)
		return -1;
	if (EVP_DecryptFinal_ex(ctx, out + n, &fin) <= 0) {
		OPENSSL_cleanse(out, len);
		ERR_clear_error();
		return 0;
	}
	return 1;
}

/* The 16-byte file key in a stanza body, with the all-zero nonce. */
static int
wrap_file_key(unsigned char body[FILE_KEY_LEN + TAG_LEN],
    const unsigned char wrap[AGE_KEY_LEN], const unsigned char *filekey)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 zero[AEAD_NONCE_LEN] = { 0 };
	int		 rc;

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	rc = aead_seal(ctx, wrap, zero, filekey, FILE_KEY_LEN, body);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* 1 opened, 0 not ours, -1 OpenSSL failed. */
static int
unwrap_file_key(unsigned char filekey[FILE_KEY_LEN],
    const unsigned char wrap[AGE_KEY_LEN], const unsigned char *body)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 zero[AEAD_NONCE_LEN] = { 0 };
	int		 rc;

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	rc = aead_open(ctx, wrap, zero, body, FILE_KEY_LEN + TAG_LEN,
	    filekey);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/*
 * X25519(sk, pk).  0; -1 when the result is all zeros or OpenSSL refuses
 * the point (a malformed share); -2 when OpenSSL failed for other reasons.
 */
static int
x25519(unsigned char out[AGE_KEY_LEN], const unsigned char sk[AGE_KEY_LEN],
    const unsigned char pk[AGE_KEY_LEN])
{
	EVP_PKEY	*priv, *peer = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	size_t		 len = AGE_KEY_LEN;
	int		 rc = -2;

	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk,
	    AGE_KEY_LEN);
	if (priv != NULL)
		peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk,
		    AGE_KEY_LEN);
	if (peer != NULL)
		ctx = EVP_PKEY_CTX_new(priv, NULL);
	if (ctx != NULL && EVP_PKEY_derive_init(ctx) == 1) {
		/* OpenSSL itself fails on an all-zero result: that is -1. */
		rc = -1;
		if (EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
		    EVP_PKEY_derive(ctx, out, &len) == 1 &&
		    len == AGE_KEY_LEN && !all_zero(out, AGE_KEY_LEN))
			rc = 0;
	}
	if (rc != 0)
		OPENSSL_cleanse(out, AGE_KEY_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(priv);
	ERR_clear_error();
	return rc;
}

/* scrypt(N = 2^wf, r = 8, p = 1) with age's label before the salt. */
static int
scrypt_wrap_key(unsigned char out[AGE_KEY_LEN], const unsigned char *pass,
    size_t passlen, const unsigned char salt[SALT_LEN], int wf)
{
	unsigned char	 s[sizeof(SCRYPT_LABEL) - 1 + SALT_LEN];
	uint64_t	 n = (uint64_t)1 << wf, maxmem;
	uint32_t	 r = 8, par = 1;
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx = NULL;
	OSSL_PARAM	 params[7];
	int		 rc = -1;

	/*
	 * OpenSSL's default cap (1025 MiB) stops at wf 20; allow exactly
	 * what this work factor needs (128 r (N + 2) + 128 r p bytes).
	 */
	maxmem = 128 * (uint64_t)r * (n + 2) + 128 * (uint64_t)r * par;
	memcpy(s, SCRYPT_LABEL, sizeof(SCRYPT_LABEL) - 1);
	memcpy(s + sizeof(SCRYPT_LABEL) - 1, salt, SALT_LEN);
	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (kdf != NULL)
		kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)pass, passlen);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s,
	    sizeof(s));
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P,
	    &par);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
	    &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, AGE_KEY_LEN, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(kctx);
	ERR_clear_error();
	return rc;
}

/* ---- encryption --------------------------------------------------------- */

/* Bounded appends into the header being written. */
struct wbuf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
	int		 overflow;
};

static void
wput(struct wbuf *w, const void *s, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void
wputs(struct wbuf *w, const char *s)
{
	wput(w, s, strlen(s));
}

/* "-> X25519 share\nbody\n" for one recipient public key. */
static int
stanza_x25519(struct wbuf *w, const unsigned char pk[AGE_KEY_LEN],
    const unsigned char filekey[FILE_KEY_LEN])
{
	unsigned char	 eph[AGE_KEY_LEN], share[AGE_KEY_LEN], ss[AGE_KEY_LEN];
	unsigned char	 salt[2 * AGE_KEY_LEN], wrap[AGE_KEY_LEN];
	unsigned char	 body[FILE_KEY_LEN + TAG_LEN];
	char		 b64[64];
	int		 rc = -1;

	if (RAND_bytes(eph, sizeof(eph)) != 1 ||
	    age_keys_pubkey(share, eph) == -1 || x25519(ss, eph, pk) != 0)
		goto out;
	memcpy(salt, share, AGE_KEY_LEN);
	memcpy(salt + AGE_KEY_LEN, pk, AGE_KEY_LEN);
	if (hkdf(wrap, ss, AGE_KEY_LEN, salt, sizeof(salt),
	    X25519_LABEL) == -1 || wrap_file_key(body, wrap, filekey) == -1)
		goto out;
	wputs(w, "-> X25519 ");
	wput(w, b64, age_encode_b64(share, AGE_KEY_LEN, b64));
	wputs(w, "\n");
	wput(w, b64, age_encode_b64(body, sizeof(body), b64));
	wputs(w, "\n");
	rc = 0;
out:
	OPENSSL_cleanse(eph, sizeof(eph));
	OPENSSL_cleanse(ss, sizeof(ss));
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc;
}

/* "-> scrypt salt wf\nbody\n" for a passphrase. */
static int
stanza_scrypt(struct wbuf *w, const struct age_key *k,
    const unsigned char filekey[FILE_KEY_LEN])
{
	unsigned char	 salt[SALT_LEN], wrap[AGE_KEY_LEN];
	unsigned char	 body[FILE_KEY_LEN + TAG_LEN];
	char		 b64[64], wf[16];
	int		 rc = -1;

	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    scrypt_wrap_key(wrap, k->pass, k->passlen, salt, k->wf) == -1 ||
	    wrap_file_key(body, wrap, filekey) == -1)
		goto out;
	snprintf(wf, sizeof(wf), " %d\n", k->wf);
	wputs(w, "-> scrypt ");
	wput(w, b64, age_encode_b64(salt, sizeof(salt), b64));
	wputs(w, wf);
	wput(w, b64, age_encode_b64(body, sizeof(body), b64));
	wputs(w, "\n");
	rc = 0;
out:
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc;
}

/* Stanzas, MAC and nonce into e->head; the payload key into e->key. */
static int
enc_header(struct age_enc *e, const struct age_keys *ks, char *err,
    size_t errlen)
{
	unsigned char	 filekey[FILE_KEY_LEN], mkey[AGE_KEY_LEN];
	unsigned char	 mac[AGE_KEY_LEN], nonce[NONCE_LEN];
	struct wbuf	 w;
	char		 b64[64];
	size_t		 i;
	int		 rc = -1;

	w.cap = sizeof(VERSION_LINE) + ks->n * 128 + 64 + NONCE_LEN;
	w.p = xmalloc(w.cap);
	w.len = 0;
	w.overflow = 0;
	if (RAND_bytes(filekey, sizeof(filekey)) != 1) {
		seterr(err, errlen, "no random bytes for the file key");
		goto out;
	}
	wputs(&w, VERSION_LINE);
	for (i = 0; i < ks->n; i++) {
		if ((ks->v[i].kind == AGE_KEY_PASSPHRASE ?
		    stanza_scrypt(&w, &ks->v[i], filekey) :
		    stanza_x25519(&w, ks->v[i].pk, filekey)) == -1) {
			seterr(err, errlen,
			    ks->v[i].kind == AGE_KEY_PASSPHRASE ?
			    "cannot wrap the file key with scrypt" :
			    "cannot wrap the file key to an X25519 recipient "
			    "(low-order key?)");
			goto out;
		}
	}
	wputs(&w, "---");
	if (w.overflow || hkdf(mkey, filekey, FILE_KEY_LEN, NULL, 0,
	    "header") == -1 || hmac_sha256(mac, mkey, w.p, w.len) == -1 ||
	    RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    hkdf(e->key, filekey, FILE_KEY_LEN, nonce, sizeof(nonce),
	    "payload") == -1) {
		seterr(err, errlen, "cannot compute the header MAC or keys");
		goto out;
	}
	wputs(&w, " ");
	wput(&w, b64, age_encode_b64(mac, sizeof(mac), b64));
	wputs(&w, "\n");
	wput(&w, nonce, sizeof(nonce));
	if (w.overflow) {
		seterr(err, errlen, "age header overflow");
		goto out;
	}
	e->head = w.p;
	e->headlen = w.len;
	w.p = NULL;
	rc = 0;
out:
	free(w.p);
	OPENSSL_cleanse(filekey, sizeof(filekey));
	OPENSSL_cleanse(mkey, sizeof(mkey));
	return rc;
}

/*
 * The whole header is made here, so ks is read only during this call;
 * the caller owns the encryptor (age_enc_free).
 */
struct age_enc *
age_enc_new(const struct age_keys *ks, char *err, size_t errlen)
{
	struct age_enc	*e;
	size_t		 i, npass = 0;

	if (ks == NULL || ks->n == 0) {
		seterr(err, errlen, "no age recipients");
		return NULL;
	}
	for (i = 0; i < ks->n; i++)
		npass += ks->v[i].kind == AGE_KEY_PASSPHRASE;
	/* A passphrase file must not open with any other key (the spec). */
	if (npass > 0 && ks->n > 1) {
		seterr(err, errlen, "a passphrase must be the only age "
		    "recipient");
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->cctx = EVP_CIPHER_CTX_new();
	if (e->cctx == NULL) {
		seterr(err, errlen, "out of memory");
		age_enc_free(e);
		return NULL;
	}
	if (enc_header(e, ks, err, errlen) == -1) {
		age_enc_free(e);
		return NULL;
	}
	e->pt = xmalloc(AGE_CHUNK);
	e->ct = xmalloc(ENC_CHUNK);
	return e;
}

/* The header goes out with the first call, so an idle stream has none. */
static int
enc_head(struct age_enc *e, age_emit_fn emit, void *arg)
{
	int	 rc;

	if (e->head == NULL)
		return 0;
	rc = emit(arg, e->head, e->headlen);
	free(e->head);
	e->head = NULL;
	return rc == 0 ? 0 : -1;
}

static int
enc_chunk(struct age_enc *e, int last, age_emit_fn emit, void *arg)
{
	unsigned char	 nonce[AEAD_NONCE_LEN];

	chunk_nonce(nonce, e->counter, last);
	if (aead_seal(e->cctx, e->key, nonce, e->pt, e->ptlen, e->ct) == -1)
		return -1;
	e->counter++;
	if (emit(arg, e->ct, e->ptlen + TAG_LEN) != 0)
		return -1;
	e->ptlen = 0;
	return 0;
}

int
age_enc_update(struct age_enc *e, const void *buf, size_t len,
    age_emit_fn emit, void *arg)
{
	const unsigned char	*p = buf;
	size_t			 n;

	if (e->failed || e->done)
		return -1;
	if (enc_head(e, emit, arg) == -1)
		goto fail;
	while (len > 0) {
		/*
		 * A full chunk waits until more input shows it is not the
		 * last one: a plaintext that is a multiple of 64 KiB ends
		 * with a full chunk flagged final, never an empty one.
		 */
		if (e->ptlen == AGE_CHUNK && enc_chunk(e, 0, emit, arg) == -1)
			goto fail;
		n = AGE_CHUNK - e->ptlen;
		if (n > len)
			n = len;
		memcpy(e->pt + e->ptlen, p, n);
		e->ptlen += n;
		p += n;
		len -= n;
	}
	return 0;
fail:
	e->failed = 1;
	return -1;
}

int
age_enc_finish(struct age_enc *e, age_emit_fn emit, void *arg)
{
	if (e->failed || e->done)
		return -1;
	if (enc_head(e, emit, arg) == -1 || enc_chunk(e, 1, emit, arg) == -1) {
		e->failed = 1;
		return -1;
	}
	e->done = 1;
	return 0;
}

void
age_enc_free(struct age_enc *e)
{
	if (e == NULL)
		return;
	free(e->head);
	if (e->pt != NULL) {
		OPENSSL_cleanse(e->pt, AGE_CHUNK);
		free(e->pt);
	}
	free(e->ct);
	EVP_CIPHER_CTX_free(e->cctx);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

/* ---- header parsing ----------------------------------------------------- */

static void
header_free(struct header *h)
{
	size_t	 i;

	for (i = 0; i < h->n; i++)
		free(h->st[i].body);
	free(h->st);
	memset(h, 0, sizeof(*h));
}

/* Argument i (0 = the type) of a stanza. */
static void
stanza_arg(const struct stanza *s, int i, const char **p, size_t *len)
{
	const char	*a = s->args, *end = s->args + s->argslen, *sp;

	for (;;) {
		sp = memchr(a, ' ', (size_t)(end - a));
		if (sp == NULL)
			sp = end;
		if (i-- == 0) {
			*p = a;
			*len = (size_t)(sp - a);
			return;
		}
		a = sp + 1;
	}
}

static int
stanza_is(const struct stanza *s, const char *type)
{
	const char	*a;
	size_t		 n;

	stanza_arg(s, 0, &a, &n);
	return n == strlen(type) && memcmp(a, type, n) == 0;
}

/* "-> " args: one or more space-separated runs of VCHAR. */
static int
parse_args(struct stanza *s, const char *line, size_t len)
{
	size_t	 i, run = 0;

	s->args = line;
	s->argslen = len;
	s->nargs = 0;
	for (i = 0; i <= len; i++) {
		if (i == len || line[i] == ' ') {
			if (run == 0)
				return -1;	/* empty argument */
			s->nargs++;
			run = 0;
		} else if (line[i] < 33 || line[i] > 126)
			return -1;
		else
			run++;
	}
	return 0;
}

/* Append one decoded body line, growing the body as needed. */
static void
body_add(struct stanza *s, size_t *cap, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;		/* an empty last line; body may still be NULL */
	if (s->bodylen + n > *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		s->body = xreallocarray(s->body, *cap, 1);
	}
	memcpy(s->body + s->bodylen, p, n);
	s->bodylen += n;
}

/* The next line at p (before end): its LF, or NULL when there is none. */
static const char *
next_line(const char *p, const char *end, size_t *len)
{
	const char	*nl;

	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl != NULL)
		*len = (size_t)(nl - p);
	return nl;
}

/*
 * Parse the complete header h[0..len) (through the MAC line's LF) into
 * hd.  The grammar is the spec's ABNF; any deviation is a failure.
 */
static int
header_parse(const unsigned char *h, size_t len, struct header *hd,
    const char **why)
{
	const char	*p = (const char *)h, *end = p + len, *nl;
	struct stanza	*s;
	unsigned char	 tmp[48];
	size_t		 ll = 0, n, cap = 0, bcap;

	memset(hd, 0, sizeof(*hd));
	*why = "not an age v1 header";
	if (len < sizeof(VERSION_LINE) - 1 ||
	    memcmp(p, VERSION_LINE, sizeof(VERSION_LINE) - 1) != 0)
		return -1;
	p += sizeof(VERSION_LINE) - 1;
	for (;;) {
		nl = next_line(p, end, &ll);
		if (nl == NULL)
			return -1;
		if (ll >= 3 && memcmp(p, "---", 3) == 0)
			break;
		*why = "bad stanza line";
		if (ll < 3 || memcmp(p, "-> ", 3) != 0)
			return -1;
		if (hd->n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			hd->st = xreallocarray(hd->st, cap, sizeof(*hd->st));
		}
		s = &hd->st[hd->n++];
		memset(s, 0, sizeof(*s));
		if (parse_args(s, p + 3, ll - 3) == -1)
			return -1;
		/* Body: 64-column lines, ended by one shorter line. */
		*why = "bad stanza body";
		bcap = 0;
		do {
			p = nl + 1;
			nl = next_line(p, end, &ll);
			if (nl == NULL || ll > 64 ||
			    age_encode_b64_decode(p, ll, tmp, sizeof(tmp),
			    &n) == -1)
				return -1;
			body_add(s, &bcap, tmp, n);
		} while (ll == 64);
		p = nl + 1;
	}
	if (hd->n == 0) {
		*why = "no recipient stanza";
		return -1;
	}
	*why = "bad MAC line";
	if (ll != 4 + 43 || p[3] != ' ' || nl + 1 != end ||
	    age_encode_b64_decode(p + 4, 43, hd->mac, sizeof(hd->mac),
	    &n) == -1 || n != AGE_KEY_LEN)
		return -1;
	hd->maclen = (size_t)(p + 3 - (const char *)h);
	return 0;
}

/* Decode a base64 argument that must be exactly want bytes. */
static int
arg_bytes(const struct stanza *s, int i, unsigned char *out, size_t want)
{
	unsigned char	 tmp[64];
	const char	*a;
	size_t		 n, got;

	stanza_arg(s, i, &a, &n);
	if (age_encode_b64_decode(a, n, tmp, sizeof(tmp), &got) == -1 ||
	    got != want)
		return -1;
	memcpy(out, tmp, want);
	return 0;
}

/* ^[1-9][0-9]*$, at most AGE_SCRYPT_WF_MAX. */
static int
arg_wf(const struct stanza *s, int *wf)
{
	const char	*a;
	size_t		 n, i;
	int		 v = 0;

	stanza_arg(s, 2, &a, &n);
	if (n == 0 || n > 2 || a[0] < '1' || a[0] > '9')
		return -1;
	for (i = 0; i < n; i++) {
		if (a[i] < '0' || a[i] > '9')
			return -1;
		v = v * 10 + (a[i] - '0');
	}
	if (v > AGE_SCRYPT_WF_MAX)
		return -1;
	*wf = v;
	return 0;
}

/*
 * The rules for the stanza types we implement hold for every stanza of
 * that type, whoever it is addressed to; other types are left alone.
 */
static int
header_check(const struct header *hd, const char **why)
{
	unsigned char	 tmp[AGE_KEY_LEN];
	size_t		 i;
	int		 wf;

	for (i = 0; i < hd->n; i++) {
		if (stanza_is(&hd->st[i], "X25519")) {
			*why = "malformed X25519 stanza";
			if (hd->st[i].nargs != 2 ||
			    arg_bytes(&hd->st[i], 1, tmp, AGE_KEY_LEN) == -1 ||
			    hd->st[i].bodylen != FILE_KEY_LEN + TAG_LEN)
				return -1;
		} else if (stanza_is(&hd->st[i], "scrypt")) {
			*why = "an scrypt stanza must be the only stanza";
			if (hd->n != 1)
				return -1;
			*why = "malformed scrypt stanza";
			if (hd->st[i].nargs != 3 ||
			    arg_bytes(&hd->st[i], 1, tmp, SALT_LEN) == -1 ||
			    arg_wf(&hd->st[i], &wf) == -1 ||
			    hd->st[i].bodylen != FILE_KEY_LEN + TAG_LEN)
				return -1;
		}
	}
	return 0;
}

/* One key against one stanza: 1 opened, 0 not ours, -1 header, -2 error. */
static int
unwrap_one(const struct age_key *k, const struct stanza *s,
    unsigned char filekey[FILE_KEY_LEN])
{
	unsigned char	 share[AGE_KEY_LEN], ss[AGE_KEY_LEN], wrap[AGE_KEY_LEN];
	unsigned char	 salt[2 * AGE_KEY_LEN];
	int		 rc, wf;

	if (k->kind == AGE_KEY_IDENTITY && stanza_is(s, "X25519")) {
		arg_bytes(s, 1, share, AGE_KEY_LEN);
		rc = x25519(ss, k->sk, share);
		if (rc != 0)
			return rc;	/* -1: all-zero secret, abort */
		memcpy(salt, share, AGE_KEY_LEN);
		memcpy(salt + AGE_KEY_LEN, k->pk, AGE_KEY_LEN);
		rc = hkdf(wrap, ss, AGE_KEY_LEN, salt, sizeof(salt),
		    X25519_LABEL);
		OPENSSL_cleanse(ss, sizeof(ss));
	} else if (k->kind == AGE_KEY_PASSPHRASE && stanza_is(s, "scrypt")) {
		arg_bytes(s, 1, salt, SALT_LEN);
		arg_wf(s, &wf);
		rc = scrypt_wrap_key(wrap, k->pass, k->passlen, salt, wf);
	} else
		return 0;
	if (rc == 0)
		rc = unwrap_file_key(filekey, wrap, s->body);
	else
		rc = -1;
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc == -1 ? -2 : rc;
}

/* ---- decryption --------------------------------------------------------- */

static enum age_status
dec_fail(struct age_dec *d, enum age_status st, const char *msg)
{
	d->status = st;
	snprintf(d->err, sizeof(d->err), "%s", msg);
	return st;
}

/*
 * The decryptor keeps a private copy of the keys, so the caller's set
 * (a config that may be reloaded) need not outlive it.
 */
struct age_dec *
age_dec_new(const struct age_keys *ks)
{
	struct age_dec	*d;

	d = xcalloc(1, sizeof(*d));
	age_keys_copy(&d->keys, ks);
	d->hdr = xmalloc(AGE_HEADER_MAX);
	d->state = DEC_HEADER;
	return d;
}

/* Parse, find the file key, verify the MAC; then only the nonce is due. */
static enum age_status
dec_header(struct age_dec *d)
{
	struct header	 hd;
	unsigned char	 mkey[AGE_KEY_LEN], mac[AGE_KEY_LEN];
	const char	*why;
	size_t		 i, j;
	int		 rc = 0;
	enum age_status	 st = AGE_OK;

	if (header_parse(d->hdr, d->hdrlen, &hd, &why) == -1 ||
	    header_check(&hd, &why) == -1) {
		header_free(&hd);
		return dec_fail(d, AGE_HEADER_FAILURE, why);
	}
	/* Identities in the order given, each against every stanza. */
	for (i = 0; i < d->keys.n && rc == 0; i++)
		for (j = 0; j < hd.n && rc == 0; j++)
			rc = unwrap_one(&d->keys.v[i], &hd.st[j], d->filekey);
	if (rc == -1)
		st = dec_fail(d, AGE_HEADER_FAILURE,
		    "X25519 share gives an all-zero shared secret");
	else if (rc == -2)
		st = dec_fail(d, AGE_ERROR, "cryptographic library failure");
	else if (rc == 0)
		st = dec_fail(d, AGE_NO_MATCH, "no identity matched any "
		    "recipient stanza");
	else if (hkdf(mkey, d->filekey, FILE_KEY_LEN, NULL, 0, "header") ==
	    -1 || hmac_sha256(mac, mkey, d->hdr, hd.maclen) == -1)
		st = dec_fail(d, AGE_ERROR, "cannot compute the header MAC");
	else if (CRYPTO_memcmp(mac, hd.mac, AGE_KEY_LEN) != 0)
		st = dec_fail(d, AGE_HMAC_FAILURE, "header MAC mismatch: "
		    "the header was altered");
	OPENSSL_cleanse(mkey, sizeof(mkey));
	header_free(&hd);
	if (st == AGE_OK) {
		free(d->hdr);
		d->hdr = NULL;
		d->state = DEC_NONCE;
	}
	return st;
}

/*
 * Take header bytes up to the end of a line at most, so nothing past the
 * MAC line is ever buffered here.  Returns the bytes taken.
 */
static size_t
dec_header_bytes(struct age_dec *d, const unsigned char *p, size_t len)
{
	const unsigned char	*nl;
	size_t			 n = AGE_HEADER_MAX - d->hdrlen, v;

	if (n > len)
		n = len;
	nl = memchr(p, '\n', n);
	if (nl != NULL)
		n = (size_t)(nl - p) + 1;
	memcpy(d->hdr + d->hdrlen, p, n);
	d->hdrlen += n;
	/* Fail early on input that is not age at all. */
	v = d->hdrlen < sizeof(VERSION_LINE) - 1 ? d->hdrlen :
	    sizeof(VERSION_LINE) - 1;
	if (memcmp(d->hdr, VERSION_LINE, v) != 0) {
		dec_fail(d, AGE_HEADER_FAILURE, "not an age v1 file");
		return n;
	}
	if (nl != NULL) {
		/* A line starting "---" can only be the MAC line. */
		if (d->hdrlen - d->linestart > 3 &&
		    memcmp(d->hdr + d->linestart, "---", 3) == 0)
			dec_header(d);
		d->linestart = d->hdrlen;
	} else if (d->hdrlen == AGE_HEADER_MAX)
		dec_fail(d, AGE_HEADER_FAILURE, "header too long");
	return n;
}

static enum age_status
dec_emit(struct age_dec *d, size_t n, age_emit_fn emit, void *arg)
{
	if (n > 0 && emit(arg, d->pt, n) != 0)
		return dec_fail(d, AGE_ERROR, "the output refused the data");
	return AGE_OK;
}

/*
 * Open the buffered chunk as non-final (unless last_only) and then as
 * final.  A full chunk that opens as final is the end: its plaintext is
 * authentic and goes out, and any byte after it is an error.
 */
static enum age_status
dec_chunk(struct age_dec *d, int last_only, age_emit_fn emit, void *arg)
{
	unsigned char	 nonce[AEAD_NONCE_LEN];
	char		 msg[96];
	size_t		 n = d->ctlen - TAG_LEN;
	int		 rc = 0, last = 0;

	if (d->cctx == NULL)
		d->cctx = EVP_CIPHER_CTX_new();
	if (d->cctx == NULL)
		return dec_fail(d, AGE_ERROR, "out of memory");
	if (!last_only) {
		chunk_nonce(nonce, d->counter, 0);
		rc = aead_open(d->cctx, d->key, nonce, d->ct, d->ctlen, d->pt);
	}
	if (rc == 0) {
		last = 1;
		chunk_nonce(nonce, d->counter, 1);
		rc = aead_open(d->cctx, d->key, nonce, d->ct, d->ctlen, d->pt);
	}
	if (rc == -1)
		return dec_fail(d, AGE_ERROR, "cryptographic library failure");
	if (rc == 0) {
		snprintf(msg, sizeof(msg), "payload chunk %llu failed "
		    "authentication (corrupt or truncated)",
		    (unsigned long long)d->counter);
		return dec_fail(d, AGE_PAYLOAD_FAILURE, msg);
	}
	d->counter++;
	d->ctlen = 0;
	if (last)
		d->state = DEC_FINAL;
	return dec_emit(d, n, emit, arg);
}

enum age_status
age_dec_update(struct age_dec *d, const void *buf, size_t len,
    age_emit_fn emit, void *arg)
{
	const unsigned char	*p = buf;
	size_t			 n;

	if (d->status != AGE_OK)
		return d->status;
	while (len > 0 && d->status == AGE_OK) {
		switch (d->state) {
		case DEC_HEADER:
			n = dec_header_bytes(d, p, len);
			break;
		case DEC_NONCE:
			n = NONCE_LEN - d->noncelen;
			if (n > len)
				n = len;
			memcpy(d->nonce + d->noncelen, p, n);
			d->noncelen += n;
			if (d->noncelen == NONCE_LEN && hkdf(d->key,
			    d->filekey, FILE_KEY_LEN, d->nonce, NONCE_LEN,
			    "payload") == -1)
				dec_fail(d, AGE_ERROR, "cannot derive the "
				    "payload key");
			else if (d->noncelen == NONCE_LEN) {
				d->ct = xmalloc(ENC_CHUNK);
				d->pt = xmalloc(AGE_CHUNK);
				d->state = DEC_PAYLOAD;
			}
			break;
		case DEC_PAYLOAD:
			n = ENC_CHUNK - d->ctlen;
			if (n > len)
				n = len;
			memcpy(d->ct + d->ctlen, p, n);
			d->ctlen += n;
			if (d->ctlen == ENC_CHUNK)
				dec_chunk(d, 0, emit, arg);
			break;
		case DEC_FINAL:
			return dec_fail(d, AGE_PAYLOAD_FAILURE,
			    "data after the final chunk");
		default:
			return dec_fail(d, AGE_ERROR, "input after the end");
		}
		p += n;
		len -= n;
	}
	return d->status;
}

enum age_status
age_dec_finish(struct age_dec *d, age_emit_fn emit, void *arg)
{
	if (d->status != AGE_OK)
		return d->status;
	switch (d->state) {
	case DEC_HEADER:
		return dec_fail(d, AGE_HEADER_FAILURE, d->hdrlen == 0 ?
		    "empty input" : "the header is truncated");
	case DEC_NONCE:
		return dec_fail(d, AGE_HEADER_FAILURE, "the payload nonce is "
		    "missing or short");
	case DEC_PAYLOAD:
		if (d->ctlen == 0)
			return dec_fail(d, AGE_PAYLOAD_FAILURE, "truncated: "
			    "the file ends before the final chunk");
		if (d->ctlen < TAG_LEN)
			return dec_fail(d, AGE_PAYLOAD_FAILURE, "truncated: "
			    "the last chunk is shorter than its tag");
		if (d->ctlen == TAG_LEN && d->counter > 0)
			return dec_fail(d, AGE_PAYLOAD_FAILURE, "the final "
			    "chunk is empty");
		if (dec_chunk(d, 1, emit, arg) != AGE_OK)
			return d->status;
		break;
	case DEC_FINAL:
		break;
	case DEC_FINISHED:
		return AGE_OK;
	}
	d->state = DEC_FINISHED;
	return AGE_OK;
}

/* Owned by d; "" until something failed. */
const char *
age_dec_error(const struct age_dec *d)
{
	return d->err;
}

void
age_dec_free(struct age_dec *d)
{
	if (d == NULL)
		return;
	age_keys_clear(&d->keys);
	free(d->hdr);
	free(d->ct);
	if (d->pt != NULL) {
		OPENSSL_cleanse(d->pt, AGE_CHUNK);
		free(d->pt);
	}
	EVP_CIPHER_CTX_free(d->cctx);
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
}
