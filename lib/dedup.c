/* The dedup window: see dedup.h. A ring of the last COUNT ids in arrival
 * order (so the oldest is evicted first, by count or by age) indexed by a
 * hash table of buckets, one cache line each. A bucket holds seven
 * entries' tags and ring indexes; an entry whose home bucket is full goes
 * to the next one, and the home counts it in `overflow`, so a lookup
 * moves on only while that count says something went past. Looking up,
 * adding and removing an id each touch one bucket, almost always, with no
 * loop whose length depends on its neighbours. The window owns copies of
 * the ids: short ones inline, longer ones in their own allocation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "config.h"
#include "dedup.h"

#define DEDUP_INLINE 36			/* a UUID's text */
#define BUCKET_SLOTS 7
#define DEDUP_POPULATE 1024		/* ring entries faulted in at a time */

/* tag 0: the slot is free. A tag is the hash's high half with its low bit
 * set, and the bucket comes from the low half, so the two are independent. */
struct dedup_bucket {
	uint32_t tag[BUCKET_SLOTS];
	uint32_t overflow;		/* entries that went past this bucket */
	uint32_t idx[BUCKET_SLOTS];	/* the ring entry of each tag */
	uint32_t unused;
};

struct mapping {
	void *base;			/* what to munmap */
	size_t size;
};

/* One cache line: a UUID fits inline. */
struct dedup_entry {
	int64_t seen_ms;
	char *ext;			/* the id when longer than DEDUP_INLINE */
	uint64_t hash;
	uint32_t len;
	char inl[DEDUP_INLINE];
};

struct dedup_window {
	struct dedup_entry *ring;
	struct mapping ring_map, table_map;
	size_t count;			/* ring capacity */
	size_t head;			/* oldest entry */
	size_t used;
	size_t populated;		/* ring entries known to be mapped */
	struct dedup_bucket *table;
	size_t mask;			/* buckets - 1 */
	int64_t window_ms;
	uint64_t dropped;
	uint64_t seed;			/* random: ids cannot be chosen to collide */
	size_t ahead;			/* prefetched ids not yet asked about */
};

/* A word-at-a-time multiplicative hash: ids are short, and this runs
 * once per event on the hot path. The last word is read whole, overlapping
 * the one before, rather than assembled from bytes: every byte counts
 * once the length is mixed in. */
static uint64_t
dedup_hash(uint64_t seed, const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + len;
	uint64_t h = (seed ^ len) * 0x9e3779b97f4a7c15ULL, w;
	uint32_t a, b;

	if (len >= 8) {
		for (; end - s > 8; s += 8) {
			memcpy(&w, s, 8);
			h = (h ^ w) * 0xff51afd7ed558ccdULL;
			h ^= h >> 32;
		}
		memcpy(&w, end - 8, 8);
	} else if (len >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, end - 4, 4);
		w = (uint64_t)a << 32 | b;
	} else {
		w = len ? (uint64_t)s[0] | (uint64_t)s[len / 2] << 8 |
		    (uint64_t)end[-1] << 16 : 0;
	}
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static inline uint32_t
tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32) | 1;
}

/* One bit per slot of b holding tag (0: the free slots). */
static inline unsigned
bucket_match(const struct dedup_bucket *b, uint32_t tag)
{
	unsigned m = 0;

	for (int k = 0; k < BUCKET_SLOTS; k++)
		m |= (unsigned)(b->tag[k] == tag) << k;
	return m;
}

/* Zeroed memory from mmap, in huge pages where it is big enough to fill
 * them and the kernel obliges: the window is touched all over, and a TLB
 * miss costs dearly in a virtual machine. A page fault costs far more than
 * its share of a bulk fault-in, so the table, touched all over at once, is
 * faulted in whole, and the ring, filled in order, a chunk at a time
 * (ring_populate). */
#define HUGE_PAGE (2u << 20)

static void *
map_zeroed(struct mapping *m, size_t len, bool populate)
{
	bool huge = len >= HUGE_PAGE;
	char *p;

	m->size = huge ? len + HUGE_PAGE : len;
	m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return NULL;
	}
	p = m->base;
	if (huge) {
		p = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
		madvise(p, len, MADV_HUGEPAGE);
	}
	if (populate)
		madvise(p, len, MADV_POPULATE_WRITE);
	return p;
}

