#!/usr/bin/env bats
# starry-state: the durable store. append (the single writer) and import;
# query, export, trace; snapshots and cursors; check, dashboard, prune and
# vacuum; and the database file itself: creation, migrations, damage, a
# full disk, crashes and readers running beside the writer.

load helper
bats_require_minimum_version 1.5.0

setup() {
	starry_setup
	DB="$STARRY_HOME/state.db"
	BG=()
	MOUNTED=
}

teardown() {
	local p
	exec 7>&- 8>&- 2>/dev/null || true
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$MOUNTED" ]; then
		umount "$MOUNTED" || umount -l "$MOUNTED"
	fi
}

# ---- helpers ----

# sql [--db FILE] QUERY: run QUERY on the database with the sqlite3 CLI.
sql() {
	local db=$DB
	if [ "$1" = --db ]; then
		db=$2
		shift 2
	fi
	sqlite3 "$db" "$@"
}

# stored [FILE]: how many events the database holds (fails when it has no
# event log yet, without creating the file).
stored() {
	local db=${1:-$DB}
	[ -s "$db" ] && sqlite3 "$db" 'SELECT count(*) FROM events' 2>/dev/null
}

# stored_at_least N [FILE]: for wait_for.
stored_at_least() {
	local n
	n=$(stored "${2:-$DB}") && [ "$n" -ge "$1" ]
}

# query_sees N: starry-state query prints at least N events.
query_sees() {
	[ "$(starry-state query 2>/dev/null | wc -l)" -ge "$1" ]
}

# The schema version this starry-state writes.
SCHEMA=3

# db_ready: the database exists at the current schema version.
db_ready() {
	[ -s "$DB" ] && [ "$(sqlite3 "$DB" 'PRAGMA user_version' 2>/dev/null)" = "$SCHEMA" ]
}

# integrity_ok [FILE]: PRAGMA integrity_check says ok.
integrity_ok() {
	[ "$(sql --db "${1:-$DB}" 'PRAGMA integrity_check')" = ok ]
}

# fifo_drained FIFO: nothing is left unread in FIFO (FIONREAD is 0).
fifo_drained() {
	perl -e 'use Fcntl; sysopen(my $f, $ARGV[0], O_RDWR | O_NONBLOCK) or die "$ARGV[0]: $!\n";
		my $n = pack("i", 0); ioctl($f, 0x541B, $n) or die "FIONREAD: $!\n";
		exit(unpack("i", $n) == 0 ? 0 : 1)' "$1"
}

now_ms() {
	date +%s%3N
}

# proc_start_ms PID: when PID started, in Unix ms (starttime of
# /proc/PID/stat after the boot time of /proc/stat).
proc_start_ms() {
	local ticks btime hz
	ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{ print $20 }')
	btime=$(awk '/^btime / { print $2 }' /proc/stat)
	hz=$(getconf CLK_TCK)
	echo $((btime * 1000 + ticks * 1000 / hz))
}

# ev N TYPE [name=value...]: one event line, with the id gen_events gives
# number N. Names: source, session, trace, ts, prio, parent (an event
# number), payload (JSON; default {"n":N}).
ev() {
	local n=$1 type=$2 kv
	local source=test session=default trace=trace-1 ts=1700000000000 prio=3
	local parent= payload= pfield=
	shift 2
	for kv; do
		local "${kv%%=*}=${kv#*=}"
	done
	[ -n "$payload" ] || payload="{\"n\":$n}"
	[ -z "$parent" ] || pfield="\"parentId\":\"$(event_id "$parent")\","
	printf '{"id":"%s","timestamp":%s,"traceId":"%s","source":"%s","sessionId":"%s","priority":%s,"type":"%s",%s"payload":%s}\n' \
	    "$(event_id "$n")" "$ts" "$trace" "$source" "$session" "$prio" "$type" \
	    "$pfield" "$payload"
}

# ns [QUERY OPTIONS...]: the payload.n of the events query prints, on one
# line separated by spaces.
ns() {
	starry-state query "$@" | jq -r .payload.n | paste -sd' '
}

# padded_events COUNT PAD: gen_events-like events with PAD bytes of padding.
padded_events() {
	awk -v count="$1" -v pad="$2" 'BEGIN {
		p = sprintf("%" pad "s", ""); gsub(/ /, "x", p)
		for (i = 1; i <= count; i++)
			printf "{\"id\":\"%08x-0000-4000-8000-%012x\",\"timestamp\":1700000000000," \
			    "\"traceId\":\"trace-1\",\"source\":\"test\",\"sessionId\":\"default\"," \
			    "\"priority\":3,\"type\":\"test:padded\",\"payload\":{\"n\":%d,\"pad\":\"%s\"}}\n",
			    i, i, i, p
	}'
}

# append_quietly ARGS...: starry-state append, its note dropped.
append_quietly() {
	starry-state append "$@" 2>/dev/null
}

# ---- append and query: the basics ----

@test "append: stored events come back byte for byte, in order, across files and stdin" {
	gen_events 2000 > a.jsonl
	{
		printf '  {"x-extra":[1,{"deep":"é ☃ \\u00e9"}],"payload":null,"type":"git:commit_pushed","priority":0,"sessionId":"s","source":"a","traceId":"t","timestamp":1,"id":"0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a12"}  \n'
		ev 5001 test:unicode payload='{"text":"héllo — 世界 🚀","esc":"\u0041\n\t\"q\""}'
		ev 5002 test:nested payload='[{"a":[{"b":null}]},true,false,-1.5e10]'
	} > b.jsonl
	gen_events 10 3 test:stdin 9001 > c.jsonl
	run starry-state append a.jsonl b.jsonl - < c.jsonl
	assert_success
	assert_output 'starry-state: note: append: 2013 events stored, 0 already stored, 0 rejected'
	starry-state query > out.jsonl
	cat a.jsonl b.jsonl c.jsonl | cmp - out.jsonl
	[ "$(sql 'SELECT min(seq), max(seq) FROM events')" = "1|2013" ]
}

@test "append: feeding the same file twice stores nothing twice, and says so" {
	gen_events 500 > in.jsonl
	run starry-state append in.jsonl
	assert_success
	assert_output 'starry-state: note: append: 500 events stored, 0 already stored, 0 rejected'
	run starry-state append in.jsonl
	assert_success
	assert_output 'starry-state: note: append: 0 events stored, 500 already stored, 0 rejected'
	[ "$(stored)" -eq 500 ]
	# Inside one input, and mixed with new ones; the first copy of an id wins.
	{
		gen_events 10 3 test:event 496
		gen_events 10 3 test:event 496
		ev 1 test:changed payload='{"n":"not the first"}'
	} > mixed.jsonl
	run starry-state append mixed.jsonl
	assert_success
	assert_output 'starry-state: note: append: 5 events stored, 16 already stored, 0 rejected'
	starry-state query > out.jsonl
	gen_events 505 | cmp - out.jsonl
}

@test "append: bad lines get their line number and reason, exit 65, and the good lines around them are stored" {
	{
		gen_events 1 3 test:event 1
		printf '{"id": nope}\n'
		gen_events 1 3 test:event 2
		gen_events 1 3 test:event 3 | jq -c 'del(.type)'
		gen_events 1 3 test:event 4
		gen_events 1 3 test:event 5 | head -c 60
	} > in.jsonl
	run starry-state append in.jsonl
	assert_failure 65
	assert_line --regexp '^starry-state: error: in\.jsonl:2: invalid JSON at column [0-9]+'
	assert_line 'starry-state: error: in.jsonl:4: missing field "type"'
	assert_line 'starry-state: error: in.jsonl:6: truncated line: no newline at end of input'
	assert_line 'starry-state: note: append: 3 events stored, 0 already stored, 3 rejected'
	[ "${#lines[@]}" -eq 4 ]
	[ "$(ns)" = "1 2 4" ]
	# The same from stdin, named <stdin>; --quiet drops the diagnostics, not the status.
	run starry-state append --db other.db < in.jsonl
	assert_failure 65
	assert_line 'starry-state: error: <stdin>:4: missing field "type"'
	run starry-state append --quiet --db quiet.db in.jsonl
	assert_failure 65
	refute_output --partial 'error:'
	[ "$(stored quiet.db)" -eq 3 ]
}

@test "append: --rejects keeps each rejected line inside a KERNEL:ERROR event" {
	{
		gen_events 1
		printf '{"id": nope}\n'
		gen_events 1 3 test:event 2 | jq -c 'del(.payload)'
		gen_events 1 3 test:event 3
		printf '{"half":'
	} > in.jsonl
	run starry-state append --rejects rej.jsonl in.jsonl
	assert_failure 65
	[ "$(stored)" -eq 2 ]
	[ "$(wc -l < rej.jsonl)" -eq 3 ]
	[ "$(jq -r .type rej.jsonl | sort -u)" = KERNEL:ERROR ]
	[ "$(jq -r .payload.line rej.jsonl | paste -sd' ')" = "2 3 5" ]
	[ "$(jq -r .payload.input rej.jsonl | sort -u)" = in.jsonl ]
	[ "$(jq -r .payload.source rej.jsonl | sort -u)" = starry-state ]
	[ "$(jq -r '.payload.raw' rej.jsonl | sed -n 1p)" = '{"id": nope}' ]
	[ "$(jq -r '.payload.raw' rej.jsonl | sed -n 2p)" = "$(sed -n 3p in.jsonl)" ]
	[ "$(jq -r '.payload.raw' rej.jsonl | sed -n 3p)" = '{"half":' ]
	[ "$(jq -r .payload.message rej.jsonl | sed -n 2p)" = 'missing field "payload"' ]
	# The rejects are events themselves, and can be stored.
	run starry-bus validate rej.jsonl
	assert_success
	run starry-state append --db rej.db rej.jsonl
	assert_success
}

