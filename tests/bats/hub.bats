#!/usr/bin/env bats
# starry-bus serve, pub and sub: the hub on bus.fifo and bus.sock. Every
# test starts its own hub and waits for its --ready-fd; teardown stops
# everything the test started.

setup() {
	load helper
	starry_setup
	PIDS=()
	NREADY=0
}

teardown() {
	local i p end
	exec 7<&- 2>/dev/null || true
	# Clients first (in reverse order), so the hub has nobody to flush to.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
	done
	end=$((SECONDS + 10))
	for p in "${PIDS[@]}"; do
		while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
			sleep 0.02
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# A subscriber that reads only when told: it subscribes, writes the hub's
# answer into READY (a FIFO), waits for a line on GO (a FIFO), then copies
# all the hub sends to stdout until the hub closes the connection.
RAW_SUB='
use strict; use Socket; use IO::Socket::UNIX;
my ($path, $ready, $go) = @ARGV;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
    or die "connect $path: $!\n";
syswrite($s, "{\"subscribe\":{}}\n") or die "write: $!\n";
my $ack = "";
while ($ack !~ /\n/) { sysread($s, $ack, 1, length $ack) or die "no answer\n" }
open(my $r, ">", $ready) or die "$ready: $!\n"; print $r $ack; close $r;
open(my $g, "<", $go) or die "$go: $!\n"; my $line = <$g>; close $g;
my $buf;
while (sysread($s, $buf, 65536)) { syswrite(STDOUT, $buf) }
'

# A publisher that sends stdin as it is, unchecked, then waits for the hub
# to close the connection (it does once it has read everything).
RAW_PUB='
use strict; use Socket; use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0])
    or die "connect: $!\n";
local $/; my $data = <STDIN>; my $off = 0;
while ($off < length $data) {
	my $n = syswrite($s, $data, length($data) - $off, $off);
	defined $n or die "write: $!\n"; $off += $n;
}
shutdown($s, 1); my $buf; while (sysread($s, $buf, 4096)) {}
'

# hub_events N TAG [TYPE] [PRIORITY] [SESSION] [TRACE] [PAD]: N valid events
# whose ids are made of TAG (4 hex digits) and their number.
hub_events() {
	awk -v n="$1" -v tag="$2" -v type="${3:-test:event}" -v prio="${4:-3}" \
	    -v sess="${5:-default}" -v trace="${6:-trace-0}" -v pad="${7:-0}" 'BEGIN {
		p = ""
		for (i = 0; i < pad; i++) p = p "x"
		for (i = 1; i <= n; i++)
			printf "{\"id\":\"%08x-%s-4000-8000-%012d\",\"timestamp\":1700000000000," \
			    "\"traceId\":\"%s\",\"source\":\"test\",\"sessionId\":\"%s\"," \
			    "\"priority\":%d,\"type\":\"%s\",\"payload\":{\"n\":%d,\"pad\":\"%s\"}}\n",
			    i, tag, i, trace, sess, prio, type, i, p
	}'
}

ids() { grep -o '"id":"[^"]*"' "$@" | sort; }

log_has() { grep -Eq -- "$1" "$BATS_TEST_TMPDIR/hub.log"; }

# start_hub [OPTIONS...]: the hub in the background, logging to hub.log;
# returns once it has signalled readiness. HUB_PID is its pid.
start_hub() {
	local ready="$BATS_TEST_TMPDIR/hub.ready.$((NREADY += 1))"
	mkfifo "$ready"
	starry-bus serve --ready-fd 5 "$@" 5>"$ready" 2>>"$BATS_TEST_TMPDIR/hub.log" 3>&- &
	HUB_PID=$!
	PIDS+=("$HUB_PID")
	read -r -t 10 _ <"$ready"
}

