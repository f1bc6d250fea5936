/* starry-spawn run: start an agent under a supervisor of its own; and
 * starry-spawn tool, the AgentManagerTool's hands: a supervisor runs it
 * for each agent.* tool call its agent makes. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentdir.h"
#include "event.h"
#include "spawn.h"

static const char run_usage[] =
"usage: starry-spawn run TEMPLATE [options] [-- ARGS...]\n"
"\n"
"Start the agent of TEMPLATE (a name in $STARRY_CONFIG/agents, or a path\n"
"to a template file) under a supervisor of its own, and return once it\n"
"runs (for a template with ready-fd: once it is ready). ARGS are appended\n"
"to the template's command. The agent id is the template's identity.id\n"
"unless --id gives another; one id runs once at a time. The trace is\n"
"taken from STARRY_TRACE_ID, STARRY_SESSION_ID and STARRY_CAUSE_ID when\n"
"set, else a new one begins.\n"
"\n"
"  -i, --id ID            run it as agent ID\n"
"  -e, --env KEY=VALUE    add to the agent's environment (repeat)\n"
"  -w, --wait             wait until the agent is done for good (stopped,\n"
"                         or finished under its restart policy), and exit\n"
"                         with its status; SIGINT or SIGTERM stops it\n"
"      --json             print the result as JSON\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 started (or, with --wait, finished well); 75 when the id\n"
"is already running (the message names the supervisor's pid); 66 no such\n"
"template; 78 an invalid one; 69 its driver or command cannot run here.\n";

static const char tool_usage[] =
"usage: starry-spawn tool [options] CALL\n"
"\n"
"Answer one AgentManagerTool call. CALL is the payload of an\n"
"EXEC:TOOL_CALL event: {\"toolCallId\":..., \"tool\":\"agent.start\","
"\n\"arguments\":{...}}. Tools: agent.start {template, id, args, env},\n"
"agent.stop {id}, agent.status {id}, agent.list {}. Prints one JSON\n"
"document, {\"success\":true,\"result\":...} or {\"success\":false,\n"
"\"error\":{code,message,source}}. Supervisors run this for their agents.\n";

enum { OPT_JSON = CLI_OPT_FREE };

static const struct option run_options[] = {
	{"id", required_argument, NULL, 'i'},
	{"env", required_argument, NULL, 'e'},
	{"wait", no_argument, NULL, 'w'},
	{"json", no_argument, NULL, OPT_JSON},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* Wait for the supervisor to finish; a signal to us stops the agent. */
static int
run_wait(struct spawn_ctx *c, const char *id, pid_t supervisor)
{
	static const int signals[] = {SIGINT, SIGTERM, 0};
	int pidfd = (int)syscall(SYS_pidfd_open, supervisor, 0), code = 0;
	struct signalfd_siginfo si;
	struct starry_err err;
	const char *state;
	sigset_t set;
	json_t *view;
	struct pollfd p[2];

	p[0] = (struct pollfd){.fd = pidfd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = cli_signalfd(&set, signals), .events = POLLIN};
	while (pidfd >= 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		if (p[0].revents)
			break;
		if (p[1].revents && read(p[1].fd, &si, sizeof si) == sizeof si &&
		    agentdir_control(c->paths.home, id, "stop", &err) < 0)
			diag_warn("%s", err.msg);
	}
	if (pidfd >= 0)
		close(pidfd);
	if ((view = spawn_agent_view(c->paths.home, id, &err)) == NULL)
		diag_die_err(&err);
	state = json_string_value(json_object_get(view, "state"));
	if (state != NULL && strcmp(state, "failed") == 0) {
		json_t *last = json_object_get(view, "lastExit");
		const char *sig = json_string_value(json_object_get(last, "signal"));

		code = json_is_integer(json_object_get(last, "code")) ?
		    (int)json_integer_value(json_object_get(last, "code")) :
		    sig ? 128 + template_signal_number(sig) : 1;
		if (code == 0)
			code = 1;
		diag_error("agent %s failed: %s", id,
		    json_string_value(json_object_get(view, "reason")) ?: "");
	} else if (state == NULL || (strcmp(state, "stopped") != 0 &&
	    strcmp(state, "exited") != 0)) {
		/* Its supervisor is gone, and did not say the agent ended. */
		code = EX_SOFTWARE;
		diag_error("agent %s: its supervisor ended, leaving it %s", id,
		    state ? state : "in no state");
	}
	json_decref(view);
	return code;
}

