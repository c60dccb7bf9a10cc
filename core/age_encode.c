/*
 * age_encode.c - the text encodings of the age v1 format: Bech32
 * (BIP173 without its 90-character limit) for recipients and identities,
 * and unpadded base64 (RFC 4648 alphabet) for stanza arguments, bodies
 * and the header MAC.
 *
 * Owns no state: pure functions over caller buffers.
 *
 * Invariants:
 * - Decoders accept only the canonical form: no padding, no characters
 *   outside the alphabet, no mixed case, zero leftover bits, so that
 *   every value has exactly one encoding (the header MAC depends on it).
 * - Nothing is written past the cap the caller gives.
 * - Bech32 input may be a secret key: the lowercase working copy is
 *   wiped with OPENSSL_cleanse before returning.
 */
#include "zb-build.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "age_encode.h"

/* ---- base64: RFC 4648 alphabet, no padding, canonical only -------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Unpadded encoding of n bytes: (8n + 5) / 6 chars, then a NUL. */
size_t
age_encode_b64(const unsigned char *in, size_t n, char *out)
{
	uint32_t	 acc = 0;
	size_t		 i, o = 0;
	int		 bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64chars[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		out[o++] = b64chars[(acc << (6 - bits)) & 0x3f];
	out[o] = '\0';
	return o;
}

/*
 * Decode n chars into at most cap bytes.  Refuses '=' and anything else
 * outside the alphabet, a length that leaves 6 dangling bits, and
 * leftover bits that are not zero (the encoding would not be canonical).
 */
int
age_encode_b64_decode(const char *s, size_t n, unsigned char *out,
    size_t cap, size_t *outlen)
{
	uint32_t	 acc = 0;
	size_t		 i, o = 0;
	int		 bits = 0, v;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*outlen = o;
	return 0;
}

/* ---- Bech32 (BIP173, no length limit) ----------------------------------- */

static const char b32chars[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
bech32_step(uint32_t chk, unsigned int v)
{
	static const uint32_t	 gen[5] = { 0x3b6a57b2, 0x26508e6d,
	    0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
	uint32_t		 top = chk >> 25;
	int			 i;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

/* The checksum state over the expanded (lowercase) HRP. */
static uint32_t
bech32_hrp(const char *hrp, size_t n)
{
	uint32_t	 chk = 1;
	size_t		 i;

	for (i = 0; i < n; i++)
		chk = bech32_step(chk, (unsigned char)hrp[i] >> 5);
	chk = bech32_step(chk, 0);
	for (i = 0; i < n; i++)
		chk = bech32_step(chk, (unsigned char)hrp[i] & 31);
	return chk;
}

/*
 * hrp (lowercase) "1" data checksum into out (cap bytes, NUL included),
 * upper-cased when upper is set.  The length, or 0 when cap is too small.
 */
size_t
age_encode_bech32(const char *hrp, const unsigned char *data, size_t n,
    int upper, char *out, size_t cap)
{
	unsigned char	 v[AGE_BECH32_MAX];
	uint32_t	 acc = 0, chk;
	size_t		 i, nv = 0, hl = strlen(hrp), len;
	int		 bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8 | data[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			if (nv == sizeof(v))
				return 0;
			v[nv++] = (acc >> bits) & 31;
		}
	}
	if (bits > 0) {
		if (nv == sizeof(v))
			return 0;
		v[nv++] = (acc << (5 - bits)) & 31;
	}
	len = hl + 1 + nv + 6;
	if (len + 1 > cap)
		return 0;
	chk = bech32_hrp(hrp, hl);
	for (i = 0; i < nv; i++)
		chk = bech32_step(chk, v[i]);
	for (i = 0; i < 6; i++)
		chk = bech32_step(chk, 0);
	chk ^= 1;
	memcpy(out, hrp, hl);
	out[hl] = '1';
	for (i = 0; i < nv; i++)
		out[hl + 1 + i] = b32chars[v[i]];
	for (i = 0; i < 6; i++)
		out[hl + 1 + nv + i] = b32chars[(chk >> (5 * (5 - i))) & 31];
	out[len] = '\0';
	if (upper)
		for (i = 0; i < len; i++)
			if (out[i] >= 'a' && out[i] <= 'z')
				out[i] = (char)(out[i] - 'a' + 'A');
	return len;
}

/*
 * Decode s: all upper or all lower case, checksum over the lowercase
 * form, zero padding bits.  The HRP is returned as written (the caller
 * decides which case it accepts), the data in out.  s may be a secret
 * key, so the lowercase copy is wiped.
 */
int
age_encode_bech32_decode(const char *s, char *hrp, size_t hrpcap,
    unsigned char *out, size_t cap, size_t *outlen, const char **why)
{
	char		 lc[AGE_BECH32_MAX + 1];
	const char	*sep, *q;
	uint32_t	 chk, acc = 0;
	size_t		 len = strlen(s), hl, i, o = 0;
	int		 lower = 0, upper = 0, bits = 0, rc = -1;

	*why = "not a Bech32 string";
	if (len > AGE_BECH32_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < 33 || s[i] > 126)
			goto out;
		lower |= s[i] >= 'a' && s[i] <= 'z';
		upper |= s[i] >= 'A' && s[i] <= 'Z';
		lc[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') :
		    s[i];
	}
	lc[len] = '\0';
	if (lower && upper) {
		*why = "mixed upper and lower case";
		goto out;
	}
	sep = strrchr(lc, '1');
	if (sep == NULL || sep == lc || (size_t)(lc + len - sep) < 7)
		goto out;
	hl = (size_t)(sep - lc);
	if (hl + 1 > hrpcap)
		goto out;
	memcpy(hrp, s, hl);
	hrp[hl] = '\0';
	chk = bech32_hrp(lc, hl);
	for (i = hl + 1; i < len; i++) {
		q = strchr(b32chars, lc[i]);
		if (q == NULL) {
			*why = "a character outside the Bech32 set";
			goto out;
		}
		chk = bech32_step(chk, (unsigned int)(q - b32chars));
		if (i >= len - 6)
			continue;	/* the checksum carries no data */
		acc = (acc << 5 | (uint32_t)(q - b32chars)) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				goto out;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (chk != 1)
		*why = "bad Bech32 checksum";
	else if (bits >= 5 || (acc & ((1U << bits) - 1)) != 0)
		*why = "bad Bech32 padding";
	else {
		*outlen = o;
		rc = 0;
	}
out:
	OPENSSL_cleanse(lc, sizeof(lc));
	OPENSSL_cleanse(&acc, sizeof(acc));
	return rc;
}