# start_sub NAME [OPTIONS...]: a subscriber printing to NAME.out (stderr
# NAME.err); returns once the hub has confirmed the subscription.
start_sub() {
	local name=$1
	shift
	mkfifo "$name.ready"
	starry-bus sub --ready-fd 5 "$@" >"$name.out" 2>"$name.err" 5>"$name.ready" 3>&- &
	PIDS+=("$!")
	eval "${name}_pid=$!"
	read -r -t 10 _ <"$name.ready"
}

# fifo_writer FILE: copy FILE into bus.fifo, one write(2) per line (a
# line under PIPE_BUF is written whole, never mixed with another writer's).
fifo_writer() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
	done <"$1" >"$STARRY_RUNTIME/bus.fifo"
}

stop_hub() {
	kill -TERM "$HUB_PID"
	wait "$HUB_PID"
}

@test "hub: bus.sock is 0600 and a new runtime folder 0700, ready on --ready-fd" {
	export STARRY_RUNTIME="$BATS_TEST_TMPDIR/fresh/nested/run"
	start_hub
	[ "$(stat -c %a "$STARRY_RUNTIME")" = 700 ]
	[ "$(stat -c %a "$STARRY_RUNTIME/bus.sock")" = 600 ]
	[ -S "$STARRY_RUNTIME/bus.sock" ]
	[ -p "$STARRY_RUNTIME/bus.fifo" ]
	[ "$(stat -c %a "$STARRY_RUNTIME/bus.fifo")" = 600 ]
	log_has "note: hub ready on $STARRY_RUNTIME/bus.sock"
}

@test "hub: 4 writers through bus.fifo and bus.sock at once, every event arrives exactly once" {
	start_hub
	start_sub all
	for t in a001 a002 b001 b002; do hub_events 500 "$t" >"$t.jsonl"; done
	fifo_writer a001.jsonl 3>&- &
	w1=$!
	fifo_writer a002.jsonl 3>&- &
	w2=$!
	starry-bus pub b001.jsonl 3>&- &
	w3=$!
	starry-bus pub b002.jsonl 3>&- &
	w4=$!
	PIDS+=("$w1" "$w2" "$w3" "$w4")
	wait "$w1"
	wait "$w2"
	wait "$w3"
	wait "$w4"
	wait_for 30 has_lines all.out 2000
	cat a001.jsonl a002.jsonl b001.jsonl b002.jsonl | ids >expected
	ids all.out >got
	diff expected got
	[ "$(wc -l <all.out)" -eq 2000 ]
}

@test "hub: filtered subscribers get exactly their events (type globs, session, trace)" {
	start_hub
	start_sub types --type 'git:*' --type 'alert:serv?r_down'
	start_sub session --session s1
	start_sub trace --trace tr9
	start_sub every
	{
		hub_events 10 0001 git:commit_pushed 3 s1 tr1
		hub_events 10 0002 alert:server_down 3 s2 tr9
		hub_events 10 0003 other:x 3 s1 tr9
		hub_events 10 0004 other:y 3 s2 tr1
	} >mix.jsonl
	starry-bus pub mix.jsonl
	wait_for 10 has_lines every.out 40
	wait_for 10 has_lines types.out 20
	wait_for 10 has_lines session.out 20
	wait_for 10 has_lines trace.out 20
	stop_hub
	[ "$(grep -c '"type":"git:commit_pushed"' types.out)" -eq 10 ]
	[ "$(grep -c '"type":"alert:server_down"' types.out)" -eq 10 ]
	[ "$(wc -l <types.out)" -eq 20 ]
	[ "$(grep -c '"sessionId":"s1"' session.out)" -eq 20 ]
	[ "$(wc -l <session.out)" -eq 20 ]
	[ "$(grep -c '"traceId":"tr9"' trace.out)" -eq 20 ]
	[ "$(wc -l <trace.out)" -eq 20 ]
	[ "$(wc -l <every.out)" -eq 40 ]
}

