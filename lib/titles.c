/* Session titles: see titles.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jscan.h"
#include "titles.h"

static const char *const rank_names[] = {
	[TITLE_NONE] = NULL, [TITLE_PANE] = "pane", [TITLE_PROMPT] = "prompt",
	[TITLE_SUMMARY] = "summary", [TITLE_AGENT] = "agent",
	[TITLE_RENAME] = "rename",
};

const char *
title_rank_name(enum title_rank r)
{
	return (unsigned)r < sizeof rank_names / sizeof rank_names[0] ?
	    rank_names[r] : NULL;
}

size_t
title_cut(const char *s, size_t max)
{
	size_t o = 0, n;

	while (o < max && s[o] != '\0') {
		n = jscan_utf8_char(s + o, strnlen(s + o, 4), NULL);
		if (n == 0 || o + n > max)
			break;
		o += n;
	}
	return o;
}

/* Characters that show nothing but can reorder or hide what follows:
 * zero-width ones, bidirectional controls, the byte order mark. */
static bool
invisible(const unsigned char *c, size_t n)
{
	if (n == 2)
		return c[0] == 0xd8 && c[1] == 0x9c;		/* U+061C */
	if (n != 3)
		return false;
	if (c[0] == 0xef)
		return c[1] == 0xbb && c[2] == 0xbf;		/* U+FEFF */
	if (c[0] != 0xe2)
		return false;
	if (c[1] == 0x80)	/* U+200B-200F, U+202A-202E */
		return (c[2] >= 0x8b && c[2] <= 0x8f) ||
		    (c[2] >= 0xaa && c[2] <= 0xae);
	if (c[1] == 0x81)	/* U+2060-2064, U+2066-2069 */
		return (c[2] >= 0xa0 && c[2] <= 0xa4) ||
		    (c[2] >= 0xa6 && c[2] <= 0xa9);
	return false;
}

