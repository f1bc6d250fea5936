/* Agent signatures: see signatures.h and starry-signatures(5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "signatures.h"

/* A pattern longer than this is refused: signatures are short phrases. */
#define SIG_PATTERN_MAX 1024
/* Lines a rule may look at, at most. */
#define SIG_LINES_MAX 1000

static const char *const state_names[PANE_STATE_COUNT] = {
	[PANE_UNKNOWN] = "unknown",
	[PANE_RUNNING] = "running",
	[PANE_WAITING_INPUT] = "waiting_input",
	[PANE_WAITING_APPROVAL] = "waiting_approval",
	[PANE_IDLE] = "idle",
	[PANE_ERROR] = "error",
};

static const char *const attention_names[ATTENTION_COUNT + 1] = {
	[ATTENTION_NONE] = "none",
	[ATTENTION_APPROVAL] = "approval",
	[ATTENTION_INPUT] = "input",
	[ATTENTION_ERROR] = "error",
	[ATTENTION_FINISHED] = "finished",
	[ATTENTION_COUNT] = NULL,
};

const char *
pane_state_name(enum pane_state s)
{
	return (unsigned)s < PANE_STATE_COUNT ? state_names[s] : "unknown";
}

int
pane_state_parse(const char *name)
{
	for (int i = 0; i < PANE_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

const char *
pane_attention_name(enum pane_attention a)
{
	return (unsigned)a < ATTENTION_COUNT ? attention_names[a] : "none";
}

enum pane_attention
pane_state_attention(enum pane_state s)
{
	switch (s) {
	case PANE_WAITING_APPROVAL:
		return ATTENTION_APPROVAL;
	case PANE_WAITING_INPUT:
		return ATTENTION_INPUT;
	case PANE_ERROR:
		return ATTENTION_ERROR;
	default:
		return ATTENTION_NONE;
	}
}

/* ---- freeing ---- */

static void
list_free(struct sig_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		regfree(&l->v[i].re);
		free(l->v[i].text);
		free(l->v[i].where);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
rule_free(struct sig_rule *r)
{
	list_free(&r->match);
	list_free(&r->unless);
}

static void
agent_free(struct sig_agent *a)
{
	free(a->key);
	free(a->name);
	list_free(&a->names);
	list_free(&a->args);
	list_free(&a->weak);
	list_free(&a->screen);
	list_free(&a->title);
	for (size_t i = 0; i < a->nrules; i++)
		rule_free(&a->rules[i]);
	free(a->rules);
}

void
signatures_free(struct signatures *s)
{
	for (size_t i = 0; i < s->n; i++)
		agent_free(&s->agents[i]);
	free(s->agents);
	list_free(&s->wrappers);
	memset(s, 0, sizeof *s);
}

/* ---- reading ---- */

static int
oom(struct starry_err *err)
{
	return starry_err_set(err, EX_OSERR, "out of memory");
}

/* A pattern, or a list of them, at key of s, compiled into l. */
static int
read_patterns(const struct config_scope *s, const char *key, int cflags,
    struct sig_list *l, struct starry_err *err)
{
	const char **items = NULL;
	struct config_scope list, el;
	size_t n = 0;
	int line, col;

	if (config_get_string_list(s, key, CONFIG_ONE_OR_LIST, &items, &n,
	    err) < 0)
		return -1;
	if (n == 0) {
		free(items);
		return 0;
	}
	config_scope_member(s, key, &list);
	if ((l->v = calloc(n, sizeof *l->v)) == NULL) {
		free(items);
		return oom(err);
	}
	for (size_t i = 0; i < n; i++) {
		struct sig_pattern *p = &l->v[i];
		char msg[256];
		int rc;

		if (json_is_array(list.node))
			config_scope_element(&list, i, &el);
		else
			el = list;
		if (items[i][0] == '\0') {
			free(items);
			return config_fail(&el, NULL, err, "empty pattern");
		}
		if (strlen(items[i]) > SIG_PATTERN_MAX) {
			free(items);
			return config_fail(&el, NULL, err, "pattern longer "
			    "than %d bytes", SIG_PATTERN_MAX);
		}
		if ((rc = regcomp(&p->re, items[i], REG_EXTENDED | REG_NEWLINE |
		    cflags)) != 0) {
			regerror(rc, &p->re, msg, sizeof msg);
			free(items);
			return config_fail(&el, NULL, err, "invalid pattern "
			    "'%.64s': %s", el.node != NULL ?
			    json_string_value(el.node) : "", msg);
		}
		l->n = i + 1;
		line = el.line;
		col = el.col;
		if ((p->text = strdup(items[i])) == NULL ||
		    asprintf(&p->where, "%s:%d:%d", config_name(s->doc), line,
		    col) < 0) {
			p->where = NULL;
			free(items);
			return oom(err);
		}
	}
	free(items);
	return 0;
}

static const char *const attention_choices[] = {
	"none", "approval", "input", "error", "finished", NULL
};

static int
read_rule(const struct config_scope *el, unsigned lines, struct sig_rule *r,
    struct starry_err *err)
{
	static const char *const keys[] = {
		"state", "attention", "lines", "match", "unless", NULL
	};
	const char *state = NULL;
	int64_t n = lines;
	int att = -1, st;

	if (!json_is_object(el->node))
		return config_fail(el, NULL, err, "expected an object with "
		    "'state' and 'match', found %s", config_type_name(el->node));
	if (config_check_keys(el, keys, err) < 0 ||
	    config_get_string(el, "state", CONFIG_REQUIRED, &state, err) < 0)
		return -1;
	if ((st = pane_state_parse(state)) < 0 || st == PANE_UNKNOWN)
		return config_fail(el, "state", err, "unknown state '%.64s' "
		    "(running, waiting_input, waiting_approval, idle, error)",
		    state);
	r->state = (enum pane_state)st;
	if (config_get_enum(el, "attention", CONFIG_OPTIONAL,
	    attention_choices, &att, err) < 0 ||
	    config_get_int(el, "lines", CONFIG_OPTIONAL, 0, SIG_LINES_MAX, &n,
	    err) < 0)
		return -1;
	r->attention = att >= 0 ? (enum pane_attention)att :
	    pane_state_attention(r->state);
	r->lines = (unsigned)n;
	if (read_patterns(el, "match", 0, &r->match, err) < 0 ||
	    read_patterns(el, "unless", 0, &r->unless, err) < 0)
		return -1;
	if (r->match.n == 0)
		return config_fail(el, NULL, err, "a state needs 'match': "
		    "a pattern or a list of them");
	return 0;
}

static bool
valid_key(const char *k)
{
	if (*k == '\0' || strlen(k) > 32)
		return false;
	for (; *k != '\0'; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
		    *k == '-' || *k == '_'))
			return false;
	return true;
}

static int
read_agent(const struct config_scope *as, const char *key,
    struct sig_agent *a, struct starry_err *err)
{
	static const char *const keys[] = {
		"name", "process", "screen", "title", "lines", "otherwise",
		"states", NULL
	};
	static const char *const process_keys[] = {
		"names", "args", "weak", NULL
	};
	struct config_scope proc, states, el;
	const char *name = NULL, *otherwise = NULL;
	int64_t lines = 0;
	int st;

	if ((a->key = strdup(key)) == NULL)
		return oom(err);
	a->otherwise = (enum pane_state)-1;
	if (!json_is_object(as->node))
		return config_fail(as, NULL, err, "expected an object, found "
		    "%s", config_type_name(as->node));
	if (!valid_key(key))
		return config_fail(as, NULL, err, "invalid agent name "
		    "'%.64s' (1 to 32 of a-z, 0-9, '-', '_')", key);
	if (config_check_keys(as, keys, err) < 0 ||
	    config_get_string(as, "name", CONFIG_OPTIONAL, &name, err) < 0 ||
	    config_get_int(as, "lines", CONFIG_OPTIONAL, 0, SIG_LINES_MAX,
	    &lines, err) < 0 ||
	    config_get_string(as, "otherwise", CONFIG_OPTIONAL, &otherwise,
	    err) < 0)
		return -1;
	if (name != NULL && (a->name = strdup(name)) == NULL)
		return oom(err);
	a->lines = (unsigned)lines;
	if (otherwise != NULL) {
		if ((st = pane_state_parse(otherwise)) < 0)
			return config_fail(as, "otherwise", err, "unknown "
			    "state '%.64s'", otherwise);
		a->otherwise = (enum pane_state)st;
	}
	if (config_get_object(as, "process", CONFIG_OPTIONAL, &proc,
	    err) < 0 || config_check_keys(&proc, process_keys, err) < 0 ||
	    read_patterns(&proc, "names", 0, &a->names, err) < 0 ||
	    read_patterns(&proc, "args", 0, &a->args, err) < 0 ||
	    read_patterns(&proc, "weak", 0, &a->weak, err) < 0 ||
	    read_patterns(as, "screen", 0, &a->screen, err) < 0 ||
	    read_patterns(as, "title", 0, &a->title, err) < 0 ||
	    config_get_array(as, "states", CONFIG_OPTIONAL, &states, err) < 0)
		return -1;
	if (states.node == NULL)
		return 0;
	a->nrules = 0;
	if ((a->rules = calloc(json_array_size(states.node) + 1,
	    sizeof *a->rules)) == NULL)
		return oom(err);
	for (size_t i = 0; i < json_array_size(states.node); i++) {
		config_scope_element(&states, i, &el);
		a->nrules = i + 1;
		if (read_rule(&el, 0, &a->rules[i], err) < 0)
			return -1;
	}
	return 0;
}

/* A list of b moved to the end of a. */
static int
list_take(struct sig_list *a, struct sig_list *b)
{
	struct sig_pattern *v;

	if (b->n == 0)
		return 0;
	if ((v = realloc(a->v, (a->n + b->n) * sizeof *v)) == NULL)
		return -1;
	memcpy(v + a->n, b->v, b->n * sizeof *v);
	a->v = v;
	a->n += b->n;
	free(b->v);
	b->v = NULL;
	b->n = 0;
	return 0;
}

/* Merge the agent b (just read) into a (already known); b is left empty. */
static int
agent_merge(struct sig_agent *a, struct sig_agent *b)
{
	struct sig_rule *rules;

	if ((rules = calloc(a->nrules + b->nrules + 1, sizeof *rules)) == NULL)
		return -1;
	if (list_take(&a->names, &b->names) < 0 ||
	    list_take(&a->args, &b->args) < 0 ||
	    list_take(&a->weak, &b->weak) < 0 ||
	    list_take(&a->screen, &b->screen) < 0 ||
	    list_take(&a->title, &b->title) < 0) {
		free(rules);
		return -1;
	}
	memcpy(rules, b->rules, b->nrules * sizeof *rules);
	memcpy(rules + b->nrules, a->rules, a->nrules * sizeof *rules);
	free(a->rules);
	free(b->rules);
	a->rules = rules;
	a->nrules += b->nrules;
	b->rules = NULL;
	b->nrules = 0;
	if (b->name != NULL) {
		free(a->name);
		a->name = b->name;
		b->name = NULL;
	}
	if (b->lines > 0)
		a->lines = b->lines;
	if ((int)b->otherwise >= 0)
		a->otherwise = b->otherwise;
	return 0;
}

static int
signatures_read(struct signatures *s, struct config_doc *doc,
    struct starry_err *err)
{
	static const char *const keys[] = { "agents", "wrappers", NULL };
	struct signatures t = {0};
	struct config_scope root, agents, as;
	const char *key;
	json_t *v;
	size_t i = 0;

	config_scope_root(doc, &root);
	if (!json_is_object(root.node))
		return config_fail(&root, NULL, err, "expected an object with "
		    "'agents', found %s", config_type_name(root.node));
	if (config_check_keys(&root, keys, err) < 0 ||
	    read_patterns(&root, "wrappers", 0, &t.wrappers, err) < 0 ||
	    config_get_object(&root, "agents", CONFIG_OPTIONAL, &agents,
	    err) < 0)
		goto fail;
	if (agents.node != NULL && (t.agents = calloc(
	    json_object_size(agents.node) + 1, sizeof *t.agents)) == NULL) {
		oom(err);
		goto fail;
	}
	json_object_foreach(agents.node, key, v) {
		config_scope_member(&agents, key, &as);
		t.n = i + 1;
		if (read_agent(&as, key, &t.agents[i], err) < 0)
			goto fail;
		i++;
	}
	/* Now nothing can fail but memory. */
	for (i = 0; i < t.n; i++) {
		struct sig_agent *a = (struct sig_agent *)signatures_find(s,
		    t.agents[i].key);
		struct sig_agent *v2;

		if (a != NULL) {
			if (agent_merge(a, &t.agents[i]) < 0)
				goto fail_oom;
			continue;
		}
		if ((v2 = realloc(s->agents, (s->n + 1) * sizeof *v2)) == NULL)
			goto fail_oom;
		s->agents = v2;
		a = &s->agents[s->n++];
		*a = t.agents[i];
		memset(&t.agents[i], 0, sizeof t.agents[i]);
		if ((int)a->otherwise < 0)
			a->otherwise = PANE_UNKNOWN;
	}
	if (list_take(&s->wrappers, &t.wrappers) < 0)
		goto fail_oom;
	signatures_free(&t);
	return 0;
fail_oom:
	oom(err);
fail:
	signatures_free(&t);
	return -1;
}

int
signatures_load_buffer(struct signatures *s, const char *name,
    const char *buf, size_t len, struct starry_err *err)
{
	struct config_doc *doc;
	int rc;

	if (config_load_buffer(name, buf, len, &doc, err) < 0)
		return -1;
	rc = signatures_read(s, doc, err);
	config_doc_free(doc);
	return rc;
}

int
signatures_load(struct signatures *s, const char *path,
    struct starry_err *err)
{
	struct config_doc *doc;
	int rc;

	if (config_load_file(path, &doc, err) < 0)
		return -1;
	rc = signatures_read(s, doc, err);
	config_doc_free(doc);
	return rc;
}

const struct sig_agent *
signatures_find(const struct signatures *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->agents[i].key, key) == 0)
			return &s->agents[i];
	return NULL;
}