@test "hub: a bad subscribe request gets an error line and is closed" {
	start_hub
	printf '{"subscribe":{"types":"git:*"}}\n' >req
	run perl -e '
use strict; use Socket; use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die;
open(my $f, "<", $ARGV[1]) or die; syswrite($s, scalar <$f>);
my $buf; while (sysread($s, $buf, 4096)) { print $buf }' "$STARRY_RUNTIME/bus.sock" req
	assert_success
	assert_output --partial '{"error":"subscribe.types: expected a non-empty array'
	kill -0 "$HUB_PID"
}

@test "hub: a slow subscriber is cut off with ESLOWCONSUMER, a fast one gets all 20,000 events" {
	start_hub
	start_sub fast
	# The slow subscriber's stdout is a FIFO that nobody reads for now.
	mkfifo slow.pipe slow.ready
	starry-bus sub --ready-fd 5 >slow.pipe 5>slow.ready 2>slow.err 3>&- &
	slow_pid=$!
	PIDS+=("$slow_pid")
	exec 7<slow.pipe
	read -r -t 10 _ <slow.ready
	hub_events 20000 5100 >many.jsonl
	# Publish at the pace of the fast subscriber (never 4096 behind, even
	# on a busy machine); the slow one falls behind all the same.
	split -l 2000 -d many.jsonl chunk.
	n=0
	released=false
	for c in chunk.*; do
		starry-bus pub "$c"
		n=$((n + 2000))
		wait_for 30 has_lines fast.out "$n"
		if ! $released && log_has "note: disconnected slow subscriber pid $slow_pid: missed [0-9]+ events"; then
			cat <&7 >slow.out 3>&- &
			PIDS+=("$!")
			exec 7<&-
			released=true
		fi
	done
	[ "$released" = true ]
	status=0
	wait "$slow_pid" || status=$?
	[ "$status" -eq 75 ]
	ids many.jsonl >expected
	ids fast.out >got
	diff expected got
	missed=$(grep -Eo "subscriber pid $slow_pid: missed [0-9]+" hub.log | grep -Eo '[0-9]+$')
	last=$(tail -n 1 slow.out)
	[[ "$last" == *'"type":"KERNEL:ERROR"'* ]]
	[[ "$last" == *'"code":"ESLOWCONSUMER"'* ]]
	[[ "$last" == *"\"missed\":$missed"* ]]
	[[ "$last" == *"disconnected after missing $missed events"* ]]
	grep -q 'too slow' slow.err
	# Before that line, whole events as they were sent, none twice.
	head -n -1 slow.out | ids >slow.ids
	[ -z "$(uniq -d slow.ids)" ]
	head -n -1 slow.out | sort >slow.lines
	sort many.jsonl >sent.lines
	[ -z "$(comm -23 slow.lines sent.lines)" ]
}

@test "hub: a subscriber that never reads does not hold back another one" {
	start_hub --sub-queue 100000
	start_sub fast
	mkfifo raw.ready raw.go
	perl -e "$RAW_SUB" "$STARRY_RUNTIME/bus.sock" raw.ready raw.go >raw.out 3>&- &
	PIDS+=("$!")
	read -r -t 10 ack <raw.ready
	[ "$ack" = '{"subscribed":true}' ]
	hub_events 20000 5200 >many.jsonl
	split -l 2000 -d many.jsonl chunk.
	n=0
	for c in chunk.*; do
		starry-bus pub "$c"
		n=$((n + 2000))
		wait_for 30 has_lines fast.out "$n"
	done
	[ ! -s raw.out ]
}

@test "hub: priority 0 overtakes thousands of waiting priority 5 events" {
	start_hub
	start_sub fast
	mkfifo raw.ready raw.go
	perl -e "$RAW_SUB" "$STARRY_RUNTIME/bus.sock" raw.ready raw.go >raw.out 3>&- &
	PIDS+=("$!")
	read -r -t 10 _ <raw.ready
	{
		hub_events 3000 0005 test:bulk 5 default t 1000
		hub_events 1 0000 test:urgent 0
	} >prio.jsonl
	starry-bus pub prio.jsonl
	# The fast subscriber has them all: the raw one's queue is full of p5.
	wait_for 30 has_lines fast.out 3001
	echo go >raw.go
	wait_for 30 has_lines raw.out 3001
	pos=$(grep -n '"type":"test:urgent"' raw.out | cut -d: -f1)
	echo "urgent event at line $pos of 3001" >&2
	[ "$pos" -lt 1000 ]
}

