/* UUID v4 (RFC 9562) from the kernel's random pool: see uuid.h.
 * The caller owns the output buffer; nothing is kept between calls. */
#include <errno.h>
#include <sys/random.h>

#include "swar.h"
#include "uuid.h"

/* getrandom(2) may return short or be interrupted before the pool is
 * ready; loop until every byte is filled. */
static int
random_fill(unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

int
uuid_v4(char out[UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	int i, o = 0;

	if (random_fill(b, sizeof b) < 0)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* variant 10xx */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

/* 0x80 in each byte of the word at s that is a lowercase hex digit. Bytes
 * under 0x80 cannot carry into their neighbours in the sums below; a byte
 * of 0x80 or more is masked out at the end, and may misjudge the byte
 * above it, but no UUID has such a byte anywhere, so the answer is no
 * all the same. */
static uint64_t
hex_bytes(const char *s)
{
	uint64_t v = swar_load(s), digit, letter;

	digit = (v + SWAR_ONES * (0x80 - '0')) & ~(v + SWAR_ONES * (0x80 - '9' - 1));
	letter = (v + SWAR_ONES * (0x80 - 'a')) & ~(v + SWAR_ONES * (0x80 - 'f' - 1));
	return (digit | letter) & ~v & SWAR_HIGHS;
}

/* The words of the text and the bytes of each that must be hex digits
 * (the others are the dashes at 8, 13, 18 and 23, checked apart).
 * Little-endian: byte i of a word is bits 8i..8i+7. */
bool
uuid_is_v4(const char *s, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	static const struct { unsigned at; uint64_t hex; } word[] = {
		{ 0, SWAR_HIGHS },
		{ 8, SWAR_HIGHS & ~0x0000800000000080ULL },	/* '-' at 8, 13 */
		{ 16, SWAR_HIGHS & ~0x8000000000800000ULL },	/* '-' at 18, 23 */
		{ 24, SWAR_HIGHS },
		{ 28, SWAR_HIGHS },
	};

	if (len != UUID_STR_LEN)
		return false;
	for (size_t i = 0; i < sizeof word / sizeof word[0]; i++)
		if ((hex_bytes(s + word[i].at) & word[i].hex) != word[i].hex)
			return false;
#else
	if (len != UUID_STR_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (i != 8 && i != 13 && i != 18 && i != 23 &&
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
#endif
	return s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
	    s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' ||
	    s[19] == 'b');
}
