/* The validating JSON scanner of the event hot path: see jscan.h.
 * Nesting is tracked in a bit stack, not on the C stack, so hostile input
 * costs 64 bytes however deep it goes; nothing is allocated or owned, and
 * every slice handed out points into the caller's buffer. */
#include <stdint.h>
#include <string.h>

#include "jscan.h"
#include "swar.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char why_utf8[] = "invalid UTF-8";
static const char why_eoi[] = "unexpected end of input";

/* What a byte means inside a string. Everything but PLAIN leaves the
 * fast loop. */
enum { PLAIN = 0, QUOTE, BSLASH, CTRL, HIGH };

static const unsigned char string_class[256] = {
	[0x00 ... 0x1f] = CTRL,
	['"'] = QUOTE,
	['\\'] = BSLASH,
	[0x80 ... 0xff] = HIGH,
};

static const unsigned char is_ws[256] = {
	[' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1,
};

struct scan {
	const unsigned char *end;
	const unsigned char *at;	/* where the fault is */
	const char *why;
	unsigned depth;			/* open containers */
	uint64_t is_object[JSCAN_MAX_DEPTH / 64];
	bool escaped, integer;		/* of the last scalar scanned */
};

/* Records the fault and returns NULL so callers can `return fail(...)`. */
static const unsigned char *
fail(struct scan *s, const unsigned char *at, const char *why)
{
	s->at = at;
	s->why = why;
	return NULL;
}

static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && is_ws[*p])
		p++;
	return p;
}

/* Skip the run of plain ASCII string bytes, eight at a time: a word is
 * plain unless a byte is < 0x20, '"', '\\' or >= 0x80. Each test below
 * flags exactly the first such byte (borrows only run upward), so on a
 * little-endian machine the lowest flag bit locates it. */
static inline const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end)
{
	uint64_t v, special;

	while (end - p >= 8) {
		v = swar_load(p);
		special = swar_below(v, 0x20) | swar_equal(v, '"') |
		    swar_equal(v, '\\') | (v & SWAR_HIGHS);
		if (special) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return p + (__builtin_ctzll(special) >> 3);
#else
			break;
#endif
		}
		p += 8;
	}
	while (p < end && string_class[*p] == PLAIN)
		p++;
	return p;
}

