#!/usr/bin/env bats
# The build's own targets: install and uninstall under DESTDIR and PREFIX.

load helper

setup() {
	starry_setup
}

@test "make install puts commands, man pages, share and etc under DESTDIR/PREFIX" {
	run make -C "$STARRY_TOP" -s install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/starry
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
	make -C "$STARRY_TOP" -s install DESTDIR="$d" PREFIX=/usr
	echo "# mine" > "$d/usr/etc/starry/starry.yaml"
	make -C "$STARRY_TOP" -s install DESTDIR="$d" PREFIX=/usr
	assert_equal "$(cat "$d/usr/etc/starry/starry.yaml")" "# mine"
	run make -C "$STARRY_TOP" -s uninstall DESTDIR="$d" PREFIX=/usr
	assert_success
	[ ! -e "$d/usr/bin/starry-bus" ]
	[ ! -e "$d/usr/share/starry" ]
	[ -f "$d/usr/etc/starry/starry.yaml" ]
}

@test "make demo: the hub, a causal chain and a priority burst, exit 0" {
	run sh "$STARRY_TOP/contrib/demo.sh" "${STARRY_BIN_DIR:-$STARRY_TOP/bin}"
	assert_success
	# the subscriber saw the push and the message it caused, in one trace
	[ "$(printf '%s\n' "$output" | grep -c '"type":"git:commit_pushed"')" -eq 1 ]
	run bash -c 'printf "%s\n" "$0" | grep -A1 "as route lets it out" | tail -1' "$output"
	assert_output '[0,"alert:server_down","urgent"]'
}
