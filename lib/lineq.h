/* A bounded priority queue of lines kept as bytes: six byte FIFOs, one per
 * priority 0..5, from which an output writes straight. A lower number
 * always leaves first; a line that has started to leave is finished
 * first. The queue owns copies of its lines. */
#ifndef STARRY_LINEQ_H
#define STARRY_LINEQ_H

#include <stdbool.h>
#include <stddef.h>

struct lineq;

/* Full at max_lines lines or max_bytes bytes; the caller asks before it
 * pushes, so one line may pass the byte bound. */
struct lineq *lineq_new(size_t max_lines, size_t max_bytes);
void lineq_free(struct lineq *q);

bool lineq_full(const struct lineq *q);
/* Append line and a '\n' at priority (0..5). Returns 0, or -1 when out of
 * memory or the priority is out of range. */
int lineq_push(struct lineq *q, int priority, const char *line, size_t len);

/* The next bytes to write, at most max: the rest of a line already
 * started, else the whole lines at the front of the highest priority
 * waiting that fit in max (or max bytes of a longer first line). *len is
 * 0 when the queue is empty. The pointer is valid until the next call. */
const char *lineq_peek(struct lineq *q, size_t max, size_t *len);
/* n bytes of what lineq_peek gave have been written. */
void lineq_consume(struct lineq *q, size_t n);

size_t lineq_lines(const struct lineq *q);	/* lines waiting, whole or begun */
size_t lineq_bytes(const struct lineq *q);
/* Drop everything; returns how many lines were dropped. */
size_t lineq_clear(struct lineq *q);

#endif