@test "hub: SIGTERM with events in flight delivers every accepted event and exits 0" {
	start_hub --sub-queue 20000
	start_sub all
	hub_events 5000 7001 >sock.jsonl
	hub_events 5000 7002 >fifo.jsonl
	fifo_writer fifo.jsonl 3>&- &
	fw=$!
	PIDS+=("$fw")
	starry-bus pub sock.jsonl
	wait "$fw"
	kill -TERM "$HUB_PID"
	wait "$HUB_PID"
	wait "$all_pid"
	log_has 'hub stopped: 10000 events in, 0 rejected, 0 duplicates, 10000 delivered'
	[ "$(wc -l <all.out)" -eq 10000 ]
	cat sock.jsonl fifo.jsonl | ids >expected
	ids all.out >got
	diff expected got
	[ ! -e "$STARRY_RUNTIME/bus.sock" ]
	[ -p "$STARRY_RUNTIME/bus.fifo" ]
}

@test "hub: bus.fifo never reads as ended, writers come and go" {
	start_hub
	start_sub all
	for t in 0a01 0a02 0a03; do
		hub_events 1 "$t" >"$t.jsonl"
		cat "$t.jsonl" >"$STARRY_RUNTIME/bus.fifo"
		wait_for 10 grep -q "$t" all.out
	done
	kill -0 "$HUB_PID"
	starry-bus emit --to "$STARRY_RUNTIME/bus.fifo" test:after
	wait_for 10 grep -q '"type":"test:after"' all.out
	[ "$(wc -l <all.out)" -eq 4 ]
}

@test "hub: emit --to bus.sock publishes, and a caused event keeps its trace" {
	start_hub
	start_sub all
	cause=$(starry-bus emit git:commit_pushed --trace tr-77 --session s-1)
	printf '%s\n' "$cause" | starry-bus pub
	starry-bus emit --to "$STARRY_RUNTIME/bus.sock" --cause "$cause" review:requested
	wait_for 10 has_lines all.out 2
	run jq -r '[.type, .traceId, .sessionId, (.parentId // "-")] | @tsv' all.out
	assert_output "$(printf 'git:commit_pushed\ttr-77\ts-1\t-\nreview:requested\ttr-77\ts-1\t%s' "$(jq -r .id <<<"$cause")")"
}

@test "hub: invalid lines from bus.fifo and bus.sock are skipped with a diagnostic" {
	start_hub --rejects rejects.jsonl
	start_sub all
	hub_events 2 0b01 >good1
	hub_events 2 0b02 >good2
	{ head -n 1 good1; echo '{"timestamp":1,"type":"x:y"}'; tail -n 1 good1; } >fifo.in
	{ echo 'not json'; cat good2; } >sock.in
	fifo_writer fifo.in
	perl -e "$RAW_PUB" "$STARRY_RUNTIME/bus.sock" <sock.in
	wait_for 10 has_lines all.out 4
	log_has 'error: bus.fifo:2: missing field "id"'
	log_has 'error: peer pid [0-9]+:1: '
	[ "$(grep -c '"type":"KERNEL:ERROR"' rejects.jsonl)" -eq 2 ]
	grep -q 'not json' rejects.jsonl
	kill -0 "$HUB_PID"
	stop_hub
	log_has '4 events in, 2 rejected'
	[ "$(wc -l <all.out)" -eq 4 ]
}

