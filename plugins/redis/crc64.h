/*
 * crc64.h - the CRC-64 that Redis appends to RDB files ("Jones"
 * polynomial, reflected, initial value 0, no final xor).
 */
#ifndef ZB_REDIS_CRC64_H
#define ZB_REDIS_CRC64_H

#include <stddef.h>
#include <stdint.h>

#define CRC64_INIT	0ULL	/* what Redis starts every RDB with */

/*
 * Continue a CRC over n bytes at p (borrowed) and return the new value.
 * Start with CRC64_INIT; feeding the data in any number of pieces gives
 * the same result as one call.
 */
uint64_t	crc64_update(uint64_t, const void *, size_t);

/* Reference form, one bit at a time; for tests. */
uint64_t	crc64_update_bitwise(uint64_t, const void *, size_t);

#endif
