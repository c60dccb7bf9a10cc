/*
 * age_keys.c - age key sets: X25519 recipients ("age1...") and
 * identities ("AGE-SECRET-KEY-1..."), passphrases, key files, the
 * fingerprints manifests and logs show, and key generation.
 *
 * Owns struct age_keys (laid out in age_keys.h for the format code in
 * age.c, which reads it but never changes it).  How the keys wrap and
 * unwrap a file key is part of the header, so it lives in age.c.
 *
 * Invariants:
 * - A set holds at most KEYS_MAX keys, so a header written to all of
 *   them fits AGE_HEADER_MAX.
 * - Every key has its fingerprint (never key material) in fp.
 * - Adding is all or nothing: a key or key file that fails to parse
 *   leaves the set as it was.
 * - Secrets (identities, passphrases, key file lines, generated keys)
 *   are wiped with OPENSSL_cleanse before their memory is released or
 *   goes out of scope.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "age.h"
#include "age_encode.h"
#include "age_keys.h"
#include "util.h"

#define KEYS_MAX	256		/* their header fits AGE_HEADER_MAX */
#define KEYLINE_MAX	1024		/* longest line in a key file */

#define IDENTITY_HRP	"AGE-SECRET-KEY-"
#define RECIPIENT_HRP	"age"

static void
seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---- X25519 ------------------------------------------------------------- */

/*
 * The public key of sk: X25519(sk, basepoint).  Also the ephemeral share
 * of an X25519 stanza in age.c.
 */
int
age_keys_pubkey(unsigned char pk[AGE_KEY_LEN],
    const unsigned char sk[AGE_KEY_LEN])
{
	EVP_PKEY	*priv;
	size_t		 len = AGE_KEY_LEN;
	int		 rc = -1;

	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk,
	    AGE_KEY_LEN);
	if (priv != NULL && EVP_PKEY_get_raw_public_key(priv, pk, &len) == 1 &&
	    len == AGE_KEY_LEN)
		rc = 0;
	EVP_PKEY_free(priv);
	return rc;
}

/* ---- key sets ----------------------------------------------------------- */

