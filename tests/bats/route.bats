#!/usr/bin/env bats
# starry-bus route: priority order, dedup window, fan-out, backpressure,
# and a clean flush on SIGTERM.

load helper

setup() {
	starry_setup
}

teardown() {
	[ -n "${ROUTE_PID:-}" ] && kill -KILL "$ROUTE_PID" 2>/dev/null
	exec 7<&- 8>&- 2>/dev/null || true
}

# route_has_read N: ask route for its counts; true once it read N lines.
route_has_read() {
	kill -USR1 "$ROUTE_PID"
	grep -q "route: $1 lines read" err
}

# route_read_all FILE: route's stdin (FILE) has been read to its end.
route_read_all() {
	[ "$(fd_pos "$ROUTE_PID" 0)" = "$(stat -c %s "$1")" ]
}

# route_input_settled: route's stdin position is past 0 and the same on
# two looks 100 ms apart (it reads in chunks, so a reading route moves).
route_input_settled() {
	local a b
	a=$(fd_pos "$ROUTE_PID" 0)
	sleep 0.1
	b=$(fd_pos "$ROUTE_PID" 0)
	[ -n "$a" ] && [ "$a" -gt 0 ] && [ "$a" = "$b" ]
}

# payload_ns FILE: the payload.n of every event in FILE, one per line.
payload_ns() {
	jq -r .payload.n "$1"
}

@test "route: passes events through in order, stdin to stdout" {
	gen_events 1000 > in.jsonl
	run bash -c 'starry-bus route < in.jsonl > out.jsonl'
	assert_success
	cmp in.jsonl out.jsonl
}

@test "route: priority 0 overtakes thousands of waiting priority 5 events" {
	{ gen_events 5000 5 test:low 1; gen_events 1 0 test:urgent 9999; } > in.jsonl
	mkfifo out
	starry-bus route --queue 10000 < in.jsonl > out 2>err &
	ROUTE_PID=$!
	exec 7<out			# a reader that does not read yet: output blocked
	wait_for 10 route_read_all in.jsonl
	cat <&7 > got.jsonl
	wait "$ROUTE_PID"
	ROUTE_PID=
	assert_equal "$(wc -l < got.jsonl)" 5001
	urgent=$(grep -n test:urgent got.jsonl | cut -d: -f1)
	# Only what the pipe and route's output buffer already held comes first.
	[ "$urgent" -lt 1000 ]
	[ "$(sed -n "$((urgent + 1)),\$p" got.jsonl | grep -c test:low)" -gt 4000 ]
}

@test "route: FIFO order within a priority while blocked" {
	{ gen_events 3000 2 test:a 1; gen_events 3000 4 test:b 5001; gen_events 10 2 test:a 3001; } > in.jsonl
	mkfifo out
	starry-bus route < in.jsonl > out &
	ROUTE_PID=$!
	exec 7<out
	wait_for 10 route_read_all in.jsonl
	cat <&7 > got.jsonl
	wait "$ROUTE_PID"
	ROUTE_PID=
	run bash -c "jq -r 'select(.priority == 2) | .payload.n' got.jsonl | sort -n -c"
	assert_success
	run bash -c "jq -r 'select(.priority == 4) | .payload.n' got.jsonl | sort -n -c"
	assert_success
}

@test "route: duplicate ids inside the window are dropped and counted" {
	{ gen_events 10; gen_events 10; gen_events 5 3 test:event 3; } > in.jsonl
	run bash -c 'starry-bus route < in.jsonl 2>err > out.jsonl'
	assert_success
	assert_equal "$(wc -l < out.jsonl)" 10
	run cat err
	assert_output 'starry-bus: note: route: dropped 15 duplicate events'
	run starry-bus route --no-dedup < in.jsonl
	assert_equal "${#lines[@]}" 25
}

@test "route: an id comes back after the window's count has passed" {
	{ gen_events 1 3 t:x 1; gen_events 3 3 t:x 2; gen_events 1 3 t:x 1; gen_events 1 3 t:x 4; } > in.jsonl
	run bash -c 'starry-bus route --dedup 3,10m < in.jsonl 2>/dev/null | jq -r .payload.n'
	assert_output "1
2
3
4
1"
}

@test "route: an id comes back after the window's duration has passed" {
	mkfifo in
	starry-bus route --dedup 100,300ms --in in > out.jsonl &
	ROUTE_PID=$!
	exec 8>in
	gen_events 1 >&8
	gen_events 1 >&8
	wait_for 5 has_lines out.jsonl 1
	sleep 0.4	# the behaviour under test is the passing of time
	gen_events 1 >&8
	wait_for 5 has_lines out.jsonl 2
	exec 8>&-
	wait "$ROUTE_PID"
	ROUTE_PID=
	assert_equal "$(wc -l < out.jsonl)" 2
}

@test "route: fans out by type glob to files, stdout and FIFOs" {
	{ gen_events 3 3 git:commit_pushed 1; gen_events 2 3 alert:server_down 10; gen_events 1 3 other:x 20; } > in.jsonl
	mkfifo alerts.fifo
	cat alerts.fifo > alerts.jsonl &
	reader=$!
	run bash -c "starry-bus route --out 'git:*=git.jsonl' --out 'alert:*=alerts.fifo' \
		--out '*:*=-' --out 'git:commit_*=-' < in.jsonl > all.jsonl"
	assert_success
	wait "$reader"
	assert_equal "$(payload_ns git.jsonl | tr '\n' ' ')" "1 2 3 "
	assert_equal "$(payload_ns alerts.jsonl | tr '\n' ' ')" "10 11 "
	# stdout is two outputs: every event once, and the git ones again
	assert_equal "$(wc -l < all.jsonl)" 9
}

