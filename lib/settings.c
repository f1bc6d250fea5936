/* starry.yaml, the toolkit's own settings: see settings.h and
 * starry.yaml(5). A struct settings owns its strings and one reference to
 * each infrastructure entry's template JSON; the config_doc it is read
 * from lives only during the load. Each infrastructure entry is checked
 * on the spot with the template's runtime rules (template_check_runtime),
 * so that errors point into starry.yaml. agent_runner is ${VAR}-expanded
 * here, once; an entry's runtime keys are copied as written (template_load
 * expands them), except that a relative command path holding a '/' (and
 * no '$') is made absolute against the config folder. */
#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "paths.h"
#include "settings.h"
#include "template.h"

static const char *const settings_keys[] = {
	"agent_runner", "infrastructure", "master", "logs", NULL
};
static const char *const master_keys[] = { "template", "id", NULL };
static const char *const logs_keys[] = { "max", "keep", NULL };
static const char *const entry_also[] = { "name", NULL };

void
settings_free(struct settings *s)
{
	if (s == NULL)
		return;
	free(s->file);
	template_argv_free(s->agent_runner);
	for (size_t i = 0; i < s->ninfrastructure; i++) {
		free(s->infrastructure[i].name);
		json_decref(s->infrastructure[i].template);
	}
	free(s->infrastructure);
	free(s->master_template);
	free(s->master_id);
	free(s);
}

static int
nomem(struct starry_err *err)
{
	return starry_err_set(err, EX_OSERR, "out of memory");
}

static const char *
kind_of(const json_t *v)
{
	if (json_is_object(v))
		return "an object";
	if (json_is_array(v))
		return "a list";
	if (json_is_string(v))
		return "a string";
	if (json_is_number(v))
		return "a number";
	if (json_is_boolean(v))
		return "a boolean";
	return "null";
}

/* The entry's runtime keys, its command made absolute against dir the way
 * template_load would against the template's folder. */
static json_t *
entry_runtime(json_t *entry, const char *dir)
{
	json_t *rt = json_deep_copy(entry), *cmd, *first;
	const char *arg0;
	char *abs;

	if (rt == NULL)
		return NULL;
	json_object_del(rt, "name");
	cmd = json_object_get(rt, "command");
	first = json_array_get(cmd, 0);
	arg0 = json_string_value(first);
	if (arg0 == NULL || arg0[0] == '/' || strchr(arg0, '/') == NULL ||
	    strchr(arg0, '$') != NULL)
		return rt;
	while (arg0[0] == '.' && arg0[1] == '/')
		arg0 += 2;
	if ((abs = starry_path_join(dir, arg0)) == NULL ||
	    json_array_set_new(cmd, 0, json_string(abs)) < 0) {
		free(abs);
		json_decref(rt);
		return NULL;
	}
	free(abs);
	return rt;
}

/* {"identity": {"id": name}, "runtime": {...}} */
static json_t *
entry_template(json_t *entry, const char *name, const char *dir)
{
	json_t *t = json_object(), *ident = json_object();
	json_t *rt = entry_runtime(entry, dir);
	bool ok = t != NULL && ident != NULL && rt != NULL &&
	    json_object_set_new(ident, "id", json_string(name)) == 0 &&
	    json_object_set(t, "identity", ident) == 0 &&
	    json_object_set(t, "runtime", rt) == 0;

	json_decref(ident);
	json_decref(rt);
	if (!ok) {
		json_decref(t);
		return NULL;
	}
	return t;
}

static int
read_entry(const struct config_scope *el, size_t index, const char *dir,
    struct settings *s, struct starry_err *err)
{
	struct settings_service *svc = &s->infrastructure[index];
	const char *name = NULL;

	if (el->node == NULL || !json_is_object(el->node))
		return config_fail(el, NULL, err, "expected an object with a "
		    "name and a command, got %s", kind_of(el->node));
	if (config_get_string(el, "name", CONFIG_REQUIRED, &name, err) < 0)
		return -1;
	if (!template_id_valid(name))
		return config_fail(el, "name", err, "invalid name '%.64s' (1 to "
		    "64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-')",
		    name);
	for (size_t j = 0; j < index; j++)
		if (strcmp(s->infrastructure[j].name, name) == 0)
			return config_fail(el, "name", err, "duplicate name "
			    "'%s' (first at infrastructure[%zu])", name, j);
	if (template_check_runtime(el, entry_also, err) < 0)
		return -1;
	if ((svc->name = strdup(name)) == NULL ||
	    (svc->template = entry_template(el->node, name, dir)) == NULL)
		return nomem(err);
	return 0;
}

static int
read_infrastructure(const struct config_scope *root, const char *dir,
    struct settings *s, struct starry_err *err)
{
	struct config_scope inf, el;
	size_t n;

