/* starry-tmux-scan install-hooks: put `starry-tmux-scan hook` into an
 * agent's own settings, beside every hook the user already has, the way
 * the agent nests them: Claude Code's settings.json "hooks" and Codex's
 * hooks.json (event -> matcher groups -> commands), and Codex's
 * config.toml "notify" program. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "fdio.h"
#include "paths.h"
#include "tmux-scan.h"

#define SETTINGS_MAX (16u * 1024 * 1024)

static const char install_usage[] =
"usage: starry-tmux-scan install-hooks claude|codex [options]\n"
"\n"
"Add 'starry-tmux-scan hook' to the agent's settings, keeping every hook\n"
"and setting already there: for Claude Code, a command hook for each of\n"
"the events the watcher reads, in settings.json (~/.claude, or\n"
"$CLAUDE_CONFIG_DIR); for Codex, the same in hooks.json and the notify\n"
"program in config.toml (~/.codex, or $CODEX_HOME). Running it again\n"
"changes nothing. Before a file is changed, a copy of it is kept beside\n"
"it (FILE.bak-TIME).\n"
"\n"
"options:\n"
"      --settings FILE     this settings file only (for Codex, a name\n"
"                          ending in .json is a hooks.json)\n"
"  -n, --dry-run           print what the file would become; write nothing\n"
"  -u, --uninstall         take out what install-hooks put in\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 (changed, or nothing to change), 65 when the file is not\n"
"valid (or Codex already has another notify program), 73 when it cannot\n"
"be written.\n";

enum { INSTALL_OPT_SETTINGS = SCAN_OPT_FREE };

static const struct option install_options[] = {
	{"settings", required_argument, NULL, INSTALL_OPT_SETTINGS},
	{"dry-run", no_argument, NULL, 'n'},
	{"uninstall", no_argument, NULL, 'u'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0}
};

/* The hook events the watcher reads, per agent; tool events take a
 * matcher. */
struct hook_event {
	const char *event;
	bool tools;
};

static const struct hook_event claude_events[] = {
	{"SessionStart", false}, {"UserPromptSubmit", false},
	{"PreToolUse", true}, {"PermissionRequest", true},
	{"PostToolUse", true}, {"Notification", false}, {"Stop", false},
	{"SubagentStop", false}, {"SessionEnd", false}, {NULL, false},
};

static const struct hook_event codex_events[] = {
	{"SessionStart", false}, {"UserPromptSubmit", false},
	{"PreToolUse", true}, {"PermissionRequest", true},
	{"PostToolUse", true}, {"Stop", false}, {"StopFailure", false},
	{NULL, false},
};

/* The files install-hooks edits. */
enum settings_kind {
	SETTINGS_HOOKS_JSON,	/* {"hooks": {EVENT: [groups]}} */
	SETTINGS_CODEX_TOML,	/* notify = [...] */
};

/* This program by its full path, so that the agent's PATH does not
 * matter. */
static void
self_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n <= 0)
		snprintf(buf, size, "starry-tmux-scan");
	else
		buf[n] = '\0';
}

/* The command to install. */
static char *
hook_command(const char *provider)
{
	char exe[PATH_MAX], *cmd;

	self_path(exe, sizeof exe);
	if (asprintf(&cmd, "%s hook %s", exe, provider) < 0)
		diag_die(EX_OSERR, "out of memory");
	return cmd;
}

/* Whether a command is one of ours (any path to it). */
static bool
is_ours(const char *cmd, const char *provider)
{
	char tail[64];
	const char *at;

	snprintf(tail, sizeof tail, "starry-tmux-scan hook %s", provider);
	at = cmd != NULL ? strstr(cmd, tail) : NULL;
	return at != NULL && (at == cmd || at[-1] == '/' || at[-1] == ' ' ||
	    at[-1] == '"' || at[-1] == '\'');
}

/* The file name in the agent's folder ($CLAUDE_CONFIG_DIR, $CODEX_HOME,
 * else ~/.claude, ~/.codex). */
