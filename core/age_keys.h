/*
 * age_keys.h - the inside of struct age_keys, for the age format code.
 * Private to core/age*.c; the public interface is age.h.
 */
#ifndef ZB_AGE_KEYS_H
#define ZB_AGE_KEYS_H

#include <stddef.h>

#define AGE_KEY_LEN	32		/* X25519 keys, HKDF outputs */

enum age_key_kind {
	AGE_KEY_RECIPIENT,	/* pk only */
	AGE_KEY_IDENTITY,	/* sk, and pk derived from it */
	AGE_KEY_PASSPHRASE
};

struct age_key {
	enum age_key_kind	 kind;
	unsigned char		 sk[AGE_KEY_LEN];
	unsigned char		 pk[AGE_KEY_LEN];
	unsigned char		*pass;
	size_t			 passlen;
	int			 wf;		/* scrypt log2 N */
	/* The fingerprint: "X25519:<16 hex>" or "scrypt". */
	char			 fp[32];
};

struct age_keys {
	struct age_key	*v;
	size_t		 n;
	size_t		 cap;
};

/*
 * A deep copy of src (NULL: an empty set) into dst, which is overwritten
 * and afterwards owns its keys: release them with age_keys_clear().
 */
void	age_keys_copy(struct age_keys *dst, const struct age_keys *src);
/* Wipe and free the keys of ks, not ks itself (it may be embedded). */
void	age_keys_clear(struct age_keys *ks);
/* The X25519 public key of sk (both the caller's); 0 or -1. */
int	age_keys_pubkey(unsigned char pk[AGE_KEY_LEN],
	    const unsigned char sk[AGE_KEY_LEN]);

#endif
