/* A priority queue of lines kept as bytes: see lineq.h. Lines of one
 * priority sit back to back in one buffer, so an output can write many of
 * them with one write(2) and no copy; a buffer is compacted when its free
 * head outgrows what it holds. Beside the bytes, each level keeps the
 * lengths of its lines in a ring, so that consuming counts lines without
 * reading the bytes again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lineq.h"

#define LINEQ_LEVELS 6
#define LINEQ_KEEP   (4 * 1024 * 1024)	/* a buffer kept when drained */

struct level {
	char *buf;
	size_t start, end, cap;
	size_t lines;
	uint32_t *len;		/* each line's length with its '\n', a ring */
	size_t len_head, len_cap;
	size_t front_done;	/* bytes of the front line already written */
};

struct lineq {
	struct level level[LINEQ_LEVELS];
	size_t max_lines, max_bytes;
	size_t lines, bytes;
	int current;		/* the level whose front line has begun, or -1 */
};

struct lineq *
lineq_new(size_t max_lines, size_t max_bytes)
{
	struct lineq *q;

	if (max_lines == 0 || max_bytes == 0)
		return NULL;
	q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->max_lines = max_lines;
	q->max_bytes = max_bytes;
	q->current = -1;
	return q;
}

void
lineq_free(struct lineq *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < LINEQ_LEVELS; i++) {
		free(q->level[i].buf);
		free(q->level[i].len);
	}
	free(q);
}

bool
lineq_full(const struct lineq *q)
{
	return q->lines >= q->max_lines || q->bytes >= q->max_bytes;
}

/* Room for need more bytes at the end of l. */
static int
level_reserve(struct level *l, size_t need)
{
	size_t used = l->end - l->start, cap;
	char *buf;

	if (l->end + need <= l->cap)
		return 0;
	if (l->start > 0 && used + need <= l->cap && l->start >= used) {
		memmove(l->buf, l->buf + l->start, used);
		l->start = 0;
		l->end = used;
		return 0;
	}
	cap = l->cap ? l->cap : 4096;
	while (cap < used + need)
		cap *= 2;
	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, used);
		l->start = 0;
		l->end = used;
	}
	buf = realloc(l->buf, cap);
	if (buf == NULL)
		return -1;
	l->buf = buf;
	l->cap = cap;
	return 0;
}

/* Room in l's length ring for one more line. */
static int
level_reserve_line(struct level *l)
{
	size_t cap, tail;
	uint32_t *len;

	if (l->lines < l->len_cap)
		return 0;
	cap = l->len_cap ? l->len_cap * 2 : 64;
	len = realloc(l->len, cap * sizeof *len);
	if (len == NULL)
		return -1;
	/* Unwrap: the lines before the head move up past the old end. */
	tail = l->len_cap - l->len_head;
	if (l->len_head > 0) {
		memmove(len + cap - tail, len + l->len_head, tail * sizeof *len);
		l->len_head = cap - tail;
	}
	l->len = len;
	l->len_cap = cap;
	return 0;
}

int
lineq_push(struct lineq *q, int priority, const char *line, size_t len)
{
	struct level *l;
	size_t slot;

	if (priority < 0 || priority >= LINEQ_LEVELS || len >= UINT32_MAX)
		return -1;
	l = &q->level[priority];
	if (level_reserve(l, len + 1) < 0 || level_reserve_line(l) < 0)
		return -1;
	slot = l->len_head + l->lines;
	l->len[slot < l->len_cap ? slot : slot - l->len_cap] = len + 1;
	memcpy(l->buf + l->end, line, len);
	l->buf[l->end + len] = '\n';
	l->end += len + 1;
	l->lines++;
	q->lines++;
	q->bytes += len + 1;
	return 0;
}

const char *
lineq_peek(struct lineq *q, size_t max, size_t *len)
{
	struct level *l;
	const char *p, *nl;
	size_t n;
	int i = q->current;

	if (i < 0)
		for (i = 0; i < LINEQ_LEVELS && q->level[i].lines == 0; i++)
			;
	if (i == LINEQ_LEVELS) {
		*len = 0;
		return NULL;
	}
	l = &q->level[i];
	p = l->buf + l->start;
	n = l->end - l->start;
	if (q->current >= 0) {
		/* Only the rest of the begun line: a line of a higher priority
		 * may be waiting for it to end. */
		n = l->len[l->len_head] - l->front_done;
	} else if (n > max && (nl = memrchr(p, '\n', max)) != NULL) {
		/* Whole lines, so that the next write need not finish one. */
		n = nl - p + 1;
	}
	*len = n < max ? n : max;
	return p;
}

void
lineq_consume(struct lineq *q, size_t n)
{
	int i = q->current;
	struct level *l;
	size_t rest;

	if (i < 0)
		for (i = 0; i < LINEQ_LEVELS && q->level[i].lines == 0; i++)
			;
	if (i == LINEQ_LEVELS || n == 0)
		return;
	l = &q->level[i];
	l->start += n;
	q->bytes -= n;
	n += l->front_done;
	while (l->lines > 0 && n >= (rest = l->len[l->len_head])) {
		n -= rest;
		if (++l->len_head == l->len_cap)
			l->len_head = 0;
		l->lines--;
		q->lines--;
	}
	l->front_done = n;
	q->current = n > 0 ? i : -1;
	if (l->start == l->end) {
		l->start = l->end = 0;
		l->len_head = 0;
		if (l->cap > LINEQ_KEEP) {
			free(l->buf);
			l->buf = NULL;
			l->cap = 0;
		}
	}
}

size_t
lineq_lines(const struct lineq *q)
{
	return q->lines;
}

size_t
lineq_bytes(const struct lineq *q)
{
	return q->bytes;
}

size_t
lineq_clear(struct lineq *q)
{
	size_t dropped = q->lines;

	for (int i = 0; i < LINEQ_LEVELS; i++) {
		q->level[i].start = q->level[i].end = 0;
		q->level[i].lines = 0;
		q->level[i].len_head = 0;
		q->level[i].front_done = 0;
	}
	q->lines = q->bytes = 0;
	q->current = -1;
	return dropped;
}
