/* The safety policy and the token count: see safety.h. Nothing is
 * allocated but the transient text of a call's arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

void
safety_reset(struct safety *s)
{
	memset(s, 0, sizeof *s);
}

const char *
safety_tool_name(const json_t *payload)
{
	const char *tool = json_string_value(json_object_get(payload, "tool"));

	return tool ? tool : json_string_value(json_object_get(payload, "name"));
}

/* FNV-1a over strings, each ended by a byte no string holds; never 0. */
static uint64_t
fnv(const char *const *parts, int n)
{
	uint64_t h = 14695981039346656037ull;

	for (int i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h ? h : 1;
}

/* The tool's name and its arguments in canonical form. */
static uint64_t
call_hash(const char *tool, const json_t *args)
{
	char *text = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY) : NULL;
	const char *parts[2] = {tool, text ? text : "null"};
	uint64_t h = fnv(parts, 2);

	free(text);
	return h;
}

static uint64_t
id_hash(const char *id)
{
	return fnv(&id, 1);
}

void
safety_note_call(struct safety *s, const json_t *payload)
{
	const char *id = json_string_value(json_object_get(payload, "toolCallId"));
	const char *tool = safety_tool_name(payload);
	const json_t *args = json_object_get(payload, "arguments");
	unsigned i = s->next_call++ % SAFETY_CALLS;

	if (id == NULL || tool == NULL)
		return;
	if (args == NULL)
		args = json_object_get(payload, "args");
	s->calls[i].id = id_hash(id);
	snprintf(s->calls[i].tool, sizeof s->calls[i].tool, "%s", tool);
	s->calls[i].hash = call_hash(tool, args);
}

/* The remembered call a result answers, or -1. */
static int
call_of(const struct safety *s, const char *id)
{
	uint64_t h = id ? id_hash(id) : 0;

	for (int i = 0; h != 0 && i < SAFETY_CALLS; i++)
		if (s->calls[i].id == h)
			return i;
	return -1;
}

/* How many times the call with this hash has now failed. */
static unsigned
count_failing(struct safety *s, uint64_t hash)
{
	unsigned i;

	for (i = 0; i < SAFETY_SIGNATURES; i++)
		if (s->failing[i].count > 0 && s->failing[i].hash == hash)
			return ++s->failing[i].count;
	i = s->next_failing++ % SAFETY_SIGNATURES;
	s->failing[i].hash = hash;
	s->failing[i].count = 1;
	return 1;
}

static void
forget_failing(struct safety *s, uint64_t hash)
{
	for (unsigned i = 0; i < SAFETY_SIGNATURES; i++)
		if (s->failing[i].hash == hash)
			s->failing[i].count = 0;
}

enum safety_verdict
safety_note_result(struct safety *s, const json_t *payload, char *message,
    size_t cap)
{
	const json_t *ok = json_object_get(payload, "success");
	int call = call_of(s, json_string_value(json_object_get(payload,
	    "toolCallId")));
	bool failed = json_is_false(ok);
	unsigned failures = 0, repeats = 0;

	if (!json_is_boolean(ok))
		return SAFETY_OK;
	s->window[s->next_window++ % SAFETY_WINDOW] = failed;
	if (s->nwindow < SAFETY_WINDOW)
		s->nwindow++;
	for (unsigned i = 0; i < s->nwindow; i++)
		failures += s->window[i];
	if (!failed) {
		s->streak = 0;
		if (call >= 0)
			forget_failing(s, s->calls[call].hash);
		return SAFETY_OK;
	}
	s->streak++;
	if (s->nwindow == SAFETY_WINDOW &&
	    failures >= SAFETY_STOP_RATE * SAFETY_WINDOW) {
		snprintf(message, cap, "error rate %.1f over the last %d tool "
		    "results (stop at %.1f)", (double)failures / SAFETY_WINDOW,
		    SAFETY_WINDOW, SAFETY_STOP_RATE);
		return SAFETY_STOP;
	}
	if (call >= 0 && (repeats = count_failing(s, s->calls[call].hash)) >=
	    SAFETY_REPEATS) {
		forget_failing(s, s->calls[call].hash);
		snprintf(message, cap, "tool %s failed %u times with the same "
		    "arguments: try something else", s->calls[call].tool, repeats);
		return SAFETY_WARN_REPEATED;
	}
	if (s->streak >= SAFETY_STREAK) {
		snprintf(message, cap, "%u tool calls failed in a row", s->streak);
		s->streak = 0;
		return SAFETY_WARN_STREAK;
	}
	return SAFETY_OK;
}

static json_int_t
int_member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	    json_integer_value(v) : 0;
}

bool
safety_note_usage(const json_t *payload, int64_t *tokens)
{
	const json_t *usage = json_object_get(payload, "usage");
	json_int_t n;

	if (json_is_integer(usage))
		n = json_integer_value(usage) > 0 ? json_integer_value(usage) : 0;
	else if ((n = int_member(usage, "total_tokens")) == 0 &&
	    (n = int_member(usage, "input_tokens") +
	    int_member(usage, "output_tokens")) == 0)
		n = int_member(usage, "prompt_tokens") +
		    int_member(usage, "completion_tokens");
	if (n <= 0 || n > INT64_MAX - *tokens)
		return false;
	*tokens += n;
	return true;
}
