#!/usr/bin/env bats
# starry-sched: the rule and expression cases as data, check, explain,
# next, and run's input, clocks, debounce, timers and reloads.

load helper
bats_require_minimum_version 1.5.0

setup() {
	starry_setup
	export TZ=UTC
}

teardown() {
	if [ -n "${SCHED_PID:-}" ]; then
		{ kill -KILL "$SCHED_PID"; wait "$SCHED_PID"; } 2>/dev/null
	fi
	exec 7>&- 2>/dev/null || true
}

# split_cases FILE DIR: one folder per case of FILE (see its head):
# rules.yaml, events (envelopes filled in), expect (TYPE JSON per line),
# refuse (the text of an expected refusal), title, line.
split_cases() {
	awk -v dir="$2" '
	function flush() { if (n > 0 && has_rules) close_case() }
	function close_case() { has_rules = 0 }
	/^#/ { if (!has_rules) title = substr($0, 3); next }
	/^$/ { if (has_rules) { has_rules = 0 }; next }
	/^rules: / {
		n++; has_rules = 1; ev = 0
		d = dir "/" n
		system("mkdir -p " d)
		print "rules: " substr($0, 8) > (d "/rules.yaml"); close(d "/rules.yaml")
		print title > (d "/title"); close(d "/title")
		print NR > (d "/line"); close(d "/line")
		printf "" > (d "/events"); printf "" > (d "/expect")
		next
	}
	/^event: / { ev++; print substr($0, 8) >> (d "/events"); next }
	/^=> / { print substr($0, 4) >> (d "/expect"); next }
	/^!! / { print substr($0, 4) > (d "/refuse"); next }
	{ print "unknown line " NR ": " $0 > "/dev/stderr"; exit 1 }
	END { print n }' "$1"
}

# fill_events CASE FILE: the events of a case with their envelopes
# completed (by text, so that numbers reach starry-sched as written).
fill_events() {
	awk -v c="$1" '{
		add = ""
		if ($0 !~ /"id":/)
			add = add sprintf("\"id\":\"00000000-0000-4000-8000-%012d\",", c * 1000 + NR)
		if ($0 !~ /"timestamp":/) add = add "\"timestamp\":1000000,"
		if ($0 !~ /"traceId":/) add = add "\"traceId\":\"trace-" c "\","
		if ($0 !~ /"source":/) add = add "\"source\":\"test\","
		if ($0 !~ /"sessionId":/) add = add "\"sessionId\":\"default\","
		if ($0 !~ /"priority":/) add = add "\"priority\":3,"
		if ($0 !~ /"payload":/) add = add "\"payload\":null,"
		print "{" add substr($0, 2)
	}' "$2"
}

@test "sched: the rule and expression cases of tests/data/sched-cases.test" {
	local n i d bad=0 out got want
	n=$(split_cases "$STARRY_TOP/tests/data/sched-cases.test" cases)
	[ "$n" -ge 100 ]
	for i in $(seq 1 "$n"); do
		d=cases/$i
		if [ -f "$d/refuse" ]; then
			if starry-sched check "$d/rules.yaml" >"$d/out" 2>"$d/err"; then
				echo "case $i (line $(cat "$d/line")): $(cat "$d/title"): accepted, expected a refusal"
				bad=$((bad + 1))
			elif ! grep -qF -- "$(cat "$d/refuse")" "$d/err"; then
				echo "case $i (line $(cat "$d/line")): $(cat "$d/title"): refused with: $(cat "$d/err")"
				echo "  expected: $(cat "$d/refuse")"
				bad=$((bad + 1))
			fi
			continue
		fi
		fill_events "$i" "$d/events" >"$d/in"
		if ! STARRY_HOME=$PWD/$d/home starry-sched run --rules "$d/rules.yaml" \
		    --clock event <"$d/in" >"$d/out" 2>"$d/err"; then
			echo "case $i (line $(cat "$d/line")): $(cat "$d/title"): run failed: $(cat "$d/err")"
			bad=$((bad + 1))
			continue
		fi
		got=$(jq -c '[.type, (.payload | if type == "object" then del(.rule) else . end)]' "$d/out")
		want=$(while read -r t p; do jq -cn --arg t "$t" --argjson p "${p:-null}" '[$t, $p]'; done <"$d/expect")
		if [ "$got" != "$want" ]; then
			echo "case $i (line $(cat "$d/line")): $(cat "$d/title"):"
			echo "  got:      $(echo "$got" | tr '\n' ' ')"
			echo "  expected: $(echo "$want" | tr '\n' ' ')"
			bad=$((bad + 1))
		fi
	done
	echo "$n cases, $bad failed"
	[ "$bad" -eq 0 ]
}

