/* The priority queue (DESIGN section 2, rule 1): six FIFOs, one per
 * priority 0..5; a lower number always leaves first. Bounded by a count
 * of items. Items are opaque pointers; the queue never frees them. */
#ifndef STARRY_PQUEUE_H
#define STARRY_PQUEUE_H

#include <stdbool.h>
#include <stddef.h>

#define PQUEUE_LEVELS 6

struct pqueue;

struct pqueue *pqueue_new(size_t capacity);
void pqueue_free(struct pqueue *q);	/* items are the caller's */

/* Add item at priority (0..5). Returns 0, or -1 when full. */
int pqueue_push(struct pqueue *q, int priority, void *item);
/* The item that leaves next, or NULL when empty; pop removes it. */
void *pqueue_peek(const struct pqueue *q);
void *pqueue_pop(struct pqueue *q);
size_t pqueue_len(const struct pqueue *q);
bool pqueue_full(const struct pqueue *q);

#endif
