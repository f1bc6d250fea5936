/* The safety policy of the spec's pain mechanism (DESIGN section 5), and
 * the token count: what a supervisor learns from its agent's tool calls,
 * tool results and payload.usage. A struct safety is plain memory of the
 * caller's; json_t * arguments are borrowed. */
#ifndef STARRY_SAFETY_H
#define STARRY_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"

#define SAFETY_REPEATS     3	/* identical failing calls: a warning */
#define SAFETY_STREAK      5	/* failures in a row: a warning */
#define SAFETY_WINDOW      10	/* results the error rate is taken over */
#define SAFETY_STOP_RATE   0.8	/* that rate or more stops the agent */
#define SAFETY_CALLS       32	/* calls remembered to match results */
#define SAFETY_SIGNATURES  16	/* failing calls counted at once */

struct safety {
	struct {
		uint64_t id;			/* hash of its toolCallId; 0: none */
		uint64_t hash;			/* of tool and arguments */
		char tool[64];			/* its name, for the message */
	} calls[SAFETY_CALLS];
	unsigned next_call;
	struct {
		uint64_t hash;
		unsigned count;
	} failing[SAFETY_SIGNATURES];
	unsigned next_failing;
	unsigned streak;
	bool window[SAFETY_WINDOW];	/* true: a failure */
	unsigned nwindow, next_window;
};

enum safety_verdict {
	SAFETY_OK,
	SAFETY_WARN_REPEATED,	/* the same call failed SAFETY_REPEATS times */
	SAFETY_WARN_STREAK,	/* SAFETY_STREAK failures in a row */
	SAFETY_STOP,		/* the error rate reached SAFETY_STOP_RATE */
};

void safety_reset(struct safety *s);

/* The tool an EXEC:TOOL_CALL payload names: "tool", else "name". */
const char *safety_tool_name(const json_t *payload);

/* Remember an EXEC:TOOL_CALL (payload {toolCallId, tool, arguments}). */
void safety_note_call(struct safety *s, const json_t *payload);

/* Count an EXEC:TOOL_RESULT (payload {toolCallId, success, error}); when
 * the verdict is not SAFETY_OK, message says why in a sentence. */
enum safety_verdict safety_note_result(struct safety *s, const json_t *payload,
    char *message, size_t cap);

/* Add the tokens of payload.usage to *tokens: usage as a number, or its
 * total_tokens, else input_tokens + output_tokens, else prompt_tokens +
 * completion_tokens. Returns whether *tokens changed. */
bool safety_note_usage(const json_t *payload, int64_t *tokens);

#endif
