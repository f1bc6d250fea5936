/* Arrays that grow by doubling with an implicit capacity: the next power
 * of two at or above the count of items (1 for none), so that a caller
 * keeps only the count. Every allocation of such an array goes through
 * grow_for_one. */
#ifndef STARRY_GROW_H
#define STARRY_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Make room in *arrp (a T **, n items of size bytes in use) for one more.
 * Returns 0, or -1 on out of memory with the array as it was. */
static inline int
grow_for_one(void *arrp, size_t n, size_t size)
{
	void **arr = arrp, *p;

	if (n != 0 && (n & (n - 1)) != 0)
		return 0;	/* room left */
	if (n > SIZE_MAX / 2 / size)
		return -1;
	p = realloc(*arr, (n ? 2 * n : 1) * size);
	if (p == NULL)
		return -1;
	*arr = p;
	return 0;
}

#endif
