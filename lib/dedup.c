/* The dedup window: see dedup.h. A ring of the last COUNT ids in arrival
 * order (so the oldest is evicted first, by count or by age) indexed by an
 * open-addressing hash table with linear probing. The window owns copies
 * of the ids: short ones inline, longer ones in their own allocation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "config.h"
#include "dedup.h"

#define DEDUP_INLINE 40
#define EMPTY UINT32_MAX
#define DEDUP_POPULATE 1024		/* ring entries faulted in at a time */

/* A table slot: the ring index and the hash's low bits (which also give
 * the slot's home), so probes and removals rarely touch the ring. */
struct dedup_slot {
	uint32_t idx;
	uint32_t hash;
};

/* One cache line: a UUID fits inline. */
struct dedup_entry {
	int64_t seen_ms;
	char *ext;			/* the id when longer than DEDUP_INLINE */
	uint32_t hash;			/* low bits: the table slot's home */
	uint32_t len;
	char inl[DEDUP_INLINE];
};

struct dedup_window {
	struct dedup_entry *ring;
	size_t count;			/* ring capacity */
	size_t head;			/* oldest entry */
	size_t used;
	size_t populated;		/* ring entries known to be mapped */
	struct dedup_slot *table;	/* idx EMPTY when free */
	size_t mask;
	int64_t window_ms;
	uint64_t dropped;
};

/* A word-at-a-time multiplicative hash: ids are short, and this runs
 * once per event on the hot path. */
static uint64_t
dedup_hash(const char *p, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, p, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* Zeroed memory from mmap. A page fault costs far more than its share of
 * a bulk fault-in (above all in a virtual machine), so the table, touched
 * all over at once, is faulted in whole, and the ring, filled in order, a
 * chunk at a time (ring_populate). */
static void *
map_zeroed(size_t len, bool populate)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Fault in the ring's next chunk before slot is first written. Only a
 * speed-up: where the kernel lacks MADV_POPULATE_WRITE, pages fault one
 * by one as usual. */
static void
ring_populate(struct dedup_window *w, size_t slot)
{
	size_t n;

	if (slot < w->populated)
		return;
	n = w->count - w->populated < DEDUP_POPULATE ? w->count - w->populated :
	    DEDUP_POPULATE;
	madvise(w->ring + w->populated, n * sizeof *w->ring, MADV_POPULATE_WRITE);
	w->populated += n;
}

struct dedup_window *
dedup_window_new(size_t count, int64_t window_ms)
{
	struct dedup_window *w;
	size_t size = 16;

	if (count == 0 || count > (1u << 30))
		return NULL;
	while (size < count * 2)
		size <<= 1;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->count = count;
	w->mask = size - 1;
	w->ring = map_zeroed(count * sizeof *w->ring, false);
	w->table = map_zeroed(size * sizeof *w->table, true);
	if (w->ring == NULL || w->table == NULL) {
		dedup_window_free(w);
		return NULL;
	}
	for (size_t i = 0; i < size; i++)
		w->table[i].idx = EMPTY;
	w->window_ms = window_ms;
	return w;
}

void
dedup_window_free(struct dedup_window *w)
{
	if (w == NULL)
		return;
	if (w->ring != NULL)
		for (size_t i = 0; i < w->used; i++)
			free(w->ring[(w->head + i) % w->count].ext);
	if (w->ring != NULL)
		munmap(w->ring, w->count * sizeof *w->ring);
	if (w->table != NULL)
		munmap(w->table, (w->mask + 1) * sizeof *w->table);
	free(w);
}

static const char *
entry_id(const struct dedup_entry *e)
{
	return e->ext ? e->ext : e->inl;
}

/* Remove ring entry idx from the table, shifting later members of its
 * probe run back so lookups never stop at a false gap. */
static void
table_remove(struct dedup_window *w, uint32_t idx)
{
	size_t i = w->ring[idx].hash & w->mask, j, home;

	while (w->table[i].idx != idx)
		i = (i + 1) & w->mask;
	for (j = (i + 1) & w->mask; w->table[j].idx != EMPTY; j = (j + 1) & w->mask) {
		home = w->table[j].hash & w->mask;
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & w->mask) >= ((j - i) & w->mask)) {
			w->table[i] = w->table[j];
			i = j;
		}
	}
	w->table[i].idx = EMPTY;
}

static void
evict_oldest(struct dedup_window *w)
{
	struct dedup_entry *e = &w->ring[w->head];

	table_remove(w, w->head);
	free(e->ext);
	e->ext = NULL;
	w->head = (w->head + 1) % w->count;
	w->used--;
}

bool
dedup_window_seen(struct dedup_window *w, const char *id, size_t len, int64_t now_ms)
{
	uint64_t h = dedup_hash(id, len);
	struct dedup_entry *e;
	size_t i, slot;

	while (w->used > 0 && now_ms - w->ring[w->head].seen_ms >= w->window_ms)
		evict_oldest(w);
	for (i = h & w->mask; w->table[i].idx != EMPTY; i = (i + 1) & w->mask) {
		if (w->table[i].hash != (uint32_t)h)
			continue;
		e = &w->ring[w->table[i].idx];
		if (e->len == len && memcmp(entry_id(e), id, len) == 0) {
			w->dropped++;
			return true;
		}
	}
	if (w->used == w->count) {
		evict_oldest(w);
		/* The hole may have moved our probe run: find a free slot again. */
		for (i = h & w->mask; w->table[i].idx != EMPTY; i = (i + 1) & w->mask)
			;
	}
	slot = (w->head + w->used) % w->count;
	ring_populate(w, slot);
	e = &w->ring[slot];
	if (len > DEDUP_INLINE) {
		e->ext = malloc(len);
		if (e->ext == NULL)
			return false;	/* remembered nothing: deliver, never drop */
		memcpy(e->ext, id, len);
	} else {
		memcpy(e->inl, id, len);
	}
	e->hash = (uint32_t)h;
	e->len = len;
	e->seen_ms = now_ms;
	w->table[i].idx = slot;
	w->table[i].hash = (uint32_t)h;
	w->used++;
	return false;
}

uint64_t
dedup_window_dropped(const struct dedup_window *w)
{
	return w->dropped;
}

int
dedup_parse_spec(const char *spec, size_t *count, int64_t *window_ms)
{
	const char *comma = strchr(spec, ',');
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(spec, &end, 10);
	if (errno || end == spec || *spec == '-' || n == 0 || n > (1u << 30))
		return -1;
	if (comma == NULL) {
		if (*end != '\0')
			return -1;
		*count = n;
		*window_ms = DEDUP_DEFAULT_MS;
		return 0;
	}
	if (end != comma || config_parse_duration(comma + 1, window_ms, NULL) < 0 ||
	    *window_ms <= 0)
		return -1;
	*count = n;
	return 0;
}
