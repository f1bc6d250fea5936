#!/usr/bin/env bats
# starry-sched with the rest of starry running for real: the hub, the
# store, the spawn daemon and agents. The spec's two examples from
# starry-bus emit to a running agent and the stored trace; debounce and
# concurrency counted from the agents' own lifecycle events.

load helper
bats_require_minimum_version 1.5.0

setup() {
	starry_setup
	mkdir -p "$STARRY_CONFIG/agents"
	# An agent that notes its environment and stays up until stopped.
	cat >agent.sh <<-'EOF'
	#!/bin/sh
	env | grep -E '^(STARRY_TRACE_ID|STARRY_CAUSE_ID|COMMIT|FILE)=' | sort >"$STARRY_AGENT_DIR/env"
	exec sleep 300
	EOF
	chmod +x agent.sh
	for t in code-reviewer-agent devops-agent builder worker; do
		printf 'identity: {id: %s}\nruntime: {command: ["%s"], restart: never, stop: {timeout: 2s}}\n' \
		    "$t" "$BATS_TEST_TMPDIR/agent.sh" >"$STARRY_CONFIG/agents/$t.yaml"
	done
	PIDS=
}

teardown() {
	for id in $(starry-spawn list --json 2>/dev/null | jq -r 'select(.supervised) | .id'); do
		starry-spawn stop "$id" >/dev/null 2>&1 || true
	done
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	true
}

# background NAME CMD...: start CMD with a readiness FIFO on fd 3; wait
# until it is ready.
ready_wait() {
	read -r -t 20 _ <"$1"
	rm -f "$1"
}

# The rest of starry: the hub, the store and the spawn daemon.
start_base() {
	mkfifo hub.ready store.ready daemon.ready
	starry-bus serve --ready-fd 3 3>hub.ready 2>hub.log &
	PIDS="$PIDS $!"
	ready_wait hub.ready
	{ starry-bus sub --ready-fd 3 3>store.ready | starry-state append; } 2>store.log &
	PIDS="$PIDS $!"
	ready_wait store.ready
	starry-spawn serve --ready-fd 3 3>daemon.ready 2>serve.log </dev/null &
	PIDS="$PIDS $!"
	ready_wait daemon.ready
}

start_starry() {
	start_base
	mkfifo sched.ready
	{ starry-sched run --events hub --ready-fd 3 3>sched.ready 2>sched.log | starry-bus pub; } &
	PIDS="$PIDS $!"
	ready_wait sched.ready
}

emit() {
	starry-bus emit "$@" --to "$STARRY_RUNTIME/bus.sock"
}

is_state() {
	[ "$(starry-spawn status "$1" --json 2>/dev/null | jq -r .state)" = "$2" ]
}

# projected: a projection round that asked both agents is stored.
projected() {
	starry-state query --type STATE:PROJECTION 2>/dev/null |
	    jq -se 'any(.payload.requested == 2)' >/dev/null
}

stored() {
	[ "$(starry-state query --trace "$1" --type "$2" | wc -l)" -ge "${3:-1}" ]
}

@test "sched e2e: git:commit_pushed on main spawns code-reviewer-agent; the trace is stored whole" {
	cat >"$STARRY_CONFIG/orchestration.yaml" <<-'EOF'
	rules:
	  - on: "git:commit_pushed"
	    if: "branch == 'main'"
	    action: "spawn(code-reviewer-agent, COMMIT=${sha})"
	EOF
	start_starry
	emit git:commit_pushed --trace push-dev --payload '{"branch":"dev","sha":"d1"}'
	emit git:commit_pushed --trace push-main --payload '{"branch":"main","sha":"abc123"}'
	wait_for 20 is_state code-reviewer-agent running
	wait_for 10 test -s "$STARRY_HOME/agents/code-reviewer-agent/env"
	grep -qx 'COMMIT=abc123' "$STARRY_HOME/agents/code-reviewer-agent/env"
	grep -qx 'STARRY_TRACE_ID=push-main' "$STARRY_HOME/agents/code-reviewer-agent/env"
	# The chain, stored: the push, the request it caused, the start.
	wait_for 20 stored push-main AGENT:SPAWNED
	starry-state query --trace push-main >chain
	jq -se '
	    (map(select(.type == "git:commit_pushed"))[0]) as $push |
	    (map(select(.type == "SPAWN:REQUEST"))) as $req |
	    (map(select(.type == "AGENT:SPAWNED"))) as $up |
	    ($req | length) == 1 and ($up | length) == 1
	    and $req[0].parentId == $push.id and $req[0].source == "starry-sched"
	    and $up[0].parentId == $req[0].id and $up[0].source == "code-reviewer-agent"' chain
	# The push to dev caused nothing, and the agent started once.
	[ "$(starry-state query --trace push-dev | wc -l)" -eq 1 ]
	[ "$(starry-state query --type AGENT:SPAWNED | wc -l)" -eq 1 ]
}

@test "sched e2e: alert:server_down spawns devops-agent" {
	cat >"$STARRY_CONFIG/orchestration.yaml" <<-'EOF'
	rules:
	  - on: "alert:server_down"
	    action: "spawn(devops-agent)"
	EOF
	start_starry
	emit alert:server_down --trace alert-1 --payload '{"host":"db1"}'
	wait_for 20 is_state devops-agent running
	wait_for 20 stored alert-1 AGENT:SPAWNED
	grep -qx 'STARRY_TRACE_ID=alert-1' "$STARRY_HOME/agents/devops-agent/env"
}

