/*
 * crc64.c - CRC-64 as used in the RDB trailer.
 *
 * Parameters (from our protocol notes, redis-rdb-stream.md section 3):
 * polynomial 0xad93d23594c935a9, processed reflected (0x95ac9329ac4bc9b5),
 * reflected input and output, initial value 0, xorout 0.  Check value:
 * "123456789" gives 0xe9c6d914c4b8d9ca.
 *
 * Owns the slicing-by-8 lookup tables.  Invariant: once tables_ready is
 * set, tab[0] is the byte-at-a-time table and tab[k][i] is the CRC of
 * byte i followed by k zero bytes, so eight input bytes can be folded in
 * with eight lookups.  The tables are filled on first use; the daemon is
 * single-threaded, and filling them twice would write the same values.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>

#include "crc64.h"

#define CRC64_POLY_REFLECTED	0x95ac9329ac4bc9b5ULL

static uint64_t	tab[8][256];
static int	tables_ready;

static uint64_t
crc64_step8(uint64_t crc)
{
	int	i;

	for (i = 0; i < 8; i++) {
		if (crc & 1)
			crc = (crc >> 1) ^ CRC64_POLY_REFLECTED;
		else
			crc >>= 1;
	}
	return crc;
}

static void
tables_init(void)
{
	int	i, k;

	for (i = 0; i < 256; i++)
		tab[0][i] = crc64_step8((uint64_t)i);
	for (k = 1; k < 8; k++)
		for (i = 0; i < 256; i++)
			tab[k][i] = (tab[k - 1][i] >> 8) ^
			    tab[0][tab[k - 1][i] & 0xff];
	tables_ready = 1;
}

uint64_t
crc64_update_bitwise(uint64_t crc, const void *data, size_t n)
{
	const uint8_t	*p = data;

	while (n-- > 0)
		crc = crc64_step8(crc ^ *p++);
	return crc;
}

uint64_t
crc64_update(uint64_t crc, const void *data, size_t n)
{
	const uint8_t	*p = data;
	uint64_t	 w;

	if (!tables_ready)
		tables_init();
	/* Eight bytes at a time; the first byte sits in the low bits. */
	while (n >= 8) {
		w = crc ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 |
		    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
		    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
		    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
		crc = tab[7][w & 0xff] ^ tab[6][(w >> 8) & 0xff] ^
		    tab[5][(w >> 16) & 0xff] ^ tab[4][(w >> 24) & 0xff] ^
		    tab[3][(w >> 32) & 0xff] ^ tab[2][(w >> 40) & 0xff] ^
		    tab[1][(w >> 48) & 0xff] ^ tab[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}