@test "append: --acks prints one line per commit, after it, and their totals add up" {
	{ gen_events 2500; gen_events 500 3 test:event 1001; } > in.jsonl
	starry-state append --acks --batch 1000 in.jsonl > acks.jsonl 2>/dev/null
	run grep -Ev '^\{"committed":[0-9]+,"duplicates":[0-9]+,"lastSeq":[0-9]+\}$' acks.jsonl
	assert_failure		# every line has exactly that shape
	[ "$(wc -l < acks.jsonl)" -ge 3 ]
	[ "$(jq -s 'map(.committed) | add' acks.jsonl)" -eq 2500 ]
	[ "$(jq -s 'map(.duplicates) | add' acks.jsonl)" -eq 500 ]
	[ "$(jq -s 'map(.committed + .duplicates) | max' acks.jsonl)" -le 1000 ]
	[ "$(jq -s 'map(.lastSeq) | . == sort' acks.jsonl)" = true ]
	[ "$(jq -s 'last.lastSeq' acks.jsonl)" = "$(sql 'SELECT max(seq) FROM events')" ]
	[ "$(stored)" -eq 2500 ]
}

@test "append: an empty input creates STARRY_HOME (0700) and the database (0600) at the current version" {
	export STARRY_HOME="$BATS_TEST_TMPDIR/new/home"
	DB="$STARRY_HOME/state.db"
	run starry-state append < /dev/null
	assert_success
	[ "$(stat -c %a "$DB")" = 600 ]
	[ "$(stat -c %a "$STARRY_HOME")" = 700 ]
	[ "$(sql 'PRAGMA user_version')" = "$SCHEMA" ]
	[ "$(stored)" -eq 0 ]
	run starry-state query
	assert_failure 1
	assert_output ''
	run starry-state export
	assert_success
	assert_output ''
	# A new --db file gets 0600 too.
	run starry-state append --db "$BATS_TEST_TMPDIR/explicit.db" < /dev/null
	assert_success
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/explicit.db")" = 600 ]
}

# ---- query filters ----

# The events of the filter tests: payload.n is the event's number.
filter_events() {
	ev 1 INPUT:USER_MESSAGE source=cli session=s1 trace=t1 ts=1700000000000
	ev 2 git:commit_pushed source=git session=s1 trace=t1 ts=1700000001000
	ev 3 git:pr_opened source=git session=s2 trace=t2 ts=1700000002000
	ev 4 AGENT:OUTPUT source=agent-1 session=s2 trace=t2 ts=1700000003000
	ev 5 git:commit_pushed source=git session=s2 trace=t3 ts=1700000004000
}

@test "query: --type globs, --source, --session and --trace select exactly their events" {
	filter_events > in.jsonl
	append_quietly in.jsonl
	[ "$(ns)" = "1 2 3 4 5" ]
	[ "$(ns --type 'git:*')" = "2 3 5" ]
	[ "$(ns -t 'git:commit_?ushed')" = "2 5" ]
	[ "$(ns --type '[AI]*')" = "1 4" ]
	[ "$(ns --type '*:*_*')" = "1 2 3 5" ]
	[ "$(ns --source git)" = "2 3 5" ]
	[ "$(ns --session s2)" = "3 4 5" ]
	[ "$(ns --trace t1)" = "1 2" ]
	[ "$(ns --type 'git:*' --session s2 --trace t3)" = "5" ]
	run starry-state query --type 'GIT:*'		# case-sensitive
	assert_failure 1
	assert_output ''
	run starry-state query --source gi		# exact, not a prefix
	assert_failure 1
}

@test "query: --since and --until by sequence number, RFC 3339 time and duration ago" {
	now=$(now_ms)
	{
		filter_events
		ev 6 test:recent ts=$((now - 2 * 3600 * 1000))
		ev 7 test:recent ts="$now"
	} > in.jsonl
	append_quietly in.jsonl
	[ "$(ns --since 2)" = "2 3 4 5 6 7" ]
	[ "$(ns --until 4)" = "1 2 3 4" ]
	[ "$(ns --since 2 --until 3)" = "2 3" ]
	# 1700000000000 is 2023-11-14T22:13:20Z; bounds are inclusive.
	[ "$(ns --since 2023-11-14T22:13:22Z --until 2023-11-14T22:13:24Z)" = "3 4 5" ]
	[ "$(ns --until 2023-11-14T22:13:21.000Z)" = "1 2" ]
	[ "$(ns --since 2023-11-14T23:13:23+01:00 --until 2024-01-01T00:00:00Z)" = "4 5" ]
	[ "$(ns --since 1h)" = "7" ]
	[ "$(ns --until 1h)" = "1 2 3 4 5 6" ]
	[ "$(ns --since 3h --until 1h)" = "6" ]
	[ "$(ns --since 3h --type 'test:*' --since 5)" = "6 7" ]
	run starry-state query --since 8
	assert_failure 1
}

@test "query: --limit, and --with-seq prints {\"seq\":SEQ,\"event\":EVENT} around the original line" {
	filter_events > in.jsonl
	append_quietly in.jsonl
	[ "$(ns -n 2)" = "1 2" ]
	[ "$(ns --limit 2 --since 3)" = "3 4" ]
	[ "$(ns --limit 2 --type 'git:*' --since 3)" = "3 5" ]
	run --separate-stderr starry-state query --with-seq --type 'git:*'
	assert_success
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "{\"seq\":2,\"event\":$(sed -n 2p in.jsonl)}" ]
	[ "${lines[1]}" = "{\"seq\":3,\"event\":$(sed -n 3p in.jsonl)}" ]
	[ "${lines[2]}" = "{\"seq\":5,\"event\":$(sed -n 5p in.jsonl)}" ]
	starry-state query --with-seq > seq.jsonl
	[ "$(jq -c 'keys_unsorted' seq.jsonl | sort -u)" = '["seq","event"]' ]
	[ "$(jq -r '"\(.seq) \(.event.payload.n)"' seq.jsonl | awk '$1 != $2' | wc -l)" -eq 0 ]
}

@test "query: exit 1 when nothing matches, 66 naming the database when there is none, 64 on usage errors" {
	run --separate-stderr starry-state query
	assert_failure 66
	[[ "$stderr" == *"$DB: no such database"* ]]
	[ ! -e "$DB" ]				# a reader creates nothing
	run starry-state query --db missing.db
	assert_failure 66
	assert_output --partial 'missing.db: no such database'
	[ ! -e missing.db ]
	run starry-state trace --db missing.db t
	assert_failure 66
	run starry-state snapshot list --db missing.db
	assert_failure 66
	gen_events 3 > in.jsonl
	append_quietly in.jsonl
	run starry-state query --type nope
	assert_failure 1
	assert_output ''
	for bad in '--since yesterday' '--until x1' '--since -5' '--limit 0' '--limit x' \
	    '--bogus' 'extra' '--type' '--since 1.5h'; do
		run starry-state query $bad
		assert_failure 64
	done
	run starry-state query --since ''
	assert_failure 64
}

# ---- query --follow ----

@test "query --follow: prints events committed by later appends, once each, in order; SIGTERM ends it with 0" {
	gen_events 10 > all.jsonl
	append_quietly all.jsonl
	starry-state query --follow > out.jsonl 2> follow.err 3>&- &
	follow=$!
	BG+=("$follow")
	wait_for 10 has_lines out.jsonl 10
	for start in 11 111 211; do
		gen_events 100 3 test:event "$start" > part.jsonl
		cat part.jsonl >> all.jsonl
		append_quietly part.jsonl
	done
	wait_for 10 has_lines out.jsonl 310
	kill -TERM "$follow"
	rc=0
	wait "$follow" || rc=$?
	[ "$rc" -eq 0 ]
	cmp all.jsonl out.jsonl
	[ ! -s follow.err ]
}

@test "query --follow: a filter applies to new events too, and --until SEQ ends it there" {
	gen_events 5 > in.jsonl
	append_quietly in.jsonl
	starry-state query --follow --type 'test:keep' --until 8 > out.jsonl 3>&- &
	follow=$!
	BG+=("$follow")
	{
		gen_events 1 3 test:keep 6
		gen_events 1 3 test:drop 7
		gen_events 1 3 test:keep 8
		gen_events 1 3 test:keep 9
	} > more.jsonl
	append_quietly more.jsonl
	rc=0
	wait "$follow" || rc=$?		# ends by itself, no signal
	[ "$rc" -eq 0 ]
	[ "$(jq -r .payload.n out.jsonl | paste -sd' ')" = "6 8" ]
}

@test "query --follow --limit N: at most N of the stored events, then only new ones" {
	gen_events 10 > old.jsonl
	append_quietly old.jsonl
	starry-state query --follow -n 2 > out.jsonl 3>&- &
	follow=$!
	BG+=("$follow")
	wait_for 10 has_lines out.jsonl 2
	gen_events 1 3 test:event 11 > new.jsonl
	append_quietly new.jsonl
	wait_for 10 grep -q "$(event_id 11)" out.jsonl
	kill -TERM "$follow"
	wait "$follow" || true
	got=$(jq -r .payload.n out.jsonl | paste -sd' ')
	echo "printed: $got"
	# The first N (or, tail-like, the last N) stored, then the new one;
	# never the rest of the old ones.
	[ "$got" = "1 2 11" ] || [ "$got" = "9 10 11" ]
}

# ---- a FIFO as input ----

@test "append FIFO: writers come and go, each batch is committed as it arrives, SIGTERM exits 0" {
	mkfifo in.fifo
	starry-state append in.fifo 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	for i in 0 1 2; do
		gen_events 100 3 test:event $((i * 100 + 1)) > in.fifo
		wait_for 10 stored_at_least $(((i + 1) * 100))
	done
	kill -0 "$pid"			# the FIFO never read as ended
	[ "$(stat -c %a "$DB-wal")" = 600 ]	# the log's journal is private too
	query_sees 300
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	starry-state query > out.jsonl
	gen_events 300 | cmp - out.jsonl
	grep -q 'append: 300 events stored, 0 already stored, 0 rejected' append.err
}

@test "append FIFO: SIGTERM commits the events held in the open group" {
	mkfifo in.fifo
	starry-state append --batch 1000000 --batch-time 1h in.fifo 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	wait_for 10 db_ready
	gen_events 200 > in.fifo
	wait_for 10 fifo_drained in.fifo
	[ "$(stored)" -eq 0 ]		# read, held, not committed yet
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(stored)" -eq 200 ]
	grep -q 'append: 200 events stored' append.err
}

@test "append FIFO: SIGTERM still stores what writers had already put into the FIFO" {
	mkfifo in.fifo
	starry-state append in.fifo 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	wait_for 10 db_ready
	# Stopped, append cannot read; the writer's events wait in the FIFO
	# (they fit in it), and the writer has finished and gone.
	kill -STOP "$pid"
	gen_events 200 > in.fifo
	kill -TERM "$pid"
	kill -CONT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(stored)" -eq 200 ]
}