static char *
default_path(const char *provider, const char *name)
{
	bool claude = strcmp(provider, "claude") == 0;
	const char *dir = getenv(claude ? "CLAUDE_CONFIG_DIR" : "CODEX_HOME"),
	    *home = getenv("HOME");
	char *path;

	if (dir != NULL && dir[0] != '\0')
		return starry_path_join(dir, name);
	if (home == NULL || home[0] == '\0')
		diag_die(EX_CONFIG, "install-hooks: no HOME to find the "
		    "settings in (use --settings)");
	if (asprintf(&path, "%s/%s/%s", home, claude ? ".claude" : ".codex",
	    name) < 0)
		diag_die(EX_OSERR, "out of memory");
	return path;
}

/* The file's text ("" when it is not there); *exists says which. */
static char *
read_settings(const char *path, bool *exists)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len;
	char *text;

	*exists = fd >= 0;
	if (fd < 0) {
		if (errno != ENOENT)
			diag_die(EX_NOINPUT, "%s: %s", path, strerror(errno));
		return strdup("");
	}
	text = fdio_read(fd, SETTINGS_MAX, false, &len);
	if (text == NULL && errno == 0)
		text = strdup("");
	else if (text == NULL)
		diag_die(errno == EFBIG ? EX_DATAERR : EX_IOERR, "%s: %s",
		    path, strerror(errno));
	close(fd);
	return text;
}

/* ---- settings.json (Claude Code) and hooks.json (Codex) ---- */

static bool
group_has_ours(json_t *group, const char *provider)
{
	json_t *hooks = json_object_get(group, "hooks"), *h;
	size_t i;

	json_array_foreach(hooks, i, h)
		if (is_ours(json_string_value(json_object_get(h, "command")),
		    provider))
			return true;
	return false;
}

/* Add or take out provider's hook in doc (an object) for each of its
 * events. Returns the changes. */
static int
hooks_edit(json_t *doc, const char *path, const char *provider,
    bool uninstall)
{
	const struct hook_event *events = strcmp(provider, "claude") == 0 ?
	    claude_events : codex_events;
	json_t *hooks = json_object_get(doc, "hooks");
	char *cmd = hook_command(provider);
	int changes = 0;

	if (hooks != NULL && !json_is_object(hooks))
		diag_die(EX_DATAERR, "%s: \"hooks\" is not an object; left as "
		    "it is", path);
	if (hooks == NULL) {
		if (uninstall) {
			free(cmd);
			return 0;
		}
		json_object_set_new(doc, "hooks", hooks = json_object());
	}
	for (size_t e = 0; events[e].event != NULL; e++) {
		const char *ev = events[e].event;
		json_t *groups = json_object_get(hooks, ev), *g;
		bool found = false;
		size_t i;

		if (groups != NULL && !json_is_array(groups))
			diag_die(EX_DATAERR, "%s: hooks.%s is not a list; left "
			    "as it is", path, ev);
		if (uninstall) {
			for (i = 0; i < json_array_size(groups);) {
				json_t *list;
				size_t k;

				g = json_array_get(groups, i);
				list = json_object_get(g, "hooks");
				for (k = 0; k < json_array_size(list);) {
					json_t *h = json_array_get(list, k);

					if (is_ours(json_string_value(
					    json_object_get(h, "command")),
					    provider)) {
						json_array_remove(list, k);
						changes++;
					} else {
						k++;
					}
				}
				/* A group that held only ours goes too. */
				if (json_is_array(list) &&
				    json_array_size(list) == 0)
					json_array_remove(groups, i);
				else
					i++;
			}
			if (groups != NULL && json_array_size(groups) == 0)
				json_object_del(hooks, ev);
			continue;
		}
		json_array_foreach(groups, i, g)
			if (group_has_ours(g, provider))
				found = true;
		if (found)
			continue;
		if (groups == NULL)
			json_object_set_new(hooks, ev, groups = json_array());
		g = json_pack("{s:[{s:s, s:s}]}", "hooks", "type", "command",
		    "command", cmd);
		/* Every tool: Claude Code's empty matcher; Codex runs a
		 * group without one for every tool. */
		if (events[e].tools && events == claude_events)
			json_object_set_new(g, "matcher", json_string(""));
		json_array_append_new(groups, g);
		changes++;
	}
	if (uninstall && json_object_size(hooks) == 0)
		json_object_del(doc, "hooks");
	free(cmd);
	return changes;
}

