#!/usr/bin/env bats
# starry-spawn serve: the daemon's control socket, SPAWN:REQUEST events
# from stdin and from the hub, and the boot sequence (--boot), against
# real processes, a real hub and a real store.

load helper

setup() {
	starry_setup
	mkdir -p "$STARRY_CONFIG/agents"
	cat >"$STARRY_CONFIG/agents/sleeper.yaml" <<-'EOF'
	identity: {id: sleeper}
	runtime:
	  command: [sleep, "60"]
	  stop: {timeout: 1s}
	EOF
	DAEMON_PID=
	HUB_PID=
}

teardown() {
	if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; fi
	for id in $(starry-spawn list --json 2>/dev/null | jq -r 'select(.supervised) | .id'); do
		starry-spawn stop "$id" >/dev/null 2>&1 || true
	done
	if [ -n "$HUB_PID" ]; then kill "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null; fi
	true
}

# start_daemon [ARGS...]: serve in the background (stdin from $DAEMON_IN
# when set, else /dev/null), ready when it says so.
start_daemon() {
	mkfifo daemon.ready
	starry-spawn serve --ready-fd 7 "$@" 7>daemon.ready 2>serve.log \
		<"${DAEMON_IN:-/dev/null}" &
	DAEMON_PID=$!
	read -r -t 20 _ <daemon.ready
	rm -f daemon.ready
}

start_hub() {
	mkfifo hub.ready
	starry-bus serve --ready-fd 7 7>hub.ready 2>hub.log &
	HUB_PID=$!
	read -r -t 20 _ <hub.ready
	rm -f hub.ready
}

# ask FILE: send FILE's lines to spawn.sock, close our end, print answers.
ask() {
	perl -e '
use strict; use Socket; use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die "connect: $!";
open(my $f, "<", $ARGV[1]) or die; local $/; my $all = <$f>;
my $off = 0; while ($off < length $all) { my $n = syswrite($s, $all, 65536, $off); die "write: $!" unless defined $n; $off += $n }
shutdown($s, 1); my $buf; while (sysread($s, $buf, 65536)) { print $buf }' \
		"$STARRY_RUNTIME/spawn.sock" "$1"
}

agent_state() {
	starry-spawn status "$1" --json 2>/dev/null | jq -r .state
}

is_state() {
	[ "$(agent_state "$1")" = "$2" ]
}

@test "serve: spawn.sock is 0600, and a second daemon exits 75" {
	start_daemon
	[ "$(stat -c %a "$STARRY_RUNTIME/spawn.sock")" = 600 ]
	run starry-spawn serve
	assert_failure 75
	assert_output --partial "another daemon serves $STARRY_RUNTIME"
	kill -0 "$DAEMON_PID"
}

@test "serve: malformed JSON, unknown methods, missing fields and 1 MiB of garbage get errors; the daemon keeps serving" {
	start_daemon
	{
		echo 'not json at all'
		echo '{"method":"frobnicate"}'
		echo '{"method":"spawn"}'
		echo '{"method":"stop"}'
		echo '{"method":"spawn","template":5}'
		echo '{"method":"kill","id":"sleeper","signal":"NOPE"}'
		echo '[1,2,3]'
		head -c 1100000 /dev/zero | tr '\0' 'x'; echo
		echo '{"method":"status","id":"../../etc"}'
		echo '{"method":"list"}'
	} >req
	run ask req
	assert_success
	[ "${#lines[@]}" -eq 10 ]
	[ "$(printf '%s\n' "${lines[0]}" | jq -r .error.code)" = EUSAGE ]
	assert_line --index 0 --partial 'malformed request'
	assert_line --index 1 --partial 'unknown method \"frobnicate\"'
	assert_line --index 2 --partial 'missing field \"template\"'
	assert_line --index 3 --partial 'missing field \"id\"'
	assert_line --index 4 --partial 'field \"template\": expected a non-empty string'
	assert_line --index 5 --partial 'expected a signal name'
	assert_line --index 6 --partial 'a request is a JSON object'
	assert_line --index 7 --partial 'request over 1048576 bytes'
	assert_line --index 8 --partial "invalid agent id '../../etc'"
	[ "$(printf '%s\n' "${lines[9]}" | jq -c '[.ok, .result]')" = '[true,[]]' ]
	kill -0 "$DAEMON_PID"
	# and it still answers the command line
	run starry-spawn run sleeper
	assert_success
}

@test "serve: run goes through the daemon: the agent's supervisor is the daemon's child" {
	start_daemon
	run starry-spawn run sleeper --json
	assert_success
	sup=$(printf '%s\n' "$output" | jq -r .supervisor)
	[ "$(ps -o ppid= -p "$sup" | tr -d ' ')" = "$DAEMON_PID" ]
	run starry-spawn run sleeper
	assert_failure 75
	assert_output --partial "supervisor pid $sup"
}

