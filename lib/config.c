/* Configuration loading and validation: see config.h. The doc owns its
 * tree, its table of places and a key arena; each json_t * handed out is
 * borrowed from it, and the loader's own references die before return. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* ---- positions --------------------------------------------------------- */

/* One node's place: reachable by its own pointer (not for the true, false
 * and null singletons) and by its slot, (parent, key) or (parent, index). */
struct pos_entry {
	const json_t *parent;	/* NULL for the root */
	const json_t *node;
	const char *key;	/* in the key arena; NULL for elements, root */
	size_t idx;
	int line, col, key_line, key_col;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
};

struct config_doc {
	char *name;
	json_t *root;
	struct pos_entry *pos;
	size_t npos, pos_cap;
	uint32_t *by_node;	/* entry index + 1; 0 is empty */
	uint32_t *by_slot;
	size_t table_cap;	/* a power of two, at least twice npos */
	struct arena_chunk *arena;
};

static size_t
hash_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t
hash_slot(const json_t *parent, const char *key, size_t idx)
{
	size_t h = hash_ptr(parent);

	if (key == NULL)
		return h ^ hash_ptr((const void *)(uintptr_t)(idx + 1));
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h;
}

static bool
node_has_identity(const json_t *node)
{
	return node != NULL && !json_is_true(node) && !json_is_false(node) &&
	    !json_is_null(node);
}

static bool
slot_matches(const struct pos_entry *e, const json_t *parent, const char *key,
    size_t idx)
{
	if (e->parent != parent)
		return false;
	if (key == NULL)
		return e->key == NULL && e->idx == idx;
	return e->key != NULL && strcmp(e->key, key) == 0;
}

static void
table_insert(struct config_doc *doc, uint32_t i)
{
	const struct pos_entry *e = &doc->pos[i];
	size_t mask = doc->table_cap - 1, h;

	if (node_has_identity(e->node)) {
		for (h = hash_ptr(e->node) & mask; doc->by_node[h];
		    h = (h + 1) & mask)
			;
		doc->by_node[h] = i + 1;
	}
	for (h = hash_slot(e->parent, e->key, e->idx) & mask; doc->by_slot[h];
	    h = (h + 1) & mask)
		;
	doc->by_slot[h] = i + 1;
}

static int
table_grow(struct config_doc *doc)
{
	size_t cap = doc->table_cap ? doc->table_cap * 2 : 256;
	uint32_t *a = calloc(cap, sizeof *a), *b = calloc(cap, sizeof *b);

	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -1;
	}
	free(doc->by_node);
	free(doc->by_slot);
	doc->by_node = a;
	doc->by_slot = b;
	doc->table_cap = cap;
	for (size_t i = 0; i < doc->npos; i++)
		table_insert(doc, (uint32_t)i);
	return 0;
}

