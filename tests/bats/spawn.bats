#!/usr/bin/env bats
# starry-spawn: templates, supervisors and the agents they run. Every test
# writes its own templates into a private STARRY_CONFIG, runs the small
# agents of spawn-agents/, and waits on what they write (never on a fixed
# sleep); teardown stops every agent of the test and kills what is left.

load helper
bats_require_minimum_version 1.5.0

AGENTS="$BATS_TEST_DIRNAME/spawn-agents"

setup() {
	starry_setup
	mkdir -p "$STARRY_CONFIG/agents"
	BG=()
}

teardown() {
	local dir p
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for dir in "$STARRY_HOME"/agents/*/; do
		[ -d "$dir" ] || continue
		timeout 20 starry-spawn stop "$(basename "$dir")" >/dev/null 2>&1 3>&- || true
	done
	for p in $(ours); do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# ---- helpers ----

# ours: the pids of the processes this test started (supervisors, agents
# and their children): those whose environment names its STARRY_HOME.
ours() {
	grep -lzxF -e "STARRY_HOME=$STARRY_HOME" -e "OPENSTARRY_HOME=$STARRY_HOME" \
	    /proc/[0-9]*/environ 2>/dev/null | sed 's,^/proc/,,; s,/environ$,,' |
	    grep -vx -e "$$" -e "$BASHPID" || true
}

# agent_procs ID: the pids of the processes that run as agent ID.
agent_procs() {
	grep -lzxF "OPENSTARRY_AGENT_ID=$1" /proc/[0-9]*/environ 2>/dev/null |
	    sed 's,^/proc/,,; s,/environ$,,' || true
}

# template NAME: $STARRY_CONFIG/agents/NAME.yaml from stdin.
template() {
	cat > "$STARRY_CONFIG/agents/$1.yaml"
}

# field ID JQ: one field of 'status ID --json'.
field() {
	starry-spawn status "$1" --json 2>/dev/null | jq -r "$2"
}

# state_is ID STATE: for wait_for.
state_is() {
	[ "$(field "$1" .state)" = "$2" ]
}

# pid_changed ID OLD: the agent runs with a pid other than OLD.
pid_changed() {
	local pid
	pid=$(field "$1" .pid)
	[ "$(field "$1" .state)" = running ] && [ "$pid" != 0 ] &&
	    [ "$pid" != "$2" ]
}

# gone PID...: none of the PIDs exists any more, not even as a zombie.
gone() {
	local p
	for p; do
		[[ "$p" =~ ^[1-9][0-9]*$ ]] || return 1
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

# ended PID...: none of the PIDs runs: each is gone or a zombie. For a
# supervisor, whose parent is init (which may take its time to reap).
ended() {
	local p
	for p; do
		! alive "$p" || return 1
	done
}

# alive PID...: every PID exists and is not a zombie.
alive() {
	local p st
	for p; do
		# Read once: a process reaped between two reads is not alive.
		st=$(cat "/proc/$p/stat" 2>/dev/null) && [ -n "$st" ] || return 1
		st=${st##*) }
		[ "${st%% *}" != Z ] || return 1
	done
}

# events TYPE [QUERY OPTIONS]: the stored events of TYPE, one a line.
events() {
	local type=$1
	shift
	starry-state query --type "$type" "$@" 2>/dev/null
}

# has_event N TYPE [QUERY OPTIONS]: at least N such events are stored.
has_event() {
	local n=$1
	shift
	[ "$(events "$@" | wc -l)" -ge "$n" ]
}

now_ms() {
	date +%s%3N
}

# gaps FILE: the differences between consecutive numbers of FILE.
gaps() {
	awk 'NR > 1 { printf "%d ", $1 - prev } { prev = $1 }' "$1"
}

# ---- run, list, status, stop ----

@test "run: the agent runs under a supervisor; list and status show it; stop ends both" {
	template hello <<EOF
identity: {id: hello}
runtime:
  command: [$AGENTS/say.sh]
  stop: {timeout: 500ms}
EOF
	run --separate-stderr starry-spawn run hello
	assert_success
	[[ "$output" =~ ^hello:\ running,\ pid\ ([0-9]+)\ \(supervisor\ ([0-9]+)\)$ ]]
	pid=${BASH_REMATCH[1]} sup=${BASH_REMATCH[2]}
	alive "$pid" "$sup"
	wait_for 5 has_lines "$STARRY_HOME/agents/hello/pids" 1
	[ "$(cat "$STARRY_HOME/agents/hello/pids")" = "$pid" ]
	# The agent leads a session of its own, apart from its supervisor's.
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]

	run starry-spawn list
	assert_success
	assert_line --index 0 --regexp '^ID +TEMPLATE +DRIVER +STATE +PID +RESTARTS'
	assert_line --regexp "^hello +hello +process +running +$pid +0 "
	run starry-spawn list --json
	assert_success
	[ "$(jq -c '[.id, .template, .driver, .state, .pid, .supervisor, .restarts, .supervised]' <<<"$output")" = \
	    "[\"hello\",\"hello\",\"process\",\"running\",$pid,$sup,0,true]" ]
	run starry-spawn status hello --json
	assert_success
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]
	[ "$(jq -r .supervisor <<<"$output")" = "$sup" ]
	[ -f "$STARRY_HOME/agents/hello/template.json" ]
	[ -p "$STARRY_HOME/agents/hello/control" ]
	[ "$(jq -r .identity.id "$STARRY_HOME/agents/hello/template.json")" = hello ]

	run starry-spawn stop hello
	assert_success
	gone "$pid"
	wait_for 5 ended "$sup"
	run starry-spawn status hello --json
	assert_success
	[ "$(jq -r .state <<<"$output")" = stopped ]
	[ "$(jq -r .supervised <<<"$output")" = false ]
	run starry-spawn stop hello
	assert_failure 1
	run starry-spawn status nobody
	assert_failure 66
}

@test "run --json: one document with id, template, pid, supervisor and degraded" {
	template hello <<EOF
identity: {id: hello}
runtime:
  command: [$AGENTS/say.sh]
  stop: {timeout: 500ms}
EOF
	run --separate-stderr starry-spawn run --json --id other hello
	assert_success
	[ "$(jq -c '[.id, .template, .degraded]' <<<"$output")" = '["other","hello",false]' ]
	pid=$(jq -r .pid <<<"$output")
	sup=$(jq -r .supervisor <<<"$output")
	alive "$pid" "$sup"
	[ "$(field other .pid)" = "$pid" ]
	[ "$(field other .template)" = hello ]
}

