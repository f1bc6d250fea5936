/* The commands are static executables (Makefile), and a static program
 * cannot load shared objects safely. SQLite, the one library here that
 * could, asks for them only to load extensions, which starry never does:
 * its calls to dlopen come here (ld --wrap=dlopen) and fail, and the
 * link does not warn about glibc's dlopen in a static program. */
#include <stddef.h>

void *__wrap_dlopen(const char *file, int mode);

void *
__wrap_dlopen(const char *file, int mode)
{
	(void)file;
	(void)mode;
	return NULL;
}