/* ---- Codex: config.toml ---- */

/* The span of the top-level "notify = ..." (to the end of its array),
 * or -1; *insert is where a top-level key can go (before the first
 * table). */
static ssize_t
toml_notify(const char *text, size_t *end, size_t *insert)
{
	const char *line = text;
	ssize_t at = -1;

	*insert = strlen(text);
	while (*line != '\0') {
		const char *p = line, *nl = strchrnul(line, '\n');

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			*insert = (size_t)(line - text);
			break;
		}
		if (strncmp(p, "notify", 6) == 0 &&
		    strspn(p + 6, " \t") + p + 6 < nl && p[6 + strspn(p + 6,
		    " \t")] == '=') {
			const char *close = strchr(p, ']');

			at = line - text;
			if (close == NULL)
				close = nl;
			nl = strchrnul(close, '\n');
			*end = (size_t)(nl - text) + (*nl == '\n');
			return at;
		}
		line = *nl == '\n' ? nl + 1 : nl;
	}
	return at;
}

/* With hooks, another notify program is left with a warning (the hooks
 * tell the watcher); alone, it is an error. */
static char *
codex_edit(const char *text, const char *path, bool uninstall, bool hooks,
    int *changes)
{
	char exe[PATH_MAX], *out;
	size_t end = 0, insert;
	ssize_t at = toml_notify(text, &end, &insert);

	*changes = 0;
	if (at >= 0) {
		char *span = strndup(text + at, end - (size_t)at);
		bool ours = span != NULL && strstr(span, "starry-tmux-scan") &&
		    strstr(span, "\"codex\"");

		free(span);
		if (!ours && !uninstall && hooks)
			diag_warn("install-hooks: %s: has a notify program of "
			    "its own; Codex runs one only: left as it is (the "
			    "hooks tell the watcher)", path);
		else if (!ours && !uninstall)
			diag_die(EX_DATAERR, "%s: has a notify program of its "
			    "own; Codex runs one only: left as it is (add "
			    "'starry-tmux-scan hook codex' to it by hand)", path);
		if (!uninstall || !ours)
			return strdup(text);
		*changes = 1;
		if (asprintf(&out, "%.*s%s", (int)at, text, text + end) < 0)
			diag_die(EX_OSERR, "out of memory");
		return out;
	}
	if (uninstall)
		return strdup(text);
	/* Right after the last top-level line, before the blank lines
	 * that set the first table apart: taken out, the file is as it
	 * was. */
	while (insert > 1 && text[insert - 1] == '\n' &&
	    text[insert - 2] == '\n')
		insert--;
	self_path(exe, sizeof exe);
	if (asprintf(&out, "%.*s%snotify = [\"%s\", \"hook\", \"codex\"]\n%s",
	    (int)insert, text, insert > 0 && text[insert - 1] != '\n' ? "\n" :
	    "", exe, text + insert) < 0)
		diag_die(EX_OSERR, "out of memory");
	*changes = 1;
	return out;
}

/* ---- the command ---- */

static void
keep_backup(const char *path, const char *text)
{
	struct starry_err err;
	char stamp[32], *bak;
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	/* A name of its own: two runs in one second keep two copies. */
	for (int n = 0;; n++) {
		if ((n == 0 ? asprintf(&bak, "%s.bak-%s", path, stamp) :
		    asprintf(&bak, "%s.bak-%s.%d", path, stamp, n)) < 0)
			diag_die(EX_OSERR, "out of memory");
		if (access(bak, F_OK) < 0 && errno == ENOENT)
			break;
		free(bak);
	}
	if (atomic_write_file(bak, text, strlen(text), 0600, &err) < 0)
		diag_die_err(&err);
	diag_note("install-hooks: the old %s is kept as %s", path, bak);
	free(bak);
}

/* Install into (or take out of) one file of kind, or show it; both:
 * one of the two files of Codex. */