	if (config_get_array(root, "infrastructure", CONFIG_OPTIONAL, &inf,
	    err) < 0)
		return -1;
	if (inf.node == NULL || (n = json_array_size(inf.node)) == 0)
		return 0;
	if ((s->infrastructure = calloc(n, sizeof *s->infrastructure)) == NULL)
		return nomem(err);
	for (size_t i = 0; i < n; i++) {
		config_scope_element(&inf, i, &el);
		s->ninfrastructure = i + 1;
		if (read_entry(&el, i, dir, s, err) < 0)
			return -1;
	}
	return 0;
}

static int
read_master(const struct config_scope *root, struct settings *s,
    struct starry_err *err)
{
	struct config_scope m, at;
	const char *tmpl = NULL, *id = NULL;

	config_scope_member(root, "master", &m);
	at = m;
	if (m.node == NULL || json_is_null(m.node))
		return 0;
	if (json_is_string(m.node)) {
		tmpl = json_string_value(m.node);
	} else if (json_is_object(m.node)) {
		if (config_check_keys(&m, master_keys, err) < 0 ||
		    config_get_string(&m, "template", CONFIG_REQUIRED, &tmpl,
		    err) < 0 ||
		    config_get_string(&m, "id", CONFIG_OPTIONAL, &id, err) < 0)
			return -1;
		if (id != NULL && !template_id_valid(id))
			return config_fail(&m, "id", err, "invalid agent id "
			    "'%.64s' (1 to 64 of A-Z a-z 0-9 . _ -, not starting "
			    "with '.' or '-')", id);
		config_scope_member(&m, "template", &at);
	} else {
		return config_fail(&m, NULL, err, "expected a template name or "
		    "an object {template, id}, got %s", kind_of(m.node));
	}
	if (*tmpl == '\0')
		return config_fail(&at, NULL, err, "empty template name");
	if ((s->master_template = strdup(tmpl)) == NULL ||
	    (id != NULL && (s->master_id = strdup(id)) == NULL))
		return nomem(err);
	return 0;
}

static int
read_logs(const struct config_scope *root, struct settings *s,
    struct starry_err *err)
{
	struct config_scope l;
	int64_t keep = s->log_keep;

	if (config_get_object(root, "logs", CONFIG_OPTIONAL, &l, err) < 0 ||
	    config_check_keys(&l, logs_keys, err) < 0 ||
	    config_get_size(&l, "max", CONFIG_OPTIONAL, &s->log_max, err) < 0 ||
	    config_get_int(&l, "keep", CONFIG_OPTIONAL, 0, 100, &keep, err) < 0)
		return -1;
	if (s->log_max == 0)
		return config_fail(&l, "max", err, "must be more than 0 bytes");
	s->log_keep = (unsigned)keep;
	return 0;
}

static int
settings_read(struct config_doc *doc, const char *dir, struct settings *s,
    struct starry_err *err)
{
	struct config_scope root;
	json_t *agent_runner;
	size_t n;

	config_scope_root(doc, &root);
	if (!json_is_object(root.node))
		return config_fail(&root, NULL, err, "expected an object "
		    "(agent_runner, infrastructure, master, logs), got %s",
		    kind_of(root.node));
	if (config_check_keys(&root, settings_keys, err) < 0)
		return -1;
	agent_runner = json_object_get(root.node, "agent_runner");
	if (agent_runner != NULL && !json_is_null(agent_runner) &&
	    template_get_argv(&root, "agent_runner", dir, &s->agent_runner, &n,
	    err) < 0)
		return -1;
	if (read_infrastructure(&root, dir, s, err) < 0 ||
	    read_master(&root, s, err) < 0 || read_logs(&root, s, err) < 0)
		return -1;
	return 0;
}

/* config_dir/starry.yaml, else starry.json: 1 and *path, or 0 for none. */
static int
settings_path(const char *config_dir, char **path, struct starry_err *err)
{
	static const char *const names[] = { SETTINGS_FILE, "starry.json" };
	struct stat st;

	*path = NULL;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = starry_path_join(config_dir, names[i]);

		if (p == NULL)
			return nomem(err);
		if (stat(p, &st) == 0) {
			*path = p;
			return 1;
		}
		if (errno != ENOENT) {
			starry_err_sys(err, EX_NOINPUT, "%s", p);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

int
settings_load(const char *config_dir, struct settings **out,
    struct starry_err *err)
{
	struct config_doc *doc = NULL;
	struct settings *s;
	char *dir = NULL;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return nomem(err);
	s->log_max = SETTINGS_LOG_MAX_DEFAULT;
	s->log_keep = SETTINGS_LOG_KEEP_DEFAULT;
	if ((rc = settings_path(config_dir, &s->file, err)) <= 0)
		goto out;
	rc = -1;
	if (config_load_file(s->file, &doc, err) < 0)
		goto out;
	if ((dir = realpath(config_dir, NULL)) == NULL) {
		starry_err_sys(err, EX_NOINPUT, "%s", config_dir);
		goto out;
	}
	rc = settings_read(doc, dir, s, err);
out:
	config_doc_free(doc);
	free(dir);
	if (rc < 0) {
		settings_free(s);
		return -1;
	}
	*out = s;
	return 0;
}