@test "sched e2e: debounce turns a burst into one agent, started for the last event" {
	cat >"$STARRY_CONFIG/orchestration.yaml" <<-'EOF'
	rules:
	  - on: "fs:changed"
	    debounce: 500ms
	    action: "spawn(builder, FILE=${file})"
	EOF
	start_starry
	for f in a b c; do emit fs:changed --trace "burst-$f" --payload "{\"file\":\"$f\"}"; done
	wait_for 20 is_state builder running
	wait_for 10 test -s "$STARRY_HOME/agents/builder/env"
	grep -qx 'FILE=c' "$STARRY_HOME/agents/builder/env"
	wait_for 20 stored burst-c AGENT:SPAWNED
	[ "$(starry-state query --type SPAWN:REQUEST | wc -l)" -eq 1 ]
}

# held_back N: the scheduler says N actions were held back by concurrency.
held_back() {
	kill -USR1 "$(pgrep -f 'starry-sched run --events hub')"
	grep -q " $1 held back by concurrency" sched.log
}

# One worker at a time for job:new; and a barrier: at the lowest priority
# nothing queued before it is overtaken, so once it is answered the
# scheduler has seen all that came before.
job_rules() {
	cat >"$STARRY_CONFIG/orchestration.yaml" <<-'EOF'
	rules:
	  - on: "job:new"
	    concurrency: 1
	    action: "spawn(worker, id=${name})"
	  - on: "test:barrier"
	    action: "emit(test:barrier_seen)"
	EOF
}

# exit_makes_room BARRIER: j1 stops; once the scheduler has seen its
# exit (a barrier of trace BARRIER answered), job j3 starts.
exit_makes_room() {
	starry-spawn stop j1
	wait_for 20 stored "$(starry-spawn status j1 --json | jq -r .trace)" AGENT:EXITED
	emit test:barrier --trace "$1" --priority 5
	wait_for 20 stored "$1" test:barrier_seen
	emit job:new --payload '{"name":"j3"}'
	wait_for 20 is_state j3 running
}

@test "sched e2e: concurrency counts live agents, and an exit makes room" {
	job_rules
	start_starry
	emit job:new --payload '{"name":"j1"}'
	wait_for 20 is_state j1 running
	emit job:new --payload '{"name":"j2"}'
	wait_for 10 held_back 1
	! is_state j2 running
	exit_makes_room barrier
	[ "$(starry-state query --type SPAWN:REQUEST | wc -l)" -eq 2 ]
}

# A scheduler of its own (SCHED is its pid), its stderr in $1.
start_sched() {
	mkfifo sched.ready
	starry-sched run --events hub --ready-fd 3 3>sched.ready 2>"$1" > >(starry-bus pub) &
	SCHED=$!
	PIDS="$PIDS $SCHED"
	ready_wait sched.ready
}

@test "sched e2e: after a restart, the agents a rule started that still run count again, by the registry" {
	job_rules
	start_base
	start_sched sched1.log
	emit job:new --payload '{"name":"j1"}'
	wait_for 20 is_state j1 running
	# The registry names the request the agent came of.
	request=$(starry-state query --type SPAWN:REQUEST | jq -r .id)
	[ "$(starry-spawn status j1 --json | jq -r .cause)" = "$request" ]
	kill -TERM "$SCHED"
	wait "$SCHED" || true
	start_sched sched2.log
	emit job:new --payload '{"name":"j2"}'
	emit test:barrier --trace barrier1 --priority 5
	wait_for 20 stored barrier1 test:barrier_seen
	kill -USR1 "$SCHED"
	wait_for 10 grep -q " 1 held back by concurrency" sched2.log
	! is_state j2 running
	# The exit it hears of makes room, as before the restart.
	exit_makes_room barrier2
	# An agent that ended while nothing ran is not counted at start.
	kill -TERM "$SCHED"
	wait "$SCHED" || true
	starry-spawn stop j3
	start_sched sched3.log
	emit job:new --payload '{"name":"j4"}'
	wait_for 20 is_state j4 running
	jq -e '[.[][]] | length == 1' "$STARRY_HOME/sched/started.json"
}

@test "sched e2e: the state projection asks live agents for snapshots; the silent one is stale on the dashboard" {
	cat >answerer.sh <<-'EOF'
	#!/bin/sh
	while IFS= read -r line; do
		case "$line" in
		*STATE:SNAPSHOT_REQUEST*)
			echo '{"type":"STATE:SNAPSHOT","payload":{"agentId":"answerer","summary":"all well"}}' ;;
		esac
	done
	EOF
	chmod +x answerer.sh
	printf 'identity: {id: answerer}\nruntime: {command: ["%s"], restart: never}\n' \
	    "$BATS_TEST_TMPDIR/answerer.sh" >"$STARRY_CONFIG/agents/answerer.yaml"
	printf 'identity: {id: silent}\nruntime: {command: [sleep, "300"], restart: never}\n' \
	    >"$STARRY_CONFIG/agents/silent.yaml"
	printf 'project: {every: 2s, timeout: 1s}\nrules: []\n' >"$STARRY_CONFIG/orchestration.yaml"
	start_starry
	starry-spawn run answerer
	starry-spawn run silent
	wait_for 30 projected
	starry-state query --type STATE:PROJECTION | jq -se '
	    map(select(.payload.requested == 2)) | .[0].payload |
	    .answered == ["answerer"] and .stale == ["silent"] and .timeoutMs == 1000'
	run starry-state dashboard --json
	assert_success
	jq -e '(.agents[] | select(.agent == "silent") | .stale == true)
	    and (.agents[] | select(.agent == "answerer") | .stale == false and .snapshot.summary == "all well")
	    and .projection.stale == ["silent"]' <<<"$output"
}