@test "hub: duplicate ids are dropped and counted" {
	start_hub
	start_sub all
	hub_events 1 0c01 >one
	fifo_writer one
	starry-bus pub one one
	fifo_writer one
	hub_events 1 0c02 >two
	starry-bus pub two
	wait_for 10 grep -q 0c02 all.out
	stop_hub
	[ "$(wc -l <all.out)" -eq 2 ]
	log_has '2 events in, 0 rejected, 3 duplicates'
}

@test "hub: CloudEvents in through pub and bus.fifo, sub --cloudevents out" {
	start_hub
	start_sub plain
	start_sub ce --cloudevents
	printf '%s\n' '{"specversion":"1.0","id":"ce-1","source":"/sensors/a","type":"sensor:reading","time":"2024-01-01T00:00:00.000Z","data":{"k":1}}' >ce1
	printf '%s\n' '{"specversion":"1.0","id":"ce-2","source":"/sensors/b","type":"sensor:reading","time":"2024-01-01T00:00:01.000Z","data":{"k":2}}' >ce2
	starry-bus pub ce1
	fifo_writer ce2
	wait_for 10 has_lines plain.out 2
	wait_for 10 has_lines ce.out 2
	grep -q '"id":"ce-1".*"type":"sensor:reading".*"payload":{"k":1}' plain.out
	grep -q '"id":"ce-2"' plain.out
	grep -q '"specversion":"1.0"' ce.out
	grep -q '"id":"ce-1"' ce.out
	grep -q '"data":{"k":2}' ce.out
}

@test "hub: a second hub on the same runtime exits 75 naming the first" {
	start_hub
	run starry-bus serve
	[ "$status" -eq 75 ]
	assert_output --partial "another hub is running (pid $HUB_PID)"
	kill -0 "$HUB_PID"
	[ -S "$STARRY_RUNTIME/bus.sock" ]
}

@test "hub: a bus.fifo that is not a FIFO is refused with 73" {
	echo data >"$STARRY_RUNTIME/bus.fifo"
	run starry-bus serve
	[ "$status" -eq 73 ]
	assert_output --partial "bus.fifo exists and is not a FIFO"
	[ "$(cat "$STARRY_RUNTIME/bus.fifo")" = data ]
}

@test "hub: a stale bus.sock left by a dead hub is replaced" {
	start_hub
	kill -KILL "$HUB_PID"
	wait "$HUB_PID" || true
	[ -S "$STARRY_RUNTIME/bus.sock" ]
	start_hub
	start_sub all
	hub_events 1 0d01 >one
	starry-bus pub one
	wait_for 10 has_lines all.out 1
}

@test "pub: with no hub running exits 69" {
	hub_events 1 0e01 >one
	run starry-bus pub one
	[ "$status" -eq 69 ]
	assert_output --partial "hub not running: cannot connect to $STARRY_RUNTIME/bus.sock"
}

@test "sub: with no hub running exits 69" {
	run starry-bus sub
	[ "$status" -eq 69 ]
	assert_output --partial "hub not running"
}

@test "pub: a bad line is diagnosed, the good ones are sent, exit 65" {
	start_hub
	start_sub all
	hub_events 2 0f01 >good
	{ head -n 1 good; echo '{"id":"nope"}'; tail -n 1 good; } >mixed.jsonl
	run starry-bus pub --rejects rej.jsonl mixed.jsonl
	[ "$status" -eq 65 ]
	assert_output --partial 'mixed.jsonl:2: '
	[ "$(grep -c '"type":"KERNEL:ERROR"' rej.jsonl)" -eq 1 ]
	wait_for 10 has_lines all.out 2
	ids good >expected
	ids all.out >got
	diff expected got
}

