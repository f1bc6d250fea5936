/* libFuzzer harness for the hot path: any bytes as an event line through
 * the scanner, the CloudEvents conversions and the reject event. What is
 * accepted must survive the round trips; nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevents.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct event_view view;
	struct starry_err err;
	char *conv, *back, *text;
	size_t n, m;
	json_t *rej;

	if (event_scan_line(line, size, EVENT_LENIENT, &view, &err) == 0) {
		conv = view.cloudevent ? cloudevent_to_line(line, size, &n, &err) :
		    cloudevent_from_line(line, size, &n, &err);
		if (conv != NULL && !view.cloudevent) {
			/* starry -> CloudEvents -> starry scans again */
			back = cloudevent_to_line(conv, n - 1, &m, &err);
			if (back == NULL ||
			    event_scan_line(back, m - 1, EVENT_LENIENT, &view, &err) < 0)
				abort();
			free(back);
		}
		free(conv);
	}
	/* Whatever the bytes, the reject event is valid JSON and an event. */
	rej = event_reject("fuzz", "fuzz-input", line, size, 1, "fuzz");
	if (rej == NULL || (text = event_dump_line(rej, &n)) == NULL)
		abort();
	if (event_scan_line(text, n - 1, 0, &view, &err) < 0)
		abort();
	free(text);
	json_decref(rej);
	return 0;
}