static void
unmap(struct mapping *m)
{
	if (m->base != NULL)
		munmap(m->base, m->size);
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
	size_t buckets = 2;

	if (count == 0 || count > (1u << 30))
		return NULL;
	/* At most four entries a bucket on average: few overflow. */
	while (buckets * 4 < count)
		buckets <<= 1;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->count = count;
	w->mask = buckets - 1;
	w->ring = map_zeroed(&w->ring_map, count * sizeof *w->ring, false);
	w->table = map_zeroed(&w->table_map, buckets * sizeof *w->table, true);
	if (w->ring == NULL || w->table == NULL) {
		dedup_window_free(w);
		return NULL;
	}
	w->window_ms = window_ms;
	if (getrandom(&w->seed, sizeof w->seed, GRND_NONBLOCK) != sizeof w->seed)
		w->seed = (uintptr_t)w ^ (uint64_t)window_ms;
	return w;
}

void
dedup_window_free(struct dedup_window *w)
{
	size_t i, slot;

	if (w == NULL)
		return;
	if (w->ring != NULL) {
		for (i = 0, slot = w->head; i < w->used; i++) {
			free(w->ring[slot].ext);
			if (++slot == w->count)
				slot = 0;
		}
	}
	unmap(&w->ring_map);
	unmap(&w->table_map);
	free(w);
}

static const char *
entry_id(const struct dedup_entry *e)
{
	return e->ext ? e->ext : e->inl;
}

static void
table_add(struct dedup_window *w, uint64_t h, uint32_t idx)
{
	struct dedup_bucket *b;
	size_t i = h & w->mask;
	unsigned free_slots;

	for (;;) {
		b = &w->table[i];
		free_slots = bucket_match(b, 0);
		if (free_slots) {
			int k = __builtin_ctz(free_slots);

			b->tag[k] = tag_of(h);
			b->idx[k] = idx;
			return;
		}
		b->overflow++;
		i = (i + 1) & w->mask;
	}
}

/* Remove ring entry idx, undoing the overflow counts its add made. */
static void
table_remove(struct dedup_window *w, uint64_t h, uint32_t idx)
{
	struct dedup_bucket *b;
	size_t i = h & w->mask;
	unsigned m;

	for (;;) {
		b = &w->table[i];
		for (m = bucket_match(b, tag_of(h)); m; m &= m - 1) {
			int k = __builtin_ctz(m);

			if (b->idx[k] == idx) {
				b->tag[k] = 0;
				return;
			}
		}
		b->overflow--;
		i = (i + 1) & w->mask;
	}
}

static bool
table_has(const struct dedup_window *w, uint64_t h, const char *id, size_t len)
{
	const struct dedup_bucket *b;
	const struct dedup_entry *e;
	size_t i = h & w->mask;
	unsigned m;

	for (;;) {
		b = &w->table[i];
		for (m = bucket_match(b, tag_of(h)); m; m &= m - 1) {
			e = &w->ring[b->idx[__builtin_ctz(m)]];
			if (e->hash == h && e->len == len &&
			    memcmp(entry_id(e), id, len) == 0)
				return true;
		}
		if (b->overflow == 0)
			return false;
		i = (i + 1) & w->mask;
	}
}

static void
evict_oldest(struct dedup_window *w)
{
	struct dedup_entry *e = &w->ring[w->head];

	table_remove(w, e->hash, w->head);
	free(e->ext);
	e->ext = NULL;
	if (++w->head == w->count)
		w->head = 0;
	w->used--;
}

void
dedup_window_prefetch(struct dedup_window *w, const char *id, size_t len)
{
	size_t victim;

	__builtin_prefetch(&w->table[dedup_hash(w->seed, id, len) & w->mask]);
	/* The bucket of the entry that asking would evict, when full. */
	if (w->used == w->count && w->ahead < w->count) {
		victim = w->head + w->ahead;
		if (victim >= w->count)
			victim -= w->count;
		__builtin_prefetch(&w->table[w->ring[victim].hash & w->mask]);
	}
	w->ahead++;
}

bool
dedup_window_seen(struct dedup_window *w, const char *id, size_t len, int64_t now_ms)
{
	uint64_t h = dedup_hash(w->seed, id, len);
	struct dedup_entry *e;
	size_t slot;

	if (w->ahead > 0)
		w->ahead--;
	while (w->used > 0 && now_ms - w->ring[w->head].seen_ms >= w->window_ms)
		evict_oldest(w);
	if (table_has(w, h, id, len)) {
		w->dropped++;
		return true;
	}
	if (w->used == w->count)
		evict_oldest(w);
	slot = w->head + w->used;
	if (slot >= w->count)
		slot -= w->count;
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
	e->hash = h;
	e->len = len;
	e->seen_ms = now_ms;
	table_add(w, h, slot);
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