size_t
jscan_utf8_char(const char *s, size_t avail, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (avail == 0)
		goto invalid1;
	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2)
		goto invalid1;	/* a continuation byte, or an overlong lead */
	if (p[0] < 0xe0) {
		n = 2;
	} else if (p[0] < 0xf0) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* a surrogate */
	} else if (p[0] < 0xf5) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else {
		goto invalid1;
	}
	for (i = 1; i < n; i++) {
		if (i >= avail || p[i] < lo || p[i] > hi) {
			if (bad)
				*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
invalid1:
	if (bad)
		*bad = 1;
	return 0;
}

enum escape_fault {
	ESC_EOI = -1, ESC_INVALID = -2, ESC_BAD_HEX = -3, ESC_SURROGATE = -4,
};

/* The four hex digits of a \u escape at p[0..avail). */
static int
hex4(const unsigned char *p, size_t avail, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		unsigned c, d;

		if (i == avail)
			return ESC_EOI;
		c = p[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return ESC_BAD_HEX;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* Decode the escape at p[0] == '\\' into a code point. Returns the bytes
 * it took, or an escape_fault. The one place escapes are understood. */
static int
decode_escape(const unsigned char *p, size_t avail, uint32_t *cp)
{
	uint32_t lo;
	int rc;

	if (avail < 2)
		return ESC_EOI;
	switch (p[1]) {
	case '"': *cp = '"'; return 2;
	case '\\': *cp = '\\'; return 2;
	case '/': *cp = '/'; return 2;
	case 'b': *cp = '\b'; return 2;
	case 'f': *cp = '\f'; return 2;
	case 'n': *cp = '\n'; return 2;
	case 'r': *cp = '\r'; return 2;
	case 't': *cp = '\t'; return 2;
	case 'u': break;
	default: return ESC_INVALID;
	}
	if ((rc = hex4(p + 2, avail - 2, cp)) < 0)
		return rc;
	if (*cp < 0xd800 || *cp > 0xdfff)
		return 6;
	/* jansson refuses unpaired surrogates, so they are refused here
	 * rather than in whichever later stage builds a tree. */
	if (*cp >= 0xdc00)
		return ESC_SURROGATE;
	if ((avail > 6 && p[6] != '\\') || (avail > 7 && p[7] != 'u'))
		return ESC_SURROGATE;
	if (avail < 8)
		return ESC_EOI;
	if ((rc = hex4(p + 8, avail - 8, &lo)) < 0)
		return rc;
	if (lo < 0xdc00 || lo > 0xdfff)
		return ESC_SURROGATE;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

static const unsigned char *
scan_escape(struct scan *s, const unsigned char *p)
{
	uint32_t cp;
	int n = decode_escape(p, s->end - p, &cp);

	switch (n) {
	case ESC_EOI: return fail(s, s->end, why_eoi);
	case ESC_INVALID: return fail(s, p, "invalid escape");
	case ESC_BAD_HEX: return fail(s, p, "invalid \\u escape");
	case ESC_SURROGATE: return fail(s, p, "lone surrogate in \\u escape");
	}
	s->escaped = true;
	return p + n;
}

/* p is just past the opening quote; returns the closing quote. */
static const unsigned char *
scan_string(struct scan *s, const unsigned char *p)
{
	const unsigned char *end = s->end;
	size_t n, bad;

	s->escaped = false;
	for (;;) {
		p = skip_plain(p, end);
		if (p == end)
			return fail(s, p, why_eoi);
		switch (string_class[*p]) {
		case QUOTE:
			return p;
		case BSLASH:
			p = scan_escape(s, p);
			if (p == NULL)
				return NULL;
			break;
		case CTRL:
			return fail(s, p, "control character in string");
		default:
			n = jscan_utf8_char((const char *)p, end - p, &bad);
			if (n > 0) {
				p += n;
				break;
			}
			/* A character cut off by the end is a truncated line,
			 * not bad encoding. */
			if (p + bad == end)
				return fail(s, end, why_eoi);
			return fail(s, p, why_utf8);
		}
	}
}

static inline bool
is_digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10;
}

static inline const unsigned char *
skip_digits(const unsigned char *p, const unsigned char *end)
{
	while (p < end && is_digit(*p))
		p++;
	return p;
}

/* One or more digits must come at p. */
static const unsigned char *
scan_digits(struct scan *s, const unsigned char *p)
{
	if (p == s->end)
		return fail(s, p, why_eoi);
	if (!is_digit(*p))
		return fail(s, p, "invalid number");
	return skip_digits(p + 1, s->end);
}

static const unsigned char *
scan_number(struct scan *s, const unsigned char *p)
{
	const unsigned char *end = s->end;

	s->integer = true;
	if (*p == '-')
		p++;
	if (p < end && *p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(s, p, "invalid number");
	} else if ((p = scan_digits(s, p)) == NULL) {
		return NULL;
	}
	if (p < end && *p == '.') {
		s->integer = false;
		if ((p = scan_digits(s, p + 1)) == NULL)
			return NULL;
	}
	if (p < end && (*p | 0x20) == 'e') {
		s->integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if ((p = scan_digits(s, p)) == NULL)
			return NULL;
	}
	return p;
}

static const unsigned char *
scan_literal(struct scan *s, const unsigned char *p, const char *word)
{
	size_t i;

	for (i = 0; word[i]; i++) {
		if (p + i == s->end)
			return fail(s, p + i, why_eoi);
		if (p[i] != (unsigned char)word[i])
			return fail(s, p + i, "invalid literal");
	}
	return p + i;
}

/* A string, number or literal at p; returns the byte after it. */
static const unsigned char *
scan_scalar(struct scan *s, const unsigned char *p)
{
	switch (*p) {
	case '"':
		p = scan_string(s, p + 1);
		return p ? p + 1 : NULL;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return scan_number(s, p);
	case 't':
		return scan_literal(s, p, "true");
	case 'f':
		return scan_literal(s, p, "false");
	case 'n':
		return scan_literal(s, p, "null");
	}
	if (s->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		return fail(s, p, "byte order mark");
	return fail(s, p, "expected a value");
}

static int
push(struct scan *s, const unsigned char *p, bool object)
{
	uint64_t bit;

	if (s->depth == JSCAN_MAX_DEPTH) {
		fail(s, p, "nesting deeper than " STR(JSCAN_MAX_DEPTH));
		return -1;
	}
	bit = 1ULL << (s->depth % 64);
	if (object)
		s->is_object[s->depth / 64] |= bit;
	else
		s->is_object[s->depth / 64] &= ~bit;
	s->depth++;
	return 0;
}

static bool
in_object(const struct scan *s)
{
	unsigned d = s->depth - 1;

	return s->is_object[d / 64] >> (d % 64) & 1;
}

static enum jscan_kind
kind_of(unsigned char c)
{
	switch (c) {
	case '{': return JSCAN_OBJECT;
	case '[': return JSCAN_ARRAY;
	case '"': return JSCAN_STRING;
	case 't': return JSCAN_TRUE;
	case 'f': return JSCAN_FALSE;
	case 'n': return JSCAN_NULL;
	}
	return JSCAN_NUMBER;
}

/* Describe the value text [start, end) as the header promises: strings
 * without their quotes. */
static void
fill_value(struct jscan_value *v, const struct scan *s,
    const unsigned char *start, const unsigned char *end)
{
	v->kind = kind_of(*start);
	v->p = (const char *)start;
	v->len = end - start;
	v->escaped = false;
	v->integer = false;
	if (v->kind == JSCAN_STRING) {
		v->p++;
		v->len -= 2;
		v->escaped = s->escaped;
	} else if (v->kind == JSCAN_NUMBER) {
		v->integer = s->integer;
	}
}

/* The grammar as a loop over three states (a value is due, a value has
 * ended, a key is due) with the bit stack saying whether the innermost
 * container is an object. Members of the top-level object are reported
 * when their value ends at depth 1. */
static const unsigned char *
scan_document(struct scan *s, const unsigned char *p, jscan_member_fn member,
    void *ctx)
{
	const unsigned char *end = s->end, *mstart = NULL, *kstart;
	struct jscan_value key = { .kind = JSCAN_STRING }, val;
	bool root_object = false;

value:
	p = skip_ws(p, end);
	if (p == end)
		return fail(s, p, why_eoi);
	if (*p == '{' || *p == '[') {
		if (s->depth == 0)
			root_object = *p == '{';
		if (push(s, p, *p == '{') < 0)
			return NULL;
		p = skip_ws(p + 1, end);
		if (p < end && *p == (in_object(s) ? '}' : ']')) {
			s->depth--;
			p++;
			goto next;
		}
		if (in_object(s))
			goto key;
		goto value;
	}
	if ((p = scan_scalar(s, p)) == NULL)
		return NULL;
next:
	if (s->depth == 0)
		return p;
	if (s->depth == 1 && root_object && member) {
		const char *why = "rejected by the caller";

		fill_value(&val, s, mstart, p);
		if (member(ctx, &key, &val, &why) < 0)
			return fail(s, mstart, why);
	}
	p = skip_ws(p, end);
	if (p == end)
		return fail(s, p, why_eoi);
	if (in_object(s)) {
		if (*p == '}')
			goto close;
		if (*p != ',')
			return fail(s, p, "expected ',' or '}'");
		p = skip_ws(p + 1, end);
		goto key;
	}
	if (*p == ']')
		goto close;
	if (*p != ',')
		return fail(s, p, "expected ',' or ']'");
	p++;
	goto value;
close:
	s->depth--;
	p++;
	goto next;
key:
	if (p == end)
		return fail(s, p, why_eoi);
	if (*p != '"')
		return fail(s, p, "expected a string key");
	kstart = p + 1;
	if ((p = scan_string(s, kstart)) == NULL)
		return NULL;
	if (s->depth == 1) {
		key.p = (const char *)kstart;
		key.len = p - kstart;
		key.escaped = s->escaped;
	}
	p = skip_ws(p + 1, end);
	if (p == end)
		return fail(s, p, why_eoi);
	if (*p != ':')
		return fail(s, p, "expected ':'");
	p = skip_ws(p + 1, end);
	if (s->depth == 1)
		mstart = p;
	goto value;
}

/* A byte that is not UTF-8 at all is reported as bad UTF-8 wherever it
 * stands, not as a grammar fault: that is the more useful diagnosis of a
 * binary or mis-encoded line. */
static void
blame_bad_utf8(struct scan *s)
{
	if (s->at < s->end && *s->at >= 0x80 &&
	    jscan_utf8_char((const char *)s->at, s->end - s->at, NULL) == 0)
		s->why = why_utf8;
}

int
jscan_document(const char *buf, size_t len, struct jscan_value *top,
    jscan_member_fn member, void *ctx, struct jscan_error *error)
{
	const unsigned char *start = (const unsigned char *)buf;
	const unsigned char *p, *vstart;
	struct scan s;

	s.end = start + len;
	s.depth = 0;
	vstart = skip_ws(start, s.end);
	p = scan_document(&s, vstart, member, ctx);
	if (p != NULL && (p = skip_ws(p, s.end)) != s.end)
		p = fail(&s, p, "trailing characters after the value");
	if (p == NULL) {
		blame_bad_utf8(&s);
		if (error) {
			error->offset = s.at - start;
			error->why = s.why;
		}
		return -1;
	}
	if (top) {
		/* Trailing white space is not part of the value. */
		while (p > vstart && is_ws[p[-1]])
			p--;
		fill_value(top, &s, vstart, p);
	}
	return 0;
}

bool
jscan_error_is_utf8(const struct jscan_error *error)
{
	return error->why != NULL && strcmp(error->why, why_utf8) == 0;
}

static size_t
utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | (cp >> 6 & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | (cp >> 12 & 0x3f);
	out[2] = 0x80 | (cp >> 6 & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Step over raw[*i..len): a run of plain bytes or one escape. Returns
 * the bytes it stands for in *chunk, or -1 on a malformed escape (a
 * slice that did not come from the scanner). */
static long
next_chunk(const char *raw, size_t len, size_t *i, const char **chunk,
    char buf[4])
{
	const char *bs = memchr(raw + *i, '\\', len - *i);
	size_t run = bs ? (size_t)(bs - raw) - *i : len - *i;
	uint32_t cp;
	int n;

	if (run > 0) {
		*chunk = raw + *i;
		*i += run;
		return run;
	}
	n = decode_escape((const unsigned char *)raw + *i, len - *i, &cp);
	if (n < 0)
		return -1;
	*i += n;
	*chunk = buf;
	return utf8_encode(cp, buf);
}

long
jscan_unescape(const char *raw, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;
	const char *chunk;
	char buf[4];
	long n;

	while (i < len) {
		if ((n = next_chunk(raw, len, &i, &chunk, buf)) < 0)
			return -1;
		if (cap == 0 || (size_t)n >= cap - o)
			return -1;
		memcpy(out + o, chunk, n);
		o += n;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return o;
}

size_t
jscan_decoded_length(const char *raw, size_t len, bool *has_nul)
{
	size_t i = 0, o = 0;
	const char *chunk;
	char buf[4];
	long n;

	if (has_nul)
		*has_nul = false;
	while (i < len) {
		if ((n = next_chunk(raw, len, &i, &chunk, buf)) < 0)
			break;
		if (has_nul && memchr(chunk, '\0', n))
			*has_nul = true;
		o += n;
	}
	return o;
}

bool
jscan_string_equals(const char *raw, size_t len, bool escaped, const char *s)
{
	size_t i = 0, slen = strlen(s), o = 0;
	const char *chunk;
	char buf[4];
	long n;

	if (!escaped)
		return len == slen && memcmp(raw, s, len) == 0;
	while (i < len) {
		if ((n = next_chunk(raw, len, &i, &chunk, buf)) < 0)
			return false;
		if ((size_t)n > slen - o || memcmp(chunk, s + o, n) != 0)
			return false;
		o += n;
	}
	return o == slen;
}