@test "append FIFO: a line cut off by SIGTERM is rejected and counted, not lost" {
	mkfifo in.fifo
	starry-state append --rejects rej.jsonl in.fifo 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	exec 8> in.fifo
	gen_events 1 >&8
	printf '{"id":"half' >&8
	wait_for 10 stored_at_least 1
	wait_for 10 fifo_drained in.fifo
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 8>&-
	cat append.err
	grep -q 'in.fifo:2: truncated line: no newline at end of input' append.err
	[ "$(jq -r .payload.raw rej.jsonl)" = '{"id":"half' ]
	[ "$rc" -eq 65 ]
}

@test "append FIFO: with --batch-time 50ms an event is visible to query before its writer closes" {
	mkfifo in.fifo
	starry-state append --batch 1000000 --batch-time 50ms in.fifo 2>/dev/null 3>&- &
	pid=$!
	BG+=("$pid")
	exec 7> in.fifo
	gen_events 1 >&7
	wait_for 5 query_sees 1
	gen_events 1 3 test:event 2 >&7
	wait_for 5 query_sees 2
	kill -0 "$pid"
	[ "$(ns)" = "1 2" ]
}

@test "append FIFO --acks: each ack comes once its events are committed and visible" {
	mkfifo in.fifo
	starry-state append --acks in.fifo > acks.jsonl 2>/dev/null 3>&- &
	BG+=("$!")
	exec 7> in.fifo
	for i in 1 2 3; do
		gen_events 10 3 test:event $(((i - 1) * 10 + 1)) >&7
		wait_for 10 has_lines acks.jsonl "$i"
		# Acknowledged means stored: everything acked so far is there.
		acked=$(jq -s 'map(.committed) | add' acks.jsonl)
		[ "$(starry-state query | wc -l)" -ge "$acked" ]
	done
	acked_total_is() { [ "$(jq -s 'map(.committed) | add' acks.jsonl)" -eq "$1" ]; }
	wait_for 10 acked_total_is 30
	[ "$(jq -s 'last.lastSeq' acks.jsonl)" -eq 30 ]
}

@test "append: --batch-time 0 is accepted, as its help says" {
	gen_events 10 > in.jsonl
	run starry-state append --batch-time 0 in.jsonl
	assert_success
	[ "$(stored)" -eq 10 ]
}

@test "append: --batch-time 0ms groups what was read together instead of committing each event alone" {
	gen_events 5000 > in.jsonl
	starry-state append --acks --batch-time 0ms in.jsonl > acks.jsonl 2>/dev/null
	[ "$(stored)" -eq 5000 ]
	[ "$(jq -s 'map(.committed) | add' acks.jsonl)" -eq 5000 ]
	# A file never pauses: its events go in groups (at most --batch each),
	# not in 5000 commits of one.
	echo "commits: $(wc -l < acks.jsonl)"
	[ "$(wc -l < acks.jsonl)" -lt 100 ]
}

# ---- crashes and concurrency ----

# slow_feed: the chunk.* files in order, a little at a time, so that a
# test can catch append in the middle; stops when nobody reads.
slow_feed() {
	local f
	for f in chunk.*; do
		cat "$f" 2>/dev/null || return 0
		sleep 0.01
	done
}

# out_of_place: how many stored events are not where the input had them
# (the k-th stored is not the input's k-th, payload.n = k).
out_of_place() {
	sql "SELECT count(*) FROM (SELECT json_extract(line, '\$.payload.n') AS n,
	    row_number() OVER (ORDER BY seq) AS k FROM events) WHERE n != k"
}

@test "append: SIGKILL at any point leaves a sound database, and re-feeding stores exactly the rest" {
	gen_events 100000 > in.jsonl
	split -l 1000 -d -a 3 in.jsonl chunk.
	for at in 10000 40000 80000; do
		slow_feed | starry-state append 2>/dev/null 3>&- &
		pid=$!
		BG+=("$pid")
		wait_for 30 stored_at_least "$at"
		kill -KILL "$pid"
		wait		# append and its feeder
		n=$(stored)
		echo "killed at $n events"
		[ "$n" -ge "$at" ] && [ "$n" -lt 100000 ]
		integrity_ok
		# Whole groups, in order: the stored events are the input's first n.
		[ "$(out_of_place)" -eq 0 ]
		[ "$(sql "SELECT max(json_extract(line, '\$.payload.n')) FROM events")" -eq "$n" ]
	done
	run starry-state append < in.jsonl
	assert_success
	assert_output "starry-state: note: append: $((100000 - n)) events stored, $n already stored, 0 rejected"
	[ "$(sql 'SELECT count(*), count(DISTINCT id) FROM events')" = "100000|100000" ]
	[ "$(out_of_place)" -eq 0 ]
	integrity_ok
}

# reader_loop NAME COMMAND...: run COMMAND until append (pid $writer) is
# gone, counting runs in NAME.count and noting failures in NAME.fail.
reader_loop() {
	local name=$1 runs=0 rc
	shift
	: > "$name.fail"
	while kill -0 "$writer" 2>/dev/null; do
		rc=0
		"$@" > /dev/null 2> "$name.err" || rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "exit $rc: $(cat "$name.err")" >> "$name.fail"
		fi
		runs=$((runs + 1))
	done
	echo "$runs" > "$name.count"
}

save_reader_snapshot() {
	echo '{"ok":true}' | starry-state snapshot save reader-agent
}

@test "readers run while append commits, and never fail or find the database locked" {
	gen_events 1000 > first.jsonl
	append_quietly first.jsonl
	gen_events 150000 3 test:event 1001 > big.jsonl
	starry-state append --batch 100 big.jsonl 2> append.err 3>&- &
	writer=$!
	BG+=("$writer")
	reader_loop recent starry-state query -n 5 --since 990 3>&- &
	BG+=("$!")
	reader_loop filtered starry-state query --type 'test:*' --source test --limit 200 --since 500 3>&- &
	BG+=("$!")
	reader_loop dashboard starry-state dashboard --json 3>&- &
	BG+=("$!")
	reader_loop snapshots save_reader_snapshot 3>&- &
	BG+=("$!")
	rc=0
	wait "$writer" || rc=$?
	[ "$rc" -eq 0 ]
	wait		# the readers end with the writer
	for r in recent filtered dashboard snapshots; do
		echo "$r: $(cat "$r.count") runs"
		cat "$r.fail"
		[ ! -s "$r.fail" ]
		[ "$(cat "$r.count")" -ge 2 ]
	done
	[ "$(stored)" -eq 151000 ]
	integrity_ok
}

# lock_is_held: another connection holds the write lock.
lock_is_held() {
	! sqlite3 "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null
}

# hold_write_lock: an sqlite3 fed through fd 7 takes the write lock and
# keeps it until 'ROLLBACK;' is written to fd 7.
hold_write_lock() {
	mkfifo ctl
	sqlite3 "$DB" < ctl > /dev/null 3>&- &
	BG+=("$!")
	exec 7> ctl
	# A busy timeout: the probe below may hold the lock for a moment
	# just when the holder asks for it.
	echo '.timeout 10000' >&7
	echo 'BEGIN IMMEDIATE;' >&7
	wait_for 10 lock_is_held
}

@test "append: waits, saying so, while another writer holds the lock; readers go on" {
	gen_events 5 > in.jsonl
	append_quietly in.jsonl
	hold_write_lock
	[ "$(ns)" = "1 2 3 4 5" ]		# a reader is not held up
	gen_events 1 3 test:event 6 > more.jsonl
	starry-state append more.jsonl 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	said_waiting() { grep -q "$DB: .*locked; waiting" append.err; }
	wait_for 30 said_waiting		# after one busy timeout (10 s)
	kill -0 "$pid"				# still waiting, not given up
	echo 'ROLLBACK;' >&7
	exec 7>&-
	wait "$pid"
	[ "$(stored)" -eq 6 ]
}

@test "append: SIGTERM ends an append that is waiting for another writer's lock" {
	gen_events 5 > in.jsonl
	append_quietly in.jsonl
	hold_write_lock
	mkfifo in.fifo
	starry-state append in.fifo 2> append.err 3>&- &
	pid=$!
	BG+=("$pid")
	gen_events 1 3 test:event 6 > in.fifo
	wait_for 10 fifo_drained in.fifo	# read: it now waits for the lock
	kill -TERM "$pid"
	gone() { ! kill -0 "$pid" 2>/dev/null; }
	wait_for 15 gone		# at most one busy timeout (10 s) later
	rc=0
	wait "$pid" || rc=$?
	echo "exit $rc"; cat append.err
	[ "$rc" -ne 0 ]			# the event could not be stored: not a success
	echo 'ROLLBACK;' >&7
	exec 7>&-
	[ "$(stored)" -eq 5 ]
}

# ---- bad database files ----

@test "a file that is not SQLite is refused with 65 and left byte for byte as it was" {
	printf 'my notes\nline two\n' > notes.txt
	cp notes.txt orig.txt
	gen_events 2 > in.jsonl
	echo '{"k":1}' > snap.json
	for cmd in append query export 'trace t' 'snapshot list' 'snapshot save a snap.json' \
	    'cursor get c' 'cursor commit c 1' check dashboard 'prune --keep 1' vacuum; do
		run starry-state $cmd --db notes.txt < in.jsonl
		assert_failure 65
		assert_output --partial 'notes.txt: not an SQLite database'
		cmp notes.txt orig.txt
	done
	[ ! -e notes.txt-wal ] && [ ! -e notes.txt-shm ] && [ ! -e notes.txt-journal ]
	printf 'x' > tiny.db
	run starry-state query --db tiny.db
	assert_failure 65
	[ "$(cat tiny.db)" = x ]
	mkdir dir.db
	run starry-state append --db dir.db < /dev/null
	assert_failure 65
	assert_output --partial 'dir.db: not a regular file'
}

