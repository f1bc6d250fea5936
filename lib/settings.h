/* starry.yaml, the toolkit's own settings (starry.yaml(5)): the
 * infrastructure the boot sequence supervises, the master agent, the argv
 * that runs OpenStarry manifests, and the supervisors' log rotation.
 * A struct settings owns everything it points to. */
#ifndef STARRY_SETTINGS_H
#define STARRY_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

#define SETTINGS_FILE "starry.yaml"		/* in STARRY_CONFIG */
#define SETTINGS_LOG_MAX_DEFAULT  (1u << 20)	/* bytes before rotation */
#define SETTINGS_LOG_KEEP_DEFAULT 3		/* rotated logs kept */

/* An infrastructure entry is a template of its own: identity.id is the
 * entry's name and runtime its other keys (command, ready-fd, restart,
 * ...). template is that JSON (owned), ready to be written to a file and
 * loaded with template_load. */
struct settings_service {
	char *name;
	json_t *template;
};

struct settings {
	char *file;			/* the file read; NULL when none */
	char **agent_runner;		/* NULL-terminated, or NULL */
	struct settings_service *infrastructure;
	size_t ninfrastructure;
	char *master_template;		/* master.template, or NULL */
	char *master_id;		/* master.id, or NULL: the template's */
	uint64_t log_max;		/* logs.max */
	unsigned log_keep;		/* logs.keep */
};

/* Read config_dir/starry.yaml (or .json). A missing file is the defaults
 * (no infrastructure, no master, no runner). Unknown keys are errors with
 * a "did you mean", as everywhere in starry's own files: EX_CONFIG,
 * "FILE:LINE:COL: KEY.PATH: message". Infrastructure names must be
 * distinct and valid agent ids. */
int settings_load(const char *config_dir, struct settings **out,
    struct starry_err *err);
void settings_free(struct settings *s);

#endif
