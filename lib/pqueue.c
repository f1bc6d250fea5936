/* The priority queue: see pqueue.h. Six rings of pointers share one
 * capacity; each ring grows by doubling as its level fills, so a burst at
 * one priority needs no preallocation for the others. */
#include <stdlib.h>
#include <string.h>

#include "pqueue.h"

struct ring {
	void **items;
	size_t cap;		/* a power of two, or 0 */
	size_t head;
	size_t len;
};

struct pqueue {
	struct ring level[PQUEUE_LEVELS];
	size_t len;
	size_t capacity;
};

struct pqueue *
pqueue_new(size_t capacity)
{
	struct pqueue *q;

	if (capacity == 0)
		return NULL;
	q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->capacity = capacity;
	return q;
}

void
pqueue_free(struct pqueue *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < PQUEUE_LEVELS; i++)
		free(q->level[i].items);
	free(q);
}

static int
ring_grow(struct ring *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64;
	void **items = malloc(cap * sizeof *items);

	if (items == NULL)
		return -1;
	for (size_t i = 0; i < r->len; i++)
		items[i] = r->items[(r->head + i) & (r->cap - 1)];
	free(r->items);
	r->items = items;
	r->cap = cap;
	r->head = 0;
	return 0;
}

int
pqueue_push(struct pqueue *q, int priority, void *item)
{
	struct ring *r;

	if (q->len >= q->capacity || priority < 0 || priority >= PQUEUE_LEVELS)
		return -1;
	r = &q->level[priority];
	if (r->len == r->cap && ring_grow(r) < 0)
		return -1;
	r->items[(r->head + r->len) & (r->cap - 1)] = item;
	r->len++;
	q->len++;
	return 0;
}

static struct ring *
first_level(const struct pqueue *q)
{
	for (int i = 0; i < PQUEUE_LEVELS; i++)
		if (q->level[i].len > 0)
			return (struct ring *)&q->level[i];
	return NULL;
}

void *
pqueue_peek(const struct pqueue *q)
{
	struct ring *r = first_level(q);

	return r ? r->items[r->head] : NULL;
}

void *
pqueue_pop(struct pqueue *q)
{
	struct ring *r = first_level(q);
	void *item;

	if (r == NULL)
		return NULL;
	item = r->items[r->head];
	r->head = (r->head + 1) & (r->cap - 1);
	r->len--;
	q->len--;
	return item;
}

size_t
pqueue_len(const struct pqueue *q)
{
	return q->len;
}

bool
pqueue_full(const struct pqueue *q)
{
	return q->len >= q->capacity;
}