@test "a damaged database gives a clear error and a non-zero exit, never a crash" {
	padded_events 3000 400 > in.jsonl
	append_quietly --db good.db in.jsonl
	[ ! -s good.db-wal ]
	size=$(stat -c %s good.db)
	[ "$size" -gt $((200 * 4096)) ]
	cp good.db zeroed.db		# pages in the middle wiped
	dd if=/dev/zero of=zeroed.db bs=4096 seek=40 count=80 conv=notrunc status=none
	cp good.db cut.db		# the second half gone
	truncate -s $((size / 2)) cut.db
	cp good.db header.db		# an impossible page size in the header
	printf '\x12\x34' | dd of=header.db bs=1 seek=16 conv=notrunc status=none
	gen_events 5 3 test:event 30001 > more.jsonl
	for db in zeroed.db cut.db header.db; do
		for cmd in query 'trace trace-1' dashboard 'prune --keep 10' vacuum append; do
			run --separate-stderr bash -c 'starry-state "$@" > /dev/null' _ $cmd --db "$db" < more.jsonl
			echo "$db $cmd: $status $stderr"
			[ "$status" -lt 128 ]		# no signal, no sanitizer abort
			if [ "$status" -ne 0 ]; then
				[[ "$stderr" == *"starry-state: error: $db: "* ]]
			fi
		done
		run --separate-stderr bash -c 'starry-state query --db "$1" > /dev/null' _ "$db"
		[ "$status" -eq 65 ]
		[[ "$stderr" =~ "$db: ".*(malformed|not a database) ]]
	done
	integrity_ok good.db
}

@test "a database from a newer starry (user_version 99) is refused with 78, naming both versions, untouched" {
	sqlite3 newer.db 'CREATE TABLE events (x); PRAGMA user_version = 99'
	cp newer.db orig.db
	gen_events 2 > in.jsonl
	echo '{"k":1}' > snap.json
	for cmd in append query 'snapshot save a snap.json' 'cursor commit c 1' check dashboard vacuum; do
		run starry-state $cmd --db newer.db < in.jsonl
		assert_failure 78
		assert_output --partial 'newer.db: schema version 99 is newer than this starry-state'"'"'s '"$SCHEMA"
		cmp newer.db orig.db
	done
	[ "$(sql --db newer.db 'PRAGMA journal_mode')" = delete ]
	[ ! -e newer.db-wal ]
}

# ---- migrations ----

# tables FILE: the database's tables, one line.
tables() {
	sql --db "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name" | paste -sd' '
}

@test "migrations: an empty (0-byte) file becomes a database of the current version" {
	: > empty.db
	chmod 600 empty.db
	gen_events 3 > in.jsonl
	run starry-state append --db empty.db in.jsonl
	assert_success
	[ "$(sql --db empty.db 'PRAGMA user_version')" = "$SCHEMA" ]
	[ "$(tables empty.db)" = "agents cursors events snapshots tmux_bindings tmux_panes tmux_sessions tmux_sources" ]
	[ "$(sql --db empty.db 'PRAGMA journal_mode')" = wal ]
	starry-state query --db empty.db | cmp in.jsonl -
	# A reader migrates an empty file too, and then finds nothing.
	: > empty2.db
	run starry-state query --db empty2.db
	assert_failure 1
	[ "$(sql --db empty2.db 'PRAGMA user_version')" = "$SCHEMA" ]
}

@test "migrations: a version 1 database is brought to the current version and keeps its events, snapshots and cursors" {
	sqlite3 v1.db < "$STARRY_TOP/tests/data/state-v1.sql"
	[ "$(sql --db v1.db 'PRAGMA user_version')" = 1 ]
	# The fixture is migration 1, word for word (white space aside).
	append_quietly --db fresh.db < /dev/null
	schema_of() {
		sql --db "$1" "SELECT sql FROM sqlite_master WHERE name IN ('events',
		    'events_by_trace', 'events_by_time', 'snapshots', 'cursors') ORDER BY name" |
		    tr -d ' \n\t'
	}
	[ "$(schema_of v1.db)" = "$(schema_of fresh.db)" ]
	sql --db v1.db 'SELECT line FROM events ORDER BY seq' > old.jsonl
	[ "$(wc -l < old.jsonl)" -eq 2 ]
	run --separate-stderr starry-state query --db v1.db
	assert_success
	[ "$output" = "$(cat old.jsonl)" ]
	[ "$(sql --db v1.db 'PRAGMA user_version')" = "$SCHEMA" ]
	[ "$(tables v1.db)" = "agents cursors events snapshots tmux_bindings tmux_panes tmux_sessions tmux_sources" ]
	run --separate-stderr starry-state snapshot load --db v1.db agent-v1
	assert_output '{"step":1}'
	run --separate-stderr starry-state cursor get --db v1.db reader-v1
	assert_output 1
	run --separate-stderr starry-state trace --db v1.db --json trace-v1
	[ "$(jq '.roots[0].children[0].event.payload.n' <<<"$output")" -eq 2 ]
	# The migrated log goes on: old ids are duplicates, new ones follow.
	{
		gen_events 4
		ev 5 AGENT:SPAWNED ts="$(now_ms)" payload='{"agentId":"agent-v1","pid":1}'
	} > more.jsonl
	run starry-state append --db v1.db more.jsonl
	assert_success
	assert_output 'starry-state: note: append: 3 events stored, 2 already stored, 0 rejected'
	[ "$(sql --db v1.db 'SELECT id FROM events ORDER BY seq' | paste -sd' ')" = "$(for i in 1 2 3 4 5; do event_id $i; echo; done | paste -sd' ')" ]
	[ "$(sql --db v1.db 'SELECT min(seq) FROM events WHERE seq > 2')" -gt 2 ]
	[ "$(sql --db v1.db "SELECT state FROM agents WHERE id = 'agent-v1'")" = running ]
	integrity_ok v1.db
}

@test "migrations: a version 2 database is brought to version 3: its bindings kept, with room for the session's title; tmux_sources made per server" {
	sqlite3 v2.db < "$STARRY_TOP/tests/data/state-v1.sql"
	sqlite3 v2.db < "$STARRY_TOP/tests/data/state-v2.sql"
	[ "$(sql --db v2.db 'PRAGMA user_version')" = 2 ]
	run --separate-stderr starry-state query --db v2.db
	assert_success
	[ "$(sql --db v2.db 'PRAGMA user_version')" = 3 ]
	run sql --db v2.db "SELECT pane_id, agent_session, agent, bound, title IS NULL, title_from IS NULL FROM tmux_bindings"
	assert_output '%1|sess-v2|claude|1700000004000|1|1'
	run sql --db v2.db "SELECT pane_id, state FROM tmux_panes"
	assert_output '%1|idle'
	run sql --db v2.db "SELECT group_concat(name, ' ') FROM pragma_table_info('tmux_sources')"
	assert_output 'server source kind state last_seen detail updated'
	integrity_ok v2.db
}

@test "migrations: commands opening a new database at once all succeed, and it is migrated once" {
	pids=()
	for i in 1 2 3 4 5 6 7 8; do
		starry-state cursor commit "c$i" "$i" 2> "open.$i.err" 3>&- &
		pids+=("$!")
	done
	for i in "${!pids[@]}"; do
		rc=0
		wait "${pids[i]}" || rc=$?
		cat "open.$((i + 1)).err"
		[ "$rc" -eq 0 ]
	done
	[ "$(sql 'PRAGMA user_version')" = "$SCHEMA" ]
	[ "$(sql 'SELECT count(*) FROM cursors')" -eq 8 ]
	integrity_ok
}

# ---- a full disk ----

@test "append: a full disk is a clear error (74) naming the database, and only whole groups are kept" {
	mkdir mnt
	mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null ||
	    skip "cannot mount a 2 MiB tmpfs here (needs root and CAP_SYS_ADMIN)"
	MOUNTED="$BATS_TEST_TMPDIR/mnt"
	padded_events 20000 300 > in.jsonl		# about 9 MiB
	run starry-state append --batch 500 --batch-time 1h --db mnt/state.db in.jsonl
	assert_failure 74
	assert_output --regexp 'error: mnt/state\.db: .*(disk is full|full)'
	assert_line --regexp '^starry-state: error: the last [0-9]+ events read were not stored$'
	integrity_ok mnt/state.db
	n=$(stored mnt/state.db)
	echo "stored before the disk filled: $n"
	[ "$n" -gt 0 ] && [ $((n % 500)) -eq 0 ]
	sql --db mnt/state.db 'SELECT line FROM events ORDER BY seq' > kept.jsonl
	head -n "$n" in.jsonl | cmp - kept.jsonl
	# Reading still works on the full disk.
	run --separate-stderr starry-state query --db mnt/state.db -n 1
	assert_success
	# With room made, the same input completes, nothing twice.
	mount -o remount,size=64m mnt
	run starry-state append --db mnt/state.db in.jsonl
	assert_success
	assert_output "starry-state: note: append: $((20000 - n)) events stored, $n already stored, 0 rejected"
	[ "$(sql --db mnt/state.db 'SELECT count(DISTINCT id) FROM events')" -eq 20000 ]
	integrity_ok mnt/state.db
}

# ---- trace ----