@test "route: merges stdin and several --in files and FIFOs" {
	gen_events 100 3 t:a 1 > a.jsonl
	gen_events 100 3 t:b 1001 > b.jsonl
	mkfifo c
	gen_events 100 3 t:c 2001 > c.jsonl
	cat c.jsonl > c &
	run bash -c 'starry-bus route --in a.jsonl --in - --in c < b.jsonl > out.jsonl'
	assert_success
	assert_equal "$(wc -l < out.jsonl)" 300
	assert_equal "$(jq -r .type out.jsonl | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" "100 100 100 "
}

@test "route: a tiny queue and a stalled reader lose nothing (backpressure)" {
	gen_events 20000 > in.jsonl
	mkfifo out
	starry-bus route --queue 10 < in.jsonl > out &
	ROUTE_PID=$!
	exec 7<out
	# While nobody reads, route stops reading its input: its position
	# settles short of the end.
	wait_for 10 route_input_settled
	[ "$(fd_pos "$ROUTE_PID" 0)" -lt "$(stat -c %s in.jsonl)" ]
	cat <&7 > got.jsonl
	wait "$ROUTE_PID"
	ROUTE_PID=
	cmp in.jsonl got.jsonl
}

@test "route: SIGTERM flushes every held event, then exits 0" {
	mkfifo in out
	starry-bus route --stats --in in > out 2>err &
	ROUTE_PID=$!
	exec 7<out 8>in
	gen_events 3000 >&8
	# route holds them: its output is not read yet. SIGUSR1 makes it say so.
	wait_for 10 route_has_read 3000
	kill -TERM "$ROUTE_PID"
	cat <&7 > got.jsonl
	rc=0
	wait "$ROUTE_PID" || rc=$?
	ROUTE_PID=
	assert_equal "$rc" 0
	assert_equal "$(wc -l < got.jsonl)" 3000
}

@test "route: bad lines are rejected with their place, the rest pass" {
	{ gen_events 1 3 t:x 1; echo '{"bad":'; gen_events 1 3 t:x 2; } > in.jsonl
	run bash -c 'starry-bus route --rejects rej.jsonl --in in.jsonl 2>err > out.jsonl'
	assert_failure 65
	assert_equal "$(wc -l < out.jsonl)" 2
	run cat err
	assert_output --partial 'starry-bus: error: in.jsonl:2: invalid JSON'
	run jq -r .payload.raw rej.jsonl
	assert_output '{"bad":'
}

@test "route: CloudEvents in, and --cloudevents out" {
	printf '%s\n' '{"specversion":"1.0","id":"c1","source":"s","type":"x:y","data":1}' > in.jsonl
	run bash -c 'starry-bus route < in.jsonl | jq -c "[.id, .type, .payload]"'
	assert_output '["c1","x:y",1]'
	gen_events 1 > in2.jsonl
	run bash -c 'starry-bus route --cloudevents < in2.jsonl | jq -r .specversion'
	assert_output '1.0'
}

@test "route: an output whose reader goes away fails with 74, not silently" {
	gen_events 50000 > in.jsonl
	mkfifo out
	starry-bus route < in.jsonl > out 2>err &
	ROUTE_PID=$!
	head -n 1 out > /dev/null
	rc=0
	wait "$ROUTE_PID" || rc=$?
	ROUTE_PID=
	assert_equal "$rc" 74
	run cat err
	assert_output --partial 'starry-bus: error: --out -: Broken pipe'
}

@test "route: usage errors" {
	run starry-bus route --out nonsense
	assert_failure 64
	assert_output --partial "--out: expected GLOB=PATH, got 'nonsense'"
	run starry-bus route --dedup x,y
	assert_failure 64
	run starry-bus route --queue 0
	assert_failure 64
	run starry-bus route extra
	assert_failure 64
	run starry-bus route --in /nonexistent
	assert_failure 66
}

@test "route: an input that cannot be read exits 74 after the others" {
	mkdir adir
	gen_events 2 > ok.jsonl
	run bash -c 'starry-bus route --in adir --in ok.jsonl 2>err >out.jsonl'
	assert_failure 74
	assert_equal "$(wc -l < out.jsonl)" 2
	run cat err
	assert_output 'starry-bus: error: --in adir: Is a directory'
}

@test "route: --queue-bytes bounds what waits, and still loses nothing" {
	gen_events 2000 > in.jsonl
	run bash -c 'starry-bus route --queue-bytes 1K < in.jsonl > out.jsonl'
	assert_success
	cmp in.jsonl out.jsonl
	run starry-bus route --queue-bytes 0
	assert_failure 64
}

@test "route: --cloudevents rejects an event it cannot write, and goes on" {
	{ gen_events 1 | jq -c '.data = 1'; gen_events 1 3 t:x 2; } > in.jsonl
	run bash -c 'starry-bus route --cloudevents --rejects rej.jsonl < in.jsonl 2>err > out.jsonl'
	assert_failure 65
	assert_equal "$(wc -l < out.jsonl)" 1
	assert_equal "$(jq -r .payload.input rej.jsonl)" '<stdin>'
	run cat err
	assert_output --partial '<stdin>:1: cannot be written as a CloudEvent'
}