/* "X25519:" and 16 hex digits of SHA-256 of the recipient string. */
static int
key_fingerprint(struct age_key *k)
{
	char		 rcpt[AGE_RECIPIENT_LEN + 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	int		 i;

	if (k->kind == AGE_KEY_PASSPHRASE) {
		snprintf(k->fp, sizeof(k->fp), "scrypt");
		return 0;
	}
	if (age_encode_bech32(RECIPIENT_HRP, k->pk, AGE_KEY_LEN, 0, rcpt,
	    sizeof(rcpt)) == 0 ||
	    EVP_Digest(rcpt, strlen(rcpt), md, &mdlen, EVP_sha256(),
	    NULL) != 1)
		return -1;
	memcpy(k->fp, "X25519:", 7);
	for (i = 0; i < 8; i++)
		snprintf(k->fp + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void
key_wipe(struct age_key *k)
{
	if (k->pass != NULL) {
		OPENSSL_cleanse(k->pass, k->passlen);
		free(k->pass);
	}
	OPENSSL_cleanse(k, sizeof(*k));
}

/* Append a copy of k (the set owns the copy; k's pass moves over). */
static int
keys_push(struct age_keys *ks, struct age_key *k, char *err, size_t errlen)
{
	if (ks->n == KEYS_MAX) {
		seterr(err, errlen, "too many age keys");
		key_wipe(k);
		return -1;
	}
	if (ks->n == ks->cap) {
		ks->cap = ks->cap == 0 ? 4 : ks->cap * 2;
		ks->v = xreallocarray(ks->v, ks->cap, sizeof(*ks->v));
	}
	ks->v[ks->n++] = *k;
	OPENSSL_cleanse(k, sizeof(*k));
	return 0;
}

/* The caller owns the set and frees it with age_keys_free(). */
struct age_keys *
age_keys_new(void)
{
	return xcalloc(1, sizeof(struct age_keys));
}

static void
keys_truncate(struct age_keys *ks, size_t n)
{
	while (ks->n > n)
		key_wipe(&ks->v[--ks->n]);
}

/* For sets embedded elsewhere (a decryptor's copy); ks itself stays. */
void
age_keys_clear(struct age_keys *ks)
{
	keys_truncate(ks, 0);
	free(ks->v);
	ks->v = NULL;
	ks->cap = 0;
}

void
age_keys_free(struct age_keys *ks)
{
	if (ks == NULL)
		return;
	age_keys_clear(ks);
	free(ks);
}

/* The set keeps its own copy of every key; s stays the caller's. */
int
age_keys_add_recipient(struct age_keys *ks, const char *s, char *err,
    size_t errlen)
{
	struct age_key	 k;
	char		 hrp[AGE_BECH32_MAX + 1], msg[128];
	const char	*why;
	size_t		 n;

	memset(&k, 0, sizeof(k));
	if (age_encode_bech32_decode(s, hrp, sizeof(hrp), k.pk, sizeof(k.pk),
	    &n, &why) == -1) {
		snprintf(msg, sizeof(msg), "not an age recipient: %s", why);
		seterr(err, errlen, msg);
		return -1;
	}
	/* Recipients are written in lower case; "AGE1..." is refused. */
	if (strcmp(hrp, RECIPIENT_HRP) != 0 || n != AGE_KEY_LEN) {
		seterr(err, errlen, "not an age recipient (age1...)");
		return -1;
	}
	k.kind = AGE_KEY_RECIPIENT;
	if (key_fingerprint(&k) == -1) {
		seterr(err, errlen, "cannot hash the recipient");
		return -1;
	}
	return keys_push(ks, &k, err, errlen);
}

int
age_keys_add_identity(struct age_keys *ks, const char *s, char *err,
    size_t errlen)
{
	struct age_key	 k;
	char		 hrp[AGE_BECH32_MAX + 1], msg[128];
	const char	*why;
	size_t		 n;
	int		 rc = -1;

	memset(&k, 0, sizeof(k));
	if (age_encode_bech32_decode(s, hrp, sizeof(hrp), k.sk, sizeof(k.sk),
	    &n, &why) == -1) {
		snprintf(msg, sizeof(msg), "not an age identity: %s", why);
		seterr(err, errlen, msg);
	} else if (strcmp(hrp, IDENTITY_HRP) != 0 || n != AGE_KEY_LEN)
		seterr(err, errlen, "not an age identity "
		    "(AGE-SECRET-KEY-1..., upper case)");
	else if (age_keys_pubkey(k.pk, k.sk) == -1 || key_fingerprint(&k) == -1)
		seterr(err, errlen, "cannot derive the identity's public key");
	else {
		k.kind = AGE_KEY_IDENTITY;
		rc = keys_push(ks, &k, err, errlen);
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

int
age_keys_add_passphrase(struct age_keys *ks, const char *pass, size_t len,
    int wf, char *err, size_t errlen)
{
	struct age_key	 k;

	if (len == 0) {
		seterr(err, errlen, "the passphrase is empty");
		return -1;
	}
	if (wf < 0 || wf > AGE_SCRYPT_WF_MAX) {
		seterr(err, errlen, "the scrypt work factor is out of range");
		return -1;
	}
	memset(&k, 0, sizeof(k));
	k.kind = AGE_KEY_PASSPHRASE;
	k.wf = wf == 0 ? AGE_SCRYPT_WF_DEFAULT : wf;
	k.pass = xmalloc(len);
	memcpy(k.pass, pass, len);
	k.passlen = len;
	key_fingerprint(&k);
	return keys_push(ks, &k, err, errlen);
}

/* Trim blanks and a CR: key files written on other systems still load. */
static char *
trim(char *s)
{
	size_t	 n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* All or nothing: a file that fails adds no key. */
int
age_keys_private_file(const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s is readable by group or others; "
		    "chmod 600 it", path);
		return -1;
	}
	return 0;
}

int
age_keys_load_file(struct age_keys *ks, const char *path, int identities,
    char *err, size_t errlen)
{
	FILE		*f;
	char		*line = NULL, *s, why[128], msg[512];
	size_t		 cap = 0, before = ks->n, lineno = 0;
	ssize_t		 len;
	int		 rc = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		seterr(err, errlen, msg);
		return -1;
	}
	for (;;) {
		len = getline(&line, &cap, f);
		if (len == -1)
			break;
		lineno++;
		if (len > KEYLINE_MAX) {
			snprintf(why, sizeof(why), "line too long");
			rc = -1;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		rc = identities ?
		    age_keys_add_identity(ks, s, why, sizeof(why)) :
		    age_keys_add_recipient(ks, s, why, sizeof(why));
		if (rc == -1)
			break;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (line != NULL) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	fclose(f);
	if (rc == -1) {
		snprintf(msg, sizeof(msg), "%s:%zu: %s", path, lineno, why);
		seterr(err, errlen, msg);
		keys_truncate(ks, before);
		return -1;
	}
	return (int)(ks->n - before);
}

size_t
age_keys_count(const struct age_keys *ks)
{
	return ks != NULL ? ks->n : 0;
}

/* Points into the set: valid until the set is changed or freed. */
const char *
age_keys_fingerprint(const struct age_keys *ks, size_t i)
{
	if (ks == NULL || i >= ks->n)
		return NULL;
	return ks->v[i].fp;
}

/* A deep copy for a decryptor, so it does not depend on ks's lifetime. */
void
age_keys_copy(struct age_keys *dst, const struct age_keys *src)
{
	size_t	 i;

	memset(dst, 0, sizeof(*dst));
	if (src == NULL || src->n == 0)
		return;
	dst->v = xreallocarray(NULL, src->n, sizeof(*dst->v));
	dst->cap = dst->n = src->n;
	for (i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		if (src->v[i].pass != NULL) {
			dst->v[i].pass = xmalloc(src->v[i].passlen);
			memcpy(dst->v[i].pass, src->v[i].pass,
			    src->v[i].passlen);
		}
	}
}

/* ---- key generation ----------------------------------------------------- */

int
age_keygen(char identity[AGE_IDENTITY_LEN + 1],
    char recipient[AGE_RECIPIENT_LEN + 1])
{
	unsigned char	 sk[AGE_KEY_LEN], pk[AGE_KEY_LEN];
	int		 rc = -1;

	if (RAND_bytes(sk, sizeof(sk)) == 1 && age_keys_pubkey(pk, sk) == 0 &&
	    age_encode_bech32("age-secret-key-", sk, AGE_KEY_LEN, 1, identity,
	    AGE_IDENTITY_LEN + 1) != 0 &&
	    age_encode_bech32(RECIPIENT_HRP, pk, AGE_KEY_LEN, 0, recipient,
	    AGE_RECIPIENT_LEN + 1) != 0)
		rc = 0;
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}