static const char *
arena_strdup(struct config_doc *doc, const char *s)
{
	size_t len = strlen(s) + 1;
	struct arena_chunk *c = doc->arena;
	char *p;

	if (c == NULL || c->cap - c->used < len) {
		size_t cap = len > 16384 ? len : 16384;

		c = malloc(sizeof *c + cap);
		if (c == NULL)
			return NULL;
		c->next = doc->arena;
		c->used = 0;
		c->cap = cap;
		doc->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	c->used += len;
	return p;
}

static int
pos_add(struct config_doc *doc, const struct pos_entry *e)
{
	struct pos_entry *v;

	if (doc->npos == doc->pos_cap) {
		size_t cap = doc->pos_cap ? doc->pos_cap * 2 : 128;

		v = realloc(doc->pos, cap * sizeof *v);
		if (v == NULL)
			return -1;
		doc->pos = v;
		doc->pos_cap = cap;
	}
	v = &doc->pos[doc->npos];
	*v = *e;
	if (e->key != NULL && (v->key = arena_strdup(doc, e->key)) == NULL)
		return -1;
	doc->npos++;
	if (doc->npos * 2 > doc->table_cap)
		return table_grow(doc);
	table_insert(doc, (uint32_t)(doc->npos - 1));
	return 0;
}

static const struct pos_entry *
pos_by_node(const struct config_doc *doc, const json_t *node)
{
	size_t mask, h;

	if (doc == NULL || doc->table_cap == 0 || !node_has_identity(node))
		return NULL;
	mask = doc->table_cap - 1;
	for (h = hash_ptr(node) & mask; doc->by_node[h]; h = (h + 1) & mask)
		if (doc->pos[doc->by_node[h] - 1].node == node)
			return &doc->pos[doc->by_node[h] - 1];
	return NULL;
}

static const struct pos_entry *
pos_by_slot(const struct config_doc *doc, const json_t *parent, const char *key,
    size_t idx)
{
	size_t mask, h;

	if (doc == NULL || doc->table_cap == 0 || parent == NULL)
		return NULL;
	mask = doc->table_cap - 1;
	for (h = hash_slot(parent, key, idx) & mask; doc->by_slot[h];
	    h = (h + 1) & mask)
		if (slot_matches(&doc->pos[doc->by_slot[h] - 1], parent, key, idx))
			return &doc->pos[doc->by_slot[h] - 1];
	return NULL;
}

int
config_where(const struct config_doc *doc, const json_t *node, int *line,
    int *col)
{
	const struct pos_entry *e = pos_by_node(doc, node);

	if (e == NULL)
		return -1;
	*line = e->line;
	*col = e->col;
	return 0;
}

int
config_where_member(const struct config_doc *doc, const json_t *object,
    const char *key, int *line, int *col)
{
	const struct pos_entry *e = key ? pos_by_slot(doc, object, key, 0) : NULL;

	if (e == NULL || json_object_get(object, key) != e->node)
		return -1;
	*line = e->line;
	*col = e->col;
	return 0;
}

int
config_where_key(const struct config_doc *doc, const json_t *object,
    const char *key, int *line, int *col)
{
	const struct pos_entry *e = key ? pos_by_slot(doc, object, key, 0) : NULL;

	if (e == NULL || json_object_get(object, key) == NULL)
		return -1;
	*line = e->key_line;
	*col = e->key_col;
	return 0;
}

int
config_where_element(const struct config_doc *doc, const json_t *array,
    size_t index, int *line, int *col)
{
	const struct pos_entry *e = pos_by_slot(doc, array, NULL, index);

	if (e == NULL || json_array_get(array, index) != e->node)
		return -1;
	*line = e->line;
	*col = e->col;
	return 0;
}

void
config_doc_free(struct config_doc *doc)
{
	struct arena_chunk *c, *next;

	if (doc == NULL)
		return;
	json_decref(doc->root);
	for (c = doc->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(doc->pos);
	free(doc->by_node);
	free(doc->by_slot);
	free(doc->name);
	free(doc);
}

json_t *
config_root(const struct config_doc *doc)
{
	return doc->root;
}

const char *
config_name(const struct config_doc *doc)
{
	return doc->name;
}

/* ---- the loader: libyaml events to a jansson tree ----------------------- */

struct anchor {
	json_t *node;		/* a reference of the loader's own */
	size_t nodes, bytes;	/* what a copy costs */
	int height;		/* levels of nesting below it */
};

/* An open list or object. */
struct frame {
	json_t *node;		/* a reference of the loader's own */
	char *anchor;		/* registered when the container closes */
	int line, col;
	size_t nodes_before, bytes_before;
	int height;		/* of its tallest child so far, plus one */
	char *key;		/* objects: the key waiting for its value */
	int key_line, key_col;
};

struct loader {
	struct config_doc *doc;
	struct starry_err *err;
	struct frame *stack;
	size_t depth, stack_cap;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	json_t *anchor_index;	/* name -> index into anchors */
	size_t nodes, bytes, alias_nodes, alias_bytes;
	int documents;
	bool root_is_empty_scalar;
};

static int
load_fail(struct loader *ld, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
load_fail(struct loader *ld, int line, int col, const char *fmt, ...)
{
	char msg[sizeof ld->err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return starry_err_set(ld->err, EX_CONFIG, "%s:%d:%d: %s", ld->doc->name,
	    line, col, msg);
}

static int
load_nomem(struct loader *ld)
{
	return starry_err_set(ld->err, EX_OSERR, "%s: out of memory",
	    ld->doc->name);
}

static int
mark_line(const yaml_mark_t *m)
{
	return m->line >= INT32_MAX ? INT32_MAX : (int)m->line + 1;
}

static int
mark_col(const yaml_mark_t *m)
{
	return m->column >= INT32_MAX ? INT32_MAX : (int)m->column + 1;
}

/* "!!int" for the standard tags, the tag itself otherwise. */
static void
tag_display(const char *tag, char *buf, size_t size)
{
	size_t n = strlen(YAML_TAG_PREFIX);

	if (strncmp(tag, YAML_TAG_PREFIX, n) == 0)
		snprintf(buf, size, "!!%.64s", tag + n);
	else
		snprintf(buf, size, "%.64s", tag);
}

static bool
tag_is(const char *tag, const char *name)
{
	size_t n = strlen(YAML_TAG_PREFIX);

	return strncmp(tag, YAML_TAG_PREFIX, n) == 0 && strcmp(tag + n, name) == 0;
}

static bool
all_chars(const char *s, const char *set)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

static bool
is_core_float(const char *s)
{
	bool digits = false;

	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char)*s)) {
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		if (!digits && !isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s)) {
			s++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

enum scalar_kind { K_NULL, K_BOOL, K_INT, K_FLOAT, K_SPECIAL_FLOAT, K_STRING };

/* The YAML 1.2 core schema's reading of a plain scalar. */
static enum scalar_kind
core_kind(const char *s)
{
	const char *u = (*s == '+' || *s == '-') ? s + 1 : s;

	if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return K_NULL;
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return K_BOOL;
	if (all_chars(u, "0123456789") ||
	    (strncmp(s, "0o", 2) == 0 && all_chars(s + 2, "01234567")) ||
	    (strncmp(s, "0x", 2) == 0 && all_chars(s + 2, "0123456789abcdefABCDEF")))
		return K_INT;
	if (strcmp(u, ".inf") == 0 || strcmp(u, ".Inf") == 0 ||
	    strcmp(u, ".INF") == 0 || strcmp(s, ".nan") == 0 ||
	    strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
		return K_SPECIAL_FLOAT;
	if (is_core_float(s))
		return K_FLOAT;
	return K_STRING;
}

static int
scalar_int(struct loader *ld, const char *s, int line, int col, json_t **out)
{
	unsigned long long u;
	long long v;
	char *end;

	errno = 0;
	if (strncmp(s, "0o", 2) == 0 || strncmp(s, "0x", 2) == 0) {
		u = strtoull(s + 2, &end, s[1] == 'o' ? 8 : 16);
		if (errno == ERANGE || u > INT64_MAX)
			goto range;
		v = (long long)u;
	} else {
		v = strtoll(s, &end, 10);
		if (errno == ERANGE)
			goto range;
	}
	*out = json_integer(v);
	return *out ? 0 : load_nomem(ld);
range:
	return load_fail(ld, line, col,
	    "integer out of range (a 64-bit signed integer): %.64s", s);
}

static int
scalar_float(struct loader *ld, const char *s, int line, int col, json_t **out)
{
	double d;

	errno = 0;
	d = strtod(s, NULL);
	if (!isfinite(d) || (errno == ERANGE && fabs(d) > 1.0))
		return load_fail(ld, line, col, "number out of range: %.64s", s);
	*out = json_real(d);
	return *out ? 0 : load_nomem(ld);
}

/* Make the node for a scalar event. */
static int
scalar_node(struct loader *ld, const yaml_event_t *ev, json_t **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	int line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	enum scalar_kind kind;
	char shown[80];

	if (strlen(s) != ev->data.scalar.length)
		return load_fail(ld, line, col,
		    "a NUL character in a string is not supported");
	if (tag == NULL)
		kind = plain ? core_kind(s) : K_STRING;
	else if (strcmp(tag, "!") == 0 || tag_is(tag, "str"))
		kind = K_STRING;
	else if (tag_is(tag, "null") || tag_is(tag, "bool") ||
	    tag_is(tag, "int") || tag_is(tag, "float")) {
		kind = core_kind(s);
		if (tag_is(tag, "float") && kind == K_INT)
			kind = K_FLOAT;
		tag_display(tag, shown, sizeof shown);
		if ((tag_is(tag, "null") && kind != K_NULL) ||
		    (tag_is(tag, "bool") && kind != K_BOOL) ||
		    (tag_is(tag, "int") && kind != K_INT) ||
		    (tag_is(tag, "float") && kind != K_FLOAT &&
		    kind != K_SPECIAL_FLOAT))
			return load_fail(ld, line, col, "'%.64s' is not a valid %s",
			    s, shown);
	} else {
		tag_display(tag, shown, sizeof shown);
		return load_fail(ld, line, col, "unsupported tag '%s'", shown);
	}

	switch (kind) {
	case K_NULL:
		*out = json_null();
		return 0;
	case K_BOOL:
		*out = json_boolean(s[0] == 't' || s[0] == 'T');
		return 0;
	case K_INT:
		return scalar_int(ld, s, line, col, out);
	case K_FLOAT:
		return scalar_float(ld, s, line, col, out);
	case K_SPECIAL_FLOAT:
		return load_fail(ld, line, col,
		    "'%s' is not supported: JSON has no infinity or NaN", s);
	case K_STRING:
		break;
	}
	*out = json_stringn(s, ev->data.scalar.length);
	if (*out == NULL)
		return load_fail(ld, line, col, "invalid UTF-8 in a string");
	ld->bytes += ev->data.scalar.length;
	return 0;
}

static int
count_node(struct loader *ld, int line, int col)
{
	if (++ld->nodes > CONFIG_MAX_NODES)
		return load_fail(ld, line, col,
		    "document has more than %u nodes", CONFIG_MAX_NODES);
	return 0;
}

static struct frame *
top(struct loader *ld)
{
	return ld->depth ? &ld->stack[ld->depth - 1] : NULL;
}

static int
anchor_register(struct loader *ld, const char *name, json_t *node,
    size_t nodes, size_t bytes, int height)
{
	struct anchor *a;
	json_t *idx;

	if (ld->nanchors == ld->anchors_cap) {
		size_t cap = ld->anchors_cap ? ld->anchors_cap * 2 : 16;

		a = realloc(ld->anchors, cap * sizeof *a);
		if (a == NULL)
			return load_nomem(ld);
		ld->anchors = a;
		ld->anchors_cap = cap;
	}
	idx = json_integer((json_int_t)ld->nanchors);
	if (idx == NULL || json_object_set_new(ld->anchor_index, name, idx) < 0)
		return load_nomem(ld);
	a = &ld->anchors[ld->nanchors++];
	a->node = json_incref(node);
	a->nodes = nodes;
	a->bytes = bytes;
	a->height = height;
	return 0;
}

/* Put a finished node into the open container (or make it the root),
 * taking the caller's reference. height is that of the node itself. */
static int
attach(struct loader *ld, json_t *node, int line, int col, int height)
{
	struct frame *f = top(ld);
	struct pos_entry e = { .node = node, .line = line, .col = col };

	if (f == NULL) {
		ld->doc->root = node;
		if (pos_add(ld->doc, &e) < 0)
			return load_nomem(ld);
		return 0;
	}
	e.parent = f->node;
	if (height + 1 > f->height)
		f->height = height + 1;
	if (json_is_array(f->node)) {
		e.idx = json_array_size(f->node);
		if (json_array_append_new(f->node, node) < 0)
			return load_nomem(ld);
	} else {
		e.key = f->key;
		e.key_line = f->key_line;
		e.key_col = f->key_col;
		if (json_object_set_new(f->node, f->key, node) < 0)
			return load_fail(ld, f->key_line, f->key_col,
			    "invalid key '%.64s'", f->key);
	}
	if (pos_add(ld->doc, &e) < 0)
		return load_nomem(ld);
	free(f->key);
	f->key = NULL;
	return 0;
}

/* An object is waiting for a key: take this text as it. */
static int
take_key(struct loader *ld, const char *key, size_t len, int line, int col)
{
	struct frame *f = top(ld);
	int fl, fc;

	if (strlen(key) != len)
		return load_fail(ld, line, col,
		    "a NUL character in a key is not supported");
	if (json_object_get(f->node, key) != NULL) {
		if (config_where_key(ld->doc, f->node, key, &fl, &fc) < 0)
			fl = fc = 0;
		return load_fail(ld, line, col,
		    "duplicate key '%.64s' (first at %d:%d)", key, fl, fc);
	}
	if ((f->key = strdup(key)) == NULL)
		return load_nomem(ld);
	f->key_line = line;
	f->key_col = col;
	ld->bytes += len;
	return 0;
}

static bool
wants_key(struct loader *ld)
{
	struct frame *f = top(ld);

	return f != NULL && json_is_object(f->node) && f->key == NULL;
}

static int
on_scalar(struct loader *ld, const yaml_event_t *ev)
{
	int line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
	const char *anchor = (const char *)ev->data.scalar.anchor;
	size_t bytes_before = ld->bytes;
	json_t *node;

	if (count_node(ld, line, col) < 0)
		return -1;
	if (wants_key(ld)) {
		/* A key is its text, but a tag on it must still be one we know
		 * and fit the text. */
		if (ev->data.scalar.tag != NULL) {
			if (scalar_node(ld, ev, &node) < 0)
				return -1;
			json_decref(node);
			ld->bytes = bytes_before;
		}
		if (take_key(ld, (const char *)ev->data.scalar.value,
		    ev->data.scalar.length, line, col) < 0)
			return -1;
		if (anchor == NULL)
			return 0;
		node = json_stringn((const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
		if (node == NULL)
			return load_fail(ld, line, col, "invalid UTF-8 in a key");
		if (anchor_register(ld, anchor, node, 1,
		    ld->bytes - bytes_before, 0) < 0) {
			json_decref(node);
			return -1;
		}
		json_decref(node);
		return 0;
	}
	if (scalar_node(ld, ev, &node) < 0)
		return -1;
	if (ld->depth == 0 && json_is_null(node) && ev->data.scalar.length == 0 &&
	    ev->data.scalar.tag == NULL)
		ld->root_is_empty_scalar = true;
	if (anchor != NULL && anchor_register(ld, anchor, node, 1,
	    ld->bytes - bytes_before, 0) < 0) {
		json_decref(node);
		return -1;
	}
	return attach(ld, node, line, col, 0);
}

static int
on_start(struct loader *ld, const yaml_event_t *ev, bool is_map)
{
	int line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag :
	    ev->data.sequence_start.tag);
	const char *anchor = (const char *)(is_map ?
	    ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
	struct frame *f;
	char shown[80];

	if (wants_key(ld))
		return load_fail(ld, line, col,
		    "a list or object as a key is not supported");
	if (tag != NULL && strcmp(tag, "!") != 0 &&
	    !tag_is(tag, is_map ? "map" : "seq")) {
		tag_display(tag, shown, sizeof shown);
		return load_fail(ld, line, col, "unsupported tag '%s'", shown);
	}
	if (ld->depth + 1 > CONFIG_MAX_DEPTH)
		return load_fail(ld, line, col,
		    "nested more than %d levels deep", CONFIG_MAX_DEPTH);
	if (count_node(ld, line, col) < 0)
		return -1;
	if (ld->depth == ld->stack_cap) {
		size_t cap = ld->stack_cap ? ld->stack_cap * 2 : 16;

		f = realloc(ld->stack, cap * sizeof *f);
		if (f == NULL)
			return load_nomem(ld);
		ld->stack = f;
		ld->stack_cap = cap;
	}
	f = &ld->stack[ld->depth];
	memset(f, 0, sizeof *f);
	f->node = is_map ? json_object() : json_array();
	if (f->node == NULL)
		return load_nomem(ld);
	ld->depth++;
	f->line = line;
	f->col = col;
	f->nodes_before = ld->nodes - 1;
	f->bytes_before = ld->bytes;
	f->height = 1;
	if (anchor != NULL && (f->anchor = strdup(anchor)) == NULL)
		return load_nomem(ld);
	return 0;
}

static int
on_end(struct loader *ld)
{
	struct frame f = ld->stack[--ld->depth];
	int rc = 0;

	if (f.anchor != NULL)
		rc = anchor_register(ld, f.anchor, f.node,
		    ld->nodes - f.nodes_before, ld->bytes - f.bytes_before,
		    f.height);
	free(f.anchor);
	free(f.key);
	if (rc < 0) {
		json_decref(f.node);
		return -1;
	}
	return attach(ld, f.node, f.line, f.col, f.height);
}

/* A copy of an anchored node for an alias; the copy's descendants keep the
 * places of the originals. Depth is bounded by CONFIG_MAX_DEPTH. */
static json_t *
copy_node(struct loader *ld, const json_t *src)
{
	const struct pos_entry *p;
	struct pos_entry e;
	json_t *dst, *c;
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(src) && !json_is_array(src))
		return json_copy((json_t *)src);
	dst = json_is_object(src) ? json_object() : json_array();
	if (dst == NULL)
		return NULL;
	if (json_is_object(src)) {
		json_object_foreach((json_t *)src, key, v) {
			if ((c = copy_node(ld, v)) == NULL ||
			    json_object_set_new(dst, key, c) < 0)
				goto fail;
			p = pos_by_slot(ld->doc, src, key, 0);
			if (p == NULL)
				continue;
			e = *p;
			e.parent = dst;
			e.node = c;
			if (pos_add(ld->doc, &e) < 0)
				goto fail;
		}
		return dst;
	}
	json_array_foreach((json_t *)src, i, v) {
		if ((c = copy_node(ld, v)) == NULL ||
		    json_array_append_new(dst, c) < 0)
			goto fail;
		p = pos_by_slot(ld->doc, src, NULL, i);
		if (p == NULL)
			continue;
		e = *p;
		e.parent = dst;
		e.node = c;
		if (pos_add(ld->doc, &e) < 0)
			goto fail;
	}
	return dst;
fail:
	json_decref(dst);
	return NULL;
}

static int
on_alias(struct loader *ld, const yaml_event_t *ev)
{
	int line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
	const char *name = (const char *)ev->data.alias.anchor;
	json_t *idx = json_object_get(ld->anchor_index, name);
	const struct anchor *a;
	json_t *node;

	if (idx == NULL)
		return load_fail(ld, line, col, "undefined alias '*%.64s'", name);
	a = &ld->anchors[json_integer_value(idx)];
	if (wants_key(ld)) {
		if (!json_is_string(a->node))
			return load_fail(ld, line, col,
			    "a list or object as a key is not supported");
		return take_key(ld, json_string_value(a->node),
		    json_string_length(a->node), line, col);
	}
	if (ld->alias_nodes + a->nodes > CONFIG_MAX_ALIAS_NODES ||
	    ld->alias_bytes + a->bytes > CONFIG_MAX_ALIAS_BYTES)
		return load_fail(ld, line, col,
		    "alias '*%.64s' expands past the limit of %u nodes or %u bytes "
		    "copied for aliases", name, CONFIG_MAX_ALIAS_NODES,
		    CONFIG_MAX_ALIAS_BYTES);
	if (ld->nodes + a->nodes > CONFIG_MAX_NODES)
		return load_fail(ld, line, col,
		    "document has more than %u nodes", CONFIG_MAX_NODES);
	if (ld->depth + (size_t)a->height > CONFIG_MAX_DEPTH)
		return load_fail(ld, line, col,
		    "nested more than %d levels deep", CONFIG_MAX_DEPTH);
	ld->alias_nodes += a->nodes;
	ld->alias_bytes += a->bytes;
	ld->nodes += a->nodes;
	ld->bytes += a->bytes;
	if ((node = copy_node(ld, a->node)) == NULL)
		return load_nomem(ld);
	return attach(ld, node, line, col, a->height);
}

static int
on_event(struct loader *ld, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (ld->documents++ > 0)
			return load_fail(ld, mark_line(&ev->start_mark),
			    mark_col(&ev->start_mark),
			    "more than one document; a configuration file "
			    "holds one");
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(ld, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(ld, ev, false);
	case YAML_MAPPING_START_EVENT:
		return on_start(ld, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(ld);
	case YAML_ALIAS_EVENT:
		return on_alias(ld, ev);
	default:
		return 0;
	}
}

/* A libyaml error as "NAME:LINE:COL: problem (context at L:C)". */
static int
parser_fail(struct loader *ld, const yaml_parser_t *p, const char *buf,
    size_t len)
{
	int line = mark_line(&p->problem_mark), col = mark_col(&p->problem_mark);
	const char *problem = p->problem ? p->problem : "syntax error";

	if (p->error == YAML_MEMORY_ERROR)
		return load_nomem(ld);
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset < len ? p->problem_offset : len;

		line = col = 1;
		for (size_t i = 0; i < off; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		return load_fail(ld, line, col, "%s", problem);
	}
	if (p->context != NULL)
		return load_fail(ld, line, col, "%s (%s at %d:%d)", problem,
		    p->context, mark_line(&p->context_mark),
		    mark_col(&p->context_mark));
	return load_fail(ld, line, col, "%s", problem);
}

static void
loader_cleanup(struct loader *ld)
{
	while (ld->depth > 0) {
		struct frame *f = &ld->stack[--ld->depth];

		json_decref(f->node);
		free(f->anchor);
		free(f->key);
	}
	free(ld->stack);
	for (size_t i = 0; i < ld->nanchors; i++)
		json_decref(ld->anchors[i].node);
	free(ld->anchors);
	json_decref(ld->anchor_index);
}

static int
load_events(struct loader *ld, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return load_nomem(ld);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parser_fail(ld, &parser, buf, len);
			break;
		}
		rc = on_event(ld, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config_doc **docp, struct starry_err *err)
{
	struct loader ld = { .err = err };
	struct pos_entry root = { .line = 1, .col = 1 };
	struct config_doc *doc;
	int rc;

	*docp = NULL;
	if (len > CONFIG_MAX_BYTES)
		return starry_err_set(err, EX_CONFIG,
		    "%s: larger than the limit of %u MiB for a configuration file",
		    name, CONFIG_MAX_BYTES >> 20);
	if ((doc = calloc(1, sizeof *doc)) == NULL ||
	    (doc->name = strdup(name)) == NULL ||
	    (ld.anchor_index = json_object()) == NULL) {
		if (doc != NULL)
			free(doc->name);
		free(doc);
		return starry_err_set(err, EX_OSERR, "%s: out of memory", name);
	}
	ld.doc = doc;
	rc = load_events(&ld, buf, len);
	loader_cleanup(&ld);
	if (rc == 0 && (doc->root == NULL || ld.root_is_empty_scalar)) {
		/* No document, or nothing in it: an empty configuration. */
		json_decref(doc->root);
		doc->npos = 0;
		if (doc->table_cap) {
			memset(doc->by_node, 0, doc->table_cap * sizeof(uint32_t));
			memset(doc->by_slot, 0, doc->table_cap * sizeof(uint32_t));
		}
		root.node = doc->root = json_object();
		if (doc->root == NULL || pos_add(doc, &root) < 0)
			rc = starry_err_set(err, EX_OSERR, "%s: out of memory", name);
	}
	if (rc < 0) {
		config_doc_free(doc);
		return -1;
	}
	*docp = doc;
	return 0;
}

int
config_load_file(const char *path, struct config_doc **doc,
    struct starry_err *err)
{
	size_t cap = 65536, len = 0;
	char *buf = NULL, *nbuf;
	ssize_t n;
	int fd, rc;

	*doc = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return starry_err_sys(err, EX_NOINPUT, "%s", path);
	for (;;) {
		if (len == cap || buf == NULL) {
			if (buf != NULL)
				cap *= 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				rc = starry_err_set(err, EX_OSERR,
				    "%s: out of memory", path);
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = starry_err_sys(err, EX_NOINPUT, "%s", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_BYTES) {
			rc = starry_err_set(err, EX_CONFIG,
			    "%s: larger than the limit of %u MiB for a "
			    "configuration file", path, CONFIG_MAX_BYTES >> 20);
			goto out;
		}
	}
	rc = config_load_buffer(path, buf, len, doc, err);
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- scopes and validation ---------------------------------------------- */

static void
path_set(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
path_set(char *dst, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, CONFIG_PATH_MAX, fmt, ap);
	va_end(ap);
	if (n >= CONFIG_PATH_MAX)
		memcpy(dst + CONFIG_PATH_MAX - 4, "...", 4);
}

void
config_scope_root(const struct config_doc *doc, struct config_scope *out)
{
	out->doc = doc;
	out->node = doc->root;
	out->line = out->col = 1;
	config_where(doc, doc->root, &out->line, &out->col);
	out->path[0] = '\0';
}

void
config_scope_member(const struct config_scope *s, const char *key,
    struct config_scope *out)
{
	json_t *node = json_is_object(s->node) ? json_object_get(s->node, key) : NULL;
	char path[CONFIG_PATH_MAX];

	memcpy(path, s->path, sizeof path);
	out->doc = s->doc;
	out->node = node;
	out->line = s->line;
	out->col = s->col;
	if (node != NULL)
		config_where_key(s->doc, s->node, key, &out->line, &out->col);
	if (path[0] != '\0')
		path_set(out->path, "%s.%s", path, key);
	else
		path_set(out->path, "%s", key);
}

void
config_scope_element(const struct config_scope *s, size_t index,
    struct config_scope *out)
{
	json_t *node = json_is_array(s->node) ? json_array_get(s->node, index) : NULL;
	char path[CONFIG_PATH_MAX];

	memcpy(path, s->path, sizeof path);
	out->doc = s->doc;
	out->node = node;
	out->line = s->line;
	out->col = s->col;
	if (node != NULL)
		config_where_element(s->doc, s->node, index, &out->line, &out->col);
	path_set(out->path, "%s[%zu]", path, index);
}

static int
scope_vfail(const struct config_scope *s, int line, int col,
    struct starry_err *err, const char *fmt, va_list ap)
{
	char msg[sizeof err->msg];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (s->path[0] == '\0')
		return starry_err_set(err, EX_CONFIG, "%s:%d:%d: %s",
		    config_name(s->doc), line, col, msg);
	return starry_err_set(err, EX_CONFIG, "%s:%d:%d: %s: %s",
	    config_name(s->doc), line, col, s->path, msg);
}

int
config_fail(const struct config_scope *s, const char *key,
    struct starry_err *err, const char *fmt, ...)
{
	struct config_scope at;
	va_list ap;

	if (key != NULL)
		config_scope_member(s, key, &at);
	else
		at = *s;
	va_start(ap, fmt);
	scope_vfail(&at, at.line, at.col, err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Levenshtein distance, giving up (returning a large number) for long
 * strings, which never get a suggestion that way. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], i, j, diag, up;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

const char *
config_suggest(const char *key, const char *const *allowed)
{
	size_t best_score = SIZE_MAX, klen = strlen(key), d, alen, shorter, score;
	const char *best = NULL;

	/* Scores: distance 0 or 1 first, then a shared prefix, then 2. */
	for (; *allowed != NULL; allowed++) {
		alen = strlen(*allowed);
		shorter = klen < alen ? klen : alen;
		d = edit_distance(key, *allowed);
		score = d <= 2 && d < klen ? d * 2 : SIZE_MAX;
		if (score > 3 && shorter >= 3 &&
		    strncmp(key, *allowed, shorter) == 0)
			score = 3;
		if (score < best_score) {
			best_score = score;
			best = *allowed;
		}
	}
	return best;
}

const char *
config_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* Join choices as "a, b, c" into buf. */
static void
join_choices(const char *const *choices, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; *choices != NULL && n < size; choices++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
		    *choices);
}

int
config_check_keys(const struct config_scope *s, const char *const *allowed,
    struct starry_err *err)
{
	const char *key, *near;
	struct config_scope at;
	char list[512];
	json_t *v;
	size_t i;

	if (s->node == NULL)
		return 0;
	if (!json_is_object(s->node))
		return config_fail(s, NULL, err, "expected an object, got %s",
		    config_type_name(s->node));
	json_object_foreach(s->node, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		config_scope_member(s, key, &at);
		if ((near = config_suggest(key, allowed)) != NULL)
			return config_fail(&at, NULL, err,
			    "unknown key; did you mean '%s'?", near);
		if (allowed[0] == NULL)
			return config_fail(&at, NULL, err,
			    "unknown key; no keys are allowed here");
		join_choices(allowed, list, sizeof list);
		return config_fail(&at, NULL, err,
		    "unknown key; expected one of %s", list);
	}
	return 0;
}

/* The value for a getter: 1 and *v when there is one, 0 when it is absent
 * or null and optional, -1 with err otherwise. */
static int
value_for(const struct config_scope *s, const char *key, int flags,
    const char *what, struct config_scope *v, struct starry_err *err)
{
	if (key == NULL) {
		*v = *s;
	} else {
		if (s->node != NULL && !json_is_object(s->node))
			return config_fail(s, NULL, err,
			    "expected an object, got %s", config_type_name(s->node));
		config_scope_member(s, key, v);
	}
	if (v->node != NULL && !json_is_null(v->node))
		return 1;
	if (!(flags & CONFIG_REQUIRED))
		return 0;
	if (v->node == NULL)
		return config_fail(v, NULL, err, "missing required key");
	return config_fail(v, NULL, err, "expected %s, got null", what);
}

int
config_get_string(const struct config_scope *s, const char *key, int flags,
    const char **out, struct starry_err *err)
{
	struct config_scope v;
	int rc = value_for(s, key, flags, "a string", &v, err);

	if (rc <= 0)
		return rc;
	if (!json_is_string(v.node))
		return config_fail(&v, NULL, err, "expected a string, got %s",
		    config_type_name(v.node));
	*out = json_string_value(v.node);
	return 0;
}

int
config_get_string_env(const struct config_scope *s, const char *key,
    int flags, char **out, struct starry_err *err)
{
	const char *text = NULL;
	struct config_scope v;
	struct starry_err sub;

	if (config_get_string(s, key, flags, &text, err) < 0)
		return -1;
	if (text == NULL)
		return 0;
	if (config_expand_env(text, out, &sub) < 0) {
		if (key != NULL)
			config_scope_member(s, key, &v);
		else
			v = *s;
		return config_fail(&v, NULL, err, "%s", sub.msg);
	}
	return 0;
}

int
config_get_int(const struct config_scope *s, const char *key, int flags,
    int64_t min, int64_t max, int64_t *out, struct starry_err *err)
{
	struct config_scope v;
	int rc = value_for(s, key, flags, "an integer", &v, err);
	int64_t n;

	if (rc <= 0)
		return rc;
	if (!json_is_integer(v.node))
		return config_fail(&v, NULL, err, "expected an integer, got %s",
		    config_type_name(v.node));
	n = json_integer_value(v.node);
	if (n < min || n > max)
		return config_fail(&v, NULL, err,
		    "expected an integer from %" PRId64 " to %" PRId64
		    ", got %" PRId64, min, max, n);
	*out = n;
	return 0;
}

int
config_get_number(const struct config_scope *s, const char *key, int flags,
    double min, double max, double *out, struct starry_err *err)
{
	struct config_scope v;
	int rc = value_for(s, key, flags, "a number", &v, err);
	double d;

	if (rc <= 0)
		return rc;
	if (!json_is_number(v.node))
		return config_fail(&v, NULL, err, "expected a number, got %s",
		    config_type_name(v.node));
	d = json_number_value(v.node);
	if (d < min || d > max)
		return config_fail(&v, NULL, err,
		    "expected a number from %g to %g, got %g", min, max, d);
	*out = d;
	return 0;
}

int
config_get_bool(const struct config_scope *s, const char *key, int flags,
    bool *out, struct starry_err *err)
{
	static const char *const yaml11[] = { "yes", "no", "on", "off", "y", "n" };
	struct config_scope v;
	int rc = value_for(s, key, flags, "true or false", &v, err);

	if (rc <= 0)
		return rc;
	if (json_is_boolean(v.node)) {
		*out = json_is_true(v.node);
		return 0;
	}
	if (json_is_string(v.node))
		for (size_t i = 0; i < sizeof yaml11 / sizeof *yaml11; i++)
			if (strcasecmp(json_string_value(v.node), yaml11[i]) == 0)
				return config_fail(&v, NULL, err,
				    "expected true or false, got '%s' "
				    "(a string in YAML 1.2)",
				    json_string_value(v.node));
	return config_fail(&v, NULL, err, "expected true or false, got %s",
	    config_type_name(v.node));
}

int
config_get_enum(const struct config_scope *s, const char *key, int flags,
    const char *const *choices, int *out, struct starry_err *err)
{
	struct config_scope v;
	char list[512];
	int rc;

	join_choices(choices, list, sizeof list);
	rc = value_for(s, key, flags, "a string", &v, err);
	if (rc <= 0)
		return rc;
	if (json_is_string(v.node))
		for (int i = 0; choices[i] != NULL; i++)
			if (strcmp(choices[i], json_string_value(v.node)) == 0) {
				*out = i;
				return 0;
			}
	return config_fail(&v, NULL, err, "expected one of %s", list);
}

int
config_get_duration(const struct config_scope *s, const char *key, int flags,
    int64_t *ms, struct starry_err *err)
{
	struct config_scope v;
	struct starry_err sub;
	char text[32];
	int rc = value_for(s, key, flags, "a duration", &v, err);

	if (rc <= 0)
		return rc;
	if (json_is_integer(v.node)) {
		snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v.node));
		config_parse_duration(text, ms, &sub);
		return config_fail(&v, NULL, err, "%s", sub.msg);
	}
	if (!json_is_string(v.node))
		return config_fail(&v, NULL, err,
		    "expected a duration such as '30s', got %s", config_type_name(v.node));
	if (config_parse_duration(json_string_value(v.node), ms, &sub) < 0)
		return config_fail(&v, NULL, err, "%s", sub.msg);
	return 0;
}

int
config_get_size(const struct config_scope *s, const char *key, int flags,
    uint64_t *bytes, struct starry_err *err)
{
	struct config_scope v;
	struct starry_err sub;
	int rc = value_for(s, key, flags, "a size", &v, err);

	if (rc <= 0)
		return rc;
	if (json_is_integer(v.node)) {
		if (json_integer_value(v.node) < 0)
			return config_fail(&v, NULL, err,
			    "invalid size '%" JSON_INTEGER_FORMAT "': negative",
			    json_integer_value(v.node));
		*bytes = (uint64_t)json_integer_value(v.node);
		return 0;
	}
	if (!json_is_string(v.node))
		return config_fail(&v, NULL, err,
		    "expected a size such as '64K', got %s", config_type_name(v.node));
	if (config_parse_size(json_string_value(v.node), bytes, &sub) < 0)
		return config_fail(&v, NULL, err, "%s", sub.msg);
	return 0;
}

int
config_get_string_list(const struct config_scope *s, const char *key,
    int flags, const char ***items, size_t *n, struct starry_err *err)
{
	struct config_scope v, el;
	const char **list;
	size_t count, i;
	int rc = value_for(s, key, flags, "a list of strings", &v, err);

	*items = NULL;
	*n = 0;
	if (rc <= 0)
		return rc;
	if (json_is_string(v.node) && (flags & CONFIG_ONE_OR_LIST))
		count = 1;
	else if (json_is_array(v.node))
		count = json_array_size(v.node);
	else
		return config_fail(&v, NULL, err,
		    "expected a list of strings, got %s", config_type_name(v.node));
	if ((list = calloc(count + 1, sizeof *list)) == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	if (json_is_string(v.node)) {
		list[0] = json_string_value(v.node);
	} else {
		for (i = 0; i < count; i++) {
			config_scope_element(&v, i, &el);
			if (!json_is_string(el.node)) {
				free(list);
				return config_fail(&el, NULL, err,
				    "expected a string, got %s", config_type_name(el.node));
			}
			list[i] = json_string_value(el.node);
		}
	}
	*items = list;
	*n = count;
	return 0;
}

static int
get_container(const struct config_scope *s, const char *key, int flags,
    bool object, struct config_scope *out, struct starry_err *err)
{
	const char *what = object ? "an object" : "a list";
	int rc = value_for(s, key, flags, what, out, err);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		out->node = NULL;
		return 0;
	}
	if (object ? !json_is_object(out->node) : !json_is_array(out->node))
		return config_fail(out, NULL, err, "expected %s, got %s", what,
		    config_type_name(out->node));
	return 0;
}

int
config_get_object(const struct config_scope *s, const char *key, int flags,
    struct config_scope *out, struct starry_err *err)
{
	return get_container(s, key, flags, true, out, err);
}

int
config_get_array(const struct config_scope *s, const char *key, int flags,
    struct config_scope *out, struct starry_err *err)
{
	return get_container(s, key, flags, false, out, err);
}

/* ---- durations and sizes ------------------------------------------------- */

/* Read a run of decimal digits; -1 on overflow. */
static int
read_digits(const char **p, uint64_t *v)
{
	uint64_t n = 0;

	while (isdigit((unsigned char)**p)) {
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(**p - '0'), &n))
			return -1;
		(*p)++;
	}
	*v = n;
	return 0;
}

int
config_parse_duration(const char *text, int64_t *ms, struct starry_err *err)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	const size_t nunits = sizeof units / sizeof *units;
	const char *p = text, *u;
	size_t last = 0, i, ulen;
	bool any = false;
	int64_t total = 0, part;
	uint64_t v;

#define DURATION_FAIL(...) do { \
		char why_[256]; \
		snprintf(why_, sizeof why_, __VA_ARGS__); \
		return starry_err_set(err, EX_CONFIG, "invalid duration '%.64s': %s", \
		    text, why_); \
	} while (0)

	if (*p == '\0')
		DURATION_FAIL("empty");
	if (*p == '-')
		DURATION_FAIL("negative");
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			DURATION_FAIL("expected a number at '%.16s'", p);
		if (read_digits(&p, &v) < 0 || v > INT64_MAX)
			DURATION_FAIL("too large");
		if (*p == '.' || *p == ',')
			DURATION_FAIL("use whole numbers, e.g. '1m30s' "
			    "rather than '1.5m'");
		for (u = p; isalpha((unsigned char)*p); p++)
			;
		ulen = (size_t)(p - u);
		if (ulen == 0 && *p == '\0' && !any)
			DURATION_FAIL("add a unit (ms, s, m, h or d), e.g. '%.32ss'",
			    text);
		if (ulen == 0 && *p == '\0')
			DURATION_FAIL("add a unit after the last number");
		if (ulen == 0)
			DURATION_FAIL("expected a unit at '%.16s'", u);
		for (i = 0; i < nunits; i++)
			if (strlen(units[i].name) == ulen &&
			    strncmp(units[i].name, u, ulen) == 0)
				break;
		if (i == nunits)
			DURATION_FAIL("unknown unit '%.*s' (use ms, s, m, h or d)",
			    (int)(ulen > 16 ? 16 : ulen), u);
		if (any && i <= last)
			DURATION_FAIL("units go from largest to smallest, "
			    "each once");
		if (__builtin_mul_overflow((int64_t)v, units[i].ms, &part) ||
		    __builtin_add_overflow(total, part, &total))
			DURATION_FAIL("too large");
		last = i;
		any = true;
	}
#undef DURATION_FAIL
	*ms = total;
	return 0;
}

int
config_parse_size(const char *text, uint64_t *bytes, struct starry_err *err)
{
	static const char letters[] = "KMGT";
	const char *p = text, *l, *unit;
	uint64_t v, mult = 1;

#define SIZE_FAIL(...) do { \
		char why_[256]; \
		snprintf(why_, sizeof why_, __VA_ARGS__); \
		return starry_err_set(err, EX_CONFIG, "invalid size '%.64s': %s", \
		    text, why_); \
	} while (0)

	if (*p == '\0')
		SIZE_FAIL("empty");
	if (*p == '-')
		SIZE_FAIL("negative");
	if (!isdigit((unsigned char)*p))
		SIZE_FAIL("expected a number at '%.16s'", p);
	if (read_digits(&p, &v) < 0)
		SIZE_FAIL("too large");
	if (*p == '.' || *p == ',')
		SIZE_FAIL("use whole numbers, e.g. '1536M' rather than '1.5G'");
	unit = p;
	if (*p != '\0' && *p != 'B' &&
	    (l = strchr(letters, toupper((unsigned char)*p))) != NULL) {
		for (long i = 0; i <= l - letters; i++)
			mult *= 1024;
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
	}
	if (strcmp(p, "B") == 0)
		p++;
	if (*p != '\0')
		SIZE_FAIL("unknown unit '%.16s' (use K, M, G or T, powers of 1024)",
		    unit);
	if (__builtin_mul_overflow(v, mult, bytes))
		SIZE_FAIL("too large");
#undef SIZE_FAIL
	return 0;
}

