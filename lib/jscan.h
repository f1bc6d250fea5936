/* A validating JSON scanner: one pass over a buffer, no allocation, no
 * recursion. It checks the grammar of RFC 8259 and UTF-8, and reports the
 * members of the top-level object to a callback as slices of the input.
 * Nothing is owned: slices point into the caller's buffer. */
#ifndef STARRY_JSCAN_H
#define STARRY_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting accepted; deeper input is rejected, never overflowed. */
#define JSCAN_MAX_DEPTH 512

enum jscan_kind {
	JSCAN_STRING, JSCAN_NUMBER, JSCAN_OBJECT, JSCAN_ARRAY,
	JSCAN_TRUE, JSCAN_FALSE, JSCAN_NULL,
};

struct jscan_value {
	enum jscan_kind kind;
	const char *p;		/* the raw text; for strings, inside the quotes */
	size_t len;
	bool escaped;		/* a string that contains backslash escapes */
	bool integer;		/* a number with no fraction or exponent */
};

/* Called for each member of the top-level object, in order. key is the raw
 * key text inside its quotes. Return 0 to go on, -1 to stop the scan (the
 * scan then fails with the message the callback left in *why). */
typedef int (*jscan_member_fn)(void *ctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why);

struct jscan_error {
	size_t offset;		/* byte offset of the fault in the input */
	const char *why;	/* static text: "expected ',' or '}'" */
};

/* Scan buf[0..len) as exactly one JSON value (surrounding white space
 * allowed). When the value is an object and member is not NULL, member is
 * called for each of its top-level members. *top gets the top-level value.
 * Returns 0 or -1 with *error filled. \u0000 is valid JSON and accepted
 * (jansson reads it only with JSON_ALLOW_NUL); unpaired surrogate escapes
 * are not, as no JSON library downstream would take them. */
int jscan_document(const char *buf, size_t len, struct jscan_value *top,
    jscan_member_fn member, void *ctx, struct jscan_error *error);

/* Decode a raw string slice (escapes resolved, UTF-8 out) into out[0..cap).
 * Returns the decoded length, or -1 when it does not fit. Always
 * NUL-terminates when cap > 0 and it fits. */
long jscan_unescape(const char *raw, size_t len, char *out, size_t cap);

/* Compare a raw string slice with a plain C string, escapes resolved. */
bool jscan_string_equals(const char *raw, size_t len, bool escaped, const char *s);

/* Whether a failed scan failed on bad UTF-8 (so the caller can say
 * "invalid UTF-8" rather than "invalid JSON"). */
bool jscan_error_is_utf8(const struct jscan_error *error);

/* The decoded length of a raw string slice from the scanner; *has_nul
 * (may be NULL) tells whether it decodes to a NUL byte (\u0000). */
size_t jscan_decoded_length(const char *raw, size_t len, bool *has_nul);

/* The length of the valid UTF-8 character at s[0..avail) (strict: no
 * overlongs, no surrogates, nothing past U+10FFFF), or 0 when none starts
 * there; *bad (may be NULL) then gets how many bytes to skip: the maximal
 * ill-formed prefix, at least 1. */
size_t jscan_utf8_char(const char *s, size_t avail, size_t *bad);

#endif
