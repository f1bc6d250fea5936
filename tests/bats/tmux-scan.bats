#!/usr/bin/env bats
# starry-tmux-scan against a private tmux server per test (tmux -L), with
# panes running small programs that show recorded agent screens under the
# agents' process names.

load helper
bats_require_minimum_version 1.5.0

SCREENS="$STARRY_TOP/tests/fixtures/tmux/screens"
SHOW="$STARRY_TOP/tests/bats/tmux-agents/show"

setup() {
	starry_setup
	# The tmux sockets of this test, in its own folder.
	export TMUX_TMPDIR="$BATS_TEST_TMPDIR"
	unset TMUX TMUX_PANE
	SOCK="t$BATS_TEST_NUMBER"
	mkdir -p "$BATS_TEST_TMPDIR/bin"
}

teardown() {
	[ -n "${WATCHER:-}" ] && kill "$WATCHER" 2>/dev/null
	tmux -L "${SOCK}o" kill-server 2>/dev/null || true
	tmux -L "$SOCK" kill-server 2>/dev/null || true
}

# agent NAME: the screen-showing program under NAME, in the test's bin.
agent() {
	ln -sf "$SHOW" "$BATS_TEST_TMPDIR/bin/$1"
}

# pane [tmux new-session/new-window args...] -- COMMAND: a pane of the
# test's server (160x50) running COMMAND with the test's bin first on
# PATH; prints its pane id.
pane() {
	local cmd=$1
	if ! tmux -L "$SOCK" has-session 2>/dev/null; then
		tmux -L "$SOCK" -f /dev/null new-session -d -s work -x 160 -y 50 \
		    -P -F '#{pane_id}' "PATH=$BATS_TEST_TMPDIR/bin:\$PATH; $cmd"
	else
		tmux -L "$SOCK" new-window -d -t work: -P -F '#{pane_id}' \
		    "PATH=$BATS_TEST_TMPDIR/bin:\$PATH; $cmd"
	fi
}

# shows PANE TEXT: the pane's screen holds TEXT (a fixed string).
shows() {
	tmux -L "$SOCK" capture-pane -p -t "$1" | grep -qF -- "$2"
}

# last_line FILE: the last non-blank line of a screen file.
last_line() {
	awk 'NF { l = $0 } END { print l }' "$1" | sed 's/[[:space:]]*$//'
}

# show_in_pane AGENT SCREEN: a pane running AGENT's process showing
# SCREEN, once it is on the screen; prints the pane id.
show_in_pane() {
	local p
	agent "$1"
	p=$(pane "sh -c '$1 $2; exit'")
	wait_for 5 shows "$p" "$(last_line "$2" | cut -c1-40)"
	echo "$p"
}

@test "scan: an agent that is a grandchild of the pane's shell is found, with its state, title and pid; a plain shell is not an agent" {
	agent claude
	# sh -> sh -> claude (-> sleep): the pane's command is sh.
	p1=$(pane "sh -c 'sh -c \"claude $SCREENS/claude/waiting_approval--bash-rm-rf-boxed.txt; exit\"'")
	p2=$(pane "sh")
	wait_for 5 shows "$p1" "Do you want to proceed?"
	tmux -L "$SOCK" select-pane -t "$p1" -T '✳ Clean the build'
	run starry-tmux-scan scan -L "$SOCK"
	assert_success
	assert_line --index 0 --regexp '^PANE +TARGET +AGENT +STATE +ATTENTION +TITLE$'
	assert_line --regexp "^$p1 +work:0\.0 +claude +waiting_approval +approval +Clean the build$"
	refute_line --partial "$p2 "
	run starry-tmux-scan scan -L "$SOCK" --all
	assert_line --regexp "^$p2 +work:1\.0 +- +- +- +-$"
	run starry-tmux-scan scan -L "$SOCK" --json
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	j=${lines[0]}
	[ "$(jq -r .pane <<<"$j")" = "$p1" ]
	[ "$(jq -r .agent <<<"$j")" = claude ]
	[ "$(jq -r .agent_name <<<"$j")" = "Claude Code" ]
	[ "$(jq -r .presence <<<"$j")" = managed ]
	[ "$(jq -r .evidence <<<"$j")" = heuristic ]
	[ "$(jq -r .state <<<"$j")" = waiting_approval ]
	[ "$(jq -r .attention <<<"$j")" = approval ]
	[ "$(jq -r .title <<<"$j")" = "Clean the build" ]
	[ "$(jq -r .server <<<"$j")" = "$SOCK" ]
	[ "$(jq -r .command <<<"$j")" = sh ]
	# agent_pid is the claude process, two levels below the pane's.
	apid=$(jq -r .agent_pid <<<"$j")
	[ "$(cat /proc/"$apid"/comm)" = claude ]
	ppid=$(jq -r .pid <<<"$j")
	[ "$apid" != "$ppid" ]
	[ "$(awk '{ print $4 }' /proc/"$(awk '{ print $4 }' /proc/"$apid"/stat)"/stat)" = "$ppid" ]
	jq -e '.confidence > 0.9 and (.reason | test("waiting_approval"))' <<<"$j"
}

@test "scan: each agent by its process name, its state from its screen" {
	declare -A want=(
		[claude]=claude/running--spinner-thinking-date-tests.txt
		[codex]=codex/waiting_approval--legacy-apply-changes.txt
		[gemini]=gemini/waiting_input--ide-connect-prompt.txt
		[aider]=aider/idle--architect-prompt.txt
		[opencode]=opencode/error--go-provider-auth-error-o2.txt
	)
	declare -A panes
	for a in "${!want[@]}"; do
		panes[$a]=$(show_in_pane "$a" "$SCREENS/${want[$a]}")
	done
	run starry-tmux-scan scan -L "$SOCK" --json
	assert_success
	[ "${#lines[@]}" -eq 5 ]
	for a in "${!want[@]}"; do
		st=$(basename "${want[$a]}")
		st=${st%%--*}
		got=$(jq -r --arg p "${panes[$a]}" 'select(.pane == $p) | "\(.agent) \(.state)"' <<<"$output")
		echo "$a: $got"
		[ "$got" = "$a $st" ]
	done
}