@test "trace: the causal tree as indented text, children in stored order, orphans as roots" {
	{
		ev 1 test:root trace=tr ts=1700000000000
		ev 2 test:child trace=tr parent=1 ts=1700000001000
		ev 3 test:grandchild trace=tr parent=2 ts=1700000002000
		ev 4 test:sibling trace=tr parent=1 ts=1700000003000 source=other
		ev 5 test:elsewhere trace=other parent=1
		ev 6 test:orphan trace=tr parent=99 ts=1700000004000
	} > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state trace tr
	assert_success
	assert_output "test:root $(event_id 1) test 2023-11-14T22:13:20.000Z (seq 1)
|-- test:child $(event_id 2) test 2023-11-14T22:13:21.000Z (seq 2)
|   \`-- test:grandchild $(event_id 3) test 2023-11-14T22:13:22.000Z (seq 3)
\`-- test:sibling $(event_id 4) other 2023-11-14T22:13:23.000Z (seq 4)
test:orphan $(event_id 6) test 2023-11-14T22:13:24.000Z (seq 6)"
}

@test "trace --json: one document with roots, children and the events count" {
	{
		ev 1 test:root trace=tr
		ev 2 test:child trace=tr parent=1
		ev 3 test:grandchild trace=tr parent=2
		ev 4 test:sibling trace=tr parent=1
	} > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state trace --json tr
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	j() { jq -c "$1" <<<"$output"; }
	[ "$(j .traceId)" = '"tr"' ]
	[ "$(j .events)" = 4 ]
	[ "$(j '.roots | length')" = 1 ]
	[ "$(j '.roots[0] | [.seq, .id, .type, .source, .timestamp]')" = "[1,\"$(event_id 1)\",\"test:root\",\"test\",1700000000000]" ]
	[ "$(j '.roots[0].event')" = "$(sed -n 1p in.jsonl)" ]
	[ "$(j '[.roots[0].children[].type]')" = '["test:child","test:sibling"]' ]
	[ "$(j '.roots[0].children[0].children[0].id')" = "\"$(event_id 3)\"" ]
	[ "$(j '.roots[0].children[0].children[0].children')" = '[]' ]
	[ "$(j '.roots[0].children[1].children')" = '[]' ]
	[ "$(j '[.. | objects | select(has("children"))] | length')" = 4 ]
}

@test "trace: an unknown trace exits 1; a loop of parentIds still prints every event once" {
	{
		ev 1 test:a trace=loop parent=2
		ev 2 test:b trace=loop parent=1
		ev 3 test:self trace=self parent=3
	} > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state trace nope
	assert_failure 1
	assert_output ''
	run --separate-stderr starry-state trace --json nope
	assert_failure 1
	run --separate-stderr starry-state trace loop
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	assert_output --partial "test:a $(event_id 1)"
	assert_output --partial "test:b $(event_id 2)"
	run --separate-stderr starry-state trace --json loop
	assert_success
	[ "$(jq '[.. | objects | select(has("children"))] | length' <<<"$output")" -eq 2 ]
	run --separate-stderr starry-state trace self
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	run starry-state trace
	assert_failure 64
	run starry-state trace a b
	assert_failure 64
}

# chain_events COUNT: COUNT events of trace "deep", each caused by the one
# before it.
chain_events() {
	awk -v count="$1" 'BEGIN {
		for (i = 1; i <= count; i++) {
			p = ""
			if (i > 1)
				p = sprintf("\"parentId\":\"%08x-0000-4000-8000-%012x\",", i - 1, i - 1)
			printf "{\"id\":\"%08x-0000-4000-8000-%012x\",\"timestamp\":1700000000000," \
			    "\"traceId\":\"deep\",\"source\":\"test\",\"sessionId\":\"default\"," \
			    "\"priority\":3,\"type\":\"test:chain\",%s\"payload\":{\"n\":%d}}\n", i, i, p, i
		}
	}'
}

@test "trace: a causal chain 20,000 events deep prints every event once, text and --json, without crashing" {
	chain_events 20000 > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr bash -c 'starry-state trace deep > tree.txt'
	[ "$status" -eq 0 ]
	[ "$(wc -l < tree.txt)" -eq 20000 ]
	[ "$(grep -o 'test:chain [0-9a-f-]*' tree.txt | sort -u | wc -l)" -eq 20000 ]
	run --separate-stderr bash -c 'starry-state trace --json deep > tree.json'
	echo "trace --json: exit $status"
	[ "$status" -eq 0 ]
	[ "$(wc -l < tree.json)" -eq 1 ]
	head -c 40 tree.json | grep -q '^{"traceId":"deep","events":20000,'
	[ "$(grep -o '"seq":[0-9]*,"id"' tree.json | sort -u | wc -l)" -eq 20000 ]
}

# ---- snapshots ----

@test "snapshot: save from a file and from stdin, load prints the newest, compact" {
	printf '{ "step": 1,\n  "notes": ["a", "b"] }\n' > s1.json
	run starry-state snapshot save agent-1 s1.json
	assert_success
	assert_output 'starry-state: note: snapshot: agent-1 version 1 saved'
	run bash -c 'echo "{\"step\": 2}" | starry-state snapshot save agent-1'
	assert_success
	assert_output --partial 'agent-1 version 2 saved'
	run bash -c 'echo "[1, \"two\"]" | starry-state snapshot save agent-1 -'
	assert_output --partial 'agent-1 version 3 saved'
	run --separate-stderr starry-state snapshot load agent-1
	assert_success
	assert_output '[1,"two"]'
	run starry-state snapshot save agent-2 s1.json
	run --separate-stderr starry-state snapshot load agent-2
	assert_output '{"step":1,"notes":["a","b"]}'
	run --separate-stderr starry-state snapshot load agent-3
	assert_failure 1
	[[ "$stderr" == *"no snapshot of 'agent-3'"* ]]
	run starry-state snapshot save agent-1 missing.json
	assert_failure 66
}

@test "snapshot load --at SEQ: the newest taken at or before that event" {
	gen_events 2 > a.jsonl
	append_quietly a.jsonl
	echo '{"v":1}' | starry-state snapshot save ag 2>/dev/null
	gen_events 3 3 test:event 3 > b.jsonl
	append_quietly b.jsonl
	echo '{"v":2}' | starry-state snapshot save ag 2>/dev/null
	for at in 2 3 4; do
		run --separate-stderr starry-state snapshot load ag --at "$at"
		assert_output '{"v":1}'
	done
	run --separate-stderr starry-state snapshot load --at 5 ag
	assert_output '{"v":2}'
	run --separate-stderr starry-state snapshot load ag --at 100
	assert_output '{"v":2}'
	run --separate-stderr starry-state snapshot load ag --at 1
	assert_failure 1
	[[ "$stderr" == *"no snapshot of 'ag' at or before that event"* ]]
	run starry-state snapshot load ag --at 1h
	assert_failure 64
	run starry-state snapshot load ag --at x
	assert_failure 64
}

@test "snapshot list: one aligned line per snapshot, and --json lines" {
	gen_events 3 > in.jsonl
	append_quietly in.jsonl
	echo '{"step":1}' | starry-state snapshot save a1 2>/dev/null
	echo '{"step":22}' | starry-state snapshot save a1 2>/dev/null
	echo '"b"' | starry-state snapshot save b1 2>/dev/null
	run --separate-stderr starry-state snapshot list
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	assert_line --index 0 --regexp '^AGENT +VERSION +SEQ +CREATED +BYTES$'
	assert_line --index 1 --regexp '^a1 +1 +3  20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z +10$'
	assert_line --index 2 --regexp '^a1 +2 +3  .*Z +11$'
	assert_line --index 3 --regexp '^b1 +1 +3  .*Z +3$'
	# aligned: the times start under CREATED, the sizes end under BYTES
	[ "$(printf '%s\n' "${lines[@]}" | awk 'NR == 1 { print index($0, "CREATED"); next }
	    { print index($0, "20") }' | sort -u | wc -l)" -eq 1 ]
	[ "$(printf '%s\n' "${lines[@]}" | awk '{ print length($0) }' | sort -u | wc -l)" -eq 1 ]
	run --separate-stderr starry-state snapshot list a1
	[ "${#lines[@]}" -eq 3 ]
	run --separate-stderr starry-state snapshot list --json
	assert_success
	[ "$(jq -sc 'map([.agent, .version, .seq, .bytes])' <<<"$output")" = '[["a1",1,3,10],["a1",2,3,11],["b1",1,3,3]]' ]
	[ "$(jq -r .created <<<"$output" | grep -cE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$')" -eq 3 ]
	run --separate-stderr starry-state snapshot list nobody
	assert_success
	[ "${#lines[@]}" -le 1 ]		# the header at most
}

@test "snapshot save --keep N keeps the newest N versions (default 10, 0 keeps all)" {
	for i in 1 2 3 4 5; do
		echo "{\"i\":$i}" | starry-state snapshot save --keep 3 ag 2>/dev/null
	done
	[ "$(starry-state snapshot list --json ag | jq -r .version | paste -sd' ')" = "3 4 5" ]
	run --separate-stderr starry-state snapshot load ag
	assert_output '{"i":5}'
	for i in $(seq 6 17); do
		echo "{\"i\":$i}" | starry-state snapshot save ag 2>/dev/null
	done
	[ "$(starry-state snapshot list --json ag | jq -r .version | paste -sd' ')" = "8 9 10 11 12 13 14 15 16 17" ]
	echo '{"i":18}' | starry-state snapshot save --keep 0 ag 2>/dev/null
	[ "$(starry-state snapshot list --json ag | jq -s length)" -eq 11 ]
	run starry-state snapshot save --keep -1 ag
	assert_failure 64
}

@test "snapshot save: anything but one JSON document exits 65 and saves nothing" {
	for bad in 'not json' '{"a":1} trailing' '{"a":1,"a":2}' '' '{"a":'; do
		run bash -c 'printf "%s" "$1" | starry-state snapshot save ag' _ "$bad"
		assert_failure 65
		assert_output --partial '<stdin>'
		assert_output --partial 'not JSON'
	done
	printf 'nope' > bad.json
	run starry-state snapshot save ag bad.json
	assert_failure 65
	assert_output --partial 'bad.json:1:'
	[ ! -e "$DB" ]				# bad input creates nothing
	starry-state append < /dev/null 2>/dev/null
	run bash -c "printf nope | starry-state snapshot save ag"
	assert_failure 65
	[ "$(sql 'SELECT count(*) FROM snapshots')" -eq 0 ]
	run --separate-stderr starry-state snapshot load ag
	assert_failure 1
}

@test "snapshot: a STATE:SNAPSHOT event becomes a snapshot of payload.agentId, else of its source" {
	{
		ev 1 STATE:SNAPSHOT source=agent-x payload='{"agentId":"agent-1","summary":"halfway","step":7}' ts=1700000000000
		ev 2 STATE:SNAPSHOT source=agent-2 payload='{"step":8}' ts=1700000001000
		ev 3 STATE:SNAPSHOT source=agent-3 payload='{"agentId":"","step":9}'
		ev 4 test:other source=agent-4
	} > in.jsonl
	append_quietly in.jsonl
	append_quietly in.jsonl				# stored once: one version each
	run --separate-stderr starry-state snapshot load agent-1
	assert_output '{"agentId":"agent-1","summary":"halfway","step":7}'
	run --separate-stderr starry-state snapshot load agent-2
	assert_output '{"step":8}'
	run --separate-stderr starry-state snapshot load agent-3
	assert_output '{"agentId":"","step":9}'
	run --separate-stderr starry-state snapshot load agent-x
	assert_failure 1
	run --separate-stderr starry-state snapshot load agent-4
	assert_failure 1
	run --separate-stderr starry-state snapshot list --json
	[ "$(jq -sc 'map([.agent, .version, .seq, .created])' <<<"$output")" = \
	    '[["agent-1",1,1,"2023-11-14T22:13:20.000Z"],["agent-2",1,2,"2023-11-14T22:13:21.000Z"],["agent-3",1,3,"2023-11-14T22:13:20.000Z"]]' ]
}

# tmux_pane N PANE GEN SESSION STATE ATTENTION [AGENT] [K=V...]: a
# TMUX:PANE_STATE event of server /tmp/tmux-test as starry-tmux-scan
# watch tells it; AGENT "-" for none, extra K=V for ev (session=, ts=);
# TITLE and TITLE_FROM, JSON, for its title and titleFrom (null).
tmux_pane() {
	local n=$1 pane=$2 gen=$3 tsess=$4 state=$5 att=$6 agent=${7:-claude}
	shift 7 2>/dev/null || shift $#
	local a="\"$agent\"" tomb=false t=${TITLE:-null} tf=${TITLE_FROM:-null}
	[ "$agent" != - ] || a=null
	[ "$state" != gone ] || { tomb=true; state=idle; }
	ev "$n" TMUX:PANE_STATE source="tmux:$pane" "$@" payload="{\"server\":\"/tmp/tmux-test\",\"pane\":\"$pane\",\"generation\":$gen,\"session\":\"$tsess\",\"target\":\"$tsess:1.0\",\"agent\":$a,\"presence\":\"managed\",\"evidence\":\"heuristic\",\"state\":\"$state\",\"attention\":\"$att\",\"title\":$t,\"titleFrom\":$tf,\"since\":1,\"confidence\":0.9,\"reason\":\"r\",\"from\":\"unknown\",\"from_attention\":\"none\",\"tombstoned\":$tomb}"
}

@test "tmux tables: tmux_sessions sums each tmux session's agent panes, the most pressing state first; tmux_bindings binds hook sessions to panes" {
	{
		tmux_pane 1 %1 1 work running none claude ts=1700000000000
		tmux_pane 2 %2 1 work waiting_approval approval codex session=thread-9 ts=1700000001000
		tmux_pane 3 %3 1 work idle none - ts=1700000002000
		tmux_pane 4 %4 1 play idle finished claude session=sess-1 ts=1700000003000
	} >in.jsonl
	append_quietly in.jsonl
	run sqlite3 "$STARRY_HOME/state.db" "select session, state, panes, attention from tmux_sessions order by session"
	assert_output "play|idle|1|1
work|waiting_approval|2|1"
	run sqlite3 "$STARRY_HOME/state.db" "select pane_id, generation, agent_session, agent, bound from tmux_bindings order by pane_id"
	assert_output "%2|1|thread-9|codex|1700000001000
%4|1|sess-1|claude|1700000003000"
	# The approval answered; a pane moves to another session; one goes.
	{
		tmux_pane 5 %2 1 work running none codex session=thread-9 ts=1700000004000
		tmux_pane 6 %1 1 play running none claude ts=1700000005000
		tmux_pane 7 %4 1 play gone finished claude session=sess-1 ts=1700000006000
	} >more.jsonl
	append_quietly more.jsonl
	run sqlite3 "$STARRY_HOME/state.db" "select session, state, panes, attention, updated from tmux_sessions order by session"
	assert_output "play|running|1|0|1700000006000
work|running|1|0|1700000005000"
	# Bound once: the time stays that of the first event.
	run sqlite3 "$STARRY_HOME/state.db" "select count(*), min(bound) from tmux_bindings where pane_id = '%2'"
	assert_output "1|1700000001000"
	# An event told earlier but stored late: the binding goes back to its
	# time; the pane and its session's time do not.
	tmux_pane 12 %2 1 work idle none codex session=thread-9 ts=1699999999000 >late.jsonl
	append_quietly late.jsonl
	run sqlite3 "$STARRY_HOME/state.db" "select bound from tmux_bindings where pane_id = '%2'"
	assert_output "1699999999000"
	run sqlite3 "$STARRY_HOME/state.db" "select state, updated from tmux_sessions where session = 'work'"
	assert_output "running|1700000005000"
	# Hostile payloads change nothing and break nothing.
	{
		ev 8 TMUX:PANE_STATE payload='{"server":"/tmp/tmux-test","pane":"%9","generation":"1","session":"x"}'
		ev 9 TMUX:PANE_STATE payload='{"server":7,"pane":"%9","generation":1}'
		ev 10 TMUX:PANE_STATE payload='[1,2]'
		ev 11 TMUX:PANE_STATE payload='{"server":"/tmp/tmux-test","pane":"%9","generation":1,"session":{"a":1},"agent":"x"}' session=s-x
	} >bad.jsonl
	run starry-state append bad.jsonl
	assert_success
	run sqlite3 "$STARRY_HOME/state.db" "select session, state, panes from tmux_sessions order by session"
	assert_output "play|running|1
work|running|1"
	run sqlite3 "$STARRY_HOME/state.db" "select count(*) from tmux_bindings where pane_id = '%9'"
	assert_output "1"
}

@test "tmux tables: tmux_sources keeps each source's latest health per server; a binding keeps its session's title, not the pane's; a tombstone a day old goes with its bindings when another pane goes" {
	src() { ev "$1" TMUX:SOURCE_HEALTH source=starry-tmux-scan ts="$2" payload="$3"; }
	{
		src 1 1700000000000 '{"server":"/tmp/tmux-test","source":"poller","kind":"heuristic","state":"active","lastSeen":1700000000000}'
		src 2 1700000001000 '{"server":"/tmp/tmux-test","source":"claude","kind":"deterministic","state":"active","lastSeen":1700000001000}'
		src 3 1700000005000 '{"server":"/tmp/tmux-test","source":"claude","kind":"deterministic","state":"stale","lastSeen":1700000001000}'
		src 4 1700000006000 '{"server":"/tmp/other","source":"poller","kind":"heuristic","state":"down","lastSeen":null,"detail":"no tmux server"}'
		# Told earlier, stored late: it does not go back.
		src 5 1699999999000 '{"server":"/tmp/tmux-test","source":"claude","kind":"deterministic","state":"active","lastSeen":1699999999000}'
		# Hostile: changes nothing, or only what it says rightly.
		src 6 1700000007000 '{"server":"/tmp/tmux-test","source":7,"state":"active"}'
		src 7 1700000007000 '[1]'
		src 8 1700000007000 '{"server":"/tmp/tmux-test","source":"x"}'
		src 9 1700000007000 '{"server":"/tmp/tmux-test","source":"poller","state":"down","kind":5,"lastSeen":"soon","detail":{"a":1}}'
	} >in.jsonl
	run starry-state append in.jsonl
	assert_success
	run sqlite3 "$STARRY_HOME/state.db" "select server, source, kind, state, last_seen, detail, updated from tmux_sources order by server, source"
	assert_output "/tmp/other|poller|heuristic|down||no tmux server|1700000006000
/tmp/tmux-test|claude|deterministic|stale|1700000001000||1700000005000
/tmp/tmux-test|poller|heuristic|down|1700000000000||1700000007000"
	# The session's title is the binding's; the pane's own is not.
	{
		TITLE='"Fix it"' TITLE_FROM='"prompt"' tmux_pane 10 %5 1 work running none claude session=s5 ts=1700000000000
		TITLE='"✳ Fix"' TITLE_FROM='"pane"' tmux_pane 11 %5 1 work running none claude session=s5 ts=1700000000500
		TITLE='"parser"' TITLE_FROM='"rename"' tmux_pane 12 %5 1 work idle none claude session=s5 ts=1700000000600
		TITLE='7' TITLE_FROM='"agent"' tmux_pane 13 %5 1 work idle none claude session=s5 ts=1700000000700
		TITLE='"✳ other"' TITLE_FROM='"pane"' tmux_pane 14 %6 1 work idle none claude session=s6 ts=1700000000800
	} >titles.jsonl
	append_quietly titles.jsonl
	run sqlite3 "$STARRY_HOME/state.db" "select pane_id, agent_session, title, title_from from tmux_bindings order by pane_id"
	assert_output "%5|s5|parser|rename
%6|s6||"
	# %5 goes; a day and a moment later %6 goes, and %5 is forgotten.
	{
		tmux_pane 15 %5 1 work gone none claude session=s5 ts=1700000001000
		tmux_pane 16 %6 1 work gone none claude session=s6 ts=$((1700000001000 + 86400000 + 1))
	} >gone.jsonl
	append_quietly gone.jsonl
	run sqlite3 "$STARRY_HOME/state.db" "select pane_id, tombstoned is not null from tmux_panes order by pane_id"
	assert_output "%6|1"
	run sqlite3 "$STARRY_HOME/state.db" "select pane_id from tmux_bindings"
	assert_output "%6"
	# The log keeps every event.
	[ "$(starry-state query --type TMUX:PANE_STATE | wc -l)" -eq 7 ]
}

# ---- cursors ----

@test "cursor: get for an unknown consumer exits 1; commit then get prints the position" {
	run starry-state cursor get c1
	assert_failure 66
	gen_events 10 > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state cursor get c1
	assert_failure 1
	[[ "$stderr" == *"consumer 'c1' has no cursor"* ]]
	run starry-state cursor commit c1 4
	assert_success
	run --separate-stderr starry-state cursor get c1
	assert_success
	assert_output 4
	starry-state cursor commit c1 7
	run --separate-stderr starry-state cursor get c1
	assert_output 7
	for bad in 'commit c1' 'commit c1 -1' 'commit c1 x' 'get' 'get a b' 'bogus c1' ''; do
		run starry-state cursor $bad
		assert_failure 64
	done
}

@test "query --cursor NAME prints only the events after the consumer's position" {
	gen_events 10 > in.jsonl
	append_quietly in.jsonl
	starry-state cursor commit reader 6
	[ "$(ns --cursor reader)" = "7 8 9 10" ]
	[ "$(ns --cursor reader --since 9)" = "9 10" ]
	[ "$(ns --cursor reader --since 3)" = "7 8 9 10" ]
	[ "$(ns --cursor reader -n 2)" = "7 8" ]
	[ "$(ns --cursor stranger)" = "1 2 3 4 5 6 7 8 9 10" ]
	starry-state cursor commit reader 10
	run starry-state query --cursor reader
	assert_failure 1
}

@test "prune never deletes events after the lowest committed cursor" {
	gen_events 100 > in.jsonl
	append_quietly in.jsonl
	starry-state cursor commit slow 30
	starry-state cursor commit fast 90
	run starry-state prune --before 80
	assert_success
	assert_line 'starry-state: note: prune: 30 events deleted'
	assert_line 'starry-state: note: prune: events after sequence number 30 kept: a cursor still needs them'
	[ "$(sql 'SELECT min(seq), count(*) FROM events')" = "31|70" ]
	run starry-state prune --keep 5
	assert_line 'starry-state: note: prune: 0 events deleted'
	[ "$(stored)" -eq 70 ]
	starry-state cursor commit slow 95
	run starry-state prune --keep 5
	assert_line 'starry-state: note: prune: 60 events deleted'
	[ "$(sql 'SELECT min(seq), count(*) FROM events')" = "91|10" ]
	[ "$(ns --cursor slow)" = "96 97 98 99 100" ]
	[ "$(ns --cursor fast)" = "91 92 93 94 95 96 97 98 99 100" ]
	starry-state cursor commit new 0
	run starry-state prune --keep 0
	assert_line 'starry-state: note: prune: 0 events deleted'
	[ "$(stored)" -eq 10 ]
}

# ---- check ----

@test "check: a live agent whose process is gone is listed (exit 1); a running one is not; AGENT:EXITED clears it" {
	sleep 100 3>&- &
	live=$!
	BG+=("$live")
	sleep 100 3>&- &
	dead=$!
	kill -KILL "$dead"		# KILL: a TERM before the exec could be trapped
	wait "$dead" || true
	started=$(proc_start_ms "$live")
	now=$(now_ms)
	{
		ev 1 AGENT:SPAWNED source=starry-spawn ts="$now" trace=boot \
		    payload="{\"agentId\":\"ghost\",\"template\":\"coder\",\"driver\":\"process\",\"pid\":$dead,\"restarts\":2}"
		ev 2 AGENT:SPAWNED source=starry-spawn ts="$started" \
		    payload="{\"agentId\":\"alive\",\"template\":\"coder\",\"driver\":\"process\",\"pid\":$live,\"restarts\":0}"
		# The same pid, but a process that started an hour earlier: a recycled pid.
		ev 3 AGENT:SPAWNED source=starry-spawn ts=$((started - 3600000)) \
		    payload="{\"agentId\":\"recycled\",\"template\":\"coder\",\"driver\":\"process\",\"pid\":$live,\"restarts\":0}"
	} > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state check
	assert_failure 1
	[ "${#lines[@]}" -eq 3 ]
	assert_line --index 0 --regexp '^AGENT +STATE +PID +STARTED +TEMPLATE$'
	assert_line --regexp "^ghost +running +$dead  [0-9T:.-]+Z +coder$"
	assert_line --regexp "^recycled +running +$live  "
	refute_output --partial alive
	[[ "$stderr" == *"check: 2 agents interrupted"* ]]
	run --separate-stderr starry-state check --json
	assert_failure 1
	[ "$(jq -sc 'map(.agent)' <<<"$output")" = '["ghost","recycled"]' ]
	ghost=$(jq -c 'select(.agent == "ghost")' <<<"$output")
	[ "$(jq -c '[.state, .pid, .template, .restarts, .traceId]' <<<"$ghost")" = "[\"running\",$dead,\"coder\",2,\"boot\"]" ]
	[ "$(jq -r .started <<<"$ghost")" = "$(date -u -d "@$((now / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf %03d $((now % 1000)))Z" ]
	{
		ev 4 AGENT:EXITED ts="$(now_ms)" payload='{"agentId":"ghost","status":1}'
		ev 5 KERNEL:STATE_CHANGE ts="$(now_ms)" payload='{"agentId":"recycled","from":"running","to":"stopped","reason":"test"}'
	} > exits.jsonl
	append_quietly exits.jsonl
	run --separate-stderr starry-state check
	assert_success
	assert_output ''
	[ "$(sql "SELECT state, exit_status FROM agents WHERE id = 'ghost'")" = "exited|1" ]
}

@test "check: with no database nothing was interrupted: exit 0, and no database is made" {
	run starry-state check
	assert_success
	assert_output ''
	[ ! -e "$DB" ]
	run starry-state check --db missing.db --json
	assert_success
	[ ! -e missing.db ]
	run starry-state check --keep 3
	assert_failure 64
}

# ---- dashboard ----

@test "dashboard: each agent's state, restarts, pid and newest snapshot, and event counts by type" {
	sleep 100 3>&- &
	live=$!
	BG+=("$live")
	sleep 100 3>&- &
	dead=$!
	kill -KILL "$dead"		# KILL: a TERM before the exec could be trapped
	wait "$dead" || true
	now=$(now_ms)
	{
		ev 1 AGENT:SPAWNED ts="$(proc_start_ms "$live")" \
		    payload="{\"agentId\":\"alive\",\"template\":\"coder\",\"driver\":\"process\",\"pid\":$live,\"restarts\":1}"
		ev 2 AGENT:SPAWNED ts="$now" payload="{\"agentId\":\"done\",\"pid\":$dead}"
		ev 3 AGENT:EXITED ts="$now" payload='{"agentId":"done","status":3}'
		ev 4 AGENT:SPAWNED ts="$now" payload="{\"agentId\":\"ghost\",\"pid\":$dead,\"restarts\":4}"
		ev 5 STATE:SNAPSHOT ts="$now" payload='{"agentId":"alive","summary":"reviewing PR 12","step":3}'
		ev 6 KERNEL:STATE_CHANGE ts="$now" payload='{"agentId":"paused-one","from":"running","to":"paused","reason":"test"}'
		ev 7 test:event ts="$now"
		ev 8 test:event ts="$now"
		ev 9 test:event ts=1700000000000		# outside the window
	} > in.jsonl
	append_quietly in.jsonl
	run --separate-stderr starry-state dashboard --json
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	j() { jq -c "$1" <<<"$output"; }
	[ "$(j '.agents | map({(.agent): .state}) | add')" = '{"alive":"running","done":"exited","ghost":"interrupted","paused-one":"paused"}' ]
	[ "$(j '.agents[] | select(.agent == "alive") | [.restarts, .pid, .template, .driver]')" = "[1,$live,\"coder\",\"process\"]" ]
	[ "$(j '.agents[] | select(.agent == "alive") | .snapshot | [.version, .seq, .summary]')" = '[1,5,"reviewing PR 12"]' ]
	[ "$(j '.agents[] | select(.agent == "done") | .exitStatus')" = 3 ]
	[ "$(j '.agents[] | select(.agent == "ghost") | [.restarts, .snapshot]')" = '[4,null]' ]
	[ "$(j '.events.byType')" = '{"AGENT:SPAWNED":3,"test:event":2,"AGENT:EXITED":1,"KERNEL:STATE_CHANGE":1,"STATE:SNAPSHOT":1}' ]
	j '.events.since' | grep -Eq '^"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z"$'
	run --separate-stderr starry-state dashboard --json --window 100000h
	[ "$(j '.events.byType["test:event"]')" = 3 ]
	run --separate-stderr starry-state dashboard
	assert_success
	assert_line --index 0 --regexp '^AGENT +STATE +RESTARTS +PID +SNAPSHOT$'
	assert_line --regexp "^alive +running +1 +$live  v1 20.*Z reviewing PR 12$"
	assert_line --regexp "^ghost +interrupted +4 +$dead  -$"
	assert_line --regexp '^events since 20.*Z:$'
	assert_line --regexp '^  AGENT:SPAWNED +3$'
	assert_line --regexp '^  test:event +2$'
	for bad in '--window 0' '--window x' '--keep 3' 'extra'; do
		run starry-state dashboard $bad
		assert_failure 64
	done
}

@test "dashboard: an empty registry says so; no database exits 66" {
	run starry-state dashboard
	assert_failure 66
	append_quietly < /dev/null
	run --separate-stderr starry-state dashboard
	assert_success
	assert_line --index 0 'no agents in the registry'
	run --separate-stderr starry-state dashboard --json
	[ "$(jq -c '[.agents, .events.byType]' <<<"$output")" = '[[],{}]' ]
}

# ---- prune and vacuum ----

@test "prune --before SEQ and --keep N delete the oldest events and say how many" {
	gen_events 100 > in.jsonl
	append_quietly in.jsonl
	run starry-state prune --before 40
	assert_success
	assert_output 'starry-state: note: prune: 40 events deleted'
	[ "$(sql 'SELECT min(seq), count(*) FROM events')" = "41|60" ]
	run starry-state prune --keep 10
	assert_output 'starry-state: note: prune: 50 events deleted'
	run starry-state prune --keep 20
	assert_output 'starry-state: note: prune: 0 events deleted'
	starry-state query > out.jsonl
	tail -n 10 in.jsonl | cmp - out.jsonl
	# New events go on numbering after the pruned ones.
	gen_events 1 3 test:event 101 > more.jsonl
	append_quietly more.jsonl
	[ "$(sql 'SELECT max(seq) FROM events')" -eq 101 ]
	for bad in '' '--before x' '--keep -1' '--json' 'extra'; do
		run starry-state prune $bad
		assert_failure 64
	done
	run starry-state prune --keep 1 --db missing.db
	assert_failure 66
}

@test "prune --before TIME deletes the events older than an RFC 3339 time or a duration ago" {
	now=$(now_ms)
	{
		ev 1 test:old ts=1700000000000
		ev 2 test:old ts=1700000001000
		ev 3 test:old ts=1700000002000
		ev 4 test:hours ts=$((now - 2 * 3600 * 1000))
		ev 5 test:hours ts=$((now - 2 * 3600 * 1000))
		ev 6 test:now ts="$now"
		ev 7 test:now ts="$now"
	} > in.jsonl
	append_quietly in.jsonl
	run starry-state prune --before 2000-01-01T00:00:00Z
	assert_output 'starry-state: note: prune: 0 events deleted'
	run starry-state prune --before 2023-11-14T22:13:22Z
	assert_output 'starry-state: note: prune: 2 events deleted'
	[ "$(ns)" = "3 4 5 6 7" ]
	run starry-state prune --before 1h
	assert_output 'starry-state: note: prune: 3 events deleted'
	[ "$(ns)" = "6 7" ]
}

@test "vacuum prints the sizes before and after, and the database stays sound" {
	padded_events 5000 500 > in.jsonl
	append_quietly in.jsonl
	starry-state prune --keep 100 2>/dev/null
	run --separate-stderr starry-state vacuum
	assert_success
	[[ "$output" =~ ^"$DB: "([0-9]+)" bytes before, "([0-9]+)" after"$ ]]
	before=${BASH_REMATCH[1]} after=${BASH_REMATCH[2]}
	echo "$before -> $after"
	[ "$after" -lt "$before" ]
	[ "$after" -eq "$(stat -c %s "$DB")" ]
	[ ! -s "$DB-wal" ]
	integrity_ok
	[ "$(stored)" -eq 100 ]
	starry-state query > out.jsonl
	tail -n 100 in.jsonl | cmp - out.jsonl
	run starry-state vacuum extra
	assert_failure 64
}

# ---- export and import ----

@test "export | import into a fresh database, then export again: byte-identical" {
	{
		gen_events 3000
		ev 3001 test:unicode payload='{"t":"é ☃ 🚀 \u00e9 \"q\""}' parent=1
		printf '{"specversion":"1.0","id":"0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a19","source":"ce-src","type":"ce:thing","time":"2023-11-14T22:13:20.000Z","data":{"k":1}}\n'
		ev 3002 STATE:SNAPSHOT payload='{"agentId":"a","step":1}'
	} > in.jsonl
	append_quietly in.jsonl
	starry-state export > e1.jsonl
	[ "$(wc -l < e1.jsonl)" -eq 3003 ]
	run starry-state import --db fresh.db < e1.jsonl
	assert_success
	assert_output 'starry-state: note: append: 3003 events stored, 0 already stored, 0 rejected'
	starry-state export --db fresh.db > e2.jsonl
	cmp e1.jsonl e2.jsonl
	starry-state query --with-seq > s1.jsonl
	starry-state query --with-seq --db fresh.db > s2.jsonl
	cmp s1.jsonl s2.jsonl
	run starry-state import --db fresh.db e1.jsonl
	assert_output 'starry-state: note: append: 0 events stored, 3003 already stored, 0 rejected'
	run --separate-stderr starry-state snapshot load --db fresh.db a
	assert_output '{"agentId":"a","step":1}'
}

# ---- hostile input ----

# nested DEPTH: a JSON array nested DEPTH deep.
nested() {
	head -c "$1" /dev/zero | tr '\0' '['
	head -c "$1" /dev/zero | tr '\0' ']'
}

@test "append: hostile lines get one-line diagnostics and are skipped; the others are stored; nothing crashes" {
	{
		ev 1 test:ok					# 1
		printf '{"id":"%s","payload":"' "$(event_id 90)"	# 2: over 1 MiB
		head -c 1100000 /dev/zero | tr '\0' a
		printf '"}\n'
		ev 2 test:ok					# 3
		ev 91 test:utf8 payload="\"bad $(printf '\xff\xfe') bytes\""	# 4
		ev 3 test:ok					# 5
		head -c 64 /dev/zero; echo			# 6: NUL bytes
		ev 4 test:ok					# 7
		ev 92 test:nul source='a\u0000b'		# 8
		ev 5 test:ok					# 9
		printf '%s\0\n' "$(ev 93 test:tail-nul)"	# 10
		ev 6 test:ok payload="$(nested 200)"		# 11: deep, within the limit
		ev 7 STATE:SNAPSHOT payload="$(nested 200)"	# 12
		ev 95 test:deeper payload="$(nested 100000)"	# 13: too deep
		printf '\xef\xbb\xbf%s\n' "$(ev 94 test:bom)"	# 14: a byte order mark
		printf '\r\n'					# 15: an empty line
		ev 8 test:ok					# 16
	} > in.jsonl
	run --separate-stderr starry-state append --rejects rej.jsonl in.jsonl
	assert_failure 65
	printf '%s\n' "$stderr"
	[[ "$stderr" == *'in.jsonl:2: line longer than 1048576 bytes'* ]]
	[[ "$stderr" == *'in.jsonl:4: invalid UTF-8'* ]]
	[[ "$stderr" == *'in.jsonl:6: '* ]]
	[[ "$stderr" == *'in.jsonl:8: field "source": contains a NUL character'* ]]
	[[ "$stderr" == *'in.jsonl:10: '* ]]
	[[ "$stderr" == *'in.jsonl:13: '*'nesting deeper than'* ]]
	[[ "$stderr" == *'in.jsonl:14: '* ]]
	[[ "$stderr" == *'in.jsonl:15: '* ]]
	# One line per reject plus the note, valid UTF-8, no NUL.
	[ "${#stderr_lines[@]}" -eq 9 ]
	printf '%s' "$stderr" | iconv -f UTF-8 -t UTF-8 > /dev/null
	[ "$(jq -r '.payload | if type == "object" then .n else "deep" end' < <(starry-state query --type test:ok) | paste -sd' ')" = "1 2 3 4 5 deep 8" ]
	starry-state query --type STATE:SNAPSHOT | cmp - <(sed -n 12p in.jsonl)
	run --separate-stderr starry-state snapshot load test
	[ "$output" = "$(nested 200)" ]
	# The rejects file is valid events, the raw bytes kept as far as JSON can.
	[ "$(wc -l < rej.jsonl)" -eq 8 ]
	jq -e . rej.jsonl > /dev/null
	[ "$(jq -r .payload.line rej.jsonl | paste -sd' ')" = "2 4 6 8 10 13 14 15" ]
	[ "$(jq -r '.payload.raw | length' rej.jsonl | sed -n 1p)" -le 65536 ]
	[ "$(jq -r '.payload.raw' rej.jsonl | sed -n 3p | tr -d '\0' | wc -c)" -le 1 ]
	run starry-bus validate rej.jsonl
	assert_success
	integrity_ok
}

@test "append: a line of exactly 1 MiB is stored byte for byte; one byte more is refused" {
	prefix="{\"id\":\"$(event_id 1)\",\"timestamp\":1700000000000,\"traceId\":\"t\",\"source\":\"s\",\"sessionId\":\"d\",\"priority\":3,\"type\":\"test:big\",\"payload\":\""
	suffix='"}'
	fill=$((1048576 - ${#prefix} - ${#suffix}))
	{ printf '%s' "$prefix"; head -c "$fill" /dev/zero | tr '\0' a; printf '%s\n' "$suffix"; } > max.jsonl
	[ "$(wc -c < max.jsonl)" -eq 1048577 ]
	prefix2=${prefix/$(event_id 1)/$(event_id 2)}
	{ printf '%s' "$prefix2"; head -c "$((fill + 1))" /dev/zero | tr '\0' b; printf '%s\n' "$suffix"; } > over.jsonl
	run starry-state append max.jsonl
	assert_success
	starry-state query > out.jsonl
	cmp max.jsonl out.jsonl
	run starry-state append over.jsonl
	assert_failure 65
	assert_line 'starry-state: error: over.jsonl:1: line longer than 1048576 bytes'
	[ "$(stored)" -eq 1 ]
}

@test "append: an id written with escapes is the same id: stored decoded, its duplicates caught" {
	id=$(event_id 10)				# 0000000a-0000-4000-8000-00000000000a
	escaped='\u0030000000a-0000-4000-8000-00000000000\u0061'
	line=$(ev 10 test:escaped trace='tr\u0061ce-x')
	{
		printf '%s\n' "${line/$id/$escaped}"
		ev 10 test:plain
	} > in.jsonl
	grep -qF "$escaped" in.jsonl
	run starry-state append in.jsonl
	assert_success
	assert_output 'starry-state: note: append: 1 events stored, 1 already stored, 0 rejected'
	[ "$(sql 'SELECT id, trace_id FROM events')" = "$id|trace-x" ]
	starry-state query --trace trace-x > out.jsonl
	head -n 1 in.jsonl | cmp - out.jsonl			# the original bytes
	# --lenient: any id of at most 128 bytes, escapes and all.
	long=$(printf 'x%.0s' $(seq 128))
	with_id() {			# with_id N ID: event N with another id
		local line
		line=$(ev "$1" test:lenient)
		printf '%s\n' "${line/$(event_id "$1")/$2}"
	}
	{
		with_id 1 'quote\"d é'
		with_id 2 "$long"
		with_id 3 "${long}y"
		with_id 4 'nul\u0000id'
	} > lenient.jsonl
	run starry-state append --lenient --db lenient.db lenient.jsonl
	assert_failure 65
	assert_line --partial 'lenient.jsonl:3: field "id"'
	assert_line --partial 'lenient.jsonl:4: field "id"'
	[ "$(sql --db lenient.db 'SELECT id FROM events ORDER BY seq' | head -n 1)" = 'quote"d é' ]
	[ "$(stored lenient.db)" -eq 2 ]
}

# ---- the command line ----

@test "state: every subcommand answers --help and --version; bad subcommands are usage errors" {
	for sub in append import query export trace snapshot cursor check dashboard prune vacuum; do
		run --separate-stderr starry-state "$sub" --help
		assert_success
		assert_output --partial 'usage: starry-state '
		assert_output --regexp "starry-state $sub( |\$)"
		run --separate-stderr starry-state "$sub" --version
		assert_success
		assert_output --regexp '^starry-state [0-9]+\.[0-9]+'
	done
	run --separate-stderr starry-state --help
	assert_success
	assert_output --partial 'usage: starry-state SUBCOMMAND'
	run starry-state
	assert_failure 64
	run starry-state bogus
	assert_failure 64
	run starry-state snapshot bogus a
	assert_failure 64
	run starry-state append --batch 0 < /dev/null
	assert_failure 64
	run starry-state append --batch-time fast < /dev/null
	assert_failure 64
	run starry-state append missing.jsonl
	assert_failure 66
	assert_output --partial 'missing.jsonl'
}

@test "prune --keep N keeps N events even when duplicates were skipped in between" {
	gen_events 5 > five.jsonl
	gen_events 6 > six.jsonl
	append_quietly five.jsonl
	append_quietly six.jsonl		# 5 duplicates, 1 new event
	[ "$(stored)" -eq 6 ]
	run starry-state prune --keep 3
	assert_success
	[ "$(ns)" = "4 5 6" ]
}