static void
install_file(const char *path, const char *provider, enum settings_kind kind,
    bool dry, bool uninstall, bool both)
{
	struct starry_err err;
	bool exists;
	char *text = read_settings(path, &exists), *out;
	int changes;

	if (kind == SETTINGS_HOOKS_JSON) {
		json_error_t jerr;
		json_t *doc = text[strspn(text, " \t\r\n")] == '\0' ?
		    json_object() : json_loads(text, 0, &jerr);

		if (doc == NULL)
			diag_die(EX_DATAERR, "%s:%d:%d: not valid JSON: %s; left "
			    "as it is", path, jerr.line, jerr.column, jerr.text);
		if (!json_is_object(doc))
			diag_die(EX_DATAERR, "%s: not a JSON object; left as it "
			    "is", path);
		changes = hooks_edit(doc, path, provider, uninstall);
		if ((out = json_dumps(doc, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER)) == NULL ||
		    (out = realloc(out, strlen(out) + 2)) == NULL)
			diag_die(EX_OSERR, "out of memory");
		strcat(out, "\n");
		json_decref(doc);
	} else {
		out = codex_edit(text, path, uninstall, both, &changes);
	}
	if (dry) {
		if (both)
			printf("==> %s <==\n", path);
		fputs(out, stdout);
		if (fflush(stdout) == EOF)
			cli_stdout_failed();
		diag_note("install-hooks: %s would %s", path, changes == 0 ?
		    "not change" : "change");
	} else if (changes == 0) {
		diag_note("install-hooks: %s has nothing to %s", path,
		    uninstall ? "take out" : "add");
	} else {
		char *dir = strdup(path), *slash = strrchr(dir, '/');

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			if (starry_mkdir_p(dir, 0700, &err) < 0)
				diag_die_err(&err);
		}
		free(dir);
		if (exists)
			keep_backup(path, text);
		if (atomic_write_file(path, out, strlen(out), exists ?
		    ATOMIC_KEEP_MODE : 0600, &err) < 0)
			diag_die_err(&err);
		diag_note("install-hooks: %s: %s", path, uninstall ?
		    "took out starry-tmux-scan's hooks" :
		    "added starry-tmux-scan's hooks");
	}
	free(out);
	free(text);
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

int
scan_install_main(int argc, char **argv)
{
	struct cli_common common = {0};
	const char *provider, *settings = NULL;
	bool dry = false, uninstall = false;
	char *path;
	int opt;

	while ((opt = getopt_long(argc, argv, "hnu", install_options,
	    NULL)) != -1) {
		if (cli_common_option(&common, opt, install_usage))
			continue;
		if (opt == 'n')
			dry = true;
		else if (opt == 'u')
			uninstall = true;
		else if (opt == INSTALL_OPT_SETTINGS)
			settings = optarg;
		else
			diag_die_usage("install-hooks takes no such option");
	}
	if (argc - optind != 1)
		diag_die_usage("install-hooks needs the agent: claude or codex");
	provider = argv[optind];
	if (strcmp(provider, "claude") != 0 && strcmp(provider, "codex") != 0)
		diag_die_usage("install-hooks: no agent '%s' (claude or codex)",
		    provider);
	if (strcmp(provider, "claude") == 0) {
		path = settings != NULL ? strdup(settings) :
		    default_path(provider, "settings.json");
		install_file(path, provider, SETTINGS_HOOKS_JSON, dry,
		    uninstall, false);
	} else if (settings != NULL) {
		path = strdup(settings);
		install_file(path, provider, ends_with(path, ".json") ?
		    SETTINGS_HOOKS_JSON : SETTINGS_CODEX_TOML, dry, uninstall,
		    false);
	} else {
		/* Both of Codex's: its hooks, and its notify program. */
		path = default_path(provider, "hooks.json");
		install_file(path, provider, SETTINGS_HOOKS_JSON, dry,
		    uninstall, true);
		free(path);
		path = default_path(provider, "config.toml");
		install_file(path, provider, SETTINGS_CODEX_TOML, dry,
		    uninstall, true);
	}
	free(path);
	return 0;
}