@test "scan: Claude Code named after its version counts when its screen agrees, and a node process running its cli by its command line" {
	# A process named 2.1.14 (weak) showing Claude's idle screen.
	ln -sf "$SHOW" "$BATS_TEST_TMPDIR/bin/2.1.14"
	p1=$(pane "sh -c '2.1.14 $SCREENS/claude/idle--fresh-welcome-tips.txt'")
	# The same name showing a shell's screen: not taken.
	p2=$(pane "sh -c '2.1.14 $SCREENS/none/none--bash-ls-la-project-o2.txt'")
	# argv[0] node, then .../claude: taken by the command line.
	cp "$SHOW" "$BATS_TEST_TMPDIR/claude-cli"
	mkdir -p "$BATS_TEST_TMPDIR/lib/claude"
	cp "$SHOW" "$BATS_TEST_TMPDIR/lib/claude/claude"
	p3=$(pane "bash -c 'exec -a node sh $BATS_TEST_TMPDIR/lib/claude/claude $SCREENS/claude/running--crafting-rust-edit.txt'")
	wait_for 5 shows "$p1" "$(last_line "$SCREENS/claude/idle--fresh-welcome-tips.txt" | cut -c1-30)"
	wait_for 5 shows "$p2" "$(last_line "$SCREENS/none/none--bash-ls-la-project-o2.txt" | cut -c1-30)"
	wait_for 5 shows "$p3" "esc to interrupt"
	run starry-tmux-scan scan -L "$SOCK" --all --json
	assert_success
	[ "$(jq -r --arg p "$p1" 'select(.pane == $p) | "\(.agent) \(.state)"' <<<"$output")" = "claude idle" ]
	[ "$(jq -r --arg p "$p2" 'select(.pane == $p) | .presence' <<<"$output")" = unmanaged ]
	[ "$(jq -r --arg p "$p3" 'select(.pane == $p) | "\(.agent) \(.state)"' <<<"$output")" = "claude running" ]
	run starry-tmux-scan explain -L "$SOCK" "$p2"
	assert_output --partial "claude's weak name without its screen: not taken"
}

@test "scan: behind ssh the screen alone shows the agent; a shell that prints an agent's screen is not one" {
	agent ssh
	p1=$(pane "sh -c 'ssh $SCREENS/codex/idle--after-approved-run.txt'")
	p2=$(pane "sh -c 'cat $SCREENS/claude/waiting_approval--bash-rm-rf-boxed.txt; sleep 1000'")
	wait_for 5 shows "$p2" "Do you want to proceed?"
	wait_for 5 shows "$p1" "$(last_line "$SCREENS/codex/idle--after-approved-run.txt" | cut -c1-30)"
	run starry-tmux-scan scan -L "$SOCK" --all --json
	assert_success
	[ "$(jq -r --arg p "$p1" 'select(.pane == $p) | "\(.agent) \(.state)"' <<<"$output")" = "codex idle" ]
	jq -se --arg p "$p1" 'map(select(.pane == $p))[0] | .confidence < 0.7 and (.reason | test("behind ssh"))' <<<"$output"
	[ "$(jq -r --arg p "$p2" 'select(.pane == $p) | .agent' <<<"$output")" = null ]
}

@test "explain: the processes, the patterns that matched and the verdict; an unknown pane is 66, no server 69" {
	p=$(show_in_pane claude "$SCREENS/claude/waiting_approval--edit-checkout-ts.txt")
	run starry-tmux-scan explain -L "$SOCK" work:0.0
	assert_success
	assert_line --index 0 "pane $p"
	assert_line --regexp "^  process [0-9]+ \(parent [0-9]+\) claude: .*/claude .*waiting_approval--edit-checkout-ts.txt$"
	assert_line --regexp "^    is claude: '\^claude\\$' \(.*signatures.yaml:[0-9]+:[0-9]+\)$"
	assert_line --regexp "^  rule [0-9]+ \(waiting_approval, last [0-9]+ lines\): 'Do you want to "
	assert_line --regexp "^$p claude: managed waiting_approval, attention approval, confidence 0\.[0-9]+$"
	run starry-tmux-scan explain -L "$SOCK" %999
	[ "$status" -eq 66 ]
	assert_output --partial "no pane '%999'"
	run starry-tmux-scan explain -L "$SOCK"
	[ "$status" -eq 64 ]
	run starry-tmux-scan explain -L nobody-here %1
	[ "$status" -eq 69 ]
	assert_output --partial "no tmux server"
}

@test "status: counts per state in tmux colours, plain and json, a template; nothing when no agent runs" {
	run starry-tmux-scan status -L "$SOCK"
	assert_success
	assert_output ""
	p0=$(pane "sh")
	run starry-tmux-scan status -L "$SOCK"
	assert_success
	assert_output ""
	run starry-tmux-scan status -L "$SOCK" --format json
	[ "$(jq -r .agents <<<"$output")" = 0 ]
	show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt" >/dev/null
	show_in_pane codex "$SCREENS/codex/running--working-explored.txt" >/dev/null
	ln -sf "$SHOW" "$BATS_TEST_TMPDIR/bin/gemini"
	p=$(pane "sh -c 'gemini $SCREENS/gemini/running--edit-applied-continuing.txt'")
	wait_for 5 shows "$p" "esc to cancel"
	run starry-tmux-scan status -L "$SOCK"
	assert_success
	assert_output '#[fg=red,bold]!1#[default] #[fg=green]*2#[default]'
	NO_COLOR=1 run starry-tmux-scan status -L "$SOCK"
	assert_output '!1 *2'
	run starry-tmux-scan status -L "$SOCK" --format plain
	assert_output '1 approval, 2 running'
	run starry-tmux-scan status -L "$SOCK" --format json
	jq -e '.agents == 3 and .attention == 1 and .running == 2 and .waiting_approval == 1 and .idle == 0' <<<"$output"
	run starry-tmux-scan status -L "$SOCK" -t 'AI {agents} ({attention} need you, {running} busy) {nope}'
	assert_output 'AI 3 (1 need you, 2 busy) {nope}'
	run starry-tmux-scan status -L "$SOCK" --format xml
	[ "$status" -eq 64 ]
}

@test "status: read back through tmux itself, as a status line runs it" {
	show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt" >/dev/null
	show_in_pane codex "$SCREENS/codex/running--working-explored.txt" >/dev/null
	bin=$(command -v starry-tmux-scan)
	# tmux runs the command, as #() in a status line does, and keeps
	# what it printed in an option.
	tmux -L "$SOCK" run-shell "tmux -L $SOCK set -g @starry \"\$($bin status -L $SOCK)\""
	wait_for 5 sh -c "[ -n \"\$(tmux -L $SOCK display -p '#{@starry}')\" ]"
	run tmux -L "$SOCK" display -p '#{E:@starry}'
	assert_output '#[fg=red,bold]!1#[default] #[fg=green]*1#[default]'
	# tmux reads the styles as styles: what shows is "!1 *1", 5 cells.
	run tmux -L "$SOCK" display -p '#{w:@starry}'
	assert_output 5
}

