/* Hook events and the spool: see hooks.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "fdio.h"
#include "hooks.h"
#include "paths.h"

static const char *
str_member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Claude Code's hook events (and Codex's, which take the same names). */
static const struct {
	const char *event;
	enum pane_state state;
	enum pane_attention attention;
	bool gone;
} events[] = {
	{"SessionStart", PANE_IDLE, ATTENTION_NONE, false},
	{"UserPromptSubmit", PANE_RUNNING, ATTENTION_NONE, false},
	{"PreToolUse", PANE_RUNNING, ATTENTION_NONE, false},
	{"PostToolUse", PANE_RUNNING, ATTENTION_NONE, false},
	{"PostToolUseFailure", PANE_RUNNING, ATTENTION_NONE, false},
	{"PermissionRequest", PANE_WAITING_APPROVAL, ATTENTION_APPROVAL, false},
	{"SubagentStart", PANE_RUNNING, ATTENTION_NONE, false},
	{"SubagentStop", PANE_RUNNING, ATTENTION_NONE, false},
	{"PreCompact", PANE_RUNNING, ATTENTION_NONE, false},
	{"PostCompact", PANE_RUNNING, ATTENTION_NONE, false},
	/* Codex's: the user stopped the turn. */
	{"Interrupt", PANE_IDLE, ATTENTION_NONE, false},
	{"Stop", PANE_IDLE, ATTENTION_FINISHED, false},
	{"StopFailure", PANE_ERROR, ATTENTION_ERROR, false},
	{"SessionEnd", PANE_UNKNOWN, ATTENTION_NONE, true},
	/* Codex's notify program. */
	{"agent-turn-complete", PANE_IDLE, ATTENTION_FINISHED, false},
	{"approval-requested", PANE_WAITING_APPROVAL, ATTENTION_APPROVAL, false},
};

/* A Notification by its notification_type. */
static const struct {
	const char *type;
	enum pane_state state;
	enum pane_attention attention;
} notifications[] = {
	{"permission_prompt", PANE_WAITING_APPROVAL, ATTENTION_APPROVAL},
	{"idle_prompt", PANE_IDLE, ATTENTION_INPUT},
	{"elicitation_dialog", PANE_WAITING_INPUT, ATTENTION_INPUT},
	{"auth_success", PANE_IDLE, ATTENTION_NONE},
};

int
hook_meaning(const char *provider, const json_t *payload, struct hook_meaning *m)
{
	const char *ev = str_member(payload, "hook_event_name");

	(void)provider;
	memset(m, 0, sizeof *m);
	if (ev == NULL)
		ev = str_member(payload, "type");	/* Codex's notify */
	if (ev == NULL)
		return -1;
	m->event = ev;
	if (strcmp(ev, "Notification") == 0) {
		const char *t = str_member(payload, "notification_type");
		const char *msg = str_member(payload, "message");

		for (size_t i = 0; t != NULL &&
		    i < sizeof notifications / sizeof notifications[0]; i++)
			if (strcmp(t, notifications[i].type) == 0) {
				m->state = notifications[i].state;
				m->attention = notifications[i].attention;
				return 0;
			}
		/* Older Claude Code: the message alone says it. */
		if (msg != NULL && strstr(msg, "needs your permission") != NULL) {
			m->state = PANE_WAITING_APPROVAL;
			m->attention = ATTENTION_APPROVAL;
		} else if (msg != NULL && strstr(msg, "waiting for your input")) {
			m->state = PANE_IDLE;
			m->attention = ATTENTION_INPUT;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
		if (strcmp(ev, events[i].event) == 0) {
			m->state = events[i].state;
			m->attention = events[i].attention;
			m->gone = events[i].gone;
			return 0;
		}
	return 0;	/* an event we do not know: a sign of life */
}

json_t *
hook_entry(const char *provider, const char *pane, const char *server,
    int64_t at, json_t *payload)
{
	const char *session = str_member(payload, "session_id");
	struct hook_meaning m;

	if (session == NULL)
		session = str_member(payload, "thread-id");	/* Codex */
	hook_meaning(provider, payload, &m);
	return json_pack("{s:s, s:s?, s:s?, s:I, s:s?, s:s?, s:O}",
	    "provider", provider, "pane", pane, "server", server,
	    "at", (json_int_t)at, "event", m.event, "session", session,
	    "payload", payload);
}

int
spool_put(const char *dir, const json_t *entry, struct starry_err *err)
{
	static unsigned counter;
	struct timespec ts;
	char name[128], *path, *text;
	int rc;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST &&
	    starry_mkdir_p(dir, 0700, err) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Sorts by time: seconds and nanoseconds, fixed width. */
	snprintf(name, sizeof name, "%012lld.%09ld-%d-%u.json",
	    (long long)ts.tv_sec, ts.tv_nsec, (int)getpid(), counter++);
	if ((path = starry_path_join(dir, name)) == NULL ||
	    (text = json_dumps(entry, JSON_COMPACT)) == NULL) {
		free(path);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	rc = atomic_replace_file(path, text, strlen(text), 0600,
	    ATOMIC_NO_SYNC, err);
	free(text);
	free(path);
	return rc;
}

static bool
is_entry(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

int
spool_drain(const char *dir, spool_fn *fn, spool_err_fn *err_fn, void *ctx)
{
	char **names, msg[512];
	size_t n;
	int taken = 0;

	if (starry_dir_names(dir, is_entry, &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *path = starry_path_join(dir, names[i]);
		json_error_t jerr;
		json_t *entry;

		if (path == NULL)
			break;
		entry = json_load_file(path, 0, &jerr);
		if (entry == NULL && access(path, F_OK) == 0) {
			char *bad = starry_path_join(dir, "bad"), *to;

			if (bad != NULL && (mkdir(bad, 0700) == 0 ||
			    errno == EEXIST) &&
			    (to = starry_path_join(bad, names[i])) != NULL) {
				rename(path, to);
				free(to);
			}
			free(bad);
			snprintf(msg, sizeof msg, "%s: not a spool entry "
			    "(%s); moved to bad/", path, jerr.text);
			if (err_fn != NULL)
				err_fn(ctx, msg);
		} else if (entry != NULL) {
			fn(ctx, entry);
			json_decref(entry);
			unlink(path);
			taken++;
		}
		free(path);
	}
	starry_names_free(names, n);
	return taken;
}