@test "run: of 20 runs of one id at once, one starts it and 19 exit 75 naming its supervisor; one agent process" {
	template solo <<EOF
identity: {id: solo}
runtime:
  command: [$AGENTS/say.sh]
  stop: {timeout: 500ms}
EOF
	for i in $(seq 20); do
		(
			rc=0
			starry-spawn run solo >"out.$i" 2>"err.$i" 3>&- || rc=$?
			echo "$rc" >"rc.$i"
		) &
		BG+=("$!")
	done
	for p in "${BG[@]}"; do
		wait "$p"
	done
	[ "$(cat rc.* | grep -cx 0)" -eq 1 ]
	[ "$(cat rc.* | grep -cx 75)" -eq 19 ]
	sup=$(field solo .supervisor)
	pid=$(field solo .pid)
	alive "$sup" "$pid"
	[ "$(grep -l "supervisor pid $sup\b" err.* | wc -l)" -eq 19 ]
	[ "$(cat out.* | grep -c "^solo: running, pid $pid (supervisor $sup)$")" -eq 1 ]
	[ "$(wc -l < "$STARRY_HOME/agents/solo/pids")" -eq 1 ]
	[ "$(agent_procs solo)" = "$pid" ]
	[ "$(events AGENT:SPAWNED | wc -l)" -eq 1 ]
}

@test "run: options after TEMPLATE are options, and ARGS come after --" {
	template envy <<EOF
identity: {id: envy}
runtime:
  command: [$AGENTS/env.sh, first]
  stop: {timeout: 500ms}
EOF
	run --separate-stderr starry-spawn run envy --id late --env LATE=yes --json -- a 'b c'
	assert_success
	[ "$(jq -r .id <<<"$output")" = late ]
	wait_for 5 test -f "$STARRY_HOME/agents/late/env"
	grep -qx LATE=yes "$STARRY_HOME/agents/late/env"
	[ "$(cat "$STARRY_HOME/agents/late/args")" = "$(printf 'first\na\nb c')" ]
}

# ---- what the agent says ----