int
spawn_run_main(int argc, char **argv)
{
	struct spawn_ctx c = {0};
	struct event_origin origin = {0};
	json_t *req, *env, *args, *resp, *r;
	bool wait = false, as_json = false;
	const char *id = NULL;
	int opt, code;

	env = json_object();
	while ((opt = getopt_long(argc, argv, "i:e:wh", run_options, NULL)) != -1) {
		if (cli_common_option(&c.common, opt, run_usage))
			continue;
		switch (opt) {
		case 'i':
			id = optarg;
			break;
		case 'e': {
			const char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg)
				diag_die_usage("--env: expected KEY=VALUE, got '%s'",
				    optarg);
			json_object_setn_new(env, optarg, (size_t)(eq - optarg),
			    json_string(eq + 1));
			break;
		}
		case 'w':
			wait = true;
			break;
		case OPT_JSON:
			as_json = true;
			break;
		}
	}
	if (optind == argc)
		diag_die_usage("run: missing TEMPLATE");
	args = json_array();
	for (int i = optind + 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	event_origin_from_env(&origin);
	spawn_ctx_open(&c);
	req = json_pack("{s:s, s:s, s:s*, s:o, s:o, s:s*, s:s*, s:s*}",
	    "method", "spawn", "template", argv[optind], "id", id, "args", args,
	    "env", env, "traceId", origin.trace_id, "sessionId", origin.session_id,
	    "causeId", origin.parent_id);
	if (req == NULL)
		diag_die(EX_USAGE, "run: TEMPLATE, ARGS and --env must be UTF-8");
	resp = spawn_request(&c, req);
	json_decref(req);
	if (!json_is_true(json_object_get(resp, "ok"))) {
		code = spawn_response_fail(resp);
		json_decref(resp);
		spawn_ctx_close(&c);
		return code;
	}
	r = json_object_get(resp, "result");
	if (as_json)
		cli_print_json(json_incref(r));
	else
		printf("%s: running, pid %lld (supervisor %lld)\n",
		    json_string_value(json_object_get(r, "id")),
		    (long long)json_integer_value(json_object_get(r, "pid")),
		    (long long)json_integer_value(json_object_get(r, "supervisor")));
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	code = wait ? run_wait(&c, json_string_value(json_object_get(r, "id")),
	    (pid_t)json_integer_value(json_object_get(r, "supervisor"))) : 0;
	json_decref(resp);
	spawn_ctx_close(&c);
	return code;
}

/* ---- tool ---- */

static json_t *
tool_failure(const char *code, const char *message)
{
	return json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error",
	    "code", code, "message", message, "source", "starry-spawn");
}

/* The control request a tool call stands for, or NULL (why set). */
static json_t *
tool_request(const json_t *call, const char **why)
{
	const char *tool = json_string_value(json_object_get(call, "tool"));
	json_t *a = json_object_get(call, "arguments"), *req;

	if (tool == NULL)
		tool = json_string_value(json_object_get(call, "name"));
	if (a == NULL || json_is_null(a))
		a = json_object_get(call, "args");
	if (tool == NULL) {
		*why = "the call names no tool";
		return NULL;
	}
	if (a != NULL && !json_is_object(a)) {
		*why = "arguments: expected an object";
		return NULL;
	}
	req = a ? json_deep_copy(a) : json_object();
	if (strcmp(tool, "agent.start") == 0) {
		json_object_set_new(req, "method", json_string("spawn"));
		json_object_del(req, "traceId");
		json_object_del(req, "causeId");
	} else if (strcmp(tool, "agent.stop") == 0) {
		json_object_set_new(req, "method", json_string("stop"));
	} else if (strcmp(tool, "agent.status") == 0) {
		json_object_set_new(req, "method", json_string("status"));
	} else if (strcmp(tool, "agent.list") == 0) {
		json_object_set_new(req, "method", json_string("list"));
	} else {
		json_decref(req);
		*why = "unknown tool (agent.start, agent.stop, agent.status, "
		    "agent.list)";
		return NULL;
	}
	return req;
}

int
spawn_tool_main(int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_LONGOPTS, {0}};
	struct spawn_ctx c = {0};
	struct event_origin origin = {0};
	json_t *call, *req, *resp, *answer;
	const char *why = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1)
		cli_common_option(&c.common, opt, tool_usage);
	if (optind + 1 != argc)
		diag_die_usage("tool: expected one CALL");
	call = json_loads(argv[optind], 0, NULL);
	if (!json_is_object(call)) {
		answer = tool_failure("EUSAGE", "the call is not a JSON object");
		goto out;
	}
	if ((req = tool_request(call, &why)) == NULL) {
		answer = tool_failure("EUSAGE", why);
		goto out;
	}
	/* The worker continues the caller's trace (DESIGN section 2). */
	event_origin_from_env(&origin);
	if (origin.trace_id != NULL)
		json_object_set_new(req, "traceId", json_string(origin.trace_id));
	if (origin.session_id != NULL)
		json_object_set_new(req, "sessionId", json_string(origin.session_id));
	if (origin.parent_id != NULL)
		json_object_set_new(req, "causeId", json_string(origin.parent_id));
	spawn_ctx_open(&c);
	resp = spawn_request(&c, req);
	json_decref(req);
	if (json_is_true(json_object_get(resp, "ok"))) {
		answer = json_pack("{s:b, s:O}", "success", 1, "result",
		    json_object_get(resp, "result"));
	} else {
		json_t *e = json_object_get(resp, "error");

		answer = tool_failure(json_string_value(json_object_get(e, "code")) ?:
		    "EINTERNAL", json_string_value(json_object_get(e, "message")) ?:
		    "failed");
	}
	json_decref(resp);
	spawn_ctx_close(&c);
out:
	json_decref(call);
	cli_print_json(answer);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}
