# Shared set-up for starry's bats suites: the built commands first on PATH,
# and a private STARRY_HOME, STARRY_RUNTIME and STARRY_CONFIG per test.
bats_load_library bats-support
bats_load_library bats-assert

STARRY_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PATH="${STARRY_BIN_DIR:-$STARRY_TOP/bin}:$PATH"
export PATH

starry_setup() {
	export STARRY_HOME="$BATS_TEST_TMPDIR/home"
	export STARRY_RUNTIME="$BATS_TEST_TMPDIR/run"
	export STARRY_CONFIG="$BATS_TEST_TMPDIR/config"
	mkdir -p "$STARRY_HOME" "$STARRY_RUNTIME" "$STARRY_CONFIG"
	unset STARRY_TRACE_ID STARRY_SESSION_ID STARRY_CAUSE_ID
	cd "$BATS_TEST_TMPDIR" || return 1
}

# wait_for DEADLINE_SECONDS COMMAND...: poll COMMAND until it succeeds or
# the deadline passes (then fail, naming it).
wait_for() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# gen_events COUNT [PRIORITY] [TYPE] [START] [SESSION]: COUNT valid events,
# one per line, with ids derived from their number (START, START+1, ...)
# so a test can name them, and payload {"n": NUMBER}.
gen_events() {
	awk -v count="$1" -v prio="${2:-3}" -v type="${3:-test:event}" \
	    -v start="${4:-1}" -v session="${5:-default}" 'BEGIN {
		for (i = start; i < start + count; i++)
			printf "{\"id\":\"%08x-0000-4000-8000-%012x\",\"timestamp\":1700000000000," \
			    "\"traceId\":\"trace-1\",\"source\":\"test\",\"sessionId\":\"%s\"," \
			    "\"priority\":%d,\"type\":\"%s\",\"payload\":{\"n\":%d}}\n",
			    i, i, session, prio, type, i
	}'
}

# event_id N: the id gen_events gives event number N.
event_id() {
	printf '%08x-0000-4000-8000-%012x' "$1" "$1"
}

# fd_pos PID FD: the file offset of a process's fd (from /proc).
fd_pos() {
	awk '/^pos:/ { print $2 }' "/proc/$1/fdinfo/$2" 2>/dev/null
}

# has_lines FILE N: FILE exists and has at least N lines.
has_lines() {
	[ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]
}