@test "stdout: a JSON line with a type is an event from the agent in its trace under AGENT:SPAWNED; other lines are AGENT:OUTPUT" {
	template talker <<EOF
identity: {id: talker}
runtime:
  command: [$AGENTS/say.sh, '{"type":"test:hello","payload":{"n":1},"source":"liar"}', plain words, '{"no":"type"}']
  stop: {timeout: 500ms}
EOF
	STARRY_TRACE_ID=trace-from-caller run starry-spawn run talker
	assert_success
	wait_for 5 has_event 2 AGENT:OUTPUT
	wait_for 5 has_event 1 test:hello
	spawned=$(events AGENT:SPAWNED --source talker)
	[ "$(jq -c .payload <<<"$spawned")" = \
	    "{\"agentId\":\"talker\",\"template\":\"talker\",\"driver\":\"process\",\"pid\":$(field talker .pid),\"restarts\":0}" ]
	[ "$(jq -r .traceId <<<"$spawned")" = trace-from-caller ]
	sid=$(jq -r .id <<<"$spawned")
	hello=$(events test:hello)
	[ "$(jq -c '[.source, .traceId, .parentId, .sessionId, .payload]' <<<"$hello")" = \
	    "[\"talker\",\"trace-from-caller\",\"$sid\",\"default\",{\"n\":1}]" ]
	[[ "$(jq -r .id <<<"$hello")" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	[ "$(jq -r .timestamp <<<"$hello")" -gt 1700000000000 ]
	run events AGENT:OUTPUT
	[ "$(jq -c '[.source, .traceId, .parentId, .payload.text]' <<<"$output")" = \
	    "$(printf '["talker","trace-from-caller","%s","plain words"]\n["talker","trace-from-caller","%s","{\\"no\\":\\"type\\"}"]' "$sid" "$sid")" ]
	run events KERNEL:STATE_CHANGE --source talker
	[ "$(jq -c '[.payload.agentId, .payload.to, .parentId]' <<<"${lines[0]}")" = "[\"talker\",\"running\",\"$sid\"]" ]
	starry-spawn stop talker
	wait_for 5 has_event 1 AGENT:EXITED
	exited=$(events AGENT:EXITED)
	[ "$(jq -c '[.payload.agentId, .payload.pid, .payload.signal, .traceId]' <<<"$exited")" = \
	    "[\"talker\",$(jq .payload.pid <<<"$spawned"),\"TERM\",\"trace-from-caller\"]" ]
	[ "$(jq -r '.payload.ranMs | type' <<<"$exited")" = number ]
	run events KERNEL:STATE_CHANGE --source talker
	[ "$(jq -r .payload.to <<<"${lines[-1]}")" = stopped ]
	run starry-state trace trace-from-caller
	assert_success
	assert_output --partial AGENT:SPAWNED
	assert_output --partial test:hello
}

@test "stdout: with a hub running, the agent's events go through bus.sock to its subscribers" {
	mkfifo hub.ready sub.ready
	starry-bus serve --ready-fd 5 5>hub.ready 2>hub.log 3>&- &
	BG+=("$!")
	read -r -t 10 _ <hub.ready
	starry-bus sub --ready-fd 5 >sub.out 2>sub.err 5>sub.ready 3>&- &
	BG+=("$!")
	read -r -t 10 _ <sub.ready
	template talker <<EOF
identity: {id: talker}
runtime:
  command: [$AGENTS/say.sh, '{"type":"test:via_hub","payload":{"n":2}}', hello hub]
  stop: {timeout: 500ms}
EOF
	starry-spawn run talker
	wait_for 5 grep -q '"test:via_hub"' sub.out
	wait_for 5 grep -q '"hello hub"' sub.out
	grep -q '"AGENT:SPAWNED"' sub.out
	[ "$(grep '"test:via_hub"' sub.out | jq -r .source)" = talker ]
	[ "$(grep '"test:via_hub"' sub.out | jq -r .traceId)" = "$(field talker .trace)" ]
}

@test "logs: the agent's stderr and its supervisor's notes; --follow prints what is added" {
	template noisy <<EOF
identity: {id: noisy}
runtime:
  command: [$AGENTS/stderr.sh, "3"]
  stop: {timeout: 500ms}
EOF
	starry-spawn run noisy
	wait_for 5 test -f "$STARRY_HOME/agents/noisy/done"
	wait_for 5 has_lines "$STARRY_HOME/agents/noisy/log" 4
	run starry-spawn logs noisy
	assert_success
	assert_line --regexp '^starry-spawn: started .*stderr\.sh.* \(pid [0-9]+\)$'
	assert_line --regexp '^line 000001 0+$'
	assert_line --regexp '^line 000003 0+$'
	starry-spawn logs noisy --follow >follow.out 2>&1 3>&- &
	BG+=("$!")
	wait_for 5 grep -q '^line 000003' follow.out
	starry-spawn stop noisy
	wait_for 5 grep -q '^starry-spawn: pid [0-9]* ended' follow.out
	run starry-spawn logs nobody
	assert_failure
}

@test "logs: rotated at logs.max keeping logs.keep files; logs --all prints them oldest first, nothing lost between" {
	cat > "$STARRY_CONFIG/starry.yaml" <<'EOF'
logs: {max: 4K, keep: 2}
EOF
	template chatty <<EOF
identity: {id: chatty}
runtime:
  command: [$AGENTS/stderr.sh, "400"]
  stop: {timeout: 500ms}
EOF
	starry-spawn run chatty
	dir=$STARRY_HOME/agents/chatty
	wait_for 10 test -f "$dir/done"
	wait_for 5 grep -q '^line 000400' "$dir/log"
	[ -f "$dir/log.1" ]
	[ -f "$dir/log.2" ]
	[ ! -e "$dir/log.3" ]
	for f in "$dir/log" "$dir/log.1" "$dir/log.2"; do
		# At most max, or max and the line that crossed it; and whole
		# lines: a line is never cut between two files.
		echo "$f: $(stat -c %s "$f") bytes"
		[ "$(stat -c %s "$f")" -le $((4096 + 100)) ]
		[ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ]
		run ! grep -vE '^(line [0-9]{6} 0{87}|starry-spawn: .*)$' "$f"
	done
	# 40K were written, 3 files of 4K are kept: the oldest lines are gone.
	run ! grep -q '^line 000001 ' "$dir/log" "$dir/log.1" "$dir/log.2"
	run starry-spawn logs chatty --all
	assert_success
	nums=$(grep '^line ' <<<"$output" | awk '{ print $2 + 0 }')
	first=$(head -1 <<<"$nums")
	[ "$first" -gt 1 ]
	[ "$(tail -1 <<<"$nums")" -eq 400 ]
	[ "$(paste -sd' ' <<<"$nums")" = "$(seq "$first" 400 | paste -sd' ')" ]
	run starry-spawn logs chatty
	assert_success
	[ "$output" = "$(cat "$dir/log")" ]
}

# ---- restarts ----

@test "logs: a line begun before max and ended after it stays whole in one file" {
	cat > "$STARRY_CONFIG/starry.yaml" <<'EOF'
logs: {max: 4K, keep: 2}
EOF
	# 4000 bytes of lines, then half a line; once the log holds it, the
	# rest of the line (crossing max), then one more line.
	template halves <<'EOF'
identity: {id: halves}
runtime:
  command: [sh, -c, 'i=0; while [ $i -lt 40 ]; do printf "%099d\n" $i >&2; i=$((i + 1)); done; printf begun- >&2; while ! grep -q begun- log; do sleep 0.01; done; printf "%0200d\n" 0 >&2; echo after >&2; echo > done; exec sleep 1000']
  stop: {timeout: 500ms}
EOF
	starry-spawn run halves
	dir=$STARRY_HOME/agents/halves
	wait_for 10 test -f "$dir/done"
	wait_for 5 grep -q '^after$' "$dir/log"
	run grep -c '^begun-0\{200\}$' "$dir/log.1"
	assert_output 1
	[ "$(cat "$dir/log")" = after ]
}

@test "restart: backoff doubles from initial (100ms, 200ms, 400ms) and stays at max (jitter 0)" {
	template flaky <<EOF
identity: {id: flaky}
runtime:
  command: [$AGENTS/fail.sh]
  restart: always
  backoff: {initial: 100ms, max: 400ms, jitter: 0}
  holddown: {failures: 0}
  stop: {timeout: 500ms}
EOF
	starry-spawn run flaky
	wait_for 10 has_lines "$STARRY_HOME/agents/flaky/starts" 6
	starry-spawn stop flaky
	read -r -a g <<<"$(gaps "$STARRY_HOME/agents/flaky/starts")"
	echo "gaps: ${g[*]}"
	[ "${g[0]}" -ge 100 ] && [ "${g[0]}" -lt 500 ]
	[ "${g[1]}" -ge 200 ] && [ "${g[1]}" -lt 600 ]
	[ "${g[2]}" -ge 400 ] && [ "${g[2]}" -lt 800 ]
	# Capped: 400 ms again, where doubling would give 800 and 1600.
	[ "${g[3]}" -ge 400 ] && [ "${g[3]}" -lt 790 ]
	[ "${g[4]}" -ge 400 ] && [ "${g[4]}" -lt 790 ]
	[ "$(field flaky .restarts)" -ge 5 ]
}

@test "restart: a run as long as backoff.max ends the streak: the next delay is initial again" {
	template flaky <<EOF
identity: {id: flaky}
runtime:
  command: [$AGENTS/fail.sh, "1", "3"]
  restart: on-failure
  backoff: {initial: 100ms, max: 400ms, jitter: 0}
  holddown: {failures: 0}
  stop: {timeout: 500ms}
EOF
	starry-spawn run flaky
	wait_for 10 has_lines "$STARRY_HOME/agents/flaky/starts" 5
	starry-spawn stop flaky
	read -r -a g <<<"$(gaps "$STARRY_HOME/agents/flaky/starts")"
	echo "gaps: ${g[*]}"
	[ "${g[0]}" -ge 100 ] && [ "${g[1]}" -ge 200 ]
	# Run 3 took 500 ms (>= max): then 100 ms, not 400 ms.
	[ "${g[2]}" -ge 600 ] && [ "${g[2]}" -lt 880 ]
	[ "${g[3]}" -ge 200 ] && [ "${g[3]}" -lt 450 ]
}

@test "holddown: too many failures within the window hold the agent down, shown in list; after 'for' it starts again" {
	template crashy <<EOF
identity: {id: crashy}
runtime:
  command: [$AGENTS/fail.sh]
  restart: always
  backoff: {initial: 50ms, max: 50ms, jitter: 0}
  holddown: {failures: 3, within: 10s, for: 1s}
  stop: {timeout: 500ms}
EOF
	starry-spawn run crashy
	starts=$STARRY_HOME/agents/crashy/starts
	wait_for 5 state_is crashy holddown
	run starry-spawn list --json
	assert_success
	now=$(now_ms)
	row=$(jq -c 'select(.id == "crashy")' <<<"$output")
	[ "$(jq -r .state <<<"$row")" = holddown ]
	until=$(jq -r .holddownUntil <<<"$row")
	# Held down for 1s from the third failure, which came after the third start.
	[ "$until" -ge $(($(sed -n 3p "$starts") + 1000)) ]
	[ "$until" -le $((now + 1000)) ]
	n=$(wc -l < "$starts")
	[ "$(now_ms)" -ge "$until" ] || [ "$n" -eq 3 ]
	[[ "$(jq -r .reason <<<"$row")" == *"held down"* ]]
	run starry-spawn list
	assert_line --regexp '^crashy +crashy +process +holddown '
	wait_for 5 has_lines "$starts" 4
	[ "$(now_ms)" -ge "$until" ]
	read -r -a g <<<"$(gaps "$starts")"
	echo "gaps: ${g[*]}"
	[ "${g[2]}" -ge 1000 ] && [ "${g[2]}" -lt 2500 ]
}

@test "restart never and on-failure: exit 0 ends in exited, a failure under never in failed, on-failure restarts a failure" {
	template never-ok <<EOF
identity: {id: never-ok}
runtime: {command: [$AGENTS/fail.sh, "0"], restart: never, stop: {timeout: 500ms}}
EOF
	template never-bad <<EOF
identity: {id: never-bad}
runtime: {command: [$AGENTS/fail.sh, "3"], restart: never, stop: {timeout: 500ms}}
EOF
	template onfail-ok <<EOF
identity: {id: onfail-ok}
runtime: {command: [$AGENTS/fail.sh, "0"], restart: on-failure, stop: {timeout: 500ms}}
EOF
	template onfail-bad <<EOF
identity: {id: onfail-bad}
runtime:
  command: [$AGENTS/fail.sh, "2"]
  restart: on-failure
  backoff: {initial: 50ms, max: 50ms, jitter: 0}
  holddown: {failures: 0}
  stop: {timeout: 500ms}
EOF
	for t in never-ok never-bad onfail-ok onfail-bad; do
		starry-spawn run "$t"
	done
	wait_for 5 state_is never-ok exited
	wait_for 5 state_is never-bad failed
	wait_for 5 state_is onfail-ok exited
	wait_for 5 has_lines "$STARRY_HOME/agents/onfail-bad/starts" 3
	[ "$(field never-ok .lastExit.code)" = 0 ]
	[ "$(field never-bad .lastExit.code)" = 3 ]
	[ "$(field never-bad .reason)" = "exited with status 3" ]
	[ "$(field onfail-ok .lastExit.code)" = 0 ]
	for t in never-ok never-bad onfail-ok; do
		[ "$(wc -l < "$STARRY_HOME/agents/$t/starts")" -eq 1 ]
		[ "$(field "$t" .restarts)" = 0 ]
		[ "$(field "$t" .supervised)" = false ]
		wait_for 5 ended "$(field "$t" .supervisor)"
	done
	run starry-spawn list
	assert_line --regexp '^never-bad +never-bad +process +failed '
	assert_line --regexp '^never-ok +never-ok +process +exited '
}

@test "run --wait: exits with the agent's status once it is done for good" {
	template ok <<EOF
identity: {id: ok}
runtime: {command: [$AGENTS/fail.sh, "0"], restart: never, stop: {timeout: 500ms}}
EOF
	template three <<EOF
identity: {id: three}
runtime: {command: [$AGENTS/fail.sh, "3"], restart: never, stop: {timeout: 500ms}}
EOF
	template twice <<EOF
identity: {id: twice}
runtime:
  command: [$AGENTS/fail.sh, "4"]
  restart: on-failure
  backoff: {initial: 50ms, max: 50ms, jitter: 0}
  holddown: {failures: 2, within: 10s, for: 1h}
  stop: {timeout: 500ms}
EOF
	run starry-spawn run --wait ok
	assert_success
	[ "$(field ok .state)" = exited ]
	run starry-spawn run --wait three
	assert_failure 3
	[ "$(field three .state)" = failed ]
	# Held down, it is not done: the wait goes on until a stop, which
	# ends it for good (a stop asked for is no failure).
	starry-spawn run --wait twice >wait.out 2>&1 3>&- &
	waiter=$!
	BG+=("$waiter")
	wait_for 5 state_is twice holddown
	alive "$waiter"
	starry-spawn stop twice
	wait_for 5 ended "$waiter"
	run wait "$waiter"
	assert_success
	[ "$(field twice .state)" = stopped ]
}

@test "run --wait: SIGTERM to the waiting run stops the agent" {
	template sleeper <<EOF
identity: {id: sleeper}
runtime: {command: [$AGENTS/say.sh], restart: always, stop: {timeout: 500ms}}
EOF
	starry-spawn run --wait sleeper >wait.out 2>&1 3>&- &
	waiter=$!
	BG+=("$waiter")
	wait_for 5 state_is sleeper running
	pid=$(field sleeper .pid)
	kill -TERM "$waiter"
	wait_for 5 state_is sleeper stopped
	wait_for 5 ended "$waiter"
	gone "$pid"
	[ "$(field sleeper .restarts)" = 0 ]
}

@test "kill --signal: under restart always the agent comes back with a new pid; bad signal 64, unknown agent 1" {
	template phoenix <<EOF
identity: {id: phoenix}
runtime:
  command: [$AGENTS/say.sh]
  restart: always
  backoff: {initial: 50ms, max: 50ms, jitter: 0}
  stop: {timeout: 500ms}
EOF
	starry-spawn run phoenix
	old=$(field phoenix .pid)
	sup=$(field phoenix .supervisor)
	run starry-spawn kill phoenix --signal USR1
	assert_success
	wait_for 5 pid_changed phoenix "$old"
	gone "$old"
	[ "$(field phoenix .restarts)" = 1 ]
	[ "$(field phoenix .supervisor)" = "$sup" ]
	wait_for 5 has_lines "$STARRY_HOME/agents/phoenix/pids" 2
	[ "$(tail -1 "$STARRY_HOME/agents/phoenix/pids")" = "$(field phoenix .pid)" ]
	# Nothing the supervisor started is left a zombie.
	[ -z "$(ps --ppid "$sup" -o stat= | grep Z)" ]
	run starry-spawn kill phoenix --signal NOSUCHSIG
	assert_failure 64
	run starry-spawn kill nobody
	assert_failure 1
	# Running again, it still tells how its last run ended.
	[ "$(field phoenix .lastExit.signal)" = USR1 ]
}

# ---- stopping ----

@test "stop: a tree ignoring SIGTERM, with a grandchild in a session of its own, is killed whole and reaped" {
	template tree <<EOF
identity: {id: tree}
runtime:
  command: [$AGENTS/tree.sh]
  stop: {signal: TERM, timeout: 300ms}
EOF
	starry-spawn run tree
	dir=$STARRY_HOME/agents/tree
	wait_for 5 test -f "$dir/ready"
	mapfile -t pids <"$dir/tree.pids"
	[ "${#pids[@]}" -eq 5 ]
	alive "${pids[@]}"
	sup=$(field tree .supervisor)
	agent=$(field tree .pid)
	# One of them left the agent's session and process group.
	outside=0
	for p in "${pids[@]}"; do
		[ "$(ps -o sid= -p "$p" | tr -d ' ')" = "$agent" ] || outside=$((outside + 1))
	done
	[ "$outside" -eq 1 ]
	start=$(now_ms)
	run starry-spawn stop tree
	assert_success
	took=$(($(now_ms) - start))
	echo "stop took ${took}ms"
	[ "$took" -ge 300 ]
	ps -o pid,ppid,pgid,sid,stat,cmd -p "$(IFS=,; echo "${pids[*]}")" || true
	gone "${pids[@]}"
	wait_for 5 ended "$sup"
	[ -z "$(agent_procs tree)" ]
	[ "$(field tree .state)" = stopped ]
	[ "$(field tree .lastExit.signal)" = KILL ]
}

@test "stop: the stop signal first, SIGKILL once stop.timeout has passed; an agent that obeys is not kept waiting" {
	template stubborn <<EOF
identity: {id: stubborn}
runtime:
  command: [$AGENTS/stubborn.sh]
  stop: {signal: TERM, timeout: 400ms}
EOF
	template polite <<EOF
identity: {id: polite}
runtime:
  command: [$AGENTS/say.sh]
  stop: {signal: INT, timeout: 5s}
EOF
	starry-spawn run stubborn
	starry-spawn run polite
	wait_for 5 test -f "$STARRY_HOME/agents/stubborn/ready"
	pid=$(field stubborn .pid)
	start=$(now_ms)
	starry-spawn stop stubborn
	took=$(($(now_ms) - start))
	echo "stubborn: ${took}ms"
	[ "$took" -ge 400 ] && [ "$took" -lt 2500 ]
	gone "$pid"
	[ "$(field stubborn .lastExit.signal)" = KILL ]
	grep -q '^starry-spawn: still running 400 ms after the stop signal' "$STARRY_HOME/agents/stubborn/log"
	start=$(now_ms)
	starry-spawn stop polite
	took=$(($(now_ms) - start))
	echo "polite: ${took}ms"
	[ "$took" -lt 2000 ]
	[ "$(field polite .lastExit.signal)" = INT ]
}

@test "supervisor SIGKILL: the agent dies with it, list shows dead, starry-state check reports it interrupted" {
	template orphan <<EOF
identity: {id: orphan}
runtime:
  command: [$AGENTS/say.sh]
  stop: {timeout: 500ms}
EOF
	starry-spawn run orphan
	pid=$(field orphan .pid)
	sup=$(field orphan .supervisor)
	wait_for 5 has_event 1 AGENT:SPAWNED
	kill -KILL "$sup"
	wait_for 5 gone "$pid"
	wait_for 5 ended "$sup"
	run starry-spawn list --json
	assert_success
	[ "$(jq -r 'select(.id == "orphan") | .state' <<<"$output")" = dead ]
	run starry-spawn list
	assert_line --regexp '^orphan +orphan +process +dead '
	run --separate-stderr starry-state check
	assert_failure 1
	assert_line --regexp "^orphan +running +$pid "
	# A new run of the id is not refused: the lock died with the supervisor.
	run starry-spawn run orphan
	assert_success
}

# ---- templates ----

@test "template: a changed file leaves the running agent on its frozen template; restart applies the new one" {
	template ver <<EOF
identity: {id: ver}
runtime:
  command: [$AGENTS/version.sh]
  restart: always
  backoff: {initial: 50ms, max: 50ms, jitter: 0}
  env: {VERSION: one}
  stop: {timeout: 500ms}
EOF
	starry-spawn run ver
	dir=$STARRY_HOME/agents/ver
	wait_for 5 has_lines "$dir/versions" 1
	cp "$dir/template.json" frozen.json
	[ "$(jq -r .runtime.env.VERSION frozen.json)" = one ]
	sed -i 's/VERSION: one/VERSION: two/; s/timeout: 500ms/timeout: 300ms/' "$STARRY_CONFIG/agents/ver.yaml"
	[ "$(starry-spawn template ver | jq -r .runtime.env.VERSION)" = two ]
	cmp frozen.json "$dir/template.json"
	# A crash restarts it from the frozen template.
	starry-spawn kill ver --signal KILL
	wait_for 5 has_lines "$dir/versions" 2
	cmp frozen.json "$dir/template.json"
	[ "$(cat "$dir/versions")" = "$(printf 'one\none')" ]
	run starry-spawn restart ver
	assert_success
	wait_for 5 has_lines "$dir/versions" 3
	[ "$(tail -1 "$dir/versions")" = two ]
	[ "$(jq -r .runtime.env.VERSION "$dir/template.json")" = two ]
	[ "$(field ver .state)" = running ]
}

@test "restart: keeps the arguments, environment and trace it was started with, and starts a stopped agent" {
	template envy <<EOF
identity: {id: envy}
runtime:
  command: [$AGENTS/env.sh]
  stop: {timeout: 500ms}
EOF
	STARRY_TRACE_ID=trace-kept run starry-spawn run --env KEPT=yes envy -- one two
	assert_success
	dir=$STARRY_HOME/agents/envy
	wait_for 5 test -f "$dir/env"
	cp "$dir/args" args.before
	old=$(field envy .pid)
	rm "$dir/env"
	run starry-spawn restart envy
	assert_success
	wait_for 5 test -f "$dir/env"
	[ "$(field envy .pid)" != "$old" ]
	gone "$old"
	grep -qx KEPT=yes "$dir/env"
	grep -qx STARRY_TRACE_ID=trace-kept "$dir/env"
	cmp args.before "$dir/args"
	grep -qx two "$dir/args"
	starry-spawn stop envy
	rm "$dir/env"
	run starry-spawn restart envy
	assert_success
	wait_for 5 test -f "$dir/env"
	grep -qx KEPT=yes "$dir/env"
	cmp args.before "$dir/args"
	[ "$(field envy .state)" = running ]
}

@test "env: the agent sees its id, home, folder (its cwd), bus, plugin path, trace, template env and --env" {
	mkdir -p "$STARRY_CONFIG/plugins/tools"
	template envy <<EOF
identity: {id: envy}
plugins: [{name: tools, path: ../plugins/tools}]
runtime:
  command: [$AGENTS/env.sh]
  env: {FROM_TEMPLATE: tpl, OVERRIDDEN: template, NUMBER: 3}
  stop: {timeout: 500ms}
EOF
	STARRY_TRACE_ID=trace-env STARRY_SESSION_ID=sess-env run starry-spawn run --env FROM_RUN=run --env OVERRIDDEN=run envy -- a 'b c'
	assert_success
	dir=$STARRY_HOME/agents/envy
	wait_for 5 test -f "$dir/env"
	env=$(cat "$dir/env")
	grep -qx "OPENSTARRY_AGENT_ID=envy" <<<"$env"
	grep -qx "OPENSTARRY_HOME=$STARRY_HOME" <<<"$env"
	grep -qx "STARRY_AGENT_DIR=$dir" <<<"$env"
	grep -qx "STARRY_BUS=$STARRY_RUNTIME/bus.fifo" <<<"$env"
	grep -qx "STARRY_PLUGIN_PATH=$(realpath "$STARRY_CONFIG/plugins/tools")" <<<"$env"
	grep -qx "STARRY_TRACE_ID=trace-env" <<<"$env"
	grep -qx "STARRY_SESSION_ID=sess-env" <<<"$env"
	grep -qx "FROM_TEMPLATE=tpl" <<<"$env"
	grep -qx "NUMBER=3" <<<"$env"
	grep -qx "FROM_RUN=run" <<<"$env"
	grep -qx "OVERRIDDEN=run" <<<"$env"
	run ! grep -q '^STARRY_SNAPSHOT=' <<<"$env"
	[ "$(cat "$dir/cwd")" = "$dir" ]
	[ "$(cat "$dir/args")" = "$(printf 'a\nb c')" ]
}

@test "signals: started from a shell that ignores INT, HUP, QUIT and CHLD, the agent has no signal ignored or blocked, and its exit is seen" {
	template sigs <<EOF
identity: {id: sigs}
runtime:
  command: [sh, -c, 'grep -E "^Sig(Blk|Ign):" /proc/self/status > sigs; exit 3']
  restart: never
EOF
	run sh -c 'trap "" INT HUP QUIT CHLD; exec starry-spawn run --wait sigs'
	[ "$status" -eq 3 ]
	assert_equal "$(cat "$STARRY_HOME/agents/sigs/sigs")" "$(printf 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000')"
	[ "$(field sigs .state)" = failed ]
}

@test "limits: memory, nofile and cpu become the agent's resource limits" {
	template limited <<EOF
identity: {id: limited}
runtime:
  command: [$AGENTS/limits.sh]
  limits: {memory: 64M, nofile: 64, cpu: 1s}
  stop: {timeout: 500ms}
EOF
	starry-spawn run limited
	wait_for 5 test -f "$STARRY_HOME/agents/limited/limits"
	[ "$(cat "$STARRY_HOME/agents/limited/limits")" = "$(printf 'nofile 64\nas 65536\ncpu 1')" ]
}

@test "env: STARRY_SNAPSHOT names a file with the agent's last snapshot when its template restores" {
	template keeper <<EOF
identity: {id: keeper}
runtime:
  command: [$AGENTS/env.sh]
  stop: {timeout: 500ms}
  snapshot: {restore: true}
EOF
	echo '{"step":1}' | starry-state snapshot save keeper
	echo '{"step":2,"notes":["x"]}' | starry-state snapshot save keeper
	starry-spawn run keeper
	wait_for 5 test -f "$STARRY_HOME/agents/keeper/env"
	snap=$(sed -n 's/^STARRY_SNAPSHOT=//p' "$STARRY_HOME/agents/keeper/env")
	[ -n "$snap" ]
	[ "$(jq -c . "$snap")" = '{"step":2,"notes":["x"]}' ]
}

@test "plugins: a relative path is resolved against the template's folder; a missing one is refused with 78" {
	mkdir -p "$STARRY_CONFIG/plugins/tools"
	template tooled <<EOF
identity: {id: tooled}
plugins:
  - {name: tools, path: ../plugins/tools, config: {level: 2}}
runtime:
  command: [$AGENTS/say.sh]
  stop: {timeout: 500ms}
EOF
	run --separate-stderr starry-spawn template tooled
	assert_success
	[ "$(jq -c '.plugins[0]' <<<"$output")" = \
	    "{\"name\":\"tools\",\"path\":\"$(realpath "$STARRY_CONFIG/plugins/tools")\",\"config\":{\"level\":2}}" ]
	template broken <<EOF
identity: {id: broken}
plugins:
  - {name: tools, path: ../plugins/tools}
  - {name: gone, path: ../plugins/gone}
runtime:
  command: [$AGENTS/say.sh]
EOF
	run --separate-stderr starry-spawn run broken
	assert_failure 78
	[[ "$stderr" == *"agents/broken.yaml:4:"*"plugins[1].path"*"../plugins/gone"* ]]
	[ ! -e "$STARRY_HOME/agents/broken/status.json" ]
	[ -z "$(agent_procs broken)" ]
}

@test "manifest: an OpenStarry agent.json runs under agent_runner with {manifest} as its frozen template" {
	mkdir -p "$STARRY_CONFIG/plugins/tools"
	cat > "$STARRY_CONFIG/agents/research.json" <<'EOF'
{
  "identity": {"id": "research", "name": "Research"},
  "cognition": {"model": "some-model", "temperature": 0.2},
  "capabilities": ["search"],
  "plugins": [{"name": "tools", "path": "../plugins/tools"}],
  "policy": {"maxTurns": 3}
}
EOF
	run --separate-stderr starry-spawn run research
	assert_failure 78
	[[ "$stderr" == *agent_runner* ]]
	cat > "$STARRY_CONFIG/starry.yaml" <<EOF
agent_runner: [$AGENTS/runner.sh, "{manifest}"]
EOF
	run starry-spawn run research
	assert_success
	dir=$STARRY_HOME/agents/research
	wait_for 5 test -f "$dir/runner"
	[ "$(cat "$dir/runner")" = "$(printf '%s\nresearch' "$dir/template.json")" ]
	[ "$(jq -c '[.cognition, .capabilities, .policy]' "$dir/template.json")" = \
	    '[{"model":"some-model","temperature":0.2},["search"],{"maxTurns":3}]' ]
	[ "$(jq -r '.runtime.command[0]' "$dir/template.json")" = "$AGENTS/runner.sh" ]
	[ "$(field research .state)" = running ]
}

@test "validate: an invalid template is refused with 78, naming file:line:col and the key, with a did-you-mean" {
	template typo <<EOF
identity: {id: typo}
runtime:
  command: [$AGENTS/say.sh]
  restrat: always
EOF
	template badvalue <<EOF
identity: {id: badvalue}
runtime:
  command: [$AGENTS/say.sh]
  restart: sometimes
EOF
	run --separate-stderr starry-spawn run typo
	assert_failure 78
	[[ "$stderr" =~ agents/typo\.yaml:4:3:\ runtime\.restrat:\ .*did\ you\ mean\ \'restart\' ]]
	run --separate-stderr starry-spawn run badvalue
	assert_failure 78
	[[ "$stderr" =~ agents/badvalue\.yaml:4:[0-9]+:\ runtime\.restart:\ expected\ one\ of\ always,\ on-failure,\ never ]]
	[ ! -e "$STARRY_HOME/agents/typo/status.json" ]
	[ ! -e "$STARRY_HOME/agents/badvalue/status.json" ]
	run --separate-stderr starry-spawn validate
	assert_failure 78
	[[ "$stderr" == *"typo.yaml:4:3"* ]]
	[[ "$stderr" == *"badvalue.yaml:4:"* ]]
	run --separate-stderr starry-spawn validate "$STARRY_CONFIG/agents/nothere.yaml"
	assert_failure 66
}

@test "run: an unknown template exits 66 with a did-you-mean" {
	template reviewer <<EOF
identity: {id: reviewer}
runtime: {command: [$AGENTS/say.sh]}
EOF
	run --separate-stderr starry-spawn run reveiwer
	assert_failure 66
	[[ "$stderr" == *"reveiwer"*"did you mean 'reviewer'"* ]]
	[ ! -e "$STARRY_HOME/agents/reveiwer" ]
}

# ---- hostile agents ----

@test "hostile output: a 1 MiB line, invalid UTF-8, a bad type, binary stderr; the supervisor goes on" {
	template hostile <<EOF
identity: {id: hostile}
runtime:
  command: [$AGENTS/hostile.sh]
  stop: {timeout: 500ms}
EOF
	starry-spawn run hostile
	sup=$(field hostile .supervisor)
	pid=$(field hostile .pid)
	wait_for 10 has_event 1 AGENT:OUTPUT --source hostile
	wait_for 10 bash -c 'starry-state query --type AGENT:OUTPUT | grep -q "still here"'
	alive "$sup" "$pid"
	[ "$(field hostile .state)" = running ]
	# The bad UTF-8 line is kept as text; the line with a bad type is
	# kept too, not stored under its type.
	starry-state query | grep -q 'bad utf-8:'
	starry-state query | grep -q 'not a type'
	run ! starry-state query --type 'not a type'
	# The 1 MiB line is either stored whole or noted in the log.
	big=$(starry-state query --type AGENT:OUTPUT | jq -r '.payload.text | length' | sort -n | tail -1)
	[ "$big" -eq 1048576 ] || grep -q 'stdout line 1 is over' "$STARRY_HOME/agents/hostile/log"
	[ "$(stat -c %s "$STARRY_HOME/agents/hostile/log")" -ge 8192 ]
	run starry-spawn stop hostile
	assert_success
	gone "$pid"
	wait_for 5 ended "$sup"
	# The line with a bad type is kept in a KERNEL:ERROR, in the agent's
	# trace and under its AGENT:SPAWNED like everything it says.
	reject=$(starry-state query --type KERNEL:ERROR --source hostile | grep 'not a type')
	[ "$(jq -r .traceId <<<"$reject")" = "$(field hostile .trace)" ]
	[ "$(jq -r .parentId <<<"$reject")" = "$(events AGENT:SPAWNED --source hostile | jq -r .id)" ]
}

# ---- tokens ----

@test "tokens: payload.usage of the agent's events is summed into status and list" {
	template counter <<EOF
identity: {id: counter}
runtime:
  command: [$AGENTS/say.sh, '{"type":"LLM:RESPONSE","payload":{"usage":{"total_tokens":10}}}', '{"type":"LLM:RESPONSE","payload":{"usage":{"input_tokens":5,"output_tokens":7}}}', '{"type":"LLM:RESPONSE","payload":{"usage":3}}', '{"type":"LLM:RESPONSE","payload":{"text":"no usage"}}']
  limits: {tokens: 1000}
  stop: {timeout: 500ms}
EOF
	starry-spawn run counter
	wait_for 5 has_event 4 LLM:RESPONSE
	wait_for 5 bash -c '[ "$(starry-spawn status counter --json | jq .tokens)" = 25 ]'
	[ "$(starry-spawn list --json | jq 'select(.id == "counter") | .tokens')" = 25 ]
	[ "$(field counter .state)" = running ]
}

@test "tokens: past limits.tokens the agent is stopped with KERNEL:ERROR ETOKENLIMIT" {
	template spender <<EOF
identity: {id: spender}
runtime:
  command: [$AGENTS/say.sh, '{"type":"LLM:RESPONSE","payload":{"usage":15}}', '{"type":"LLM:RESPONSE","payload":{"usage":10}}']
  restart: always
  limits: {tokens: 20}
  stop: {timeout: 500ms}
EOF
	pid=$(starry-spawn run --json spender | jq .pid)
	[ "$pid" -gt 0 ]
	wait_for 5 state_is spender stopped
	gone "$pid"
	[[ "$(field spender .reason)" == *"token limit 20"* ]]
	[ "$(field spender .tokens)" = 25 ]
	err=$(events KERNEL:ERROR --source spender)
	[ "$(jq -r .payload.code <<<"$err")" = ETOKENLIMIT ]
	[ "$(jq -r .payload.agentId <<<"$err")" = spender ]
	[ "$(wc -l < "$STARRY_HOME/agents/spender/pids")" -eq 1 ]
}

# ---- the safety policy ----

@test "safety: 3 identical failing tool calls put an EREPEATEDFAILURE warning on the agent's stdin" {
	template careful <<EOF
identity: {id: careful}
runtime:
  command: [$AGENTS/safety.sh, repeated]
  stop: {timeout: 500ms}
EOF
	starry-spawn run careful
	wait_for 5 test -f "$STARRY_HOME/agents/careful/stdin"
	line=$(cat "$STARRY_HOME/agents/careful/stdin")
	[ "$(jq -c '[.type, .payload.code, .payload.severity, .payload.agentId]' <<<"$line")" = \
	    '["KERNEL:ERROR","EREPEATEDFAILURE","warning","careful"]' ]
	[[ "$(jq -r .payload.message <<<"$line")" == *fs.read* ]]
	[ "$(jq -r .traceId <<<"$line")" = "$(field careful .trace)" ]
	wait_for 5 has_event 1 KERNEL:ERROR
	[ "$(events KERNEL:ERROR | jq -r .payload.code)" = EREPEATEDFAILURE ]
	[ "$(field careful .state)" = running ]
}

@test "safety: 5 failing tool calls in a row put an EFAILURESTREAK warning on the agent's stdin" {
	template careful <<EOF
identity: {id: careful}
runtime:
  command: [$AGENTS/safety.sh, streak]
  stop: {timeout: 500ms}
EOF
	starry-spawn run careful
	wait_for 5 test -f "$STARRY_HOME/agents/careful/stdin"
	line=$(cat "$STARRY_HOME/agents/careful/stdin")
	[ "$(jq -c '[.type, .payload.code, .payload.severity]' <<<"$line")" = \
	    '["KERNEL:ERROR","EFAILURESTREAK","warning"]' ]
	wait_for 5 has_event 1 KERNEL:ERROR
	[ "$(events KERNEL:ERROR | jq -r .payload.code)" = EFAILURESTREAK ]
	[ "$(field careful .state)" = running ]
}

@test "safety: an error rate of 0.8 over the last 10 tool results stops the agent with EERRORRATE" {
	template careless <<EOF
identity: {id: careless}
runtime:
  command: [$AGENTS/safety.sh, rate]
  restart: always
  stop: {timeout: 500ms}
EOF
	pid=$(starry-spawn run --json careless | jq .pid)
	[ "$pid" -gt 0 ]
	wait_for 5 state_is careless stopped
	gone "$pid"
	[[ "$(field careless .reason)" == *"error rate"* ]]
	run events KERNEL:ERROR
	[ "$(jq -r .payload.code <<<"$output")" = EERRORRATE ]
	# No warning came first: never more than 3 failures in a row.
	[ ! -e "$STARRY_HOME/agents/careless/stdin" ]
	[ "$(field careless .restarts)" = 0 ]
}

# ---- the AgentManagerTool ----

@test "agent.start: a master's tool call starts a worker in its trace, and the result comes back on its stdin" {
	template master <<EOF
identity: {id: master}
runtime:
  command: [$AGENTS/master.sh, worker, worker-1]
  stop: {timeout: 500ms}
EOF
	template worker <<EOF
identity: {id: worker}
runtime:
  command: [$AGENTS/worker.sh]
  restart: never
  stop: {timeout: 500ms}
EOF
	STARRY_TRACE_ID=trace-master run starry-spawn run master
	assert_success
	mdir=$STARRY_HOME/agents/master
	wdir=$STARRY_HOME/agents/worker-1
	wait_for 10 test -f "$mdir/result"
	wait_for 10 test -f "$wdir/marker"
	[ "$(cat "$wdir/marker")" = "from-master trace-master" ]
	result=$(cat "$mdir/result")
	# the agent's events reach the store within a batch (SINK_BATCH_MS)
	wait_for 5 has_event 1 EXEC:TOOL_CALL --source master
	call=$(events EXEC:TOOL_CALL --source master)
	[ "$(jq -c '[.type, .payload.toolCallId, .payload.success, .traceId, .parentId]' <<<"$result")" = \
	    "[\"EXEC:TOOL_RESULT\",\"call-1\",true,\"trace-master\",$(jq .id <<<"$call")]" ]
	[ "$(jq -r .traceId <<<"$call")" = trace-master ]
	wait_for 5 state_is worker-1 exited
	wait_for 5 has_event 1 AGENT:OUTPUT --source worker-1
	wspawned=$(events AGENT:SPAWNED --source worker-1)
	[ "$(jq -r .traceId <<<"$wspawned")" = trace-master ]
	[ "$(jq -r .payload.template <<<"$wspawned")" = worker ]
	run starry-state trace trace-master
	assert_success
	for t in AGENT:SPAWNED EXEC:TOOL_CALL EXEC:TOOL_RESULT AGENT:OUTPUT; do
		assert_output --partial "$t"
	done
	run starry-state trace --json trace-master
	[ "$(jq '[.. | objects | select(.event?) | .event | select(.source == "worker-1")] | length' <<<"$output")" -ge 2 ]
	[ "$(jq -r '[.. | objects | select(.event?.type == "AGENT:OUTPUT") | .event.payload.text] | .[]' <<<"$output")" = "worker done" ]
}

@test "agent.start: an unknown template is answered on the agent's stdin with success false and the error" {
	template master <<EOF
identity: {id: master}
runtime:
  command: [$AGENTS/master.sh, nosuch, worker-1]
  stop: {timeout: 500ms}
EOF
	starry-spawn run master
	wait_for 10 test -f "$STARRY_HOME/agents/master/result"
	result=$(cat "$STARRY_HOME/agents/master/result")
	[ "$(jq -c '[.type, .payload.toolCallId, .payload.success]' <<<"$result")" = \
	    '["EXEC:TOOL_RESULT","call-1",false]' ]
	[[ "$(jq -r .payload.error.message <<<"$result")" == *nosuch* ]]
	[ -n "$(jq -r .payload.error.code <<<"$result")" ]
	[ ! -e "$STARRY_HOME/agents/worker-1/status.json" ]
	[ "$(field master .state)" = running ]
}

# ---- drivers ----

@test "sandbox: no host block devices, plugins and /usr and /etc read-only, its folder writable, no network but lo" {
	[ -n "$(find /dev -maxdepth 1 -type b | head -1)" ]	# else nothing to hide
	mkdir -p "$STARRY_CONFIG/plugins/tools"
	echo plugged > "$STARRY_CONFIG/plugins/tools/file"
	template boxed <<EOF
identity: {id: boxed}
plugins: [{name: tools, path: ../plugins/tools}]
runtime:
  command: [$AGENTS/probe.sh]
  driver: sandbox
  stop: {timeout: 500ms}
EOF
	run starry-spawn run boxed
	assert_success
	dir=$STARRY_HOME/agents/boxed
	wait_for 10 test -f "$dir/probe"
	cat "$dir/probe"
	run cat "$dir/probe"
	refute_line --partial blockdev
	for dev in $(find /dev -maxdepth 1 -type b); do
		refute_line "dev $dev"
	done
	assert_line "plugin /plugins/tools plugged"
	refute_line "wrote /plugins/tools"
	refute_line "wrote /usr"
	refute_line "wrote /etc"
	assert_line "wrote own"
	[ "$(cat "$dir/own")" = mine ]
	[ ! -e "$STARRY_CONFIG/plugins/tools/written" ]
	[ "$(grep '^netif ' "$dir/probe")" = "netif lo" ]
	[ "$(grep '^iplink ' "$dir/probe")" = "iplink lo" ]
	[ "$(grep '^dev ' "$dir/probe" | sed 's/^dev //' | paste -sd' ')" != "" ]
	for d in null zero full random urandom tty; do
		assert_line "dev /dev/$d"
	done
	[ "$(field boxed .driver)" = sandbox ]
	run starry-spawn stop boxed
	assert_success
	[ -z "$(agent_procs boxed)" ]
}

@test "drivers: process and sandbox can run here; each driver says why not when it cannot" {
	run --separate-stderr starry-spawn drivers
	assert_success
	assert_line --index 0 --regexp '^DRIVER +AVAILABLE'
	assert_line --regexp '^process +yes'
	assert_line --regexp '^sandbox +yes'
	assert_line --regexp '^docker +(yes|no)'
	assert_line --regexp '^wasm +(yes|no)'
	run --separate-stderr starry-spawn drivers --json
	assert_success
	[ "$(jq -sc 'map(.driver)' <<<"$output")" = '["process","sandbox","docker","wasm"]' ]
	[ "$(jq -sc 'map(select(.available) | .why)' <<<"$output" | jq -c 'map(select(. != null))')" = '[]' ]
	[ "$(jq -sc 'map(select(.available | not) | .why | length > 0) | all' <<<"$output")" = true ]
}
