/* Drivers (DESIGN section 5): how an agent's command is run. process
 * runs it as it is; sandbox wraps it in bubblewrap (own pid, ipc, uts and
 * net namespaces, the filesystem read-only but the agent's folder,
 * plugins read-only at /plugins/NAME, a minimal /dev). docker and wasm are
 * reported, not run, by this build. Strings returned are malloc'd for the
 * caller; the template is borrowed. */
#ifndef STARRY_DRIVER_H
#define STARRY_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "template.h"

/* Whether driver d can run here; when not, why says so ("bwrap not found
 * on PATH", "bwrap cannot create namespaces: ..."). The answer for
 * sandbox comes from running bwrap once. */
bool driver_available(enum template_driver d, char *why, size_t cap);

/* The argv that runs command (NULL-terminated) for template t under its
 * driver, as the agent whose own folder is agent_dir. For process it is
 * a copy of command; for sandbox, bwrap's options then command. A driver
 * this build cannot run fails with EX_UNAVAILABLE and the reason of
 * driver_available. Free the result with template_argv_free. */
char **driver_argv(const struct template *t, char *const *command,
    const char *agent_dir, struct starry_err *err);

/* How many processes of driver d stand between the supervisor and the
 * agent's command, each the parent of the next (sandbox: bwrap and the
 * init of its pid namespace). A stop signal goes past them to the agent:
 * signalled, they would end it at once with SIGKILL. */
unsigned driver_wrappers(enum template_driver d);

/* STARRY_PLUGIN_PATH for t: the plugin folders joined by ':' as the agent
 * sees them (/plugins/NAME in the sandbox, the real paths otherwise);
 * "" when t has none. NULL on out of memory. */
char *driver_plugin_path(const struct template *t);

/* In the forked child, before exec: the template's rlimits (memory as
 * RLIMIT_AS, cpu as RLIMIT_CPU in whole seconds rounded up, nofile).
 * Returns 0, or -1 with err. Async-signal-safe: no allocation. */
int driver_apply_limits(const struct template *t, struct starry_err *err);

#endif