@test "signatures: --signatures adds an agent and puts a state before the shipped ones; STARRY_CONFIG's file is read too" {
	cat > mine.yaml <<'EOF'
agents:
  robo:
    name: Robo Coder
    process: {names: ['^robo$']}
    states:
      - {state: waiting_approval, match: 'Shall I run it\?'}
      - {state: running, match: 'robo is busy'}
  claude:
    states:
      - {state: error, match: 'Pondering', lines: 40}
EOF
	printf 'robo is busy\n' > busy.txt
	printf 'Shall I run it?\n' > ask.txt
	ln -sf "$SHOW" "$BATS_TEST_TMPDIR/bin/robo"
	p1=$(pane "sh -c 'robo $BATS_TEST_TMPDIR/ask.txt'")
	wait_for 5 shows "$p1" "Shall I run it?"
	run starry-tmux-scan scan -L "$SOCK" --json
	assert_output ""
	run starry-tmux-scan scan -L "$SOCK" --json --signatures mine.yaml
	[ "$(jq -r '"\(.agent) \(.agent_name) \(.state)"' <<<"$output")" = "robo Robo Coder waiting_approval" ]
	run starry-tmux-scan classify --signatures mine.yaml --agent robo busy.txt
	assert_output $'busy.txt\trobo\trunning\tnone'
	# The user's claude rule comes first.
	f=$SCREENS/claude/running--pondering-narrow-pane.txt
	run starry-tmux-scan classify --agent claude "$f"
	assert_output --partial $'\tclaude\trunning\t'
	cp mine.yaml "$STARRY_CONFIG/signatures.yaml"
	run starry-tmux-scan classify --agent claude "$f"
	assert_output --partial $'\tclaude\terror\t'
}

@test "signatures: a bad file is refused with 78, naming file:line:col, the key and a did-you-mean; nothing is scanned" {
	bad() {
		printf '%s\n' "$2" > bad.yaml
		run starry-tmux-scan classify --signatures bad.yaml --agent claude /dev/null
		echo "$output"
		[ "$status" -eq 78 ]
		[[ "$output" == *"$1"* ]]
	}
	bad "bad.yaml:1:1: agnets: unknown key; did you mean 'agents'?" 'agnets: {}'
	bad "bad.yaml:4:23: agents.x.states[0].match: invalid pattern '(': " $'agents:\n  x:\n    states:\n      - {state: idle, match: "("}'
	bad "agents.x.states[0].state: unknown state 'sleepy'" $'agents:\n  x:\n    states:\n      - {state: sleepy, match: a}'
	bad "agents.x.states[0]: a state needs 'match'" $'agents:\n  x:\n    states:\n      - {state: idle}'
	bad "agents.x.process.names: expected" $'agents:\n  x:\n    process: {names: 12}'
	bad "agents: expected an object" 'agents: [1, 2]'
	bad "invalid agent name 'Bad Name'" $'agents:\n  "Bad Name": {}'
	bad "bad.yaml:" $'agents:\n  x: {name: [unclosed'
	bad "pattern longer than 1024 bytes" "agents: {x: {screen: '$(head -c 2000 /dev/zero | tr '\0' a)'}}"
	bad "agents.x.lines: " 'agents: {x: {lines: -1}}'
	run starry-tmux-scan classify --signatures missing.yaml /dev/null
	[ "$status" -eq 66 ]
}

@test "classify: an empty screen, binary junk and NUL bytes are classified; a file too big or missing is an error and the rest go on" {
	: > empty.txt
	head -c 100000 /dev/urandom > junk.txt
	printf '✻ Pondering…\0(esc to\0interrupt)\n\0' > nul.txt
	head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' x > big.txt
	run starry-tmux-scan classify --agent claude empty.txt junk.txt nul.txt big.txt nothere.txt "$SCREENS/claude/running--crafting-rust-edit.txt"
	[ "$status" -eq 66 ]
	assert_line $'empty.txt\tclaude\tidle\tnone'
	assert_line --regexp $'^junk.txt\tclaude\t'
	# A NUL reads as a space.
	assert_line $'nul.txt\tclaude\trunning\tnone'
	assert_line --regexp 'big.txt: File too large$'
	assert_line --regexp 'nothere.txt: No such file or directory$'
	assert_line --regexp $'running--crafting-rust-edit.txt\tclaude\trunning\tnone$'
	# With no --agent the screen must show one.
	run starry-tmux-scan classify empty.txt
	assert_output $'empty.txt\t-\tunknown\tnone'
}

@test "scan: no tmux server is no panes (exit 0); no tmux at all is 69" {
	run starry-tmux-scan scan -L nobody-here --json
	assert_success
	assert_output ""
	run starry-tmux-scan status -L nobody-here
	assert_success
	assert_output ""
	bindir=$(dirname "$(command -v starry-tmux-scan)")
	PATH=$bindir run "$bindir/starry-tmux-scan" scan -L x
	[ "$status" -eq 69 ]
	assert_output --partial "cannot run tmux"
}

