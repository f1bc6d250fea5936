/* libFuzzer harness for the configuration loader: any bytes as a YAML or
 * JSON document load or fail with a message; nothing may crash, leak or
 * take long (aliases, nesting and size are bounded). */
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_doc *doc = NULL;
	struct starry_err err;

	if (config_load_buffer("fuzz.yaml", (const char *)data, size, &doc, &err) == 0)
		config_doc_free(doc);
	else if (strlen(err.msg) == 0)
		__builtin_trap();	/* a failure always says why */
	return 0;
}