/* ---- ${VAR} expansion ----------------------------------------------------- */

struct strbuf {
	char *p;
	size_t len, cap;
};

static int
sb_add(struct strbuf *b, const char *s, size_t n)
{
	char *np;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static bool
is_name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool
is_name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

/* One "${...}" at p (after the '$'); appends its value and moves *pp past
 * the '}'. */
static int
expand_one(const char *text, const char **pp, config_lookup_fn *lookup,
    void *arg, struct strbuf *b, struct starry_err *err)
{
	const char *p = *pp + 1, *name = p, *def = NULL, *end, *val;
	char buf[256];
	size_t nlen;

	while (is_name_char(*p))
		p++;
	nlen = (size_t)(p - name);
	end = strchr(p, '}');
	if (end == NULL)
		return starry_err_set(err, EX_CONFIG, "unterminated '${' in '%.64s'",
		    text);
	if (nlen == 0 || !is_name_start(*name) || nlen >= sizeof buf)
		return starry_err_set(err, EX_CONFIG,
		    "invalid variable name '${%.*s}' in '%.64s'",
		    (int)((end - name) > 32 ? 32 : end - name), name, text);
	if (strncmp(p, ":-", 2) == 0)
		def = p + 2;
	else if (p != end)
		return starry_err_set(err, EX_CONFIG,
		    "invalid variable name '${%.*s}' in '%.64s' (use ${NAME} or "
		    "${NAME:-default})", (int)((end - name) > 32 ? 32 : end - name),
		    name, text);
	memcpy(buf, name, nlen);
	buf[nlen] = '\0';
	val = lookup(buf, arg);
	if (def != NULL && (val == NULL || *val == '\0')) {
		if (sb_add(b, def, (size_t)(end - def)) < 0)
			return starry_err_set(err, EX_OSERR, "out of memory");
	} else if (val == NULL) {
		return starry_err_set(err, EX_CONFIG, "variable '%s' is not set",
		    buf);
	} else if (sb_add(b, val, strlen(val)) < 0) {
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	*pp = end + 1;
	return 0;
}

int
config_expand(const char *text, config_lookup_fn *lookup, void *arg,
    char **out, struct starry_err *err)
{
	struct strbuf b = { 0 };
	const char *p = text, *dollar;

	*out = NULL;
	if (sb_add(&b, "", 0) < 0)
		return starry_err_set(err, EX_OSERR, "out of memory");
	while ((dollar = strchr(p, '$')) != NULL) {
		if (sb_add(&b, p, (size_t)(dollar - p)) < 0)
			goto nomem;
		p = dollar + 1;
		if (*p == '$') {
			if (sb_add(&b, "$", 1) < 0)
				goto nomem;
			p++;
		} else if (*p == '{') {
			if (expand_one(text, &p, lookup, arg, &b, err) < 0) {
				free(b.p);
				return -1;
			}
		} else if (sb_add(&b, "$", 1) < 0) {
			goto nomem;
		}
	}
	if (sb_add(&b, p, strlen(p)) < 0)
		goto nomem;
	*out = b.p;
	return 0;
nomem:
	free(b.p);
	return starry_err_set(err, EX_OSERR, "out of memory");
}

static const char *
lookup_env(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

int
config_expand_env(const char *text, char **out, struct starry_err *err)
{
	return config_expand(text, lookup_env, NULL, out, err);
}
