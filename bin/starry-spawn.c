/* starry-spawn: templates, supervision, the control plane and the boot
 * sequence (starry-spawn(1)). This file picks the subcommand and holds
 * what the subcommands share; each lives in a spawn-*.c file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"

static const char usage[] =
"usage: starry-spawn SUBCOMMAND [options]\n"
"\n"
"Start, supervise and stop agent processes from templates in\n"
"$STARRY_CONFIG/agents, and boot a fleet from starry.yaml. Every command\n"
"works with no daemon running; with one ('serve'), they go through its\n"
"control socket $STARRY_RUNTIME/spawn.sock.\n"
"\n"
"subcommands:\n"
"  run TEMPLATE [-- ARGS]  start an agent under a supervisor of its own\n"
"  stop ID                 stop it for good (its whole process group)\n"
"  kill ID                 send its processes a signal\n"
"  restart ID              stop it and start it again from its template\n"
"  list                    the agents: state, pid, restarts, CPU, memory\n"
"  status ID               one agent in detail\n"
"  logs ID                 its stderr log; --follow for more\n"
"  validate [PATH...]      check templates and starry.yaml\n"
"  templates               the templates there are\n"
"  template NAME           one template, resolved, as JSON\n"
"  drivers                 which drivers can run here, and why not\n"
"  serve [--boot]          the daemon: control socket and boot sequence\n"
"\n"
"Run 'starry-spawn SUBCOMMAND --help' for a subcommand's options.\n"
"See starry-spawn(1), starry-template(5) and starry.yaml(5).\n";

static const struct cli_subcommand subcommands[] = {
	{"run", spawn_run_main},
	{"stop", spawn_stop_main},
	{"kill", spawn_kill_main},
	{"restart", spawn_restart_main},
	{"list", spawn_list_main},
	{"status", spawn_status_main},
	{"logs", spawn_logs_main},
	{"validate", spawn_validate_main},
	{"templates", spawn_templates_main},
	{"template", spawn_template_main},
	{"drivers", spawn_drivers_main},
	{"serve", spawn_serve_main},
	{"tool", spawn_tool_main},
};

void
spawn_ctx_open(struct spawn_ctx *c)
{
	ssize_t n;

	cli_resolve_paths(&c->common, &c->paths);
	n = readlink("/proc/self/exe", c->self_exe, sizeof c->self_exe - 1);
	c->self_exe[n > 0 ? n : 0] = '\0';
}

struct settings *
spawn_ctx_settings(struct spawn_ctx *c)
{
	struct starry_err err;

	if (c->settings != NULL)
		return c->settings;
	if (settings_load(c->paths.config, &c->settings, &err) < 0)
		diag_die_err(&err);
	c->tctx.agent_runner = (const char *const *)c->settings->agent_runner;
	return c->settings;
}

void
spawn_ctx_close(struct spawn_ctx *c)
{
	settings_free(c->settings);
	c->settings = NULL;
	template_memo_free(c->memo);
	c->memo = NULL;
	starry_paths_free(&c->paths);
}

int
main(int argc, char **argv)
{
	return cli_dispatch("starry-spawn", usage, subcommands,
	    sizeof subcommands / sizeof *subcommands, argc, argv);
}
