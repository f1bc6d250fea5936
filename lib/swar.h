/* Eight bytes at a time in a 64-bit word ("SIMD within a register"). The
 * tests give 0x80 in a byte that matches; a borrow may also flag bytes
 * above the first match, so they answer "is there one" and "where is the
 * first (lowest)", not "which are". */
#ifndef STARRY_SWAR_H
#define STARRY_SWAR_H

#include <stdint.h>
#include <string.h>

#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

static inline uint64_t
swar_load(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Bytes below n (n <= 0x80). Bytes of 0x80 and more never match. */
static inline uint64_t
swar_below(uint64_t v, unsigned n)
{
	return (v - SWAR_ONES * n) & ~v & SWAR_HIGHS;
}

/* Bytes equal to c. */
static inline uint64_t
swar_equal(uint64_t v, unsigned char c)
{
	return swar_below(v ^ (SWAR_ONES * c), 1);
}

#endif
