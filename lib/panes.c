/* The heuristic verdict on a pane: see panes.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panes.h"

/* ---- the process table ---- */

struct tab_fill {
	struct proc_tab *t;
	size_t cap;
	int failed;
};

static int
tab_add(void *ctx, const struct proc_brief *b)
{
	struct tab_fill *f = ctx;

	if (f->t->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 512;
		struct proc_brief *v = reallocarray(f->t->v, cap, sizeof *v);

		if (v == NULL) {
			f->failed = ENOMEM;
			return 1;
		}
		f->t->v = v;
		f->cap = cap;
	}
	f->t->v[f->t->n++] = *b;
	return 0;
}

static int
by_ppid(const void *a, const void *b)
{
	const struct proc_brief *x = a, *y = b;

	if (x->ppid != y->ppid)
		return x->ppid < y->ppid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int
proc_tab_load(struct proc_tab *t)
{
	struct tab_fill f = {t, 0, 0};

	memset(t, 0, sizeof *t);
	if (proc_each_brief(tab_add, &f) < 0 || f.failed) {
		if (f.failed)
			errno = f.failed;
		proc_tab_free(t);
		return -1;
	}
	if (t->n > 0)
		qsort(t->v, t->n, sizeof *t->v, by_ppid);
	return 0;
}

void
proc_tab_free(struct proc_tab *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* The index of the first child of pid in t, or t->n. */
static size_t
first_child(const struct proc_tab *t, pid_t pid)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].ppid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct proc_brief *
find_pid(const struct proc_tab *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid)
			return &t->v[i];
	return NULL;
}

/* ---- names ---- */

const char *
pane_presence_name(enum pane_presence p)
{
	return p == PRESENCE_MANAGED ? "managed" : "unmanaged";
}

const char *
pane_evidence_name(enum pane_evidence e)
{
	switch (e) {
	case EVIDENCE_HEURISTIC:
		return "heuristic";
	case EVIDENCE_DETERMINISTIC:
		return "deterministic";
	default:
		return "none";
	}
}

/* ---- the verdict ---- */

struct noter {
	pane_note_fn *fn;
	void *ctx;
};

