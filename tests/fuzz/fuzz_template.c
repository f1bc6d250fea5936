/* libFuzzer harness for agent templates: any bytes as a YAML or JSON
 * template load and resolve, or fail with a message; what loads must dump
 * and load again to the same command. Nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct template *
load(const char *text, size_t len, const struct template_context *ctx)
{
	struct config_doc *doc = NULL;
	struct template *t = NULL;
	struct starry_err err;

	if (config_load_buffer("fuzz.yaml", text, len, &doc, &err) < 0)
		return NULL;
	if (template_load_json(config_root(doc), "fuzz", "/tmp/fuzz.yaml", "/tmp",
	    ctx, &t, &err) < 0 && strlen(err.msg) == 0)
		__builtin_trap();	/* a failure always says why */
	config_doc_free(doc);
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const runner[] = {"/bin/run", "{manifest}", NULL};
	const struct template_context ctx = {.agent_runner = runner};
	struct template *t, *again;
	char *text;
	size_t len;

	if ((t = load((const char *)data, size, &ctx)) == NULL)
		return 0;
	if ((text = template_dump(t, &len)) == NULL)
		__builtin_trap();
	again = load(text, len, &ctx);
	if (again == NULL || again->argc != t->argc ||
	    strcmp(again->argv[0], t->argv[0]) != 0)
		__builtin_trap();	/* the resolved form loads as itself */
	template_free(again);
	template_free(t);
	free(text);
	return 0;
}
