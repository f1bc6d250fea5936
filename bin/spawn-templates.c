/* starry-spawn validate, templates, template and drivers: the design
 * layer's query interface (spec 13, phase 2) and what can run here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "spawn.h"

static const char validate_usage[] =
"usage: starry-spawn validate [options] [PATH...]\n"
"\n"
"Check template files (YAML or JSON) as 'run' would: every error names\n"
"the file, line, column and key. With no PATH: starry.yaml and every\n"
"template in $STARRY_CONFIG/agents. A valid file prints 'PATH: ok'.\n"
"\n"
"  -q, --quiet            print only the errors\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 all valid, 78 some are not, 66 a PATH is missing.\n";

static const char templates_usage[] =
"usage: starry-spawn templates [options]\n"
"\n"
"The templates in $STARRY_CONFIG/agents: name, agent id, driver, restart\n"
"policy and file; an invalid one shows its error.\n"
"\n"
"      --json             JSON lines\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n";

static const char template_usage[] =
"usage: starry-spawn template NAME [options]\n"
"\n"
"Print template NAME (or a file) resolved, as the agent would run it: the\n"
"runtime block filled with its defaults, paths made absolute, ${VAR}\n"
"expanded. This is the JSON frozen into $STARRY_HOME/agents/ID when the\n"
"agent starts.\n"
"\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 66 no such template, 78 it is invalid.\n";

static const char drivers_usage[] =
"usage: starry-spawn drivers [options]\n"
"\n"
"Each driver (process, sandbox, docker, wasm), whether it can run agents\n"
"here, and why not.\n"
"\n"
"      --json             JSON lines\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n";

enum { OPT_JSON = CLI_OPT_FREE };

static const struct option options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct listing {
	struct spawn_ctx c;
	bool json, quiet;
	int status;
};

static void
parse(struct listing *l, int argc, char **argv, const char *usage)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
		if (cli_common_option(&l->c.common, opt, usage))
			continue;
		if (opt == OPT_JSON)
			l->json = true;
		else if (opt == 'q')
			l->quiet = true;
	}
}

static int
validate_one(void *ctx, const char *name, const char *path)
{
	struct listing *l = ctx;
	struct starry_err err;
	struct template *t;

	if (template_load(path, name, &l->c.tctx, &t, &err) < 0) {
		diag_error("%s", err.msg);
		if (l->status == 0 || err.code == EX_CONFIG)
			l->status = err.code;
		return 0;
	}
	template_free(t);
	if (!l->quiet)
		printf("%s: ok\n", path);
	return 0;
}

int
spawn_validate_main(int argc, char **argv)
{
	struct listing l = {0};
	struct starry_err err;
	struct settings *s;
	char *path;

	parse(&l, argc, argv, validate_usage);
	cli_resolve_paths(&l.c.common, &l.c.paths);
	/* starry.yaml first: it may give the agent_runner manifests need. */
	if (settings_load(l.c.paths.config, &s, &err) < 0) {
		diag_error("%s", err.msg);
		l.status = err.code;
		s = NULL;
	} else {
		if (s->file != NULL && !l.quiet && optind == argc)
			printf("%s: ok\n", s->file);
		l.c.settings = s;
		l.c.tctx.agent_runner = (const char *const *)s->agent_runner;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			/* A path as given; a bare name is looked up. */
			if (strchr(argv[i], '/') == NULL &&
			    template_find(l.c.paths.config, argv[i], &path, NULL) == 0) {
				validate_one(&l, argv[i], path);
				free(path);
			} else {
				validate_one(&l, NULL, argv[i]);
			}
		}
	} else if (template_each(l.c.paths.config, validate_one, &l, &err) < 0) {
		diag_error("%s", err.msg);
		l.status = err.code;
	}
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	settings_free(s);
	starry_paths_free(&l.c.paths);
	return l.status;
}

static int
list_one(void *ctx, const char *name, const char *path)
{
	struct listing *l = ctx;
	struct starry_err err;
	struct template *t;

	if (template_load(path, name, &l->c.tctx, &t, &err) < 0) {
		if (l->json)
			cli_print_json(json_pack("{s:s, s:s, s:b, s:s}", "name", name,
			    "file", path, "valid", 0, "error", err.msg));
		else
			printf("%-20s invalid: %s\n", name, err.msg);
		return 0;
	}
	if (l->json)
		cli_print_json(json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:b}",
		    "name", name, "file", path, "valid", 1, "id", t->id,
		    "driver", template_driver_name(t->driver),
		    "restart", template_restart_name(t->restart),
		    "manifest", t->manifest));
	else
		printf("%-20s %-20s %-8s %-10s %s\n", name, t->id,
		    template_driver_name(t->driver),
		    template_restart_name(t->restart), path);
	template_free(t);
	return 0;
}

int
spawn_templates_main(int argc, char **argv)
{
	struct listing l = {0};
	struct starry_err err;

	parse(&l, argc, argv, templates_usage);
	if (optind != argc)
		diag_die_usage("templates: unexpected '%s'", argv[optind]);
	spawn_ctx_open(&l.c);
	spawn_ctx_settings(&l.c);
	if (!l.json)
		printf("%-20s %-20s %-8s %-10s %s\n", "NAME", "ID", "DRIVER",
		    "RESTART", "FILE");
	if (template_each(l.c.paths.config, list_one, &l, &err) < 0)
		diag_die_err(&err);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	spawn_ctx_close(&l.c);
	return 0;
}

int
spawn_template_main(int argc, char **argv)
{
	struct listing l = {0};
	struct starry_err err;
	struct template *t;
	char *path, *text;
	size_t len;

	parse(&l, argc, argv, template_usage);
	if (optind + 1 != argc)
		diag_die_usage("template: expected one NAME");
	spawn_ctx_open(&l.c);
	spawn_ctx_settings(&l.c);
	if (template_find(l.c.paths.config, argv[optind], &path, &err) < 0)
		diag_die_err(&err);
	if (template_load(path, strchr(argv[optind], '/') ? NULL : argv[optind],
	    &l.c.tctx, &t, &err) < 0)
		diag_die_err(&err);
	if ((text = template_dump(t, &len)) == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) == EOF)
		cli_stdout_failed();
	free(text);
	free(path);
	template_free(t);
	spawn_ctx_close(&l.c);
	return 0;
}

int
spawn_drivers_main(int argc, char **argv)
{
	static const enum template_driver all[] = {
		TEMPLATE_DRIVER_PROCESS, TEMPLATE_DRIVER_SANDBOX,
		TEMPLATE_DRIVER_DOCKER, TEMPLATE_DRIVER_WASM,
	};
	struct listing l = {0};
	char why[512];

	parse(&l, argc, argv, drivers_usage);
	if (optind != argc)
		diag_die_usage("drivers: unexpected '%s'", argv[optind]);
	if (!l.json)
		printf("%-8s %-11s %s\n", "DRIVER", "AVAILABLE", "WHY NOT");
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		bool ok;

		why[0] = '\0';
		ok = driver_available(all[i], why, sizeof why);
		if (l.json)
			cli_print_json(json_pack("{s:s, s:b, s:s?}", "driver",
			    template_driver_name(all[i]), "available", ok,
			    "why", ok ? NULL : why));
		else
			printf("%-8s %-11s %s\n", template_driver_name(all[i]),
			    ok ? "yes" : "no", ok ? "" : why);
	}
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}
