/* The title of an agent's session (the title resolver of the tmux agent
 * monitor architecture, Flow-005): what the session is called, from the
 * strongest word there is, for the pane the session is bound to.
 *
 * Strongest first: the name the user gave it (Claude Code's /rename, a
 * "custom-title" line of its transcript; Codex's thread name), the title
 * the agent gave it ("ai-title"), a summary line, and the first prompt
 * the user typed. Of the same rank the latest wins, but for the prompt:
 * the first one is the session's.
 *
 * A transcript is read only at its head and its tail (TITLE_SCAN_BYTES
 * of each), never whole: the lines that name a session are small and the
 * agent writes them again at the end, and the first prompt is at the
 * head. Titles are cleaned before they are kept: the first line, control
 * characters made blanks, ill-formed UTF-8 and characters that show
 * nothing but can reorder or hide the text (zero-width ones, bidi
 * controls) taken out, runs of blanks made one space, cut on a
 * character's boundary. */
#ifndef STARRY_TITLES_H
#define STARRY_TITLES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define TITLE_MAX 120		/* bytes, with the NUL */
#define TITLE_SCAN_BYTES (64 * 1024)

enum title_rank {
	TITLE_NONE,
	TITLE_PANE,		/* the pane's title, by the signatures */
	TITLE_PROMPT,
	TITLE_SUMMARY,
	TITLE_AGENT,		/* the agent titled the session */
	TITLE_RENAME,		/* the user named it */
};

struct session_title {
	enum title_rank rank;
	char text[TITLE_MAX];
};

/* "pane", "prompt", "summary", "agent", "rename"; NULL for none. */
const char *title_rank_name(enum title_rank r);

/* Offer a candidate of rank r: kept when it outranks the title held, or
 * ranks the same and is not a prompt (the latest name wins; the first
 * prompt does). Text that cleans to nothing is not a candidate. Returns
 * whether the title changed. */
bool title_offer(struct session_title *t, enum title_rank r,
    const char *text, size_t len);

/* Take what a candidate title u says into t, by title_offer's rule. */
bool title_merge(struct session_title *t, const struct session_title *u);

/* What one hook payload (Claude Code's or Codex's) says: its prompt
 * (UserPromptSubmit), the first of a Codex notify's input-messages, and,
 * when read_transcript, the transcript at its transcript_path. Returns
 * whether the title changed. */
bool title_from_payload(struct session_title *t, const json_t *payload,
    bool read_transcript);

/* Read the transcript at path (JSON lines: Claude Code's or Codex's
 * rollout) for its title. Only a regular file is read, without waiting
 * on it. Returns 0, or -1 with errno when it cannot be read. */
int title_from_transcript(struct session_title *t, const char *path);

/* Clean text[0..len) into out (size bytes, NUL-terminated) as described
 * above. Returns the length written. */
size_t title_clean(char *out, size_t size, const char *text, size_t len);

/* The longest prefix of s, at most max bytes, that ends on a UTF-8
 * character's boundary. */
size_t title_cut(const char *s, size_t max);

#endif
