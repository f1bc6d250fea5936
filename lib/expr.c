/* The `if` language: see expr.h. A recursive-descent parser, bounded by
 * EXPR_MAX_DEPTH, builds a flat array of nodes whose children are
 * indexes; literals are decoded and regexes compiled at that time, so
 * that evaluation only walks the array and reads the event in place. */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "expr.h"
#include "grow.h"
#include "jvalue.h"

enum op {
	OP_LIT, OP_PATH, OP_LIST,
	OP_NOT, OP_AND, OP_OR,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN,
	OP_CONTAINS, OP_STARTS, OP_ENDS, OP_MATCHES, OP_EXISTS,
};

/* a and b: the children (OP_NOT: a only); OP_LIT: a literal index;
 * OP_PATH: the first step and the step count; OP_LIST: the first kid
 * index and the count; OP_MATCHES: the subject and a regex index. */
struct node {
	enum op op;
	uint32_t a, b;
};

enum vkind { V_NULL, V_BOOL, V_NUM, V_STR, V_ARR, V_OBJ, V_LIST };

/* A value while evaluating: a literal's, or a slice of the event. */
struct val {
	enum vkind k;
	bool b, is_int, escaped;
	int64_t i;
	double d;
	const char *p;		/* V_STR: bytes; V_ARR, V_OBJ: JSON text */
	size_t len;
	uint32_t node;		/* V_LIST: its OP_LIST node */
};

struct step {
	char *key;		/* NULL: an index */
	size_t keylen;
	size_t index;
	int field;		/* the envelope member key names, or -1 */
};

struct expr {
	char *text;
	struct node *nodes;
	size_t nnodes;
	struct val *lits;
	size_t nlits;
	struct step *steps;
	size_t nsteps;
	uint32_t *kids;
	size_t nkids;
	regex_t *res;
	size_t nres;
	uint32_t root;
};

/* Decoded strings: two operands and an object key at a time. */
#define SCRATCH_SLOTS 3
struct expr_scratch {
	size_t cap;
	char *slot[SCRATCH_SLOTS];
};

/* ---- compiling ---- */

enum tok {
	T_END, T_NAME, T_NUM, T_STR, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
	T_COMMA, T_DOT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR,
	T_NOT, T_BAD,
};

struct parser {
	struct expr *e;
	const char *text;
	size_t pos;		/* of the next token */
	enum tok tok;
	size_t tok_pos, tok_len;
	int depth;
	int col;		/* of the error */
	struct starry_err *err;
};