@test "hub: a peer with another uid is refused (0600 socket, then SO_PEERCRED)" {
	start_hub
	start_sub all
	hub_events 1 0ab1 >theirs
	hub_events 1 0ab2 >ours
	run setpriv --reuid=65534 --regid=65534 --clear-groups starry-bus pub <theirs
	[ "$status" -eq 69 ]
	assert_output --partial 'Permission denied'
	# Open the way to the socket: only the uid check is left.
	d=$STARRY_RUNTIME
	while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	chmod 0666 "$STARRY_RUNTIME/bus.sock"
	run setpriv --reuid=65534 --regid=65534 --clear-groups starry-bus pub <theirs
	wait_for 10 log_has "warning: refused peer pid [0-9]+: uid 65534 is not the hub's uid $(id -u)"
	run setpriv --reuid=65534 --regid=65534 --clear-groups starry-bus sub
	[ "$status" -eq 69 ]
	starry-bus pub ours
	wait_for 10 grep -q 0ab2 all.out
	! grep -q 0ab1 all.out
	[ "$(wc -l <all.out)" -eq 1 ]
}

@test "sub: a closed stdout (| head -1) ends it quietly with 0" {
	start_hub
	mkfifo head.ready
	(
		starry-bus sub --ready-fd 5 5>head.ready 2>sub.err | head -n 1 >head.out
		echo "${PIPESTATUS[0]}" >sub.rc
	) 3>&- &
	PIDS+=("$!")
	read -r -t 10 _ <head.ready
	publish_one() {
		[ -s sub.rc ] && return 0
		n=$((n + 1))
		hub_events 1 "$(printf %04x "$n")" >ev
		starry-bus pub ev
		[ -s sub.rc ]
	}
	n=0
	wait_for 10 publish_one
	[ "$(cat sub.rc)" -eq 0 ]
	[ ! -s sub.err ]
	[ "$(wc -l <head.out)" -eq 1 ]
}

@test "hub: serve, pub and sub answer --help" {
	for c in serve pub sub; do
		run starry-bus "$c" --help
		assert_success
		assert_output --partial "usage: starry-bus $c"
	done
}

@test "hub: an event with a \"subscribe\" member is an event, not a request" {
	start_hub
	start_sub all
	hub_events 2 0c01 | sed '1s/"payload":/"subscribe":{"types":["x:*"]},"payload":/' >odd.jsonl
	run starry-bus pub odd.jsonl
	assert_success
	wait_for 10 has_lines all.out 2
	run jq -c .subscribe all.out
	assert_line '{"types":["x:*"]}'
}

@test "hub: the same id written with escapes is a duplicate" {
	start_hub
	start_sub all
	hub_events 1 0d01 >one.jsonl
	id=$(jq -r .id one.jsonl)
	# the id's first character as a \u escape: the same id, other bytes
	esc=$(printf '\\u%04x%s' "'${id:0:1}" "${id:1}")
	sed "s/\"id\":\"$id\"/\"id\":\"${esc//\\/\\\\}\"/" one.jsonl >two.jsonl
	grep -q '"id":"\\u00' two.jsonl
	cat one.jsonl two.jsonl | starry-bus pub
	hub_events 1 0d02 | starry-bus pub
	wait_for 10 grep -q 0d02 all.out
	[ "$(wc -l <all.out)" -eq 2 ]
	kill -TERM "$HUB_PID"
	wait "$HUB_PID"
	log_has '1 duplicates'
}

@test "hub: a subscriber holding too many bytes is disconnected (--sub-bytes)" {
	start_hub --sub-bytes 256K
	# A raw subscriber that never reads: its socket buffer and then its
	# queue fill with large events.
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
		$s->autoflush(1);
		print $s qq({"subscribe":{}}\n);
		my $ack = <$s>;
		open(my $f, ">", $ARGV[1]) and close($f);
		sleep 30;' "$STARRY_RUNTIME/bus.sock" subscribed 3>&- &
	PIDS+=("$!")
	wait_for 10 test -e subscribed
	hub_events 200 0e01 test:big 3 default trace-0 20000 | starry-bus pub
	wait_for 10 log_has 'disconnected slow subscriber pid [0-9]+: missed [0-9]+ events'
}