static void note(const struct noter *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
note(const struct noter *n, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (n->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	n->fn(n->ctx, line);
}

/* What the process tree says: the first process (breadth first from the
 * pane's own) that an agent's names or command line match. */
struct tree_find {
	const struct sig_agent *strong, *weak;
	pid_t strong_pid, weak_pid;
	char strong_name[64], weak_name[64];
	const struct sig_pattern *strong_why, *weak_why;
	bool wrapper;			/* a wrapper (ssh) is in the tree */
	char wrapper_name[64];
};

static void
look_at_process(const struct signatures *sigs, const struct proc_brief *b,
    struct tree_find *tf, const struct noter *nt)
{
	char cmdline[4096], argv0[256];
	const struct sig_pattern *why;
	ssize_t len;

	if (b->state == 'Z')
		return;
	if ((len = proc_cmdline(b->pid, cmdline, sizeof cmdline, argv0,
	    sizeof argv0)) < 0)
		return;		/* gone */
	note(nt, "process %d (parent %d) %s: %.200s", (int)b->pid,
	    (int)b->ppid, b->comm, cmdline);
	for (size_t i = 0; i < sigs->n && tf->strong == NULL; i++) {
		const struct sig_agent *a = &sigs->agents[i];

		switch (sig_agent_process(a, b->comm, argv0, cmdline, &why)) {
		case SIG_PROC_STRONG:
			tf->strong = a;
			tf->strong_pid = b->pid;
			tf->strong_why = why;
			snprintf(tf->strong_name, sizeof tf->strong_name, "%s",
			    b->comm);
			note(nt, "  is %s: '%s' (%s)", a->key, why->text,
			    why->where);
			break;
		case SIG_PROC_WEAK:
			if (tf->weak == NULL) {
				tf->weak = a;
				tf->weak_pid = b->pid;
				tf->weak_why = why;
				snprintf(tf->weak_name, sizeof tf->weak_name,
				    "%s", b->comm);
				note(nt, "  may be %s, if the screen agrees: "
				    "'%s' (%s)", a->key, why->text, why->where);
			}
			break;
		case SIG_PROC_NONE:
			break;
		}
	}
	if (!tf->wrapper && ((why = sig_list_match(&sigs->wrappers,
	    b->comm)) != NULL || (why = sig_list_match(&sigs->wrappers,
	    argv0)) != NULL)) {
		tf->wrapper = true;
		snprintf(tf->wrapper_name, sizeof tf->wrapper_name, "%s",
		    b->comm);
		note(nt, "  a wrapper an agent can run behind: '%s' (%s)",
		    why->text, why->where);
	}
}

static int
walk_tree(const struct signatures *sigs, const struct proc_tab *t, pid_t root,
    struct tree_find *tf, const struct noter *nt)
{
	const struct proc_brief *b;
	pid_t *queue;
	size_t head = 0, tail = 0;

	if ((b = find_pid(t, root)) == NULL) {
		note(nt, "process %d: gone", (int)root);
		return 0;
	}
	if ((queue = malloc((t->n + 1) * sizeof *queue)) == NULL)
		return -1;
	queue[tail++] = root;
	/* Breadth first: the agent nearest the pane wins. At most every
	 * process once, whatever a racing /proc read says. */
	while (head < tail && tf->strong == NULL) {
		pid_t pid = queue[head++];

		if ((b = find_pid(t, pid)) != NULL)
			look_at_process(sigs, b, tf, nt);
		for (size_t i = first_child(t, pid); i < t->n &&
		    t->v[i].ppid == pid && tail <= t->n; i++)
			if (t->v[i].pid != root)
				queue[tail++] = t->v[i].pid;
	}
	free(queue);
	return 0;
}

/* The agent whose screen signatures match the whole screen most often
 * (the first of a tie), when two of them do at least: one alone may be a
 * word in any text. *why is one of its patterns that matched. */
#define SCREEN_ONLY_MIN 2

static const struct sig_agent *
agent_by_screen(const struct signatures *sigs, const struct screen *sc,
    const struct sig_pattern **why)
{
	const struct sig_agent *best = NULL;
	size_t best_n = SCREEN_ONLY_MIN - 1;

	*why = NULL;
	for (size_t i = 0; i < sigs->n; i++) {
		const struct sig_list *l = &sigs->agents[i].screen;
		const struct sig_pattern *first = NULL;
		size_t n = 0;

		for (size_t k = 0; k < l->n; k++)
			if (regexec(&l->v[k].re, sc->text, 0, NULL, 0) == 0) {
				if (first == NULL)
					first = &l->v[k];
				n++;
			}
		if (n > best_n) {
			best = &sigs->agents[i];
			best_n = n;
			*why = first;
		}
	}
	return best;
}

int
pane_classify(const struct signatures *sigs, const struct pane_input *in,
    struct pane_verdict *v, pane_note_fn *note_fn, void *ctx)
{
	struct noter nt = {note_fn, ctx};
	struct tree_find tf;
	const struct sig_pattern *why = NULL;
	struct sig_verdict sv;
	struct screen sc;
	char found[200];
	double conf = 0;

	memset(v, 0, sizeof *v);
	memset(&tf, 0, sizeof tf);
	found[0] = '\0';
	if (screen_init(&sc, in->screen != NULL ? in->screen : "",
	    in->screen != NULL ? in->screen_len : 0) < 0)
		return -1;
	note(&nt, "screen: %zu lines (blank lines at the bottom left out)",
	    sc.nlines);
	if (in->agent != NULL) {
		v->agent = in->agent;
		conf = 1.0;
		snprintf(found, sizeof found, "given as %s", in->agent->key);
	} else if (in->procs != NULL) {
		if (walk_tree(sigs, in->procs, in->pid, &tf, &nt) < 0) {
			screen_free(&sc);
			return -1;
		}
		if (tf.strong != NULL) {
			v->agent = tf.strong;
			v->agent_pid = tf.strong_pid;
			conf = 1.0;
			snprintf(found, sizeof found, "process %s (pid %d)",
			    tf.strong_name, (int)tf.strong_pid);
		} else if (tf.weak != NULL &&
		    (why = sig_list_match(&tf.weak->screen, sc.text)) != NULL) {
			v->agent = tf.weak;
			v->agent_pid = tf.weak_pid;
			conf = 0.85;
			snprintf(found, sizeof found, "process %s (pid %d) and "
			    "the screen ('%.40s')", tf.weak_name,
			    (int)tf.weak_pid, why->text);
		} else if (tf.wrapper &&
		    (v->agent = agent_by_screen(sigs, &sc, &why)) != NULL) {
			conf = 0.6;
			snprintf(found, sizeof found, "the screen ('%.40s') "
			    "behind %s", why->text, tf.wrapper_name);
		} else if (tf.weak != NULL) {
			note(&nt, "%s's weak name without its screen: not "
			    "taken", tf.weak->key);
		}
	} else if ((v->agent = agent_by_screen(sigs, &sc, &why)) != NULL) {
		conf = 0.6;
		snprintf(found, sizeof found, "the screen ('%.40s')",
		    why->text);
	}
	if (v->agent == NULL) {
		v->presence = PRESENCE_UNMANAGED;
		v->evidence = EVIDENCE_NONE;
		v->state = PANE_UNKNOWN;
		v->attention = ATTENTION_NONE;
		v->confidence = in->procs != NULL ? 0.9 : 0.5;
		snprintf(v->reason, sizeof v->reason, "no agent: %s",
		    in->procs == NULL ? "no screen signature matched" :
		    "no process of the pane is one, and no wrapper hides one");
		note(&nt, "verdict: %s", v->reason);
		screen_free(&sc);
		return 0;
	}
	note(&nt, "agent: %s, by %s", v->agent->key, found);
	v->presence = PRESENCE_MANAGED;
	v->evidence = EVIDENCE_HEURISTIC;
	sig_agent_state(v->agent, &sc, &sv);
	v->state = sv.state;
	v->attention = sv.attention;
	if (sv.rule != NULL) {
		v->confidence = conf * 0.95;
		snprintf(v->reason, sizeof v->reason, "%s by %s; %s: '%.80s' "
		    "(%s)", v->agent->key, found, pane_state_name(sv.state),
		    sv.pattern->text, sv.pattern->where);
	} else {
		v->confidence = conf * 0.5;
		snprintf(v->reason, sizeof v->reason, "%s by %s; no state "
		    "pattern matched: %s", v->agent->key, found,
		    pane_state_name(sv.state));
	}
	/* For explain: every rule that matched, not only the first. */
	for (size_t i = 0; note_fn != NULL && i < v->agent->nrules; i++) {
		const struct sig_rule *r = &v->agent->rules[i];
		const char *tail = screen_tail(&sc, r->lines ? r->lines :
		    v->agent->lines);
		const struct sig_pattern *m = sig_list_match(&r->match, tail);
		const struct sig_pattern *u = m != NULL ?
		    sig_list_match(&r->unless, tail) : NULL;

		if (m != NULL)
			note(&nt, "rule %zu (%s, last %u lines): '%s' (%s)%s%s",
			    i + 1, pane_state_name(r->state), r->lines ?
			    r->lines : v->agent->lines, m->text, m->where,
			    u != NULL ? ", but unless " : "",
			    u != NULL ? u->text : "");
	}
	if (in->title != NULL &&
	    sig_agent_title(v->agent, in->title, v->title, sizeof v->title))
		note(&nt, "title: %s (from the pane title '%.100s')", v->title,
		    in->title);
	note(&nt, "verdict: %s", v->reason);
	screen_free(&sc);
	return 0;
}
