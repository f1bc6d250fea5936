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