size_t
title_clean(char *out, size_t size, const char *text, size_t len)
{
	static const char more[] = "\xe2\x80\xa6";	/* … */
	size_t i = 0, o = 0, n, bad;
	bool space = false;

	if (size == 0)
		return 0;
	while (i < len) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' && o > 0)
			break;		/* the first line that says something */
		n = jscan_utf8_char(text + i, len - i, &bad);
		if (n == 0 || invisible((const unsigned char *)text + i, n)) {
			i += n == 0 ? bad : n;	/* dropped */
			continue;
		}
		/* Controls, C0 and C1, and DEL are blanks. */
		if (c < 0x20 || c == 0x7f ||
		    (n == 2 && c == 0xc2 && (unsigned char)text[i + 1] < 0xa0) ||
		    c == ' ') {
			space = o > 0;
			i += n;
			continue;
		}
		if (o + space + n > size - 1) {
			/* Cut: room for the ellipsis after the last whole
			 * character that fits (a pending blank is not
			 * written yet). */
			out[o] = '\0';
			while (o > 0 && o + sizeof more > size) {
				o = title_cut(out, o - 1);
				out[o] = '\0';
			}
			while (o > 0 && out[o - 1] == ' ')
				o--;
			if (o + sizeof more <= size) {
				memcpy(out + o, more, sizeof more - 1);
				o += sizeof more - 1;
			}
			out[o] = '\0';
			return o;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		memcpy(out + o, text + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}

bool
title_offer(struct session_title *t, enum title_rank r, const char *text,
    size_t len)
{
	char clean[TITLE_MAX];

	if (r < t->rank || (r == t->rank && r == TITLE_PROMPT) ||
	    r == TITLE_NONE)
		return false;
	if (title_clean(clean, sizeof clean, text, len) == 0)
		return false;
	if (r == t->rank && strcmp(clean, t->text) == 0)
		return false;
	t->rank = r;
	memcpy(t->text, clean, sizeof clean);
	return true;
}

bool
title_merge(struct session_title *t, const struct session_title *u)
{
	return u->rank != TITLE_NONE &&
	    title_offer(t, u->rank, u->text, strlen(u->text));
}

static const char *
str_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Text an agent wraps around what was not typed as a prompt. */
static bool
not_a_prompt(const char *s)
{
	static const char *const wrappers[] = {
		"<command-", "<local-command-", "<system-reminder>",
		"<user-prompt-submit-hook>", "<environment_context>",
		"<user_instructions>", "Caveat: The messages below",
		"[Request interrupted",
	};

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
		if (strncmp(s, wrappers[i], strlen(wrappers[i])) == 0)
			return true;
	return false;
}

static void
offer_prompt(struct session_title *t, const char *s)
{
	if (s != NULL && !not_a_prompt(s))
		title_offer(t, TITLE_PROMPT, s, strlen(s));
}

/* A user message's content: a string, or the first text block. */
static const char *
content_text(const json_t *content)
{
	size_t i;
	const json_t *b;

	if (json_is_string(content))
		return json_string_value(content);
	json_array_foreach(content, i, b) {
		const char *type = str_of(b, "type");

		if (type != NULL && strcmp(type, "text") == 0)
			return str_of(b, "text");
		if (type != NULL && strcmp(type, "input_text") == 0)
			return str_of(b, "text");
	}
	return NULL;
}

/* One line of a transcript. */
static void
take_line(struct session_title *t, const char *line, size_t len)
{
	static const char *const marks[] = {
		"custom-title", "ai-title", "\"summary\"", "thread_name_updated",
		"\"user\"", "user_message",
	};
	const char *type, *s;
	bool marked = false;
	json_t *j, *p;

	for (size_t i = 0; i < sizeof marks / sizeof marks[0] && !marked; i++)
		/* Prompts matter only until the first is found. */
		if (i < 4 || t->rank < TITLE_PROMPT)
			marked = memmem(line, len, marks[i],
			    strlen(marks[i])) != NULL;
	if (!marked || (j = json_loadb(line, len, 0, NULL)) == NULL)
		return;
	type = str_of(j, "type");
	if (type == NULL) {
		json_decref(j);
		return;
	}
	if (strcmp(type, "custom-title") == 0 &&
	    (s = str_of(j, "customTitle")) != NULL) {
		title_offer(t, TITLE_RENAME, s, strlen(s));
	} else if (strcmp(type, "ai-title") == 0 &&
	    (s = str_of(j, "aiTitle")) != NULL) {
		title_offer(t, TITLE_AGENT, s, strlen(s));
	} else if (strcmp(type, "summary") == 0 &&
	    (s = str_of(j, "summary")) != NULL) {
		title_offer(t, TITLE_SUMMARY, s, strlen(s));
	} else if (strcmp(type, "user") == 0 &&
	    !json_is_true(json_object_get(j, "isMeta"))) {
		offer_prompt(t, content_text(json_object_get(
		    json_object_get(j, "message"), "content")));
	} else if (strcmp(type, "event_msg") == 0 &&
	    json_is_object(p = json_object_get(j, "payload"))) {
		/* Codex's rollout. */
		const char *what = str_of(p, "type");

		if (what != NULL && strcmp(what, "thread_name_updated") == 0 &&
		    (s = str_of(p, "thread_name")) != NULL)
			title_offer(t, TITLE_RENAME, s, strlen(s));
		else if (what != NULL && strcmp(what, "user_message") == 0)
			offer_prompt(t, str_of(p, "message"));
	}
	json_decref(j);
}

/* The whole lines of buf[0..len): a first line cut by the window's start
 * (cut_head) and a last one cut by its end (cut_tail) are passed over. */
static void
take_lines(struct session_title *t, const char *buf, size_t len,
    bool cut_head, bool cut_tail)
{
	const char *p = buf, *end = buf + len, *nl;

	if (cut_head) {
		if ((nl = memchr(p, '\n', len)) == NULL)
			return;
		p = nl + 1;
	}
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (!cut_tail)
				take_line(t, p, (size_t)(end - p));
			return;
		}
		take_line(t, p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static ssize_t
read_at(int fd, char *buf, size_t len, off_t at)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, at + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
title_from_transcript(struct session_title *t, const char *path)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((buf = malloc(2 * TITLE_SCAN_BYTES)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	if (st.st_size <= 2 * TITLE_SCAN_BYTES) {
		/* Small enough to read whole. */
		if ((n = read_at(fd, buf, 2 * TITLE_SCAN_BYTES, 0)) >= 0)
			take_lines(t, buf, (size_t)n, false,
			    n == 2 * TITLE_SCAN_BYTES);
	} else {
		/* The head, for the first prompt; the tail, where the
		 * latest names are. */
		if ((n = read_at(fd, buf, TITLE_SCAN_BYTES, 0)) >= 0)
			take_lines(t, buf, (size_t)n, false, true);
		if (n >= 0 && (n = read_at(fd, buf, TITLE_SCAN_BYTES,
		    st.st_size - TITLE_SCAN_BYTES)) >= 0)
			take_lines(t, buf, (size_t)n, true, false);
	}
	e = errno;
	free(buf);
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	return 0;
}

bool
title_from_payload(struct session_title *t, const json_t *payload,
    bool read_transcript)
{
	struct session_title before = *t;
	const json_t *inputs = json_object_get(payload, "input-messages");
	const char *path = str_of(payload, "transcript_path");

	if (read_transcript && path != NULL && path[0] != '\0')
		(void)title_from_transcript(t, path);
	offer_prompt(t, str_of(payload, "prompt"));
	if (json_is_array(inputs))
		offer_prompt(t, json_string_value(json_array_get(inputs, 0)));
	return before.rank != t->rank || strcmp(before.text, t->text) != 0;
}
