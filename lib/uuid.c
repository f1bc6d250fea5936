/* UUID v4 (RFC 9562) from the kernel's random pool: see uuid.h.
 * The caller owns the output buffer; nothing is kept between calls. */
#include <errno.h>
#include <sys/random.h>

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

static bool
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
uuid_is_v4(const char *s, size_t len)
{
	size_t i;

	if (len != UUID_STR_LEN)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_lower_hex(s[i])) {
			return false;
		}
	}
	return s[14] == '4' && (s[19] == '8' || s[19] == '9' ||
	    s[19] == 'a' || s[19] == 'b');
}
