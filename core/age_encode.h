/*
 * age_encode.h - the two text encodings of the age v1 format: Bech32
 * (keys) and canonical unpadded base64 (stanzas, the header MAC).
 * Private to core/age*.c; the public interface is age.h.
 */
#ifndef ZB_AGE_ENCODE_H
#define ZB_AGE_ENCODE_H

#include <stddef.h>

#define AGE_BECH32_MAX	128		/* longest Bech32 string we decode */

/*
 * Unpadded base64 of in[0..n) into out, which the caller provides with
 * room for (8n + 5) / 6 chars and a NUL.  Returns the length.
 */
size_t	age_encode_b64(const unsigned char *in, size_t n, char *out);
/*
 * Decode s[0..n) into out (at most cap bytes, the caller's); 0 with
 * *outlen set, or -1 for anything but canonical unpadded base64.
 */
int	age_encode_b64_decode(const char *s, size_t n, unsigned char *out,
	    size_t cap, size_t *outlen);
/*
 * hrp (lower case) "1" data checksum into out (cap bytes, NUL included,
 * the caller's), upper-cased when upper is set.  Returns the length, or
 * 0 when cap is too small.
 */
size_t	age_encode_bech32(const char *hrp, const unsigned char *data,
	    size_t n, int upper, char *out, size_t cap);
/*
 * Decode s (all upper or all lower case) into hrp (as written, hrpcap
 * bytes) and out (cap bytes), both the caller's.  0 with *outlen set, or
 * -1 with *why pointing to a static phrase.
 */
int	age_encode_bech32_decode(const char *s, char *hrp, size_t hrpcap,
	    unsigned char *out, size_t cap, size_t *outlen,
	    const char **why);

#endif