@test "accuracy: on the labelled corpus, weighted F1 and waiting_approval recall at least 0.95" {
	# Each screen classified as its agent's; the label is in its name.
	files=()
	for f in "$SCREENS"/*/*.txt; do
		case $f in */none/*) continue ;; esac
		files+=("$f")
	done
	[ "${#files[@]}" -ge 150 ]
	: > verdicts
	for d in "$SCREENS"/*/; do
		a=$(basename "$d")
		[ "$a" = none ] && continue
		starry-tmux-scan classify --agent "$a" "$d"*.txt >> verdicts
	done
	awk -F'\t' '
	{
		n = split($1, parts, "/"); label = parts[n]; sub(/--.*/, "", label)
		total++; truth[label]++; said[$3]++
		if (label == $3) hit[label]++
		else printf "wrong: %s -> %s\n", $1, $3
	}
	END {
		for (s in truth) {
			p = said[s] ? hit[s] / said[s] : 0
			r = hit[s] / truth[s]
			f1 = p + r ? 2 * p * r / (p + r) : 0
			wf1 += f1 * truth[s] / total
			printf "%-17s precision %.3f recall %.3f f1 %.3f (%d)\n", s, p, r, f1, truth[s]
			if (s == "waiting_approval") ar = r
		}
		printf "weighted F1 %.3f, waiting_approval recall %.3f\n", wf1, ar
		if (wf1 < 0.95 || ar < 0.95) exit 1
	}' verdicts
	# With no process to go by, the screen alone names the agent of most
	# agent screens, and of few others: those that print an agent's
	# text (cat, grep, less, an editor), which in a pane the process
	# tree rules out (see "behind ssh" above).
	starry-tmux-scan classify "${files[@]}" | awk -F'\t' '
		{ n = split($1, p, "/"); t++; if (p[n - 1] == $2) ok++ }
		END { printf "agent by the screen alone: %d of %d\n", ok, t; exit !(ok / t >= 0.85) }'
	starry-tmux-scan classify "$SCREENS"/none/*.txt | awk -F'\t' '
		{ t++; if ($2 != "-") { bad++; print "taken for an agent: " $0 } }
		END { printf "not agents taken for one: %d of %d\n", bad, t; exit !(t >= 20 && bad / t <= 0.25) }'
}

@test "scan: thirteen panes in two sessions (one with spaces in its name) each get their own screen" {
	agent claude
	f=$SCREENS/claude/waiting_approval--git-push-force.txt
	for i in 1 2 3 4 5 6; do
		pane "sh -c 'claude $f'" >/dev/null
		pane "seq 1 $i; exec sleep 1000" >/dev/null
	done
	tmux -L "$SOCK" new-session -d -s 'my work ✳' -x 100 -y 20 \
	    "PATH=$BATS_TEST_TMPDIR/bin:\$PATH; sh -c 'claude $f'"
	wait_for 10 sh -c "[ \"\$(starry-tmux-scan status -L $SOCK -f plain)\" = '7 approval' ]"
	run starry-tmux-scan scan -L "$SOCK" --all --json
	assert_success
	[ "${#lines[@]}" -eq 13 ]
	[ "$(jq -r 'select(.agent == "claude") | .state' <<<"$output" | sort -u)" = waiting_approval ]
	[ "$(jq -r 'select(.agent == null) | .presence' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')" = "6 unmanaged" ]
	[ "$(jq -r 'select(.session == "my work ✳") | "\(.target) \(.agent)"' <<<"$output")" = "my work ✳:0.0 claude" ]
}

# ---- hooks and the watcher ----

# hook_in PANE EVENT [MORE JSON MEMBERS]: a Claude Code hook call from PANE.
hook_in() {
	local sock
	sock=$(tmux -L "$SOCK" display -p '#{socket_path}')
	printf '{"hook_event_name":"%s","session_id":"sess-1"%s}' "$2" "${3:-}" |
	    TMUX="$sock,1,0" TMUX_PANE=$1 starry-tmux-scan hook claude
}

# hook_codex PANE EVENT [MORE JSON MEMBERS]: a Codex hook call from PANE,
# with the members its hook schemas require of every event.
hook_codex() {
	local sock
	sock=$(tmux -L "$SOCK" display -p '#{socket_path}')
	printf '{"session_id":"019a-thread","transcript_path":null,"cwd":"/work","hook_event_name":"%s","model":"gpt-5.1-codex","permission_mode":"default","turn_id":"019a-turn"%s}' "$2" "${3:-}" |
	    TMUX="$sock,1,0" TMUX_PANE=$1 starry-tmux-scan hook codex
}

# watcher [ARGS]: start the watcher of the test's server in the
# background, its events to events.jsonl; wait until it is ready.
watcher() {
	mkfifo ready.fifo
	starry-tmux-scan watch -L "$SOCK" -i 200ms --ready-fd 9 "$@" \
	    >events.jsonl 2>watch.err 9>ready.fifo 3>&- &
	WATCHER=$!
	read -r -t 10 _ <ready.fifo
}

stop_watcher() {
	kill "$WATCHER" 2>/dev/null
	wait "$WATCHER" 2>/dev/null || true
}

# states: the pane states told so far, "state/evidence" one per line.
states() {
	jq -r 'select(.type == "TMUX:PANE_STATE") | .payload | "\(.state)/\(.evidence)"' events.jsonl
}

spooled() {
	find "$STARRY_RUNTIME/tmux" -path '*/spool/*.json' 2>/dev/null
}

@test "hook: binds the payload to TMUX_PANE in the server's spool, prints nothing, exits 0 whatever happens" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	run hook_in "$p" UserPromptSubmit ',"prompt":"go"'
	assert_success
	assert_output ""
	[ "$(spooled | wc -l)" -eq 1 ]
	f=$(spooled)
	[ "$(stat -c %a "$f")" = 600 ]
	jq -e --arg p "$p" '.provider == "claude" and .pane == $p and .event == "UserPromptSubmit" and .session == "sess-1" and .payload.prompt == "go" and (.server | endswith("/'"$SOCK"'")) and (.at | type) == "number"' "$f"
	# Not JSON: kept as text, a warning, still 0.
	run bash -c "echo 'not {json' | TMUX_PANE=$p TMUX=/x/y,1,0 starry-tmux-scan hook claude"
	assert_success
	assert_output --partial "warning: hook: the payload is not JSON"
	# Codex's notify: the payload is the last argument.
	TMUX_PANE=$p TMUX=/x/y,1,0 run starry-tmux-scan hook codex '{"type":"agent-turn-complete","thread-id":"t1"}'
	assert_success
	assert_output ""
	jq -se 'map(select(.provider == "codex"))[0] | .event == "agent-turn-complete" and .session == "t1"' $(spooled)
	# Outside tmux there is nothing to bind: nothing spooled.
	n=$(spooled | wc -l)
	echo '{"hook_event_name":"Stop"}' | env -u TMUX_PANE starry-tmux-scan hook claude
	[ "$(spooled | wc -l)" -eq "$n" ]
	# A runtime folder that cannot be made: a warning, and 0.
	run bash -c "echo '{\"hook_event_name\":\"Stop\"}' | STARRY_RUNTIME=/proc/nope TMUX_PANE=$p starry-tmux-scan hook claude"
	assert_success
	assert_output --partial "warning: hook:"
	run starry-tmux-scan hook gemini </dev/null
	[ "$status" -eq 64 ]
}

@test "watch: a hook sequence replayed in order (a permission prompt, then tool events), the hooks fresh over the screen" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	watcher
	wait_for 5 sh -c '[ -n "$(jq -r .type events.jsonl)" ]'
	hook_in "$p" UserPromptSubmit
	hook_in "$p" PreToolUse ',"tool_name":"Bash","tool_input":{"command":"rm -rf build"}'
	hook_in "$p" PermissionRequest ',"tool_name":"Bash"'
	hook_in "$p" PostToolUse ',"tool_name":"Bash"'
	hook_in "$p" Stop
	wait_for 5 sh -c 'jq -r .payload.attention events.jsonl | grep -q finished'
	stop_watcher
	run states
	echo "$output"
	assert_output "$(printf '%s\n' idle/heuristic running/deterministic waiting_approval/deterministic running/deterministic idle/deterministic)"
	# Each event is the pane's, in its agent session, with what it was.
	jq -se 'map(select(.type == "TMUX:PANE_STATE") | .payload)[2] | .from == "running" and .attention == "approval" and .agent == "claude" and .generation == 1' events.jsonl
	jq -se 'map(select(.sessionId == "sess-1" and .source == "tmux:'"$p"'")) | length == 4' events.jsonl
	# Every spooled event was taken.
	[ -z "$(spooled)" ]
}

@test "watch: Codex's hook payloads, as its schemas give them, replayed in order; its notify and an interrupt after" {
	p=$(show_in_pane codex "$SCREENS/codex/idle--fresh-explain-placeholder.txt")
	watcher
	wait_for 5 sh -c '[ -n "$(jq -r .type events.jsonl)" ]'
	hook_codex "$p" SessionStart ',"source":"startup"'
	hook_codex "$p" UserPromptSubmit ',"prompt":"Add a --json flag to the CLI"'
	hook_codex "$p" PreToolUse ',"tool_name":"Bash","tool_input":{"command":"cargo test"},"tool_use_id":"call_1"'
	hook_codex "$p" PermissionRequest ',"tool_name":"Bash","tool_input":{"command":"cargo test","description":"run the tests"}'
	hook_codex "$p" PostToolUse ',"tool_name":"Bash","tool_input":{"command":"cargo test"},"tool_response":"ok","tool_use_id":"call_1"'
	hook_codex "$p" Stop ',"stop_hook_active":false,"last_assistant_message":"Done."'
	wait_for 5 pane_event '.attention == "finished"'
	hook_codex "$p" StopFailure ',"error":"rate_limit","error_details":null,"last_assistant_message":null'
	wait_for 5 pane_event '.state == "error"'
	sock=$(tmux -L "$SOCK" display -p '#{socket_path}')
	TMUX="$sock,1,0" TMUX_PANE=$p starry-tmux-scan hook codex '{"type":"agent-turn-complete","thread-id":"019a-thread","turn-id":"019a-turn2","cwd":"/work","input-messages":["Now the docs"],"last-assistant-message":"Updated."}'
	wait_for 5 pane_event '.state == "idle" and .attention == "finished"'
	hook_codex "$p" Interrupt
	wait_for 5 pane_event '.state == "idle" and .attention == "none" and .evidence == "deterministic"'
	stop_watcher
	run states
	assert_output "$(printf '%s\n' idle/heuristic idle/deterministic running/deterministic waiting_approval/deterministic \
	    running/deterministic idle/deterministic error/deterministic idle/deterministic idle/deterministic)"
	# Each is the Codex thread's, titled by its first prompt.
	jq -se 'map(select(.type == "TMUX:PANE_STATE")) | .[2:] | all(.sessionId == "019a-thread" and .payload.agent == "codex" and .payload.title == "Add a --json flag to the CLI" and .payload.titleFrom == "prompt")' events.jsonl
	jq -se 'map(select(.type == "TMUX:PANE_STATE") | .payload) | .[6] | .attention == "error" and (.reason | test("codex hook StopFailure"))' events.jsonl
}

@test "watch: a stale hook hands over to the screen; one fresh event promotes the hooks again; status reads the watcher's cache" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	watcher
	hook_in "$p" UserPromptSubmit
	wait_for 5 sh -c 'states() { jq -r "select(.type == \"TMUX:PANE_STATE\") | .payload | \"\(.state)/\(.evidence)\"" events.jsonl; }; states | grep -q running/deterministic'
	# The screen says idle; only the watcher knows running: status says
	# running, so it read the cache.
	run starry-tmux-scan status -L "$SOCK" --format plain
	assert_output "1 running"
	# 3 s without a hook: the screen (idle) takes over.
	wait_for 6 sh -c 'jq -r "select(.type == \"TMUX:PANE_STATE\") | .payload | \"\(.state)/\(.evidence)\"" events.jsonl | tail -1 | grep -qx idle/heuristic'
	run starry-tmux-scan status -L "$SOCK" --format plain
	assert_output "1 idle"
	hook_in "$p" PreToolUse
	wait_for 2 sh -c 'jq -r "select(.type == \"TMUX:PANE_STATE\") | .payload | \"\(.state)/\(.evidence)\"" events.jsonl | tail -1 | grep -qx running/deterministic'
	stop_watcher
	# A stopped watcher leaves no cache to trust: status looks itself.
	run starry-tmux-scan status -L "$SOCK" --format plain
	assert_output "1 idle"
}

@test "watch: a screen showing an approval wins over a hook that says running" {
	p=$(show_in_pane claude "$SCREENS/claude/waiting_approval--bash-rm-rf-boxed.txt")
	watcher
	hook_in "$p" PreToolUse
	wait_for 5 sh -c 'jq -r .payload.evidence events.jsonl | grep -q deterministic'
	stop_watcher
	jq -se 'map(select(.type == "TMUX:PANE_STATE") | .payload) | last | .state == "waiting_approval" and .evidence == "deterministic" and (.reason | test("the screen shows an approval"))' events.jsonl
	# The store binds the hook's session to the pane, and sums the tmux
	# session up.
	db=$STARRY_HOME/state.db
	wait_for 5 sh -c "[ \"\$(sqlite3 '$db' 'select state from tmux_sessions')\" = waiting_approval ]"
	run sqlite3 "$db" "select pane_id, generation, agent_session, agent from tmux_bindings"
	assert_output "$p|1|sess-1|claude"
	run sqlite3 "$db" "select panes, attention from tmux_sessions"
	assert_output "1|1"
}

# pane_event JQ: the watcher's latest TMUX:PANE_STATE payload meets JQ.
pane_event() {
	jq -se "map(select(.type == \"TMUX:PANE_STATE\") | .payload) | last | $1" events.jsonl >/dev/null
}

@test "watch: the session's title from its hooks (a rename in its transcript, else its first prompt) over the pane's, in the events, the menu and the store's binding" {
	p=$(show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt")
	tmux -L "$SOCK" select-pane -t "$p" -T '✳ Push #42'
	t=$PWD/transcript.jsonl
	watcher
	wait_for 5 pane_event '.title == "Push #42" and .titleFrom == "pane"'
	# The first prompt names the session: its first line, cleaned.
	hook_in "$p" UserPromptSubmit ',"prompt":"  Fix the\tflaky \u001b[31mparser test\nwith details","transcript_path":"'"$t"'"'
	wait_for 5 pane_event '.title == "Fix the flaky [31mparser test" and .titleFrom == "prompt"'
	# A later prompt does not; the user's rename, in the transcript, does.
	hook_in "$p" UserPromptSubmit ',"prompt":"and the docs","transcript_path":"'"$t"'"'
	printf '%s\n' '{"type":"user","message":{"content":"Fix"}}' \
	    '{"type":"ai-title","aiTitle":"Parser test fixes"}' \
	    '{"type":"custom-title","customTitle":"parser #7","sessionId":"sess-1"}' > "$t"
	hook_in "$p" Stop ',"transcript_path":"'"$t"'"'
	wait_for 5 pane_event '.title == "parser #7" and .titleFrom == "rename"'
	# A transcript path that is a FIFO, a folder or junk blocks nothing.
	mkfifo fifo
	hook_in "$p" Stop ',"transcript_path":"'"$PWD"'/fifo"'
	hook_in "$p" Stop ',"transcript_path":"/"'
	hook_in "$p" Stop ',"transcript_path":{"x":1},"prompt":7'
	hook_in "$p" PermissionRequest ',"transcript_path":"/dev/zero"'
	wait_for 5 pane_event '.state == "waiting_approval" and .evidence == "deterministic" and .title == "parser #7"'
	# The menu shows the session's title, # kept literal for tmux.
	run starry-tmux-scan menu -L "$SOCK" --dry-run -c /dev/pts/9
	assert_line --index 5 'work:0.0  claude  waiting_approval (approval)  parser ##7'
	stop_watcher
	# The store keeps the session's title with its binding to the pane.
	db=$STARRY_HOME/state.db
	wait_for 5 sh -c "[ \"\$(sqlite3 '$db' 'select title_from from tmux_bindings')\" = rename ]"
	run sqlite3 "$db" "select pane_id, agent_session, title, title_from from tmux_bindings"
	assert_output "$p|sess-1|parser #7|rename"
}

@test "watch: the health of its sources (the poller, each agent's hooks) is told when it changes and stored; a stopped watcher leaves them down" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	watcher
	wait_for 5 sh -c 'jq -e "select(.type == \"TMUX:SOURCE_HEALTH\" and .payload.source == \"poller\" and .payload.state == \"active\")" events.jsonl'
	hook_in "$p" UserPromptSubmit
	wait_for 5 sh -c 'jq -e "select(.payload.source == \"claude\" and .payload.state == \"active\")" events.jsonl'
	# Three seconds without a hook: stale, told once.
	wait_for 6 sh -c 'jq -e "select(.payload.source == \"claude\" and .payload.state == \"stale\")" events.jsonl'
	stop_watcher
	run jq -r 'select(.type == "TMUX:SOURCE_HEALTH") | .payload | "\(.source) \(.kind) \(.state) \(.detail)"' events.jsonl
	assert_output "$(printf '%s\n' 'poller heuristic active null' \
	    'claude deterministic active null' 'claude deterministic stale null' \
	    'poller heuristic down the watcher stopped' \
	    'claude deterministic down the watcher stopped')"
	jq -se 'map(select(.type == "TMUX:SOURCE_HEALTH")) | all(.source == "starry-tmux-scan" and (.payload.server | endswith("/'"$SOCK"'")) and (.payload.lastSeen | type) == "number")' events.jsonl
	db=$STARRY_HOME/state.db
	wait_for 5 sh -c "[ \"\$(sqlite3 '$db' 'select count(*) from tmux_sources where state = \"down\"')\" = 2 ]"
	run sqlite3 "$db" "select source, kind, state, last_seen > 0, detail from tmux_sources order by source"
	assert_output "$(printf '%s\n' 'claude|deterministic|down|1|the watcher stopped' 'poller|heuristic|down|1|the watcher stopped')"
}

@test "watch: a reused pane is a new generation, the old one tombstoned, its late hook event passed over; the store's tmux_panes keeps both" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	watcher
	wait_for 5 sh -c '[ -n "$(jq -r .type events.jsonl)" ]'
	# The first generation's agent session, told by a hook.
	hook_in "$p" SessionStart
	wait_for 5 pane_event '.evidence == "deterministic"'
	before=$(date +%s%3N)
	tmux -L "$SOCK" respawn-pane -k -t "$p" "PATH=$BATS_TEST_TMPDIR/bin:\$PATH; sh -c 'claude $SCREENS/claude/running--crafting-rust-edit.txt'"
	wait_for 5 sh -c 'jq -r .payload.generation events.jsonl | grep -q 2'
	wait_for 5 sh -c '[ "$(jq -r "select(.payload.generation == 2) | .payload.state" events.jsonl | tail -1)" = running ]'
	# A hook event of the old generation's session, made before it went
	# and taken late: passed over, not the new generation's.
	spool=$(dirname "$(find "$STARRY_RUNTIME/tmux" -name watch.lock)")/spool
	jq -nc --arg p "$p" --arg s "$(tmux -L "$SOCK" display -p '#{socket_path}')" --argjson at "$before" \
	    '{provider: "claude", pane: $p, server: $s, at: $at, event: "Stop", session: "sess-1", payload: {hook_event_name: "Stop", session_id: "sess-1"}}' > "$spool/000000000001.late.json.tmp"
	mv "$spool/000000000001.late.json.tmp" "$spool/000000000001.late.json"
	wait_for 5 grep -q "a claude Stop hook event of pane $p, made before its pane went or was reused: passed over" watch.err
	stop_watcher
	[ "$(jq -r 'select(.payload.generation == 2) | .payload.evidence' events.jsonl | sort -u)" = heuristic ]
	run jq -r 'select(.type == "TMUX:PANE_STATE") | .payload | "\(.generation) \(.presence) \(.state) \(.tombstoned)"' events.jsonl
	assert_line --index 0 "1 managed idle false"
	assert_line "1 gone idle true"
	assert_line "2 managed running false"
	# The store (no hub here: straight in) has a row per generation.
	wait_for 5 sh -c "[ \"\$(sqlite3 '$STARRY_HOME/state.db' 'select count(*) from tmux_panes')\" = 2 ]"
	run sqlite3 "$STARRY_HOME/state.db" "select generation, agent, state, tombstoned is not null from tmux_panes order by generation"
	assert_line --index 0 "1|claude|idle|1"
	assert_line --index 1 "2|claude|running|0"
}

@test "watch: hooks spooled while no watcher ran are taken at its start, stale; a second watcher of the server is refused (75); SIGHUP keeps good signatures over a bad file" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	sock=$(tmux -L "$SOCK" display -p '#{socket_path}')
	printf '{"hook_event_name":"UserPromptSubmit","session_id":"old"}' |
	    TMUX="$sock,1,0" TMUX_PANE=$p starry-tmux-scan hook claude
	f=$(spooled)
	# Four seconds old: stale.
	jq '.at -= 4000' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
	watcher
	wait_for 5 sh -c '[ -z "$(find '"$STARRY_RUNTIME/tmux"' -path "*/spool/*.json")" ]'
	run states
	assert_output idle/heuristic
	run starry-tmux-scan watch -L "$SOCK"
	[ "$status" -eq 75 ]
	assert_output --partial "a watcher of"
	echo 'agents: [' > "$STARRY_CONFIG/signatures.yaml"
	kill -HUP "$WATCHER"
	wait_for 5 grep -q "the signatures stay as they were" watch.err
	kill -0 "$WATCHER"
	hook_in "$p" UserPromptSubmit
	wait_for 5 sh -c 'jq -r .payload.state events.jsonl | grep -q running'
	stop_watcher
}

# ---- install-hooks ----

@test "install-hooks claude: merged beside the user's hooks with Claude's nesting, idempotent, a backup kept, uninstall gives the file back" {
	cat > settings.json <<'EOF'
{
  "model": "opus",
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/local/bin/check-bash"}]}
    ],
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
  },
  "permissions": {"allow": ["Bash(ls:*)"]}
}
EOF
	cp settings.json original.json
	run --separate-stderr starry-tmux-scan install-hooks claude --settings settings.json --dry-run
	assert_success
	cmp settings.json original.json
	[ -z "$(ls settings.json.bak-* 2>/dev/null)" ]
	echo "$output" | jq -e '.hooks.SessionStart' >/dev/null
	run starry-tmux-scan install-hooks claude --settings settings.json
	assert_success
	assert_output --partial "added starry-tmux-scan's hooks"
	bak=$(ls settings.json.bak-*)
	cmp "$bak" original.json
	bin=$(command -v starry-tmux-scan)
	# The user's own are all there, ours beside them.
	jq -e '.model == "opus" and .permissions.allow == ["Bash(ls:*)"]' settings.json
	jq -e '.hooks.PreToolUse[0] == {"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/local/bin/check-bash"}]}' settings.json
	jq -e '.hooks.Stop[0].hooks[0].command == "notify-send done"' settings.json
	for ev in SessionStart UserPromptSubmit PreToolUse PermissionRequest PostToolUse Notification Stop SubagentStop SessionEnd; do
		jq -e --arg ev "$ev" --arg c "$bin hook claude" '[.hooks[$ev][].hooks[] | select(.command == $c)] | length == 1' settings.json
	done
	jq -e '(.hooks.PreToolUse[1].matcher == "") and (.hooks.SessionStart[0] | has("matcher") | not)' settings.json
	# Again: nothing changes, no new backup.
	cp settings.json once.json
	run starry-tmux-scan install-hooks claude --settings settings.json
	assert_output --partial "nothing to add"
	cmp settings.json once.json
	[ "$(ls settings.json.bak-* | wc -l)" -eq 1 ]
	# Out again: the same document as before.
	run starry-tmux-scan install-hooks claude --settings settings.json --uninstall
	assert_success
	[ "$(jq -S . settings.json)" = "$(jq -S . original.json)" ]
	# A settings file not there yet is made, with its folder, 0600.
	starry-tmux-scan install-hooks claude --settings new/settings.json 2>/dev/null
	[ "$(stat -c %a new/settings.json)" = 600 ]
}

@test "install-hooks: a settings file that is not JSON, or hooks of the wrong shape, is left as it is (65); codex notify is added before the first table and taken out again" {
	printf '{"hooks": [1, 2]}\n' > bad.json
	cp bad.json bad.orig
	run starry-tmux-scan install-hooks claude --settings bad.json
	[ "$status" -eq 65 ]
	assert_output --partial '"hooks" is not an object'
	cmp bad.json bad.orig
	printf '{"hooks": {"Stop": {"x": 1}}}\n' > bad2.json
	run starry-tmux-scan install-hooks claude --settings bad2.json
	[ "$status" -eq 65 ]
	printf '{"model": \n' > trunc.json
	run starry-tmux-scan install-hooks claude --settings trunc.json
	[ "$status" -eq 65 ]
	assert_output --partial "trunc.json:"
	printf 'model = "o3"\napproval_policy = "on-request"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n' > config.toml
	cp config.toml config.orig
	run starry-tmux-scan install-hooks codex --settings config.toml
	assert_success
	bin=$(command -v starry-tmux-scan)
	[ "$(sed -n 3p config.toml)" = "notify = [\"$bin\", \"hook\", \"codex\"]" ]
	[ "$(sed -n 5p config.toml)" = "[mcp_servers.docs]" ]
	run starry-tmux-scan install-hooks codex --settings config.toml
	assert_output --partial "nothing to add"
	run starry-tmux-scan install-hooks codex --settings config.toml --uninstall
	cmp config.toml config.orig
	printf 'notify = ["notify-send", "codex"]\n' > other.toml
	run starry-tmux-scan install-hooks codex --settings other.toml
	[ "$status" -eq 65 ]
	assert_output --partial "has a notify program of its own"
	run starry-tmux-scan install-hooks gemini
	[ "$status" -eq 64 ]
}

@test "install-hooks codex: its hooks.json (Codex's nesting, beside the user's hooks) and its notify program, in CODEX_HOME; again changes nothing; another notify is left with a warning; uninstall gives both back" {
	export CODEX_HOME=$PWD/codex
	mkdir codex
	printf '{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}}\n' > codex/hooks.json
	cp codex/hooks.json hooks.orig
	printf 'model = "o3"\n' > codex/config.toml
	cp codex/config.toml config.orig
	run starry-tmux-scan install-hooks codex
	assert_success
	bin=$(command -v starry-tmux-scan)
	jq -e --arg c "$bin hook codex" '.hooks
	    | (keys | sort) == ["PermissionRequest", "PostToolUse", "PreToolUse", "SessionStart", "Stop", "StopFailure", "UserPromptSubmit"]
	    and (.Stop | length == 2 and .[0].hooks[0].command == "say done")
	    and (.PreToolUse[0] | has("matcher") | not)
	    and (to_entries | all(.value[-1] == {hooks: [{type: "command", command: $c}]}))' codex/hooks.json
	grep -qxF "notify = [\"$bin\", \"hook\", \"codex\"]" codex/config.toml
	[ "$(ls codex/*.bak-* | wc -l)" -eq 2 ]
	run starry-tmux-scan install-hooks codex
	assert_output --partial "hooks.json has nothing to add"
	assert_output --partial "config.toml has nothing to add"
	# A dry run shows both files, each under its name.
	run --separate-stderr starry-tmux-scan install-hooks codex --dry-run --uninstall
	assert_success
	assert_line --index 0 "==> $CODEX_HOME/hooks.json <=="
	assert_line "==> $CODEX_HOME/config.toml <=="
	run starry-tmux-scan install-hooks codex --uninstall
	assert_success
	cmp codex/config.toml config.orig
	[ "$(jq -S . codex/hooks.json)" = "$(jq -S . hooks.orig)" ]
	# Another notify program: the hooks go in, the notify stays, a warning.
	printf 'notify = ["notify-send", "codex"]\n' > codex/config.toml
	run starry-tmux-scan install-hooks codex
	assert_success
	assert_output --partial "has a notify program of its own"
	grep -qxF 'notify = ["notify-send", "codex"]' codex/config.toml
	jq -e '.hooks.PreToolUse | length == 1' codex/hooks.json
}

# ---- menu and the tmux plugin ----

@test "menu: the agents that need you, each a key that switches to its pane; none: a message; no client to show it on is 69" {
	p1=$(show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt")
	p2=$(show_in_pane codex "$SCREENS/codex/running--working-explored.txt")
	tmux -L "$SOCK" select-pane -t "$p1" -T '✳ Push #42'
	run starry-tmux-scan menu -L "$SOCK" --dry-run -c /dev/pts/9
	assert_success
	assert_output "$(printf '%s\n' display-menu -c /dev/pts/9 -T '#[align=centre]agents that need you' \
	    'work:0.0  claude  waiting_approval (approval)  Push ##42' 1 "switch-client -t $p1")"
	run starry-tmux-scan menu -L "$SOCK" --dry-run --all
	assert_line --index 4 1
	assert_line --index 7 2
	assert_line --index 8 "switch-client -t $p2"
	tmux -L "$SOCK" kill-pane -t "$p1"
	run starry-tmux-scan menu -L "$SOCK" --dry-run
	assert_output "$(printf '%s\n' display-message 'starry: no agent needs you')"
	# tmux itself: with no client attached there is nothing to show it on.
	show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt" >/dev/null
	run starry-tmux-scan menu -L "$SOCK"
	[ "$status" -eq 69 ]
	assert_output --partial "tmux display-menu:"
}

@test "menu: on a live client, choosing an agent by its key switches the client to its pane" {
	p1=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	p2=$(show_in_pane claude "$SCREENS/claude/waiting_approval--git-push-force.txt")
	# A real client: the test's server attached from a pane of a second
	# private server, whose keys the test types.
	outer="${SOCK}o"
	tmux -L "$outer" -f /dev/null new-session -d -s outer -x 160 -y 50 \
	    "env -u TMUX tmux -L $SOCK attach -t work"
	wait_for 5 sh -c "[ -n \"\$(tmux -L $SOCK list-clients -F '#{client_name}')\" ]"
	client=$(tmux -L "$SOCK" list-clients -F '#{client_name}')
	tmux -L "$SOCK" switch-client -c "$client" -t "$p1"
	[ "$(tmux -L "$SOCK" display -p -c "$client" '#{pane_id}')" = "$p1" ]
	# As tmux's display-menu does, menu waits until the menu is closed.
	starry-tmux-scan menu -L "$SOCK" -c "$client" 3>&- &
	menu=$!
	# The menu is on the client's screen, its one item under key 1.
	wait_for 5 sh -c "tmux -L $outer capture-pane -p -t outer: | grep -q 'agents that need you'"
	tmux -L "$outer" capture-pane -p -t outer: | grep -F 'waiting_approval (approval)' | grep -q '(1)'
	kill -0 "$menu"
	tmux -L "$outer" send-keys -t outer: 1
	wait_for 5 sh -c "! kill -0 $menu 2>/dev/null"
	wait "$menu"
	wait_for 5 sh -c "[ \"\$(tmux -L $SOCK display -p -c '$client' '#{pane_id}')\" = '$p2' ]"
	# The menu is gone from the screen.
	wait_for 5 sh -c "! tmux -L $outer capture-pane -p -t outer: | grep -q 'agents that need you'"
	# Escape closes it choosing nothing: the client stays where it is.
	starry-tmux-scan menu -L "$SOCK" -c "$client" 3>&- &
	menu=$!
	wait_for 5 sh -c "tmux -L $outer capture-pane -p -t outer: | grep -q 'agents that need you'"
	tmux -L "$outer" send-keys -t outer: Escape
	wait_for 5 sh -c "! kill -0 $menu 2>/dev/null"
	wait "$menu"
	[ "$(tmux -L "$SOCK" display -p -c "$client" '#{pane_id}')" = "$p2" ]
	tmux -L "$outer" kill-server
}

@test "contrib/tmux/starry.tmux: puts the counts before the status line once, binds the menu key, honours its options" {
	pane "sh" >/dev/null
	sock=$(tmux -L "$SOCK" display -p '#{socket_path}')
	plugin() { TMUX="$sock,1,0" bash "$STARRY_TOP/contrib/tmux/starry.tmux"; }
	tmux -L "$SOCK" set -g status-right '%H:%M'
	tmux -L "$SOCK" set -g status-interval 15
	plugin
	plugin
	run tmux -L "$SOCK" show -gv status-right
	assert_output "#($(command -v starry-tmux-scan) status)%H:%M"
	run tmux -L "$SOCK" show -gv status-interval
	assert_output 5
	run tmux -L "$SOCK" list-keys -T prefix a
	assert_output --partial "menu -c '#{client_name}'"
	tmux -L "$SOCK" set -g @starry-status off
	tmux -L "$SOCK" set -g @starry-menu-key m
	tmux -L "$SOCK" set -g status-left 'L'
	plugin
	run tmux -L "$SOCK" show -gv status-left
	assert_output L
	run tmux -L "$SOCK" list-keys -T prefix m
	assert_output --partial "starry-tmux-scan menu"
}

@test "watch: ends by itself (0) when its tmux server is gone, telling the tombstones of its agents first" {
	p=$(show_in_pane claude "$SCREENS/claude/idle--after-answer-prompt-empty.txt")
	watcher
	tmux -L "$SOCK" kill-server
	wait_for 5 sh -c "! kill -0 $WATCHER 2>/dev/null"
	wait "$WATCHER"
	grep -q "no tmux server at .* any more; stopping" watch.err
	jq -se --arg p "$p" 'map(select(.type == "TMUX:PANE_STATE") | .payload) | last | .pane == $p and .tombstoned and .presence == "gone"' events.jsonl
	# It took its cache with it.
	[ -z "$(find "$STARRY_RUNTIME/tmux" -name status.json)" ]
	WATCHER=
}