@test "serve: SIGTERM stops every agent it started, and nothing of them is left" {
	start_daemon
	starry-spawn run sleeper --id s1 >/dev/null
	starry-spawn run sleeper --id s2 >/dev/null
	p1=$(starry-spawn status s1 --json | jq .pid)
	p2=$(starry-spawn status s2 --json | jq .pid)
	kill "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
	[ "$(agent_state s1)" = stopped ]
	[ "$(agent_state s2)" = stopped ]
	! kill -0 "$p1" 2>/dev/null
	! kill -0 "$p2" 2>/dev/null
	[ ! -e "$STARRY_RUNTIME/spawn.sock" ]
}

@test "serve: a SPAWN:REQUEST on stdin starts the agent in the event's trace" {
	mkfifo events
	DAEMON_IN=events start_daemon &
	exec 8>events
	wait_for 20 test -S "$STARRY_RUNTIME/spawn.sock"
	req=$(starry-bus emit SPAWN:REQUEST --payload '{"template":"sleeper","id":"from-stdin","args":["1"]}')
	printf '%s\n' "$req" >&8
	wait_for 20 is_state from-stdin running
	exec 8>&-
	DAEMON_PID=$(pgrep -f 'starry-spawn serve --ready-fd 7' | head -1)
	trace=$(printf '%s\n' "$req" | jq -r .traceId)
	id=$(printf '%s\n' "$req" | jq -r .id)
	run starry-state query --type AGENT:SPAWNED
	spawned=$(printf '%s\n' "$output" | jq -c 'select(.source == "from-stdin")')
	[ "$(printf '%s\n' "$spawned" | jq -r .traceId)" = "$trace" ]
	[ "$(printf '%s\n' "$spawned" | jq -r .parentId)" = "$id" ]
	[ "$(starry-spawn status from-stdin --json | jq -c .args)" = '["1"]' ]
}

@test "serve: a SPAWN:REQUEST published on the hub starts the agent; a bad one is a KERNEL:ERROR in its trace" {
	start_hub
	start_daemon
	# the daemon subscribes within its retry period; poll until it has
	sub_seen() {
		starry-bus emit SPAWN:REQUEST --payload '{"template":"sleeper","id":"via-hub"}' |
			starry-bus pub
		is_state via-hub running
	}
	wait_for 20 sub_seen
	bad=$(starry-bus emit SPAWN:REQUEST --payload '{"template":"no-such-template"}')
	printf '%s\n' "$bad" | starry-bus pub
	has_error() {
		starry-state query --type KERNEL:ERROR 2>/dev/null | grep -q "no template 'no-such-template'"
	}
	wait_for 20 has_error
	run starry-state query --type KERNEL:ERROR
	[ "$(printf '%s\n' "$output" | jq -r .parentId)" = "$(printf '%s\n' "$bad" | jq -r .id)" ]
	kill -0 "$DAEMON_PID"
}

@test "serve --boot: infrastructure starts in order, each ready before the next" {
	cat >"$BATS_TEST_TMPDIR/infra.sh" <<-'EOF'
	#!/bin/sh
	echo "$1 started" >>"$2"
	[ "$1" = first ] && sleep 0.3
	echo "$1 ready" >>"$2"
	echo >&3
	exec sleep 60
	EOF
	chmod +x "$BATS_TEST_TMPDIR/infra.sh"
	cat >"$STARRY_CONFIG/starry.yaml" <<-EOF
	infrastructure:
	  - {name: first, command: [$BATS_TEST_TMPDIR/infra.sh, first, $BATS_TEST_TMPDIR/order], ready-fd: 3}
	  - {name: second, command: [$BATS_TEST_TMPDIR/infra.sh, second, $BATS_TEST_TMPDIR/order], ready-fd: 3}
	EOF
	start_daemon --boot
	run cat order
	assert_output "$(printf 'first started\nfirst ready\nsecond started\nsecond ready')"
	run starry-state query --type SPAWN:BOOT
	[ "$(printf '%s\n' "$output" | jq -r '.payload.step' | tr '\n' ' ')" = \
	  "start infrastructure infrastructure health templates master ready " ]
	[ "$(agent_state first)" = running ]
	[ "$(agent_state second)" = running ]
}