# ---- check, explain, next ----

@test "sched check: a valid file and its includes, summed up" {
	mkdir -p "$STARRY_CONFIG/rules"
	cat >"$STARRY_CONFIG/orchestration.yaml" <<'Y'
include: [rules/*.yaml]
rules:
  - {on: "git:commit_pushed", if: "branch == 'main'", action: "spawn(code-reviewer-agent)"}
Y
	printf 'rules:\n  - {every: 5m, action: "emit(health:tick)"}\n' >"$STARRY_CONFIG/rules/a.yaml"
	printf 'rules:\n  - {on: "alert:*", action: "spawn(devops-agent)"}\n' >"$STARRY_CONFIG/rules/b.yaml"
	run starry-sched check
	assert_success
	assert_output "$STARRY_CONFIG/orchestration.yaml: ok: 3 rules (2 on events, 1 timer) from 3 files"
}

@test "sched check: an error names the file, line, column and key path; 78" {
	mkdir -p "$STARRY_CONFIG/rules"
	printf 'include: [rules/*.yaml]\n' >"$STARRY_CONFIG/orchestration.yaml"
	printf 'rules:\n  - on: "m:x"\n    if: "a ==== 1"\n    action: "emit(a:b)"\n' >"$STARRY_CONFIG/rules/bad.yaml"
	run --separate-stderr starry-sched check
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"rules/bad.yaml:3:5: rules[0].if: column 5: expected a value, a name or '(', found '=='"* ]]
}

@test "sched check: a missing file is 66, an include that names a missing file is 78" {
	run starry-sched check "$BATS_TEST_TMPDIR/nope.yaml"
	[ "$status" -eq 66 ]
	printf 'include: [rules/missing.yaml]\n' >o.yaml
	run starry-sched check o.yaml
	[ "$status" -eq 78 ]
	[[ "$output" == *"'rules/missing.yaml': no such file"* ]]
}

@test "sched check: includes that include each other stop, a file included twice counts once" {
	printf 'include: [b.yaml]\nrules: [{on: "a:x", action: "emit(a:y)"}]\n' >a.yaml
	printf 'include: [a.yaml, a.yaml]\nrules: [{on: "b:x", action: "emit(b:y)"}]\n' >b.yaml
	run starry-sched check a.yaml
	assert_success
	assert_output --partial "ok: 2 rules (2 on events, 0 timers) from 2 files"
}

@test "sched check: a FIFO, a folder or a dangling link an include glob matches is passed over; one named outright is refused" {
	mkdir -p rules/sub.yaml
	mkfifo rules/pipe.yaml
	ln -s nowhere rules/dangling.yaml
	printf 'rules: [{on: "a:x", action: "emit(a:y)"}]\n' >rules/one.yaml
	printf 'include: [rules/*.yaml]\n' >o.yaml
	run timeout 10 starry-sched check o.yaml
	assert_success
	assert_output --partial "ok: 1 rule (1 on events, 0 timers) from 2 files"
	printf 'include: [rules/pipe.yaml]\n' >p.yaml
	run timeout 10 starry-sched check p.yaml
	[ "$status" -eq 78 ]
	assert_output --partial "'rules/pipe.yaml': not a regular file"
}

@test "sched check: hostile files are refused with a reason, not a crash" {
	head -c 100000 /dev/urandom >garbage.yaml
	run starry-sched check garbage.yaml
	[ "$status" -eq 78 ]
	printf 'rules: [{on: "m:x", action: "emit(a:b)"' >cut.yaml
	run starry-sched check cut.yaml
	[ "$status" -eq 78 ]
	printf 'rules: 5\n' >wrong.yaml
	run starry-sched check wrong.yaml
	[ "$status" -eq 78 ]
	assert_output --partial "rules"
	awk 'BEGIN { printf "rules: [{on: \"m:x\", action: \"emit(a:b)\", if: \""; for (i = 0; i < 5000; i++) printf "a && "; print "a\"}]" }' >long.yaml
	run starry-sched check long.yaml
	[ "$status" -eq 78 ]
	assert_output --partial "longer than 4096 bytes"
}

@test "sched explain: each rule, whether it fires, and the values its if read" {
	cat >o.yaml <<'Y'
rules:
  - {name: review-main, on: "git:commit_pushed", if: "branch == 'main'", action: "spawn(code-reviewer-agent)"}
  - {name: devops, on: "alert:server_down", action: "spawn(devops-agent)"}
  - {name: tick, every: 5m, action: "emit(health:tick)"}
Y
	run starry-sched explain --rules o.yaml git:commit_pushed --payload '{"branch":"dev"}'
	[ "$status" -eq 1 ]
	assert_line --regexp '^  review-main +no +spawn\(code-reviewer-agent\)$'
	assert_line --regexp "if branch == 'main': false \(branch = \"dev\"\)$"
	assert_line --regexp '^  devops +no '
	assert_line --regexp '^  tick +timer '
	run starry-sched explain --rules o.yaml --json git:commit_pushed --payload '{"branch":"main"}'
	assert_success
	echo "$output" | jq -se '.[0].rule == "review-main" and .[0].verdict == "fires" and .[0].values.branch == "main"'
}

@test "sched explain: events from stdin, a bad line rejected with its number" {
	printf 'rules: [{on: "a:b", action: "emit(c:d)"}]\n' >o.yaml
	{ starry-bus emit a:b; echo '{"nope":'; starry-bus emit x:y; } >in
	run --separate-stderr starry-sched explain --rules o.yaml <in
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"<stdin>:2:"* ]]
	[ "$(echo "$output" | grep -c '^event ')" -eq 2 ]
}

@test "sched next: each timer's next firing, counted from --now" {
	cat >o.yaml <<'Y'
rules:
  - {name: tick, every: 5m, action: "emit(health:tick)"}
  - {name: nightly, cron: "0 3 * * *", action: "spawn(nightly-report)"}
  - {on: "a:b", action: "emit(c:d)"}
Y
	run starry-sched next --rules o.yaml --now 2026-11-23T10:00:00Z --json
	assert_success
	echo "$output" | jq -se 'length == 2
	    and .[0].rule == "tick" and .[0].next == "2026-11-23T10:05:00+0000"
	    and .[1].rule == "nightly" and .[1].next == "2026-11-24T03:00:00+0000"'
}

@test "sched next: a firing missed while nothing ran is due at once" {
	printf 'rules: [{name: hourly, every: 1h, action: "emit(a:b)"}]\n' >o.yaml
	mkdir -p "$STARRY_HOME/sched"
	# Last fired at 07:00, now 10:00: the 08:00 firing was missed.
	echo '{"hourly": 1795417200000}' >"$STARRY_HOME/sched/timers.json"
	run starry-sched next --rules o.yaml --now 2026-11-23T10:00:00Z --json
	assert_success
	echo "$output" | jq -e '.inMs == 0'
}

# ---- run ----

# sched_has_read N: ask the running starry-sched for its counts; true once
# it has taken N events.
sched_has_read() {
	kill -USR1 "$SCHED_PID"
	grep -q "SIGUSR1: $1 events" err
}

@test "sched run: an action carries its cause's trace and session, and names it as parent" {
	printf 'rules: [{on: "git:commit_pushed", if: "branch == %s", action: "spawn(code-reviewer-agent, COMMIT=${sha})"}]\n' "'main'" >o.yaml
	starry-bus emit git:commit_pushed --trace t-42 --session s-7 --payload '{"branch":"main","sha":"abc"}' >in
	run starry-sched run --rules o.yaml <in
	assert_success
	jq -se --slurpfile c in 'length == 1 and .[0].type == "SPAWN:REQUEST"
	    and .[0].traceId == "t-42" and .[0].sessionId == "s-7"
	    and .[0].parentId == $c[0].id and .[0].source == "starry-sched"
	    and .[0].payload == {template: "code-reviewer-agent", env: {COMMIT: "abc"}, rule: "o.yaml#1"}' <<<"$output"
}

@test "sched run: bad lines are rejected with a reason, the rest still act; 65" {
	printf 'rules: [{on: "a:b", action: "emit(c:d)"}]\n' >o.yaml
	{
		starry-bus emit a:b
		echo '{"id": truncated'
		echo '{"id":"x","timestamp":"yesterday","traceId":"t","source":"s","sessionId":"d","priority":3,"type":"a:b","payload":null}'
		head -c 2000000 /dev/zero | tr '\0' 'a'; echo
		printf '\xff\xfe\n'
		starry-bus emit a:b
	} >in
	run --separate-stderr starry-sched run --rules o.yaml --rejects rej <in
	[ "$status" -eq 65 ]
	[ "$(echo "$output" | grep -c '"type":"c:d"')" -eq 2 ]
	[[ "$stderr" == *"<stdin>:2:"* && "$stderr" == *"<stdin>:3:"* && "$stderr" == *"<stdin>:4:"* && "$stderr" == *"<stdin>:5:"* ]]
	[ "$(jq -s 'length' rej)" -eq 4 ]
}

@test "sched run: with the event clock, debounce fires the burst's last event once" {
	printf 'rules: [{on: "fs:changed", debounce: 10s, action: "spawn(builder, FILE=${file})"}]\n' >o.yaml
	for f in a b c; do starry-bus emit fs:changed --payload "{\"file\":\"$f\"}"; done >in
	run starry-sched run --rules o.yaml --clock event <in
	assert_success
	jq -se 'length == 1 and .[0].payload.env.FILE == "c"' <<<"$output"
}

# sched_on_fifo RULES_FILE: run starry-sched on the FIFO ev, output in
# out, diagnostics in err; ready when it returns. SCHED_PID is its pid.
sched_on_fifo() {
	mkfifo ev
	starry-sched run --rules "$1" --events ev --ready-fd 3 3>ready >out 2>err &
	SCHED_PID=$!
	wait_for 10 has_lines ready 1
}

# sched_start RULES_FILE: the same, with fd 7 kept open to write to ev.
sched_start() {
	sched_on_fifo "$1"
	exec 7>ev
}

@test "sched run: with the wall clock, debounce waits for the quiet, then fires" {
	printf 'rules: [{on: "fs:changed", debounce: 300ms, action: "emit(built:x)"}]\n' >o.yaml
	sched_start o.yaml
	starry-bus emit fs:changed >&7
	starry-bus emit fs:changed >&7
	wait_for 10 has_lines out 1
	[ "$(wc -l <out)" -eq 1 ]
	starry-bus emit fs:changed >&7
	wait_for 10 has_lines out 2
}

@test "sched run: a FIFO stays open when its writers leave" {
	printf 'rules: [{on: "a:b", action: "emit(c:d)"}]\n' >o.yaml
	sched_on_fifo o.yaml
	starry-bus emit a:b --to ev
	wait_for 10 has_lines out 1
	starry-bus emit a:b --to ev
	wait_for 10 has_lines out 2
	kill -0 "$SCHED_PID"
}

@test "sched run: an every timer fires with the wall clock" {
	printf 'rules: [{every: 1s, action: "emit(health:tick)"}]\n' >o.yaml
	starry-sched run --rules o.yaml --ready-fd 3 3>ready </dev/null >out 2>err &
	SCHED_PID=$!
	wait_for 10 has_lines out 2
	jq -se 'all(.type == "health:tick") and (.[0].traceId != .[1].traceId)' out
	jq -e '.hourly == null and (keys | length) == 1' "$STARRY_HOME/sched/timers.json"
}

@test "sched run: a timer missed while it was not running fires once at start" {
	printf 'rules: [{name: hourly, every: 1h, action: "emit(health:tick)"}]\n' >o.yaml
	mkdir -p "$STARRY_HOME/sched"
	echo "{\"hourly\": $(( $(date +%s) * 1000 - 5 * 3600 * 1000 ))}" >"$STARRY_HOME/sched/timers.json"
	starry-sched run --rules o.yaml --ready-fd 3 3>ready </dev/null >out 2>err &
	SCHED_PID=$!
	wait_for 10 has_lines out 1
	wait_for 10 has_lines ready 1
	# Once, not five times; and the file now says when.
	[ "$(wc -l <out)" -eq 1 ]
	jq -e --argjson now "$(( $(date +%s) * 1000 ))" '.hourly > $now - 60000' "$STARRY_HOME/sched/timers.json"
}

@test "sched run: state files that are not valid, or of the wrong shape, start afresh with a warning" {
	printf 'rules: [{name: w, on: "job:new", concurrency: 1, action: "spawn(worker)"}]\n' >o.yaml
	mkdir -p "$STARRY_HOME/sched"
	printf '{"w": [1, {"x": 2}, "not-a-request", ' >"$STARRY_HOME/sched/started.json"
	printf '[1, 2' >"$STARRY_HOME/sched/timers.json"
	starry-bus emit job:new | starry-sched run --rules o.yaml --no-project >out 2>err
	grep -q "started.json is not valid JSON: concurrency counts start afresh" err
	grep -q "timers.json is not valid JSON: timers start afresh" err
	jq -e '.type == "SPAWN:REQUEST"' out
	# Rewritten whole: the request just made, nothing else.
	jq -e --arg id "$(jq -r .id out)" '.w | length == 1 and .[0].request == $id and .[0].confirmed == false' \
	    "$STARRY_HOME/sched/started.json"
	# Wrong-typed entries are skipped.
	echo '{"w": [1, null, {"x": 2}, {"request": 5}, "gone"], "other": "x", "": []}' >"$STARRY_HOME/sched/started.json"
	starry-bus emit job:new | starry-sched run --rules o.yaml --no-project >out 2>err
	jq -e '.type == "SPAWN:REQUEST"' out
	jq -e --arg id "$(jq -r .id out)" '.w | length == 1 and .[0].request == $id' "$STARRY_HOME/sched/started.json"
}

@test "sched run: at start, a request kept from less than a minute ago that no agent answered yet still counts; an older one, or one whose agent is gone, does not" {
	printf 'rules: [{name: w, on: "job:new", concurrency: 1, action: "spawn(worker)"}]\n' >o.yaml
	mkdir -p "$STARRY_HOME/sched"
	now=$(($(date +%s) * 1000))
	echo "{\"w\": [{\"request\": \"r1\", \"since\": $((now - 5000)), \"confirmed\": false}]}" >"$STARRY_HOME/sched/started.json"
	starry-bus emit job:new | starry-sched run --rules o.yaml --no-project --stats >out 2>err
	[ ! -s out ]
	grep -q "1 held back by concurrency" err
	jq -e '.w | map(.request) == ["r1"]' "$STARRY_HOME/sched/started.json"
	for kept in "\"since\": $((now - 120000)), \"confirmed\": false" "\"since\": $now, \"confirmed\": true"; do
		echo "{\"w\": [{\"request\": \"r1\", $kept}]}" >"$STARRY_HOME/sched/started.json"
		starry-bus emit job:new | starry-sched run --rules o.yaml --no-project >out 2>err
		jq -e '.type == "SPAWN:REQUEST"' out
		jq -e '.w | map(.request) | index("r1") == null' "$STARRY_HOME/sched/started.json"
	done
}

@test "sched run: SIGTERM ends it cleanly, firing what debounce holds" {
	printf 'rules: [{on: "fs:changed", debounce: 1h, action: "emit(built:x)"}]\n' >o.yaml
	sched_on_fifo o.yaml
	starry-bus emit fs:changed --to ev
	wait_for 10 sched_has_read 1
	[ ! -s out ]
	kill -TERM "$SCHED_PID"
	wait "$SCHED_PID"
	[ "$(jq -s 'length' out)" -eq 1 ]
}

# ---- reloads ----

# reloads: how many reloads the diagnostics tell of.
reloads() {
	grep -c "rules loaded" err
}

reloaded() {
	[ "$(reloads)" -ge "$1" ]
}

@test "sched run: an invalid edit is refused with a KERNEL:ERROR and the old rules stay; SIGHUP reloads too" {
	printf 'rules: [{on: "a:b", action: "emit(old:rule)"}]\n' >o.yaml
	sched_start o.yaml
	printf 'rules: [{on: "a:b", action: "emit(new:rule)", bogus: 1}]\n' >o.yaml
	wait_for 10 grep -q "the new rules are refused" err
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 2
	jq -se '.[0].type == "KERNEL:ERROR" and .[0].payload.code == "ECONFIG"
	    and (.[0].payload.message | contains("bogus"))
	    and .[1].type == "old:rule"' out
	printf 'rules: [{on: "a:b", action: "emit(new:rule)"}]\n' >o.yaml
	wait_for 10 reloaded 1
	kill -HUP "$SCHED_PID"
	wait_for 10 reloaded 2
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 3
	jq -se '.[2].type == "new:rule"' out
}

@test "sched run: an edit in place is picked up by inotify" {
	printf 'rules: [{on: "a:b", action: "emit(v:one)"}]\n' >o.yaml
	sched_start o.yaml
	printf 'rules: [{on: "a:b", action: "emit(v:two)"}]\n' >o.yaml
	wait_for 10 reloaded 1
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 1
	jq -e '.type == "v:two"' out
}

@test "sched run: a new file renamed over the rules is picked up" {
	printf 'rules: [{on: "a:b", action: "emit(v:one)"}]\n' >o.yaml
	sched_start o.yaml
	printf 'rules: [{on: "a:b", action: "emit(v:two)"}]\n' >.o.yaml.tmp
	mv .o.yaml.tmp o.yaml
	wait_for 10 reloaded 1
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 1
	jq -e '.type == "v:two"' out
}

@test "sched run: a deleted file keeps the old rules, and its successor is picked up" {
	printf 'rules: [{on: "a:b", action: "emit(v:one)"}]\n' >o.yaml
	sched_start o.yaml
	rm o.yaml
	wait_for 10 grep -q "the new rules are refused" err
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 2
	jq -se '.[0].type == "KERNEL:ERROR" and .[1].type == "v:one"' out
	printf 'rules: [{on: "a:b", action: "emit(v:two)"}]\n' >o.yaml
	wait_for 10 reloaded 1
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 3
	jq -se '.[2].type == "v:two"' out
}

@test "sched run: an included file, and a new one matching the include glob, are picked up" {
	mkdir rules
	printf 'include: [rules/*.yaml]\n' >o.yaml
	printf 'rules: [{on: "a:b", action: "emit(v:one)"}]\n' >rules/one.yaml
	sched_start o.yaml
	printf 'rules: [{on: "a:b", action: "emit(v:two)"}]\n' >rules/two.yaml
	wait_for 10 reloaded 1
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 2
	jq -se '[.[].type] == ["v:one", "v:two"]' out
}

@test "sched run: timers keep their schedule across a reload" {
	printf 'rules: [{name: t, every: 1h, action: "emit(tick:x)"}, {on: "a:b", action: "emit(v:one)"}]\n' >o.yaml
	sched_start o.yaml
	printf 'rules: [{name: t, every: 1h, action: "emit(tick:x)"}, {on: "a:b", action: "emit(v:two)"}]\n' >o.yaml
	wait_for 10 reloaded 1
	starry-bus emit a:b >&7
	wait_for 10 has_lines out 1
	# No tick fired by the reload itself.
	jq -e '.type == "v:two"' out
	[ "$(wc -l <out)" -eq 1 ]
}

@test "sched check: an include glob whose folder does not exist yet matches nothing" {
	printf 'include: [rules/*.yaml]\nrules: [{on: "a:b", action: "emit(c:d)"}]\n' >o.yaml
	run starry-sched check o.yaml
	assert_success
	assert_output --partial "ok: 1 rule (1 on events, 0 timers) from 1 file"
}

@test "sched: the rule sets in rules/ load, and act on the events they name" {
	mkdir -p "$STARRY_CONFIG/rules"
	cp "$STARRY_TOP"/rules/*.yaml "$STARRY_CONFIG/rules/"
	printf 'include: [rules/*.yaml]\n' >"$STARRY_CONFIG/orchestration.yaml"
	run starry-sched check
	assert_success
	{
		starry-bus emit git:commit_pushed --payload '{"branch":"main","sha":"abc"}'
		starry-bus emit alert:server_down --payload '{"host":"db1"}'
		starry-bus emit TMUX:PANE_STATE --payload '{"pane":"%3","state":"waiting_approval","attention":"approval","from":"running","from_attention":"none"}'
	} >in
	run starry-sched run --clock event <in
	assert_success
	echo "$output" | jq -se '[.[] | [.type, .payload.template // .payload.why]] == [
	    ["SPAWN:REQUEST", "devops-agent"],
	    ["notify:attention", "an agent waits for approval"],
	    ["SPAWN:REQUEST", "code-reviewer-agent"]]'
}

@test "sched run: emits that fan out are cut after 1000 for one event, with one warning" {
	{
		echo 'rules:'
		for i in 1 2 3 4 5 6; do echo "  - {on: \"t:*\", action: \"emit(t:x$i)\"}"; done
	} >o.yaml
	starry-bus emit t:start >in
	run --separate-stderr starry-sched run --rules o.yaml <in
	assert_success
	n=$(echo "$output" | wc -l)
	# The events already being matched finish their rules: a few more.
	[ "$n" -ge 1000 ] && [ "$n" -le 1100 ]
	[ "$(echo "$stderr" | grep -c 'more than 1000 events')" -eq 1 ]
}

@test "sched check: default names come from the path below the main file's folder" {
	mkdir sub
	printf 'include: [sub/x.yaml]\nrules: [{on: "a:b", action: "emit(c:d)"}]\n' >x.yaml
	printf 'rules: [{on: "a:b", action: "emit(e:f)"}]\n' >sub/x.yaml
	run starry-sched explain --rules x.yaml --json a:b
	assert_success
	echo "$output" | jq -se '[.[].rule] == ["sub/x.yaml#1", "x.yaml#1"]'
}

@test "sched run: a spawn daemon that never answers does not hold the scheduler" {
	printf 'rules: [{on: "a:b", action: "spawn(worker)"}]\n' >o.yaml
	# A listener that takes the connection and says nothing.
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[2], "w").close()
c, _ = s.accept(); time.sleep(60)' "$STARRY_RUNTIME/spawn.sock" listening &
	SCHED_PID=$!
	wait_for 10 test -e listening
	starry-bus emit a:b >in
	run --separate-stderr timeout 30 starry-sched run --rules o.yaml <in
	assert_success
	[[ "$stderr" == *"did not answer"* ]]
	echo "$output" | jq -e '.type == "SPAWN:REQUEST"'
}
