#!/usr/bin/env bats
# starry-sched: the rule and expression cases as data, check, explain,
# next, and run's input, clocks, debounce, timers and reloads.

load helper

setup() {
	starry_setup
	export TZ=UTC
}

teardown() {
	[ -n "${SCHED_PID:-}" ] && kill -KILL "$SCHED_PID" 2>/dev/null
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