/* ---- matching ---- */

const struct sig_pattern *
sig_list_match(const struct sig_list *l, const char *text)
{
	for (size_t i = 0; i < l->n; i++)
		if (regexec(&l->v[i].re, text, 0, NULL, 0) == 0)
			return &l->v[i];
	return NULL;
}

enum sig_proc
sig_agent_process(const struct sig_agent *a, const char *comm,
    const char *argv0, const char *cmdline, const struct sig_pattern **why)
{
	const struct sig_pattern *p;

	if ((p = sig_list_match(&a->names, comm)) != NULL ||
	    (argv0 != NULL && (p = sig_list_match(&a->names, argv0)) != NULL) ||
	    (cmdline != NULL && (p = sig_list_match(&a->args, cmdline)) != NULL)) {
		*why = p;
		return SIG_PROC_STRONG;
	}
	if ((p = sig_list_match(&a->weak, comm)) != NULL ||
	    (argv0 != NULL && (p = sig_list_match(&a->weak, argv0)) != NULL)) {
		*why = p;
		return SIG_PROC_WEAK;
	}
	*why = NULL;
	return SIG_PROC_NONE;
}

int
screen_init(struct screen *sc, const char *raw, size_t len)
{
	size_t cap = 16, o = 0, start = 0, end;

	memset(sc, 0, sizeof *sc);
	/* A last line with no newline gets one, and the NUL. */
	if ((sc->text = malloc(len + 2)) == NULL ||
	    (sc->line = malloc(cap * sizeof *sc->line)) == NULL) {
		screen_free(sc);
		return -1;
	}
	while (start < len) {
		const char *nl = memchr(raw + start, '\n', len - start);

		end = nl != NULL ? (size_t)(nl - raw) : len;
		if (sc->nlines == cap) {
			size_t *v = realloc(sc->line, 2 * cap * sizeof *v);

			if (v == NULL) {
				screen_free(sc);
				return -1;
			}
			sc->line = v;
			cap *= 2;
		}
		sc->line[sc->nlines++] = o;
		/* A NUL inside a line ends what patterns see of it. */
		for (size_t i = start; i < end; i++)
			sc->text[o++] = raw[i] != '\0' ? raw[i] : ' ';
		while (o > sc->line[sc->nlines - 1] &&
		    (sc->text[o - 1] == ' ' || sc->text[o - 1] == '\t' ||
		    sc->text[o - 1] == '\r'))
			o--;
		sc->text[o++] = '\n';
		start = end + 1;
	}
	/* Blank lines at the bottom are the empty part of the screen. */
	while (sc->nlines > 0 && o - sc->line[sc->nlines - 1] == 1) {
		o = sc->line[--sc->nlines];
	}
	sc->text[o] = '\0';
	sc->len = o;
	return 0;
}