static int
fail_at(struct parser *ps, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail_at(struct parser *ps, size_t pos, const char *fmt, ...)
{
	char msg[sizeof(ps->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->col = (int)pos + 1;
	return starry_err_set(ps->err, EX_CONFIG, "column %d: %s", ps->col, msg);
}

static int
fail_oom(struct parser *ps)
{
	ps->col = 0;
	return starry_err_set(ps->err, EX_OSERR, "out of memory");
}

static bool
is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The end of a string literal whose quote is at p, or 0 if unterminated. */
static size_t
string_literal_end(const char *t, size_t p)
{
	char q = t[p];

	for (p++; t[p] != '\0'; p++) {
		if (t[p] == '\\' && t[p + 1] != '\0')
			p++;
		else if (t[p] == q)
			return p + 1;
	}
	return 0;
}

static void
next(struct parser *ps)
{
	const char *t = ps->text;
	size_t p = ps->pos, q;
	static const struct { const char *s; enum tok t; } ops[] = {
		{"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE},
		{"&&", T_AND}, {"||", T_OR}, {"<", T_LT}, {">", T_GT},
		{"!", T_NOT}, {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK},
		{"]", T_RBRACK}, {",", T_COMMA}, {".", T_DOT},
	};

	while (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r')
		p++;
	ps->tok_pos = p;
	q = p + 1;
	if (t[p] == '\0') {
		ps->tok = T_END;
		q = p;
	} else if (is_name_start(t[p])) {
		while (is_name_char(t[q]))
			q++;
		ps->tok = T_NAME;
	} else if (is_digit(t[p]) || (t[p] == '-' && is_digit(t[p + 1]))) {
		while (is_digit(t[q]) || t[q] == '.' || t[q] == 'e' ||
		    t[q] == 'E' || ((t[q] == '+' || t[q] == '-') &&
		    (t[q - 1] == 'e' || t[q - 1] == 'E')))
			q++;
		ps->tok = T_NUM;
	} else if (t[p] == '\'' || t[p] == '"') {
		q = string_literal_end(t, p);
		ps->tok = q == 0 ? T_BAD : T_STR;
		if (q == 0)
			q = p + 1;
	} else {
		ps->tok = T_BAD;
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			size_t n = strlen(ops[k].s);

			if (strncmp(t + p, ops[k].s, n) == 0) {
				ps->tok = ops[k].t;
				q = p + n;
				break;
			}
		}
	}
	ps->tok_len = q - p;
	ps->pos = q;
}

static bool
tok_is(const struct parser *ps, const char *word)
{
	return ps->tok == T_NAME && ps->tok_len == strlen(word) &&
	    strncmp(ps->text + ps->tok_pos, word, ps->tok_len) == 0;
}

/* What the current token is, for "expected X, found Y". */
static void
describe_token(const struct parser *ps, char *buf, size_t cap)
{
	if (ps->tok == T_END)
		snprintf(buf, cap, "the end");
	else if (ps->tok == T_BAD && (ps->text[ps->tok_pos] == '\'' ||
	    ps->text[ps->tok_pos] == '"'))
		snprintf(buf, cap, "a string with no closing quote");
	else
		snprintf(buf, cap, "'%.*s'", (int)(ps->tok_len > 24 ? 24 :
		    ps->tok_len), ps->text + ps->tok_pos);
}

static int
expected(struct parser *ps, const char *what)
{
	char found[48];

	describe_token(ps, found, sizeof(found));
	return fail_at(ps, ps->tok_pos, "expected %s, found %s", what, found);
}

/* Append to one of the expression's arrays (see grow.h). */
static int
add_node(struct parser *ps, enum op op, uint32_t a, uint32_t b, uint32_t *out)
{
	struct expr *e = ps->e;

	if (e->nnodes >= EXPR_MAX_NODES)
		return fail_at(ps, ps->tok_pos,
		    "the expression is too long (more than %d operands and operators)",
		    EXPR_MAX_NODES);
	if (grow_for_one(&e->nodes, e->nnodes, sizeof(*e->nodes)) == -1)
		return fail_oom(ps);
	e->nodes[e->nnodes] = (struct node){op, a, b};
	*out = (uint32_t)e->nnodes++;
	return 0;
}

static int
add_literal(struct parser *ps, const struct val *v, uint32_t *out)
{
	struct expr *e = ps->e;

	if (grow_for_one(&e->lits, e->nlits, sizeof(*e->lits)) == -1)
		return fail_oom(ps);
	e->lits[e->nlits] = *v;
	if (add_node(ps, OP_LIT, (uint32_t)e->nlits, 0, out) == -1)
		return -1;
	e->nlits++;
	return 0;
}

static int
add_step(struct parser *ps, char *key, size_t index)
{
	struct expr *e = ps->e;

	if (grow_for_one(&e->steps, e->nsteps, sizeof(*e->steps)) == -1) {
		free(key);	/* the steps so far stay, for expr_free */
		return fail_oom(ps);
	}
	e->steps[e->nsteps++] = (struct step){key, key ? strlen(key) : 0, index,
	    key ? event_field_of(key, strlen(key)) : -1};
	return 0;
}

static int
add_kid(struct parser *ps, uint32_t kid)
{
	struct expr *e = ps->e;

	if (grow_for_one(&e->kids, e->nkids, sizeof(*e->kids)) == -1)
		return fail_oom(ps);
	e->kids[e->nkids++] = kid;
	return 0;
}

/* A string literal's text, its escapes (\\ \' \" \n \t \r) resolved
 * and any other backslash kept: malloc'd into v->p (owned by the literal
 * table once added). */
static int
decode_string(struct parser *ps, struct val *v)
{
	const char *t = ps->text + ps->tok_pos + 1;
	size_t n = ps->tok_len - 2, i, k = 0;
	char *s = malloc(n + 1);

	if (s == NULL)
		return fail_oom(ps);
	for (i = 0; i < n; i++) {
		if (t[i] != '\\') {
			s[k++] = t[i];
			continue;
		}
		switch (t[++i]) {
		case '\\': case '\'': case '"': s[k++] = t[i]; break;
		case 'n': s[k++] = '\n'; break;
		case 't': s[k++] = '\t'; break;
		case 'r': s[k++] = '\r'; break;
		default:
			/* Kept as written, so that a pattern's \. or \( reads
			 * as it would in the regex itself. */
			s[k++] = '\\';
			s[k++] = t[i];
		}
	}
	s[k] = '\0';
	*v = (struct val){.k = V_STR, .p = s, .len = k};
	return 0;
}

static int
decode_number(struct parser *ps, struct val *v)
{
	char buf[64], *end;
	const char *t = ps->text + ps->tok_pos;
	size_t n = ps->tok_len;
	double d;

	if (n >= sizeof(buf))
		return fail_at(ps, ps->tok_pos, "number too long (%zu characters)", n);
	memcpy(buf, t, n);
	buf[n] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	if (*end != '\0')
		return fail_at(ps, ps->tok_pos, "invalid number '%s'", buf);
	if (errno == ERANGE && isinf(d))
		return fail_at(ps, ps->tok_pos, "number out of range '%s'", buf);
	/* Valid: read as a number of the event is, integers exactly. */
	*v = (struct val){.k = V_NUM};
	jvalue_number(&(struct jvalue){.kind = JSCAN_NUMBER, .p = buf, .len = n},
	    &v->d, &v->i, &v->is_int);
	return 0;
}

static int parse_or(struct parser *ps, uint32_t *out);
static int parse_primary(struct parser *ps, uint32_t *out);

static int
enter(struct parser *ps)
{
	if (++ps->depth > EXPR_MAX_DEPTH)
		return fail_at(ps, ps->tok_pos, "nested too deeply (more than %d levels)",
		    EXPR_MAX_DEPTH);
	return 0;
}

/* A path: NAME, then .NAME, [INDEX] or ['KEY'], as often as wanted. */
static int
parse_path(struct parser *ps, uint32_t *out)
{
	struct expr *e = ps->e;
	size_t first = e->nsteps;
	char *key;

	for (;;) {
		key = strndup(ps->text + ps->tok_pos, ps->tok_len);
		if (key == NULL || add_step(ps, key, 0) == -1)
			return key == NULL ? fail_oom(ps) : -1;
		next(ps);
		for (;;) {
			if (ps->tok == T_LBRACK) {
				struct val v;

				next(ps);
				if (ps->tok == T_NUM) {
					if (decode_number(ps, &v) == -1)
						return -1;
					if (!v.is_int || v.i < 0 || v.i > INT32_MAX)
						return fail_at(ps, ps->tok_pos,
						    "an index is a whole number from 0 to %d",
						    INT32_MAX);
					if (add_step(ps, NULL, (size_t)v.i) == -1)
						return -1;
				} else if (ps->tok == T_STR) {
					if (decode_string(ps, &v) == -1)
						return -1;
					if (add_step(ps, (char *)v.p, 0) == -1)
						return -1;
				} else {
					return expected(ps, "an index or a quoted key");
				}
				next(ps);
				if (ps->tok != T_RBRACK)
					return expected(ps, "']'");
				next(ps);
			} else if (ps->tok == T_DOT) {
				next(ps);
				if (ps->tok != T_NAME)
					return expected(ps, "a name after '.'");
				break;
			} else {
				return add_node(ps, OP_PATH, (uint32_t)first,
				    (uint32_t)(e->nsteps - first), out);
			}
		}
	}
}

static const struct {
	const char *name;
	enum op op;
	int arity;
} functions[] = {
	{"contains", OP_CONTAINS, 2},
	{"startsWith", OP_STARTS, 2},
	{"endsWith", OP_ENDS, 2},
	{"matches", OP_MATCHES, 2},
	{"exists", OP_EXISTS, 1},
};
static const char *const function_names[] = {
	"contains", "startsWith", "endsWith", "matches", "exists", NULL,
};

/* How big a pattern becomes once glibc expands its counted repetitions,
 * roughly: each atom, group and branch is at least 1, a group the sum of
 * its branches, and {m,n} multiplies by n (by m + 1 for {m,}; {,n} is
 * {0,n}, as glibc reads it). -1 with *why when too big. */
static long
regex_size(const char *re, size_t *i, int depth, const char **why)
{
	long total = 0, atom;

	if (depth > EXPR_MAX_DEPTH) {
		*why = "groups nested too deeply";
		return -1;
	}
	while (re[*i] != '\0' && re[*i] != ')') {
		if (re[*i] == '|') {
			(*i)++;
			total++;
			continue;
		}
		atom = 1;
		if (re[*i] == '(') {
			(*i)++;
			atom = regex_size(re, i, depth + 1, why);
			if (atom == -1)
				return -1;
			atom++;		/* the group itself, even an empty one */
			if (re[*i] == ')')
				(*i)++;
		} else if (re[*i] == '[') {
			(*i)++;
			if (re[*i] == '^')
				(*i)++;
			if (re[*i] == ']')
				(*i)++;
			while (re[*i] != '\0' && re[*i] != ']') {
				if (re[*i] == '[' && (re[*i + 1] == ':' ||
				    re[*i + 1] == '.' || re[*i + 1] == '=')) {
					char *close = strstr(re + *i + 2,
					    (char[]){re[*i + 1], ']', '\0'});

					if (close == NULL)
						break;
					*i = (size_t)(close - re) + 2;
					continue;
				}
				(*i)++;
			}
			if (re[*i] == ']')
				(*i)++;
		} else if (re[*i] == '\\') {
			if (re[*i + 1] >= '1' && re[*i + 1] <= '9') {
				*why = "back-references are not allowed";
				return -1;
			}
			*i += re[*i + 1] != '\0' ? 2 : 1;
		} else {
			(*i)++;
		}
		while (re[*i] == '*' || re[*i] == '+' || re[*i] == '?' ||
		    re[*i] == '{') {
			if (re[*i] == '{') {
				const char *p = re + *i + 1;
				char *end;
				long m = 0, n;

				if (*p >= '0' && *p <= '9')
					m = strtol(p, &end, 10);
				else if (*p == ',')
					end = (char *)p;	/* {,n} */
				else
					break;	/* a literal '{': regcomp judges */
				n = m;
				if (*end == ',') {
					const char *q = end + 1;

					if (*q >= '0' && *q <= '9')
						n = strtol(q, &end, 10);
					else {
						n = m + 1;
						end = (char *)q;
					}
				}
				if (*end != '}')
					break;
				*i = (size_t)(end - re) + 1;
				if (n < 1)
					n = 1;
				if (n > EXPR_REGEX_MAX_SIZE || m > EXPR_REGEX_MAX_SIZE) {
					*why = "a repetition count is too large";
					return -1;
				}
				atom *= n;
			} else {
				(*i)++;
			}
			if (atom > EXPR_REGEX_MAX_SIZE) {
				*why = "its repetitions expand too far";
				return -1;
			}
		}
		total += atom;
		if (total > EXPR_REGEX_MAX_SIZE) {
			*why = "its repetitions expand too far";
			return -1;
		}
	}
	return total;
}

static int
compile_regex(struct parser *ps, const struct val *pattern, size_t pos,
    uint32_t *index)
{
	struct expr *e = ps->e;
	const char *why = NULL;
	size_t i = 0;
	regex_t re;
	int rc;

	if (pattern->len > EXPR_REGEX_MAX_LEN)
		return fail_at(ps, pos, "matches: the pattern is longer than %d bytes",
		    EXPR_REGEX_MAX_LEN);
	if (strlen(pattern->p) != pattern->len)
		return fail_at(ps, pos, "matches: the pattern contains a NUL");
	/* One total for the whole pattern: an unmatched ')' is a literal
	 * to glibc, so what follows it still counts. */
	for (long total = 0, part; pattern->p[i] != '\0';) {
		part = regex_size(pattern->p, &i, 0, &why);
		if (part == -1 || (total += part + 1) > EXPR_REGEX_MAX_SIZE)
			return fail_at(ps, pos, "matches: pattern refused: %s",
			    why ? why : "its repetitions expand too far");
		if (pattern->p[i] == ')')
			i++;
	}
	rc = regcomp(&re, pattern->p, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];

		regerror(rc, &re, msg, sizeof(msg));
		return fail_at(ps, pos, "matches: invalid pattern: %s", msg);
	}
	if (grow_for_one(&e->res, e->nres, sizeof(*e->res)) == -1) {
		regfree(&re);
		return fail_oom(ps);
	}
	e->res[e->nres] = re;
	*index = (uint32_t)e->nres++;
	return 0;
}

static int
parse_call(struct parser *ps, size_t name_pos, size_t name_len, uint32_t *out)
{
	uint32_t args[2];
	int f, n = 0;
	char name[32];
	const char *hint;

	snprintf(name, sizeof(name), "%.*s", (int)(name_len < 31 ? name_len : 31),
	    ps->text + name_pos);
	for (f = 0; f < (int)(sizeof(functions) / sizeof(functions[0])); f++)
		if (strlen(functions[f].name) == name_len &&
		    strncmp(functions[f].name, ps->text + name_pos, name_len) == 0)
			break;
	if (f == (int)(sizeof(functions) / sizeof(functions[0]))) {
		hint = config_suggest(name, function_names);
		if (hint != NULL)
			return fail_at(ps, name_pos,
			    "unknown function '%s' (did you mean '%s'?)", name, hint);
		return fail_at(ps, name_pos, "unknown function '%s' (known: "
		    "contains, startsWith, endsWith, matches, exists)", name);
	}
	if (enter(ps) == -1)
		return -1;
	next(ps);		/* past '(' */
	while (ps->tok != T_RPAREN) {
		size_t arg_pos = ps->tok_pos;

		if (n == functions[f].arity)
			return fail_at(ps, arg_pos, "%s takes %d argument%s",
			    functions[f].name, functions[f].arity,
			    functions[f].arity == 1 ? "" : "s");
		if (parse_or(ps, &args[n]) == -1)
			return -1;
		if (functions[f].op == OP_EXISTS &&
		    ps->e->nodes[args[n]].op != OP_PATH)
			return fail_at(ps, arg_pos, "exists takes a path, as in exists(payload.user)");
		if (functions[f].op == OP_MATCHES && n == 1) {
			const struct node *pn = &ps->e->nodes[args[1]];

			if (pn->op != OP_LIT || ps->e->lits[pn->a].k != V_STR)
				return fail_at(ps, arg_pos,
				    "matches takes its pattern as a quoted string: it is compiled at load");
			if (compile_regex(ps, &ps->e->lits[pn->a], arg_pos, &args[1]) == -1)
				return -1;
		}
		n++;
		if (ps->tok == T_COMMA)
			next(ps);
		else if (ps->tok != T_RPAREN)
			return expected(ps, "',' or ')'");
	}
	if (n != functions[f].arity)
		return fail_at(ps, ps->tok_pos, "%s takes %d argument%s, not %d",
		    functions[f].name, functions[f].arity,
		    functions[f].arity == 1 ? "" : "s", n);
	next(ps);
	ps->depth--;
	return add_node(ps, functions[f].op, args[0], n > 1 ? args[1] : 0, out);
}

static int
parse_list(struct parser *ps, uint32_t *out)
{
	uint32_t *items = NULL;
	size_t n = 0, first;
	int rc = -1;

	if (enter(ps) == -1)
		return -1;
	next(ps);		/* past '[' */
	while (ps->tok != T_RBRACK) {
		if (grow_for_one(&items, n, sizeof(*items)) == -1) {
			fail_oom(ps);
			goto out;
		}
		if (parse_primary(ps, &items[n]) == -1)
			goto out;
		n++;
		if (ps->tok == T_COMMA)
			next(ps);
		else if (ps->tok != T_RBRACK) {
			expected(ps, "',' or ']'");
			goto out;
		}
	}
	next(ps);
	/* The items' own lists, if any, took kids before these: a list's
	 * kids are added together, after its items, to be contiguous. */
	first = ps->e->nkids;
	for (size_t k = 0; k < n; k++)
		if (add_kid(ps, items[k]) == -1)
			goto out;
	ps->depth--;
	rc = add_node(ps, OP_LIST, (uint32_t)first, (uint32_t)n, out);
out:
	free(items);
	return rc;
}

/* Whether the name just read is followed by '(' (a call). */
static bool
call_follows(const struct parser *ps)
{
	size_t p = ps->pos;

	while (ps->text[p] == ' ' || ps->text[p] == '\t')
		p++;
	return ps->text[p] == '(';
}

static int
parse_primary(struct parser *ps, uint32_t *out)
{
	struct val v = {0};

	switch (ps->tok) {
	case T_NUM:
		if (decode_number(ps, &v) == -1)
			return -1;
		next(ps);
		return add_literal(ps, &v, out);
	case T_STR:
		if (decode_string(ps, &v) == -1)
			return -1;
		if (add_literal(ps, &v, out) == -1) {
			free((char *)v.p);
			return -1;
		}
		next(ps);
		return 0;
	case T_LPAREN:
		if (enter(ps) == -1)
			return -1;
		next(ps);
		if (parse_or(ps, out) == -1)
			return -1;
		if (ps->tok != T_RPAREN)
			return expected(ps, "')'");
		next(ps);
		ps->depth--;
		return 0;
	case T_LBRACK:
		return parse_list(ps, out);
	case T_NAME:
		if (tok_is(ps, "true") || tok_is(ps, "false")) {
			v = (struct val){.k = V_BOOL, .b = tok_is(ps, "true")};
			next(ps);
			return add_literal(ps, &v, out);
		}
		if (tok_is(ps, "null")) {
			next(ps);
			return add_literal(ps, &v, out);
		}
		if (call_follows(ps)) {
			size_t name_pos = ps->tok_pos, name_len = ps->tok_len;

			next(ps);
			return parse_call(ps, name_pos, name_len, out);
		}
		return parse_path(ps, out);
	default:
		return expected(ps, "a value, a name or '('");
	}
}

static bool
comparison(enum tok t, enum op *op)
{
	switch (t) {
	case T_EQ: *op = OP_EQ; return true;
	case T_NE: *op = OP_NE; return true;
	case T_LT: *op = OP_LT; return true;
	case T_LE: *op = OP_LE; return true;
	case T_GT: *op = OP_GT; return true;
	case T_GE: *op = OP_GE; return true;
	default: return false;
	}
}

static int parse_unary(struct parser *ps, uint32_t *out);

/* An operand, compared with another or not; comparisons do not chain. */
static int
parse_comparison(struct parser *ps, uint32_t *out)
{
	uint32_t left, right;
	enum op op;

	if (parse_unary(ps, &left) == -1)
		return -1;
	if (tok_is(ps, "in"))
		op = OP_IN;
	else if (!comparison(ps->tok, &op)) {
		*out = left;
		return 0;
	}
	next(ps);
	if (parse_unary(ps, &right) == -1)
		return -1;
	if (tok_is(ps, "in") || comparison(ps->tok, &(enum op){0}))
		return fail_at(ps, ps->tok_pos,
		    "comparisons do not chain: join them with && or use parentheses");
	return add_node(ps, op, left, right, out);
}

/* ! binds tighter than comparisons, as in C: !a == b is (!a) == b. */
static int
parse_unary(struct parser *ps, uint32_t *out)
{
	uint32_t inner;

	if (ps->tok != T_NOT)
		return parse_primary(ps, out);
	if (enter(ps) == -1)
		return -1;
	next(ps);
	if (parse_unary(ps, &inner) == -1)
		return -1;
	ps->depth--;
	return add_node(ps, OP_NOT, inner, 0, out);
}

static int
parse_and(struct parser *ps, uint32_t *out)
{
	uint32_t right;

	if (parse_comparison(ps, out) == -1)
		return -1;
	while (ps->tok == T_AND) {
		next(ps);
		if (parse_comparison(ps, &right) == -1 ||
		    add_node(ps, OP_AND, *out, right, out) == -1)
			return -1;
	}
	return 0;
}

static int
parse_or(struct parser *ps, uint32_t *out)
{
	uint32_t right;

	if (parse_and(ps, out) == -1)
		return -1;
	while (ps->tok == T_OR) {
		next(ps);
		if (parse_and(ps, &right) == -1 ||
		    add_node(ps, OP_OR, *out, right, out) == -1)
			return -1;
	}
	return 0;
}

void
expr_free(struct expr *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nlits; i++)
		if (e->lits[i].k == V_STR)
			free((char *)e->lits[i].p);
	for (size_t i = 0; i < e->nsteps; i++)
		free(e->steps[i].key);
	for (size_t i = 0; i < e->nres; i++)
		regfree(&e->res[i]);
	free(e->nodes);
	free(e->lits);
	free(e->steps);
	free(e->kids);
	free(e->res);
	free(e->text);
	free(e);
}

int
expr_compile(const char *text, struct expr **out, int *col,
    struct starry_err *err)
{
	struct parser ps = {.text = text, .err = err};
	size_t len = strlen(text);

	*col = 0;
	if (len > EXPR_MAX_LEN) {
		*col = 1;
		return starry_err_set(err, EX_CONFIG,
		    "column 1: the expression is longer than %d bytes", EXPR_MAX_LEN);
	}
	ps.e = calloc(1, sizeof(*ps.e));
	if (ps.e == NULL || (ps.e->text = strdup(text)) == NULL) {
		expr_free(ps.e);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	next(&ps);
	if (ps.tok == T_END) {
		fail_at(&ps, 0, "the expression is empty");
		goto fail;
	}
	if (parse_or(&ps, &ps.e->root) == -1)
		goto fail;
	if (ps.tok != T_END) {
		expected(&ps, "an operator or the end");
		goto fail;
	}
	*out = ps.e;
	return 0;
fail:
	*col = ps.col;
	expr_free(ps.e);
	return -1;
}

const char *
expr_text(const struct expr *e)
{
	return e->text;
}

/* ---- evaluating ---- */

struct expr_scratch *
expr_scratch_new(size_t max_line)
{
	struct expr_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cap = max_line + 1;
	for (int i = 0; i < SCRATCH_SLOTS; i++) {
		s->slot[i] = malloc(s->cap);
		if (s->slot[i] == NULL) {
			expr_scratch_free(s);
			return NULL;
		}
	}
	return s;
}

void
expr_scratch_free(struct expr_scratch *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < SCRATCH_SLOTS; i++)
		free(s->slot[i]);
	free(s);
}

/* Comparisons of lists and objects one evaluation may make: structural
 * equality of big values costs in proportion to their size, at worst
 * squared for objects. Past it, == is false. */
#define EXPR_WORK_MAX 100000

struct eval {
	const struct expr *e;
	struct expr_event *ev;
	struct expr_scratch *s;
	unsigned long work;
};

static void
from_json(const struct jvalue *j, struct val *v)
{
	*v = (struct val){0};
	switch (j->kind) {
	case JSCAN_STRING:
		*v = (struct val){.k = V_STR, .p = j->p, .len = j->len,
		    .escaped = j->escaped};
		break;
	case JSCAN_NUMBER:
		v->k = V_NUM;
		if (jvalue_number(j, &v->d, &v->i, &v->is_int) == -1)
			v->k = V_NULL;	/* beyond a double: compares with nothing */
		break;
	case JSCAN_OBJECT:
	case JSCAN_ARRAY:
		v->k = j->kind == JSCAN_OBJECT ? V_OBJ : V_ARR;
		v->p = j->p;
		v->len = j->len;
		break;
	case JSCAN_TRUE:
	case JSCAN_FALSE:
		v->k = V_BOOL;
		v->b = j->kind == JSCAN_TRUE;
		break;
	case JSCAN_NULL:
		break;
	}
}

void
expr_event_init(struct expr_event *ev, const char *line, size_t len,
    const struct event_view *view)
{
	ev->line = line;
	ev->len = len;
	ev->view = view;
	ev->payload = view->payload;
	ev->payload_len = view->payload_len;
	ev->index[0].n = ev->index[1].n = -1;
	ev->number[0][0] = ev->number[1][0] = '\0';
}

/* The value that starts at p and is len bytes long, known to be valid. */
static void
known_value(const char *p, size_t len, struct jvalue *v)
{
	const char *after;

	if (*p == '"') {
		*v = (struct jvalue){.kind = JSCAN_STRING, .p = p + 1, .len = len - 2,
		    .escaped = memchr(p + 1, '\\', len - 2) != NULL};
		return;
	}
	/* Scalars are short; containers end where the scan said. */
	if (*p != '{' && *p != '[') {
		if (jvalue_read(p, p + len, v, &after) == -1)
			*v = (struct jvalue){.kind = JSCAN_NULL, .p = p, .len = len};
		return;
	}
	*v = (struct jvalue){.kind = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY,
	    .p = p, .len = len};
}

static bool
from_field(const struct event_str *f, struct jvalue *out)
{
	*out = (struct jvalue){.kind = JSCAN_STRING, .p = f->p, .len = f->len,
	    .escaped = f->escaped};
	return true;
}

/* v (>= 0, as timestamps and priorities are) as JSON text in buf. */
static bool
from_number(char *buf, int64_t v, struct jvalue *out)
{
	char digits[24];
	size_t n = 0, k;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < sizeof(digits));
	for (k = 0; k < n; k++)
		buf[k] = digits[n - 1 - k];
	*out = (struct jvalue){.kind = JSCAN_NUMBER, .p = buf, .len = n};
	return true;
}

/* A routing field of the envelope, from the scan: 1 found, 0 not there,
 * -1 not a routing field (look in the line). */
static int
routing_field(struct expr_event *ev, int f, struct jvalue *out)
{
	const struct event_view *v = ev->view;

	switch (f) {
	case EVENT_F_ID: return from_field(&v->id, out);
	case EVENT_F_TYPE: return from_field(&v->type, out);
	case EVENT_F_TRACE: return from_field(&v->trace_id, out);
	case EVENT_F_SOURCE: return from_field(&v->source, out);
	case EVENT_F_SESSION: return from_field(&v->session_id, out);
	case EVENT_F_TIMESTAMP: return from_number(ev->number[0], v->timestamp, out);
	case EVENT_F_PRIORITY: return from_number(ev->number[1], v->priority, out);
	case EVENT_F_PAYLOAD:
		known_value(v->payload, v->payload_len, out);
		return 1;
	case EVENT_F_PARENT: return v->has_parent ? from_field(&v->parent_id, out) : 0;
	}
	return -1;
}

static bool
key_is(const char *raw, size_t rawlen, bool escaped, const char *key,
    size_t keylen)
{
	if (escaped)
		return jscan_string_equals(raw, rawlen, true, key);
	return rawlen == keylen && (keylen == 0 || raw[0] == key[0]) &&
	    memcmp(raw, key, keylen) == 0;
}

/* The object at text (the payload or the whole line), without scanning
 * it: valid JSON text whose extent is known already. */
static bool
top_object(const char *text, size_t len, struct jvalue *out)
{
	while (len > 0 && (*text == ' ' || *text == '\t' || *text == '\n' ||
	    *text == '\r')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
	    text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len < 2 || text[0] != '{')
		return false;
	*out = (struct jvalue){.kind = JSCAN_OBJECT, .p = text, .len = len};
	return true;
}

/* known: where a member's value of known extent starts (the payload in
 * the envelope), so that it is not scanned through; or NULL. */
static void
index_build(struct expr_index *idx, const char *text, size_t len,
    const char *known, size_t known_len)
{
	struct jvalue top, k, v;
	struct jvalue_iter it;

	idx->n = 0;
	idx->partial = false;
	if (text == NULL || !top_object(text, len, &top))
		return;
	jvalue_iter_start(&top, &it);
	while (jvalue_iter_next_known(&it, &k, &v, known, known_len)) {
		if (idx->n == EXPR_INDEX_MAX) {
			idx->partial = true;
			return;
		}
		idx->m[idx->n++] = (struct expr_member){k.p, k.len, k.escaped, v};
	}
}

/* Member key of the payload (which 0) or the envelope (which 1). */
static bool
top_member(struct expr_event *ev, int which, const struct step *st,
    struct jvalue *out)
{
	struct expr_index *idx = &ev->index[which];
	const char *text = which == 0 ? ev->payload : ev->line;
	size_t len = which == 0 ? ev->payload_len : ev->len;
	struct jvalue top;
	int rc;

	/* The envelope's routing fields are in the scan already (and are
	 * never repeated: event_scan_line refuses that). */
	if (which == 1 && (rc = routing_field(ev, st->field, out)) >= 0)
		return rc == 1;
	if (which == 1 && !ev->view->has_others)
		return false;	/* the scan saw no other member */
	if (idx->n < 0)
		index_build(idx, text, len, which == 1 ? ev->payload : NULL,
		    ev->payload_len);
	if (idx->partial)
		return top_object(text, len, &top) && jvalue_member(&top, st->key, out);
	/* From the end: of a repeated key, the last one counts. */
	for (int i = idx->n; i-- > 0;)
		if (key_is(idx->m[i].key, idx->m[i].keylen, idx->m[i].escaped,
		    st->key, st->keylen)) {
			*out = idx->m[i].value;
			return true;
		}
	return false;
}

/* Follow the path of node n: its first name in the payload, else in the
 * envelope. false when the event has no such value. */
static bool
resolve(const struct expr *e, const struct node *n, struct expr_event *ev,
    struct jvalue *out)
{
	const struct step *st = &e->steps[n->a];
	struct jvalue at;

	if (!top_member(ev, 0, &st[0], &at) && !top_member(ev, 1, &st[0], &at))
		return false;
	for (uint32_t i = 1; i < n->b; i++) {
		struct jvalue inner;

		if (st[i].key != NULL && at.p == ev->payload) {
			/* payload.NAME: through the payload's index */
			if (!top_member(ev, 0, &st[i], &inner))
				return false;
		} else if (st[i].key != NULL ? !jvalue_member(&at, st[i].key, &inner) :
		    !jvalue_element(&at, st[i].index, &inner)) {
			return false;
		}
		at = inner;
	}
	*out = at;
	return true;
}

/* A string's bytes, escapes resolved into a scratch slot when it has
 * any. false when it does not fit (it cannot, for lines within the
 * scratch's max_line). */
static bool
bytes_of(struct eval *x, const struct val *v, int slot, const char **p,
    size_t *len)
{
	long n;

	if (!v->escaped) {
		*p = v->p;
		*len = v->len;
		return true;
	}
	n = jscan_unescape(v->p, v->len, x->s->slot[slot], x->s->cap);
	if (n < 0)
		return false;
	*p = x->s->slot[slot];
	*len = (size_t)n;
	return true;
}

static void eval_node(struct eval *x, uint32_t n, struct val *out);
static bool equal(struct eval *x, const struct val *a, const struct val *b,
    int depth);

/* A walk over the elements of a JSON array or of a list written in the
 * expression. */
struct seq {
	struct jvalue_iter it;
	const uint32_t *kids;
	uint32_t left;
	bool json;
};

static void
seq_start(struct eval *x, const struct val *v, struct seq *s)
{
	s->json = v->k == V_ARR;
	if (s->json) {
		struct jvalue j = {.kind = JSCAN_ARRAY, .p = v->p, .len = v->len};

		jvalue_iter_start(&j, &s->it);
	} else {
		const struct node *n = &x->e->nodes[v->node];

		s->kids = &x->e->kids[n->a];
		s->left = n->b;
	}
}

static bool
seq_next(struct eval *x, struct seq *s, struct val *out)
{
	struct jvalue j;

	if (s->json) {
		if (!jvalue_iter_next(&s->it, NULL, &j))
			return false;
		from_json(&j, out);
		return true;
	}
	if (s->left == 0)
		return false;
	s->left--;
	eval_node(x, *s->kids++, out);
	return true;
}

static bool
equal_seq(struct eval *x, const struct val *a, const struct val *b, int depth)
{
	struct seq sa, sb;
	struct val ea, eb;
	bool more_a, more_b;

	seq_start(x, a, &sa);
	seq_start(x, b, &sb);
	for (;;) {
		more_a = seq_next(x, &sa, &ea);
		more_b = seq_next(x, &sb, &eb);
		if (!more_a || !more_b)
			return more_a == more_b;
		if (!equal(x, &ea, &eb, depth + 1))
			return false;
	}
}

/* Key k as a C string (in slot 2), or NULL when it does not fit or holds
 * a NUL. */
static const char *
key_text(struct eval *x, const struct jvalue *k)
{
	struct val kv;
	const char *key;
	size_t keylen;

	from_json(k, &kv);
	if (!bytes_of(x, &kv, 2, &key, &keylen))
		return NULL;
	if (!k->escaped) {
		if (keylen >= x->s->cap)
			return NULL;
		memcpy(x->s->slot[2], key, keylen);
		x->s->slot[2][keylen] = '\0';
	}
	/* A key with a NUL in it cannot be looked up as a C string. */
	if (memchr(x->s->slot[2], '\0', keylen) != NULL)
		return NULL;
	return x->s->slot[2];
}

/* Whether v, a member of obj under key k, is the one that counts (1)
 * or not (0): of a repeated key, the last counts. -1: the work budget is
 * spent, or the key does not fit. Sets *key to its text. */
static int
member_counts(struct eval *x, const struct jvalue *obj, size_t members,
    const struct jvalue *k, const struct jvalue *v, const char **key)
{
	struct jvalue last;

	/* Each lookup walks the object: that is the work to count. */
	x->work += members;
	if (x->work > EXPR_WORK_MAX || (*key = key_text(x, k)) == NULL)
		return -1;
	return jvalue_member(obj, *key, &last) && last.p == v->p;
}

/* Objects are equal when they have the same keys with equal values; of
 * a repeated key, the last counts (as for a path). */
static bool
equal_object(struct eval *x, const struct val *a, const struct val *b,
    int depth)
{
	struct jvalue ja = {.kind = JSCAN_OBJECT, .p = a->p, .len = a->len};
	struct jvalue jb = {.kind = JSCAN_OBJECT, .p = b->p, .len = b->len};
	struct jvalue_iter it;
	struct jvalue k, va, vb;
	size_t ma = 0, mb = 0, na = 0, nb = 0;
	struct val xa, xb;
	const char *key;
	int c;

	jvalue_iter_start(&ja, &it);
	while (jvalue_iter_next(&it, NULL, &va))
		ma++;
	jvalue_iter_start(&jb, &it);
	while (jvalue_iter_next(&it, NULL, &vb))
		mb++;
	/* The keys of b that count. */
	jvalue_iter_start(&jb, &it);
	while (jvalue_iter_next(&it, &k, &vb)) {
		if ((c = member_counts(x, &jb, mb, &k, &vb, &key)) == -1)
			return false;
		nb += (size_t)c;
	}
	jvalue_iter_start(&ja, &it);
	while (jvalue_iter_next(&it, &k, &va)) {
		if ((c = member_counts(x, &ja, ma, &k, &va, &key)) == -1)
			return false;
		if (c == 0)
			continue;
		na++;
		x->work += mb;
		if (x->work > EXPR_WORK_MAX || !jvalue_member(&jb, key, &vb))
			return false;
		from_json(&va, &xa);
		from_json(&vb, &xb);
		if (!equal(x, &xa, &xb, depth + 1))
			return false;
	}
	return na == nb;
}

static bool
equal(struct eval *x, const struct val *a, const struct val *b, int depth)
{
	const char *pa, *pb;
	size_t la, lb;

	if (depth > 2 * JSCAN_MAX_DEPTH || ++x->work > EXPR_WORK_MAX)
		return false;
	if ((a->k == V_ARR || a->k == V_LIST) && (b->k == V_ARR || b->k == V_LIST))
		return equal_seq(x, a, b, depth);
	if (a->k != b->k)
		return false;
	switch (a->k) {
	case V_NULL:
		return true;
	case V_BOOL:
		return a->b == b->b;
	case V_NUM:
		if (a->is_int && b->is_int)
			return a->i == b->i;
		return a->d == b->d;
	case V_STR:
		return bytes_of(x, a, 0, &pa, &la) && bytes_of(x, b, 1, &pb, &lb) &&
		    la == lb && memcmp(pa, pb, la) == 0;
	case V_OBJ:
		return equal_object(x, a, b, depth);
	default:
		return false;
	}
}

/* -1, 0, 1; or 2 when a and b do not compare (a type mismatch). */
static int
order(struct eval *x, const struct val *a, const struct val *b)
{
	const char *pa, *pb;
	size_t la, lb;
	int c;

	if (a->k == V_NUM && b->k == V_NUM) {
		if (a->is_int && b->is_int)
			return (a->i > b->i) - (a->i < b->i);
		if (isnan(a->d) || isnan(b->d))
			return 2;
		return (a->d > b->d) - (a->d < b->d);
	}
	if (a->k != V_STR || b->k != V_STR)
		return 2;
	if (!bytes_of(x, a, 0, &pa, &la) || !bytes_of(x, b, 1, &pb, &lb))
		return 2;
	c = memcmp(pa, pb, la < lb ? la : lb);
	if (c == 0)
		return (la > lb) - (la < lb);
	return c < 0 ? -1 : 1;
}

/* Whether needle is in hay: an element of a list, a member name of an
 * object, a part of a string. */
static bool
is_in(struct eval *x, const struct val *needle, const struct val *hay)
{
	const char *pn, *ph;
	size_t ln, lh;
	struct seq s;
	struct val el;

	switch (hay->k) {
	case V_ARR:
	case V_LIST:
		seq_start(x, hay, &s);
		while (seq_next(x, &s, &el))
			if (equal(x, needle, &el, 0))
				return true;
		return false;
	case V_STR:
		if (needle->k != V_STR || !bytes_of(x, needle, 0, &pn, &ln) ||
		    !bytes_of(x, hay, 1, &ph, &lh))
			return false;
		return ln == 0 || memmem(ph, lh, pn, ln) != NULL;
	case V_OBJ: {
		struct jvalue obj = {.kind = JSCAN_OBJECT, .p = hay->p, .len = hay->len};
		struct jvalue found;

		if (needle->k != V_STR || !bytes_of(x, needle, 0, &pn, &ln) ||
		    ln >= x->s->cap)
			return false;
		if (pn != x->s->slot[0])
			memcpy(x->s->slot[0], pn, ln);
		x->s->slot[0][ln] = '\0';
		return jvalue_member(&obj, x->s->slot[0], &found);
	}
	default:
		return false;
	}
}

static bool
affix(struct eval *x, const struct val *s, const struct val *part, bool end)
{
	const char *ps, *pp;
	size_t ls, lp;

	if (s->k != V_STR || part->k != V_STR || !bytes_of(x, s, 0, &ps, &ls) ||
	    !bytes_of(x, part, 1, &pp, &lp) || lp > ls)
		return false;
	return memcmp(end ? ps + ls - lp : ps, pp, lp) == 0;
}

static bool
matches(struct eval *x, const struct val *s, const regex_t *re)
{
	regmatch_t m[1];
	const char *p;
	size_t len;

	if (s->k != V_STR || !bytes_of(x, s, 0, &p, &len) || len > EXPR_MATCH_MAX)
		return false;
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	return regexec(re, p, 1, m, REG_STARTEND) == 0;
}

static bool
truthy(const struct val *v)
{
	return v->k == V_BOOL ? v->b : v->k != V_NULL;
}

static void
eval_node(struct eval *x, uint32_t i, struct val *out)
{
	const struct node *n = &x->e->nodes[i];
	struct val a, b;
	struct jvalue j;
	int c;

	switch (n->op) {
	case OP_LIT:
		*out = x->e->lits[n->a];
		return;
	case OP_PATH:
		if (resolve(x->e, n, x->ev, &j))
			from_json(&j, out);
		else
			*out = (struct val){.k = V_NULL};
		return;
	case OP_LIST:
		*out = (struct val){.k = V_LIST, .node = i};
		return;
	case OP_EXISTS:
		*out = (struct val){.k = V_BOOL,
		    .b = resolve(x->e, &x->e->nodes[n->a], x->ev, &j)};
		return;
	default:
		break;
	}
	*out = (struct val){.k = V_BOOL};
	eval_node(x, n->a, &a);
	switch (n->op) {
	case OP_NOT:
		out->b = !truthy(&a);
		return;
	case OP_AND:
		if (truthy(&a)) {
			eval_node(x, n->b, &b);
			out->b = truthy(&b);
		}
		return;
	case OP_OR:
		out->b = truthy(&a);
		if (!out->b) {
			eval_node(x, n->b, &b);
			out->b = truthy(&b);
		}
		return;
	case OP_MATCHES:
		out->b = matches(x, &a, &x->e->res[n->b]);
		return;
	default:
		break;
	}
	eval_node(x, n->b, &b);
	switch (n->op) {
	case OP_EQ: out->b = equal(x, &a, &b, 0); break;
	case OP_NE: out->b = !equal(x, &a, &b, 0); break;
	case OP_LT: c = order(x, &a, &b); out->b = c == -1; break;
	case OP_LE: c = order(x, &a, &b); out->b = c == -1 || c == 0; break;
	case OP_GT: c = order(x, &a, &b); out->b = c == 1; break;
	case OP_GE: c = order(x, &a, &b); out->b = c == 1 || c == 0; break;
	case OP_IN: out->b = is_in(x, &a, &b); break;
	case OP_CONTAINS: out->b = is_in(x, &b, &a); break;
	case OP_STARTS: out->b = affix(x, &a, &b, false); break;
	case OP_ENDS: out->b = affix(x, &a, &b, true); break;
	default: break;
	}
}

bool
expr_eval(const struct expr *e, struct expr_event *ev,
    struct expr_scratch *s)
{
	struct eval x = {e, ev, s, 0};
	struct val v;

	eval_node(&x, e->root, &v);
	return truthy(&v);
}

bool
expr_is_path(const struct expr *e)
{
	return e->nodes[e->root].op == OP_PATH;
}

bool
expr_path_value(const struct expr *e, struct expr_event *ev,
    struct jvalue *out)
{
	return expr_is_path(e) && resolve(e, &e->nodes[e->root], ev, out);
}

void
expr_each_path(const struct expr *e, struct expr_event *ev,
    expr_path_fn *fn, void *ctx)
{
	char path[512];

	for (size_t i = 0; i < e->nnodes; i++) {
		const struct node *n = &e->nodes[i];
		const struct step *st;
		struct jvalue j;
		size_t len = 0;

		if (n->op != OP_PATH)
			continue;
		st = &e->steps[n->a];
		path[0] = '\0';
		for (uint32_t k = 0; k < n->b && len < sizeof(path); k++) {
			if (st[k].key == NULL)
				len += (size_t)snprintf(path + len, sizeof(path) - len,
				    "[%zu]", st[k].index);
			else if (k > 0 && strspn(st[k].key, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(st[k].key))
				len += (size_t)snprintf(path + len, sizeof(path) - len,
				    "['%s']", st[k].key);
			else
				len += (size_t)snprintf(path + len, sizeof(path) - len,
				    "%s%s", k > 0 ? "." : "", st[k].key);
		}
		if (resolve(e, n, ev, &j)) {
			if (j.kind == JSCAN_STRING)
				fn(ctx, path, j.p - 1, j.len + 2);
			else
				fn(ctx, path, j.p, j.len);
		} else {
			fn(ctx, path, NULL, 0);
		}
	}
}
