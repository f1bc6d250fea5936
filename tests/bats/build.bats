#!/usr/bin/env bats
# The build's own targets: install and uninstall under DESTDIR and PREFIX.

load helper

setup() {
	starry_setup
}

# install_to DESTDIR [TARGET]: make install (or TARGET) with PREFIX /opt/starry,
# built in this file's own folder so the checkout's bin/ is left alone.
install_to() {
	make -C "$STARRY_TOP" -s "${2:-install}" DESTDIR="$1" PREFIX=/opt/starry \
		OUT="$BATS_FILE_TMPDIR/build" BINDIR="$BATS_FILE_TMPDIR/bin"
}

@test "make install puts commands, man pages, share and etc under DESTDIR/PREFIX" {
	run install_to "$BATS_TEST_TMPDIR/root"
	assert_success
	r=$BATS_TEST_TMPDIR/root/opt/starry
	[ -x "$r/bin/starry-bus" ]
	"$r/bin/starry-bus" --version
	[ -f "$r/share/starry/schemas/event.schema.json" ]
	[ -f "$r/etc/starry/starry.yaml" ]
	for m in "$STARRY_TOP"/man/man*/*.[157]; do
		[ -e "$m" ] || continue
		s=${m##*.}
		[ -f "$r/share/man/man$s/${m##*/}" ]
	done
}

@test "make install keeps edited configuration; uninstall keeps etc, removes the rest" {
	d=$BATS_TEST_TMPDIR/root
	install_to "$d"
	echo "# mine" > "$d/opt/starry/etc/starry/starry.yaml"
	install_to "$d"
	assert_equal "$(cat "$d/opt/starry/etc/starry/starry.yaml")" "# mine"
	run install_to "$d" uninstall
	assert_success
	[ ! -e "$d/opt/starry/bin/starry-bus" ]
	[ ! -e "$d/opt/starry/share/starry" ]
	[ -f "$d/opt/starry/etc/starry/starry.yaml" ]
}

@test "a build for another PREFIX is rebuilt with it, not left with the old one" {
	install_to "$BATS_TEST_TMPDIR/root"
	run strings "$BATS_FILE_TMPDIR/bin/starry-bus"
	assert_line --partial '/opt/starry/etc/starry'
	# the same build folder, another PREFIX
	make -C "$STARRY_TOP" -s all PREFIX=/srv/other \
		OUT="$BATS_FILE_TMPDIR/build" BINDIR="$BATS_FILE_TMPDIR/bin"
	run strings "$BATS_FILE_TMPDIR/bin/starry-bus"
	assert_line --partial '/srv/other/etc/starry'
	refute_line --partial '/opt/starry'
}

@test "make demo: boots the fleet, a worker on demand, the stored trace, exit 0" {
	run sh "$STARRY_TOP/contrib/demo.sh" "${STARRY_BIN_DIR:-$STARRY_TOP/bin}"
	assert_success
	# every boot step, the master up, the worker done
	assert_line --partial "boot: infrastructure: ok: bus ready"
	assert_line --partial "boot: infrastructure: ok: state ready"
	assert_line --partial "boot: master: ok: master"
	assert_line --regexp '^worker-1 +worker +process +exited '
	assert_line --regexp '^master +master +process +running '
	# the worker's report came back through the store
	assert_line --partial '["worker-1","demo:report",'
	# one trace holds the tool call and, under it (in the order they were
	# stored), the worker it started and the answer
	assert_line --regexp '^\|-- EXEC:TOOL_CALL .* master '
	assert_line --regexp '^\|   [|`]-- AGENT:SPAWNED .* worker-1 '
	assert_line --regexp '^\|   [|`]-- EXEC:TOOL_RESULT .* starry-spawn '
	# route lets the urgent event out first
	run bash -c 'printf "%s\n" "$0" | grep -A1 "urgent leaves first" | tail -1' "$output"
	assert_output '[0,"alert:server_down","urgent"]'
}
