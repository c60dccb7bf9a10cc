/*
 * age.h - the age v1 file format (age-encryption.org/v1), streaming.
 *
 * Built on OpenSSL 3 primitives: X25519, HKDF-SHA-256, HMAC-SHA-256,
 * ChaCha20-Poly1305, scrypt.  The backup host needs only recipients
 * (public keys); decryption needs an identity or the passphrase.  Output
 * is a standard age file: the stock `age -d' opens it.
 */
#ifndef ZB_AGE_H
#define ZB_AGE_H

#include <stddef.h>
#include <stdint.h>

#define AGE_CHUNK		65536		/* plaintext per STREAM chunk */
#define AGE_HEADER_MAX		(64 * 1024)	/* longest header accepted */
#define AGE_SCRYPT_WF_DEFAULT	18
#define AGE_SCRYPT_WF_MAX	22
#define AGE_RECIPIENT_LEN	62		/* "age1" + 58 */
#define AGE_IDENTITY_LEN	74		/* "AGE-SECRET-KEY-1" + 58 */

/* Outcome classes, as the C2SP test vectors name them. */
enum age_status {
	AGE_OK = 0,
	AGE_NO_MATCH,		/* no identity opened any stanza */
	AGE_HMAC_FAILURE,	/* the header MAC does not verify */
	AGE_HEADER_FAILURE,	/* malformed header or stanza */
	AGE_PAYLOAD_FAILURE,	/* a STREAM chunk failed, truncation, ... */
	AGE_ERROR		/* usage or system error (OOM, RNG, ...) */
};

/* Output sink: 0, or -1 to stop (reported as AGE_ERROR). */
typedef int (*age_emit_fn)(void *arg, const void *buf, size_t len);

/*
 * A set of keys: recipients (X25519 public keys and/or one passphrase)
 * to encrypt to, or identities (X25519 secret keys and/or passphrases)
 * to decrypt with.  Secrets are wiped when freed.
 */
struct age_keys;

struct age_keys	*age_keys_new(void);
void		 age_keys_free(struct age_keys *);
/* "age1..." (Bech32); 0, or -1 with a message in err. */
int		 age_keys_add_recipient(struct age_keys *, const char *,
		    char *err, size_t errlen);
/* "AGE-SECRET-KEY-1..." (Bech32, upper case); 0 or -1. */
int		 age_keys_add_identity(struct age_keys *, const char *,
		    char *err, size_t errlen);
/*
 * A passphrase: for encryption an scrypt recipient with work factor wf
 * (log2 N; 0 means AGE_SCRYPT_WF_DEFAULT), which must then be the only
 * recipient; for decryption one more passphrase to try (wf ignored;
 * stanzas above AGE_SCRYPT_WF_MAX are refused).
 */
int		 age_keys_add_passphrase(struct age_keys *, const char *,
		    size_t len, int wf, char *err, size_t errlen);
/*
 * Read a file of recipients (identities == 0: "age1..." lines) or of
 * identities (identities == 1: "AGE-SECRET-KEY-1..." lines).  Blank lines
 * and lines starting with '#' are skipped; anything else that does not
 * parse is an error naming path:line.  Returns the number of keys added,
 * or -1 with err set.
 */
int		 age_keys_load_file(struct age_keys *, const char *path,
		    int identities, char *err, size_t errlen);
/*
 * Files that let this host decrypt (identities, passphrases) must be
 * private: 0 when path has no permission bit for group or others, else -1
 * with err "PATH is readable by group or others; chmod 600 it" (or
 * "PATH: strerror").
 */
int		 age_keys_private_file(const char *path, char *err,
		    size_t errlen);
size_t		 age_keys_count(const struct age_keys *);
/*
 * A fingerprint of recipient i for manifests and logs: "X25519:" and
 * the first 16 hex digits of SHA-256 of the recipient string, or
 * "scrypt" for a passphrase.  Never a key.
 */
const char	*age_keys_fingerprint(const struct age_keys *, size_t i);

/* Streaming encryption: the header, the nonce, then STREAM chunks. */
struct age_enc;

struct age_enc	*age_enc_new(const struct age_keys *recipients,
		    char *err, size_t errlen);
int		 age_enc_update(struct age_enc *, const void *, size_t,
		    age_emit_fn, void *);
/* Seal the last chunk (an empty one only for an empty plaintext). */
int		 age_enc_finish(struct age_enc *, age_emit_fn, void *);
void		 age_enc_free(struct age_enc *);

/*
 * Streaming decryption.  The header is buffered (up to AGE_HEADER_MAX)
 * and its MAC verified before anything is emitted; after that each
 * chunk's plaintext is emitted only once its tag verified.  A full chunk
 * is tried as non-final, then as final (then only EOF may follow); a
 * shorter one at EOF must be final, as the CCTV vectors expect.
 * update/finish return AGE_OK or a failure class; age_dec_error() says
 * what failed.
 */
struct age_dec;

struct age_dec	*age_dec_new(const struct age_keys *identities);
enum age_status	 age_dec_update(struct age_dec *, const void *, size_t,
		    age_emit_fn, void *);
/* End of input: the last chunk must be there and valid. */
enum age_status	 age_dec_finish(struct age_dec *, age_emit_fn, void *);
const char	*age_dec_error(const struct age_dec *);
void		 age_dec_free(struct age_dec *);

/* A new identity and its recipient, NUL-terminated. */
int		 age_keygen(char identity[AGE_IDENTITY_LEN + 1],
		    char recipient[AGE_RECIPIENT_LEN + 1]);

#endif