@test "serve --boot: a template that went bad runs as its cached version, with a warning" {
	cat >"$STARRY_CONFIG/agents/boss.yaml" <<-'EOF'
	identity: {id: boss}
	runtime:
	  command: [sleep, "60"]
	  env: {VERSION: good}
	EOF
	echo 'master: boss' >"$STARRY_CONFIG/starry.yaml"
	start_daemon --boot
	[ -f "$STARRY_HOME/templates.cache/boss.json" ]
	kill "$DAEMON_PID"; wait "$DAEMON_PID"; DAEMON_PID=
	# a typo: the file no longer validates
	cat >"$STARRY_CONFIG/agents/boss.yaml" <<-'EOF'
	identity: {id: boss}
	runtime:
	  comand: [sleep, "60"]
	EOF
	start_daemon --boot
	run cat serve.log
	assert_output --partial "boss.yaml:3:3: runtime.comand: unknown key; did you mean 'command'?; its last valid version stays in force"
	assert_output --partial "boot: master: ok: boss"
	[ "$(agent_state boss)" = running ]
	pid=$(starry-spawn status boss --json | jq .pid)
	grep -qz 'VERSION=good' "/proc/$pid/environ"
	run starry-state query --type KERNEL:ERROR
	assert_output --partial '"code":"ETEMPLATE"'
}

@test "serve --boot: an agent whose supervisor was SIGKILLed is reported, cleared away and restarted" {
	cat >"$BATS_TEST_TMPDIR/family.sh" <<-'EOF'
	#!/bin/sh
	sleep 60 &
	echo $! >"$STARRY_AGENT_DIR/child.pid"
	exec sleep 60
	EOF
	chmod +x "$BATS_TEST_TMPDIR/family.sh"
	cat >"$STARRY_CONFIG/agents/family.yaml" <<-EOF
	identity: {id: family}
	runtime:
	  command: [$BATS_TEST_TMPDIR/family.sh]
	  restart: on-failure
	EOF
	starry-spawn run family >/dev/null
	wait_for 10 test -s "$STARRY_HOME/agents/family/child.pid"
	child=$(cat "$STARRY_HOME/agents/family/child.pid")
	sup=$(starry-spawn status family --json | jq .supervisor)
	old=$(starry-spawn status family --json | jq .pid)
	kill -KILL "$sup"
	wait_for 10 is_state family dead
	# the direct child went with its supervisor; the grandchild is left
	wait_for 10 bash -c "! kill -0 $old 2>/dev/null"
	kill -0 "$child"
	run starry-state check
	assert_failure 1
	assert_output --partial family
	start_daemon --boot
	run cat serve.log
	assert_output --partial "agent family was interrupted"
	assert_output --partial "boot: health: ok: 1 interrupted"
	wait_for 10 bash -c "! kill -0 $child 2>/dev/null"
	[ "$(agent_state family)" = running ]
	[ "$(starry-spawn status family --json | jq .pid)" != "$old" ]
	run starry-state query --type KERNEL:ERROR
	assert_output --partial '"code":"EINTERRUPTED"'
}

@test "serve --boot: the master gets its last snapshot in STARRY_SNAPSHOT" {
	cat >"$BATS_TEST_TMPDIR/master.sh" <<-'EOF'
	#!/bin/sh
	cat "$STARRY_SNAPSHOT" >"$STARRY_AGENT_DIR/restored"
	exec sleep 60
	EOF
	chmod +x "$BATS_TEST_TMPDIR/master.sh"
	cat >"$STARRY_CONFIG/agents/chief.yaml" <<-EOF
	identity: {id: chief}
	runtime: {command: [$BATS_TEST_TMPDIR/master.sh]}
	EOF
	printf 'master: {template: chief, id: chief}\n' >"$STARRY_CONFIG/starry.yaml"
	starry-bus emit STATE:SNAPSHOT --source chief --payload '{"agentId":"chief","memory":["old"]}' |
		starry-state append
	starry-bus emit STATE:SNAPSHOT --source chief --payload '{"agentId":"chief","memory":["new"]}' |
		starry-state append
	start_daemon --boot
	wait_for 10 test -s "$STARRY_HOME/agents/chief/restored"
	run jq -c .memory "$STARRY_HOME/agents/chief/restored"
	assert_output '["new"]'
}

@test "serve: a template written while it runs is validated and cached" {
	start_daemon
	cat >"$STARRY_CONFIG/agents/late.yaml" <<-'EOF'
	identity: {id: late}
	runtime: {command: [sleep, "1"]}
	EOF
	wait_for 10 test -f "$STARRY_HOME/templates.cache/late.json"
	run jq -r .identity.id "$STARRY_HOME/templates.cache/late.json"
	assert_output late
}

