/* Values inside JSON text that is already known to be valid (scanned by
 * jscan or event_scan_line): a member, an element, a walk over a
 * container, a number, without building a tree or allocating. Nothing is
 * owned: every jvalue points into the caller's text. */
#ifndef STARRY_JVALUE_H
#define STARRY_JVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jscan.h"

struct jvalue {
	enum jscan_kind kind;
	const char *p;		/* strings: inside the quotes; else the text */
	size_t len;
	bool escaped;		/* a string with backslash escapes */
};

/* The value that starts at p (white space first is skipped), ending
 * before end. Returns 0 with *v and *after (just past the value), or -1
 * when there is no value (an empty or cut slice). */
int jvalue_read(const char *p, const char *end, struct jvalue *v,
    const char **after);

/* The member key of an object (the last one when the key repeats, as
 * jansson and jq read it). false when obj is not an object or has none. */
bool jvalue_member(const struct jvalue *obj, const char *key,
    struct jvalue *out);
/* The element at index of an array; false when out of range or not an
 * array. */
bool jvalue_element(const struct jvalue *arr, size_t index,
    struct jvalue *out);

/* A walk over the members of an object or the elements of an array. */
struct jvalue_iter {
	const char *at, *end;
	bool object;
};
void jvalue_iter_start(const struct jvalue *container, struct jvalue_iter *it);
/* The next member (key gets its name as a string jvalue) or element (key
 * may be NULL); false at the end. */
bool jvalue_iter_next(struct jvalue_iter *it, struct jvalue *key,
    struct jvalue *val);
/* The same, where a value that starts at known is known_len bytes long
 * and is taken as it is, not scanned through (an event's payload, whose
 * extent its scan told already). */
bool jvalue_iter_next_known(struct jvalue_iter *it, struct jvalue *key,
    struct jvalue *val, const char *known, size_t known_len);

/* A number's value: *d always; *i and *is_int when it is an integer that
 * fits in int64 (written with no fraction or exponent). -1 when v is not
 * a number or is out of a double's range. A number of 64 characters or
 * more is read in place: valid JSON text has a delimiter after it. */
int jvalue_number(const struct jvalue *v, double *d, int64_t *i, bool *is_int);

#endif
