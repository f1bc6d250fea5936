/* Reading inside JSON text already validated: see jvalue.h. Because the
 * grammar has been checked, skipping a value only has to find where it
 * ends: strings end at the first unescaped quote, containers where their
 * depth returns to zero, scalars at a delimiter. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jvalue.h"
#include "swar.h"

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p just past an opening quote: the closing quote, or end. Eight bytes
 * at a time to the first quote or backslash (most strings have none). */
static const char *
string_end(const char *p, const char *end, bool *escaped)
{
	while (p < end) {
		uint64_t hit;

		if (end - p >= 8) {
			uint64_t v = swar_load(p);

			hit = swar_equal(v, '"') | swar_equal(v, '\\');
			if (hit == 0) {
				p += 8;
				continue;
			}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			p += __builtin_ctzll(hit) >> 3;
#else
			while (*p != '"' && *p != '\\')
				p++;
#endif
		} else if (*p != '"' && *p != '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p;
		*escaped = true;
		p += 2;
	}
	return end;
}

/* p at '{' or '[': just past the matching close, or NULL. */
static const char *
container_end(const char *p, const char *end)
{
	size_t depth = 0;
	bool escaped;

	for (; p < end; p++) {
		switch (*p) {
		case '"':
			p = string_end(p + 1, end, &escaped);
			if (p == end)
				return NULL;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		}
	}
	return NULL;
}

static bool
is_delimiter(char c)
{
	return c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' ||
	    c == '\n' || c == '\r' || c == ':';
}

/* The kind of a value that is not a string, from its first byte. */
static enum jscan_kind
kind_of(char c)
{
	switch (c) {
	case '{': return JSCAN_OBJECT;
	case '[': return JSCAN_ARRAY;
	case 't': return JSCAN_TRUE;
	case 'f': return JSCAN_FALSE;
	case 'n': return JSCAN_NULL;
	default: return JSCAN_NUMBER;
	}
}

int
jvalue_read(const char *p, const char *end, struct jvalue *v,
    const char **after)
{
	const char *q;

	p = skip_ws(p, end);
	if (p >= end)
		return -1;
	v->escaped = false;
	switch (*p) {
	case '"':
		q = string_end(p + 1, end, &v->escaped);
		if (q == end)
			return -1;
		v->kind = JSCAN_STRING;
		v->p = p + 1;
		v->len = (size_t)(q - p - 1);
		*after = q + 1;
		return 0;
	case '{':
	case '[':
		q = container_end(p, end);
		if (q == NULL)
			return -1;
		v->kind = kind_of(*p);
		break;
	default:
		for (q = p; q < end && !is_delimiter(*q); q++)
			;
		v->kind = kind_of(*p);
	}
	v->p = p;
	v->len = (size_t)(q - p);
	*after = q;
	return 0;
}

void
jvalue_iter_start(const struct jvalue *c, struct jvalue_iter *it)
{
	it->object = c->kind == JSCAN_OBJECT;
	if (c->kind != JSCAN_OBJECT && c->kind != JSCAN_ARRAY) {
		it->at = it->end = c->p;
		return;
	}
	/* Inside the brackets. */
	it->at = c->p + 1;
	it->end = c->p + c->len - 1;
}

bool
jvalue_iter_next(struct jvalue_iter *it, struct jvalue *key, struct jvalue *val)
{
	return jvalue_iter_next_known(it, key, val, NULL, 0);
}

bool
jvalue_iter_next_known(struct jvalue_iter *it, struct jvalue *key,
    struct jvalue *val, const char *known, size_t known_len)
{
	struct jvalue k;
	const char *p = skip_ws(it->at, it->end);

	if (p < it->end && *p == ',')
		p++;
	if (it->object) {
		if (jvalue_read(p, it->end, &k, &p) == -1)
			return false;
		p = skip_ws(p, it->end);
		if (p >= it->end || *p != ':')
			return false;
		p++;
		if (key != NULL)
			*key = k;
	}
	p = skip_ws(p, it->end);
	if (known != NULL && p == known && *p != '"' && known_len > 0 &&
	    known_len <= (size_t)(it->end - p)) {
		*val = (struct jvalue){.kind = kind_of(*p), .p = p, .len = known_len};
		it->at = p + known_len;
		return true;
	}
	if (jvalue_read(p, it->end, val, &p) == -1)
		return false;
	it->at = p;
	return true;
}

bool
jvalue_member(const struct jvalue *obj, const char *key, struct jvalue *out)
{
	struct jvalue_iter it;
	struct jvalue k, v;
	size_t keylen = strlen(key);
	bool found = false;

	if (obj->kind != JSCAN_OBJECT)
		return false;
	jvalue_iter_start(obj, &it);
	while (jvalue_iter_next(&it, &k, &v)) {
		if (k.escaped ? jscan_string_equals(k.p, k.len, true, key) :
		    k.len == keylen && memcmp(k.p, key, keylen) == 0) {
			*out = v;
			found = true;
		}
	}
	return found;
}

bool
jvalue_element(const struct jvalue *arr, size_t index, struct jvalue *out)
{
	struct jvalue_iter it;
	size_t i = 0;

	if (arr->kind != JSCAN_ARRAY)
		return false;
	jvalue_iter_start(arr, &it);
	while (jvalue_iter_next(&it, NULL, out))
		if (i++ == index)
			return true;
	return false;
}

int
jvalue_number(const struct jvalue *v, double *d, int64_t *i, bool *is_int)
{
	char buf[64], *end;
	size_t k;

	if (v->kind != JSCAN_NUMBER)
		return -1;
	/* The common case, a short integer, without strtod. */
	if (v->len > 0 && v->len <= 18) {
		size_t at = v->p[0] == '-';
		int64_t n = 0;

		for (; at < v->len && v->p[at] >= '0' && v->p[at] <= '9'; at++)
			n = n * 10 + (v->p[at] - '0');
		if (at == v->len && v->len > (size_t)(v->p[0] == '-')) {
			*i = v->p[0] == '-' ? -n : n;
			*d = (double)*i;
			*is_int = true;
			return 0;
		}
	}
	*is_int = false;
	if (v->len >= sizeof(buf)) {
		/* Too long for an int64; strtod stops at the delimiter that
		 * follows a number inside valid JSON text. */
		errno = 0;
		*d = strtod(v->p, &end);
		return errno == ERANGE && isinf(*d) ? -1 : 0;
	}
	memcpy(buf, v->p, v->len);
	buf[v->len] = '\0';
	errno = 0;
	*d = strtod(buf, &end);
	if (errno == ERANGE && isinf(*d))
		return -1;
	for (k = 0; k < v->len; k++)
		if (v->p[k] == '.' || v->p[k] == 'e' || v->p[k] == 'E')
			return 0;
	errno = 0;
	*i = strtoll(buf, &end, 10);
	*is_int = errno != ERANGE;
	return 0;
}