@test "hub: a line cut off by shutdown is rejected and counted, not lost" {
	start_hub --rejects rej.jsonl
	start_sub all
	exec 9>"$STARRY_RUNTIME/bus.fifo"
	hub_events 1 0f01 >&9
	printf '{"id":"half' >&9
	wait_for 10 grep -q 0f01 all.out
	kill -TERM "$HUB_PID"
	wait "$HUB_PID"
	exec 9>&-
	log_has 'bus.fifo:2: truncated line: no newline at end of input'
	[ "$(jq -r .payload.raw rej.jsonl)" = '{"id":"half' ]
}

@test "sub: empty filter values are usage errors" {
	run starry-bus sub --type ''
	assert_failure 64
	run starry-bus sub --session ''
	assert_failure 64
}

@test "hub: SIGUSR1 logs the counts and the hub goes on" {
	start_hub
	start_sub all
	hub_events 3 0a71 | starry-bus pub
	wait_for 10 has_lines all.out 3
	kill -USR1 "$HUB_PID"
	wait_for 10 log_has 'note: SIGUSR1: 3 events in, 0 rejected'
	kill -0 "$HUB_PID"
	hub_events 1 0a72 | starry-bus pub
	wait_for 10 has_lines all.out 4
}

# ---- sub --since: the store, then the hub ----

# start_store_writer: starry-state append fed by a subscriber of the hub,
# through a FIFO, as a deployment would run it.
start_store_writer() {
	mkfifo store.fifo writer.ready
	starry-state append --batch-time 10ms store.fifo 2>writer.err 3>&- &
	PIDS+=("$!")
	starry-bus sub --ready-fd 5 >store.fifo 2>writer.sub.err 5>writer.ready 3>&- &
	PIDS+=("$!")
	read -r -t 10 _ <writer.ready
}

stored_count() { starry-state query 2>/dev/null | wc -l; }
stored_at_least() { [ "$(stored_count)" -ge "$1" ]; }

@test "sub --since: stored events, then live ones, none missed and none twice at the seam" {
	start_hub
	# The store's past goes in directly: published in one burst, it
	# could outrun the writer's subscription and have it cut off.
	hub_events 20000 a001 >a.jsonl
	starry-state append a.jsonl 2>/dev/null
	start_store_writer
	for i in $(seq 1 20); do hub_events 100 "$(printf 'b%03x' "$i")" >"b$i.jsonl"; done
	( for i in $(seq 1 20); do starry-bus pub "b$i.jsonl"; done ) 3>&- &
	pub_pid=$!
	PIDS+=("$pub_pid")
	# Three subscribers join while events flow, each at its own moment;
	# reading 20,000 stored events first gives the writer time to commit
	# live events that have not reached the subscriber yet.
	start_sub r1 --since 1
	start_sub r2 --since 1
	start_sub r3 --since 1
	wait "$pub_pid"
	wait_for 60 stored_at_least 22000
	cat a.jsonl b*.jsonl | ids >want
	for r in r1 r2 r3; do
		wait_for 60 has_lines "$r.out" 22000
		ids "$r.out" >"$r.ids"
		diff want "$r.ids"
		# The stored ones come first, in stored order.
		head -n 20000 "$r.out" | cmp - a.jsonl
	done
}

@test "sub --since SEQ starts at that sequence number, and filters the stored events too" {
	start_hub
	hub_events 50 c001 test:odd >c.jsonl
	hub_events 50 d001 test:even >d.jsonl
	cat c.jsonl d.jsonl | starry-state append
	start_sub from --since 41 --type 'test:e*'
	wait_for 10 has_lines from.out 50
	cmp from.out d.jsonl
	start_sub late --since 61
	wait_for 10 has_lines late.out 40
	tail -n 40 d.jsonl | cmp - late.out
}

@test "sub --since without a store: a clear error before subscribing, exit 66" {
	start_hub
	run starry-bus sub --since 1
	assert_failure 66
	assert_output --partial "state.db: no such database"
	run starry-bus sub --db x.db
	assert_failure 64
}