void
screen_free(struct screen *sc)
{
	free(sc->text);
	free(sc->line);
	memset(sc, 0, sizeof *sc);
}

const char *
screen_tail(const struct screen *sc, unsigned n)
{
	size_t i = sc->nlines;

	if (n == 0)
		return sc->text;
	/* Back over n lines that are not blank (a blank one is "\n"). */
	while (i > 0 && n > 0) {
		i--;
		if (sc->text[sc->line[i]] != '\n')
			n--;
	}
	return sc->nlines > 0 ? sc->text + sc->line[i] : sc->text;
}

void
sig_agent_state(const struct sig_agent *a, const struct screen *sc,
    struct sig_verdict *v)
{
	memset(v, 0, sizeof *v);
	for (size_t i = 0; i < a->nrules; i++) {
		const struct sig_rule *r = &a->rules[i];
		const char *tail = screen_tail(sc, r->lines > 0 ? r->lines :
		    a->lines);
		const struct sig_pattern *p = sig_list_match(&r->match, tail);

		if (p == NULL || sig_list_match(&r->unless, tail) != NULL)
			continue;
		v->state = r->state;
		v->attention = r->attention;
		v->rule = r;
		v->pattern = p;
		return;
	}
	v->state = a->otherwise;
	v->attention = pane_state_attention(a->otherwise);
}

bool
sig_agent_title(const struct sig_agent *a, const char *pane_title, char *buf,
    size_t size)
{
	regmatch_t m[10];

	for (size_t i = 0; i < a->title.n; i++) {
		const regex_t *re = &a->title.v[i].re;
		size_t g = re->re_nsub < 10 ? re->re_nsub : 9, from, to;

		if (regexec(re, pane_title, g + 1, m, 0) != 0)
			continue;
		/* The last group, or the whole match. */
		while (g > 0 && m[g].rm_so < 0)
			g--;
		from = (size_t)m[g].rm_so;
		to = (size_t)m[g].rm_eo;
		if (to <= from || size == 0)
			continue;
		if (to - from >= size)
			to = from + size - 1;
		memcpy(buf, pane_title + from, to - from);
		buf[to - from] = '\0';
		return true;
	}
	return false;
}