@test "serve: a template edited between two runs starts as edited; one made invalid runs as its last valid version" {
	start_daemon
	run starry-spawn run sleeper --json
	assert_success
	pid=$(printf '%s\n' "$output" | jq -r .pid)
	assert_equal "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sleep 60 "
	starry-spawn stop sleeper
	# Edited, and at once run again: no waiting for the daemon to notice.
	cat >"$STARRY_CONFIG/agents/sleeper.yaml" <<-'EOF'
	identity: {id: sleeper}
	runtime:
	  command: [sleep, "600"]
	  stop: {timeout: 1s}
	EOF
	run starry-spawn run sleeper --json
	assert_success
	pid=$(printf '%s\n' "$output" | jq -r .pid)
	assert_equal "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sleep 600 "
	starry-spawn stop sleeper
	# Made invalid: the daemon runs its last valid version, and says so
	# (degraded), as at boot.
	wait_for 10 grep -q '"600"' "$STARRY_HOME/templates.cache/sleeper.json"
	printf 'identity: {id: sleeper}\nruntime: {comand: [sleep, "1"]}\n' \
		>"$STARRY_CONFIG/agents/sleeper.yaml"
	run starry-spawn run sleeper --json
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -r .degraded)" true
	pid=$(printf '%s\n' "$output" | jq -r .pid)
	assert_equal "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sleep 600 "
	run grep "did you mean 'command'" serve.log
	assert_success
}

@test "serve: a run the daemon answers is done under the daemon's settings, not a starry.yaml that went bad since" {
	start_daemon
	echo 'agent_runner: {not: a list}' >"$STARRY_CONFIG/starry.yaml"
	run starry-spawn run sleeper
	assert_success
	assert_output --partial "sleeper: running"
	run starry-spawn list
	assert_success
	starry-spawn stop sleeper
	kill "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	DAEMON_PID=
	# With no daemon, the command reads it, and says what is wrong.
	run starry-spawn run sleeper
	assert_failure 78
	assert_output --partial "starry.yaml"
}

@test "serve --boot: the health check kills only what carries the agent's id and home, never a recycled pid" {
	# a stranger in a group of its own, whose pid the registry names
	setsid sleep 300 &
	stranger=$!
	mkdir -p "$STARRY_HOME/agents/ghost"
	printf '{"id":"ghost","template":"sleeper","state":"running","pid":%d,"started":1000}\n' \
		"$stranger" >"$STARRY_HOME/agents/ghost/status.json"
	start_daemon --boot
	run cat serve.log
	assert_output --partial "agent ghost was interrupted"
	kill -0 "$stranger"
	kill "$stranger"
	[ "$(agent_state ghost)" = failed ]
}

@test "serve: a list of 800 agents comes back whole through the socket" {
	for i in $(seq 1 800); do
		mkdir -p "$STARRY_HOME/agents/a$i"
		printf '{"id":"a%d","template":"sleeper","state":"exited","reason":"%0400d"}\n' \
			"$i" 0 >"$STARRY_HOME/agents/a$i/status.json"
	done
	start_daemon
	run starry-spawn list --json
	assert_success
	[ "${#lines[@]}" -eq 800 ]
}

@test "run: an agent that exits before its ready-fd says so fails the run, with why" {
	cat >"$STARRY_CONFIG/agents/early.yaml" <<-'EOF'
	identity: {id: early}
	runtime:
	  command: [sh, -c, "echo bye >&2; exit 3"]
	  ready-fd: 3
	  restart: always
	EOF
	run starry-spawn run early
	assert_failure 69
	assert_output --partial "agent early did not come up: exited with status 3"
	[ "$(agent_state early)" = failed ]
}

@test "restart: a restart whose command has gone away backs off instead of spinning" {
	cp "$(command -v sleep)" "$BATS_TEST_TMPDIR/mysleep"
	cat >"$STARRY_CONFIG/agents/fragile.yaml" <<-EOF
	identity: {id: fragile}
	runtime:
	  command: [$BATS_TEST_TMPDIR/mysleep, "60"]
	  restart: always
	  backoff: {initial: 5s, max: 5s, jitter: 0}
	EOF
	starry-spawn run fragile >/dev/null
	rm "$BATS_TEST_TMPDIR/mysleep"
	printf 'restart\n' >"$STARRY_HOME/agents/fragile/control"
	wait_for 10 is_state fragile backoff
	run starry-spawn status fragile --json
	assert_output --partial 'cannot run'
	# and it still obeys a stop at once
	run timeout 10 starry-spawn stop fragile
	assert_success
	[ "$(agent_state fragile)" = stopped ]
}

@test "serve: a slow stop does not hold the daemon up: list answers meanwhile" {
	cat >"$STARRY_CONFIG/agents/stubborn.yaml" <<-'EOF'
	identity: {id: stubborn}
	runtime:
	  command: [sh, -c, "trap '' TERM; while :; do sleep 1; done"]
	  stop: {timeout: 3s}
	EOF
	start_daemon
	starry-spawn run stubborn >/dev/null
	starry-spawn stop stubborn >stop.out 2>&1 &
	stopper=$!
	wait_for 10 is_state stubborn stopping
	SECONDS=0
	run starry-spawn list --json
	assert_success
	[ "$SECONDS" -lt 2 ]
	assert_output --partial '"state":"stopping"'
	wait "$stopper"
	[ "$(agent_state stubborn)" = stopped ]
	grep -q 'stubborn: stopped' stop.out
}
