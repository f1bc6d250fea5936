/* The subcommands of starry-spawn, in the spawn-*.c files beside
 * starry-spawn.c, and what they share: the places and settings, and the
 * control requests (spawn, stop, kill, restart, list, status) that go to
 * the daemon's spawn.sock when it runs and are done here when not.
 * json_t * results are new references for the caller. */
#ifndef STARRY_SPAWN_CMD_H
#define STARRY_SPAWN_CMD_H

#include <getopt.h>
#include <jansson.h>
#include <limits.h>

#include "cli.h"
#include "launch.h"
#include "settings.h"
#include "template.h"

#define SPAWN_SOCK_NAME "spawn.sock"
#define SPAWN_LOCK_NAME "spawn.lock"
#define SPAWN_REQUEST_MAX (1u << 20)	/* bytes in one request line */

int spawn_run_main(int argc, char **argv);	/* spawn-run.c */
int spawn_tool_main(int argc, char **argv);	/* spawn-run.c */
int spawn_stop_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_kill_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_restart_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_list_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_status_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_logs_main(int argc, char **argv);	/* spawn-ctl.c */
int spawn_validate_main(int argc, char **argv);	/* spawn-templates.c */
int spawn_templates_main(int argc, char **argv);	/* spawn-templates.c */
int spawn_template_main(int argc, char **argv);	/* spawn-templates.c */
int spawn_drivers_main(int argc, char **argv);	/* spawn-templates.c */
int spawn_serve_main(int argc, char **argv);	/* spawn-serve.c */

/* What every subcommand works with. */
struct spawn_ctx {
	struct cli_common common;
	struct starry_paths paths;
	struct settings *settings;
	struct template_context tctx;
	char self_exe[PATH_MAX];
	bool local;			/* never ask the daemon (it is us) */
	bool degraded_ok;		/* a template that fails may run as
					   its cached version (the daemon) */
	struct launch_spare *spare;	/* a supervisor forked ahead, or
					   NULL (the daemon keeps one) */
	struct template_memo *memo;	/* templates loaded before, or NULL
					   (the daemon keeps them) */
};

/* Resolve the places. starry.yaml is read when first needed, by
 * spawn_ctx_settings (which dies, 78, on an invalid one): a request the
 * daemon answers is done under the daemon's settings. */
void spawn_ctx_open(struct spawn_ctx *c);
struct settings *spawn_ctx_settings(struct spawn_ctx *c);
void spawn_ctx_close(struct spawn_ctx *c);

/* The places and settings of a launch, the rest left empty. */
void spawn_launch_base(struct spawn_ctx *c, struct launch_request *r);

/* Do a control request here: {"method":M, ...} -> {"ok":true,"result":R}
 * or {"ok":false,"error":{"code","message","exit"}}. The methods and their
 * members are in starry-spawn(1), CONTROL PROTOCOL. */
json_t *spawn_request_do(struct spawn_ctx *c, const json_t *req);
/* The same through the daemon when one runs (and c->local is false). */
json_t *spawn_request(struct spawn_ctx *c, const json_t *req);

/* The spawn request that starts agent id again as its status says it
 * was started (template, arguments, environment, trace, session), or
 * NULL when the status names no template. */
json_t *spawn_request_again(const json_t *status, const char *id);

/* An error response (new reference) from err. */
json_t *spawn_error_response(const struct starry_err *err);
/* Print a failed response's message and return its exit status. */
int spawn_response_fail(const json_t *resp);

/* An agent's status.json with what is true right now: "supervised",
 * and, while its process runs, "cpu" (percent) and "rss" (bytes). A
 * live state whose supervisor is gone reads "dead". NULL with err. */
json_t *spawn_agent_view(const char *home, const char *id,
    struct starry_err *err);

#endif
