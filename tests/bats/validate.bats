#!/usr/bin/env bats
# starry-bus validate: valid events pass byte for byte; each bad line gets
# its line number and reason, and is kept in --rejects.

load helper

setup() {
	starry_setup
}

GOOD='{"id":"0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a11","timestamp":1732330000000,"traceId":"t","source":"s","sessionId":"default","priority":3,"type":"INPUT:USER_MESSAGE","payload":{"text":"hi"}}'

# reject_reason LINE: run validate on one line and print its diagnostic.
reason_for() {
	printf '%s\n' "$1" > in.jsonl
	run starry-bus validate in.jsonl
}

@test "validate: valid events pass through byte for byte" {
	{
		printf '%s\n' "$GOOD"
		printf '%s\r\n' "$GOOD"
		printf '  {"x-extra": [1, {"deep": "é ☃ \\u00e9"}], "payload": null, "type": "git:commit_pushed", "priority": 0, "sessionId": "s", "source": "a", "traceId": "t", "timestamp": 1, "id": "0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a12"}  \n'
		gen_events 100
	} > in.jsonl
	run starry-bus validate in.jsonl
	assert_success
	starry-bus validate in.jsonl > out.jsonl
	cmp in.jsonl out.jsonl
}

@test "validate: reads stdin when no file or - is given" {
	gen_events 3 > in.jsonl
	run bash -c 'starry-bus validate < in.jsonl'
	assert_success
	assert_output "$(cat in.jsonl)"
	run bash -c 'starry-bus validate - < in.jsonl'
	assert_output "$(cat in.jsonl)"
}

@test "validate: a missing field is named, with its line number" {
	{ printf '%s\n' "$GOOD"; printf '%s\n' "${GOOD/\"id\":\"0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a11\",/}"; } > in.jsonl
	run starry-bus validate in.jsonl
	assert_failure 65
	assert_line "$GOOD"
	assert_line 'starry-bus: error: in.jsonl:2: missing field "id"'
}

@test "validate: every missing envelope field has its own diagnostic" {
	for f in timestamp traceId source sessionId priority type payload; do
		line=$(printf '%s' "$GOOD" | jq -c "del(.$f)")
		reason_for "$line"
		assert_failure 65
		assert_output "starry-bus: error: in.jsonl:1: missing field \"$f\""
	done
}

@test "validate: wrong types get the exact diagnostic" {
	reason_for "$(jq -c '.priority = 6' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "priority": expected an integer 0..5, got 6'
	reason_for "$(jq -c '.priority = "3"' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "priority": expected an integer 0..5, got a string'
	reason_for "$(jq -c '.priority = -1' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "priority": expected an integer 0..5, got -1'
	reason_for "${GOOD/\"priority\":3/\"priority\":2.5}"
	assert_output 'starry-bus: error: in.jsonl:1: field "priority": expected an integer 0..5, got 2.5'
	reason_for "$(jq -c '.timestamp = "now"' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "timestamp": expected an integer > 0'
	reason_for "$(jq -c '.timestamp = 0' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "timestamp": expected an integer > 0'
	reason_for "$(jq -c '.id = 7' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "id": expected a string'
	reason_for "$(jq -c '.source = ""' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "source": empty'
	reason_for "$(jq -c '.type = "nocolon"' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "type": expected NAMESPACE:NAME, got "nocolon"'
	reason_for "$(jq -c '.type = "git: pushed"' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "type": expected NAMESPACE:NAME, got "git: pushed"'
	reason_for "$(jq -c '.traceId = ("x" * 129)' <<<"$GOOD")"
	assert_output 'starry-bus: error: in.jsonl:1: field "traceId": longer than 128 bytes'
	reason_for '[1,2,3]'
	assert_output 'starry-bus: error: in.jsonl:1: not a JSON object'
	reason_for "${GOOD%\}},\"type\":\"x:y\"}"
	assert_output 'starry-bus: error: in.jsonl:1: duplicate field "type"'
}

@test "validate: a bad UUID is refused, and accepted with --lenient" {
	line=$(jq -c '.id = "not-a-uuid"' <<<"$GOOD")
	reason_for "$line"
	assert_failure 65
	assert_output 'starry-bus: error: in.jsonl:1: field "id": not a UUID v4: "not-a-uuid"'
	run starry-bus validate --lenient in.jsonl
	assert_success
	assert_output "$line"
	reason_for "$(jq -c '.id = "0B7C4BD2-4E6E-4A7E-9C1F-6F1D3F0E2A11"' <<<"$GOOD")"
	assert_failure 65
	reason_for "$(jq -c '.id = "0b7c4bd2-4e6e-1a7e-9c1f-6f1d3f0e2a11"' <<<"$GOOD")"
	assert_output --partial 'not a UUID v4'
}

@test "validate: invalid JSON names the column" {
	reason_for '{"id": "x" "timestamp": 1}'
	assert_failure 65
	assert_output "starry-bus: error: in.jsonl:1: invalid JSON at column 12: expected ',' or '}'"
	reason_for '{"id":'
	assert_output --partial 'in.jsonl:1: invalid JSON at column 7'
}

@test "validate: invalid UTF-8 is refused with its column" {
	printf '{"id":"\xff"}\n' > in.jsonl
	run starry-bus validate in.jsonl
	assert_failure 65
	assert_output 'starry-bus: error: in.jsonl:1: invalid UTF-8 at column 8'
}

@test "validate: an empty line is rejected, the lines around it pass" {
	{ printf '%s\n\n' "$GOOD"; gen_events 1; } > in.jsonl
	run starry-bus validate in.jsonl
	assert_failure 65
	assert_line 'starry-bus: error: in.jsonl:2: empty line'
	assert_line "$GOOD"
	assert_line "$(gen_events 1)"
}

@test "validate: a truncated last line is rejected; --lenient completes it" {
	{ gen_events 2; printf '%s' "$GOOD"; } > in.jsonl
	run starry-bus validate in.jsonl
	assert_failure 65
	assert_line 'starry-bus: error: in.jsonl:3: truncated line: no newline at end of input'
	run starry-bus validate --lenient in.jsonl
	assert_success
	assert_line "$GOOD"
	{ gen_events 1; printf '{"id":"trunc'; } > in.jsonl
	run starry-bus validate --lenient in.jsonl
	assert_failure 65
	assert_line --partial 'in.jsonl:2: invalid JSON at column 13'
}

@test "validate: an oversized line is rejected and the next line still passes" {
	{
		gen_events 1 3 test:event 1
		printf '{"id":"%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' a)"
		gen_events 1 3 test:event 2
	} > in.jsonl
	run starry-bus validate --rejects rej.jsonl in.jsonl
	assert_failure 65
	assert_line 'starry-bus: error: in.jsonl:2: line longer than 1048576 bytes'
	assert_line "$(gen_events 1 3 test:event 1)"
	assert_line "$(gen_events 1 3 test:event 2)"
	run jq -r '.payload.raw | length' rej.jsonl
	assert_output 65536
}

@test "validate: --max-line sets the limit" {
	gen_events 1 > in.jsonl
	run starry-bus validate --max-line 100 in.jsonl
	assert_failure 65
	assert_output 'starry-bus: error: in.jsonl:1: line longer than 100 bytes'
	run starry-bus validate --max-line 1K in.jsonl
	assert_success
	run starry-bus validate --max-line lots in.jsonl
	assert_failure 64
}

@test "validate: --rejects keeps each raw line inside a KERNEL:ERROR event" {
	bad='{"id":"nope", "broken": '
	{ gen_events 1; printf '%s\n' "$bad"; printf '\xfe\xff\n'; } > in.jsonl
	run starry-bus validate --rejects rej.jsonl in.jsonl
	assert_failure 65
	assert_equal "$(wc -l < rej.jsonl)" 2
	run starry-bus validate rej.jsonl
	assert_success
	run jq -r 'select(.payload.line == 2) | .type, .payload.raw, .payload.line' rej.jsonl
	assert_output "KERNEL:ERROR
$bad
2"
	run jq -r 'select(.payload.line == 3) | .payload.message' rej.jsonl
	assert_output 'invalid UTF-8 at column 1'
}

@test "validate: several files, and a missing one exits 66 after the rest" {
	gen_events 2 > a.jsonl
	gen_events 2 3 test:event 10 > b.jsonl
	run starry-bus validate a.jsonl missing.jsonl b.jsonl
	assert_failure 66
	assert_line 'starry-bus: error: missing.jsonl: No such file or directory'
	assert_equal "$(printf '%s\n' "$output" | grep -c '"id"')" 4
}

@test "validate: CloudEvents come in and become starry events" {
	ce='{"specversion":"1.0","id":"ce-1","source":"/sensors/7","type":"hal:reading","time":"2026-11-23T02:51:55.123Z","data":{"t":21.5},"sessionid":"s1","priority":1}'
	printf '%s\n' "$ce" > in.jsonl
	run starry-bus validate in.jsonl
	assert_success
	run jq -c '[.id, .timestamp, .source, .sessionId, .priority, .type, .payload]' <<<"$output"
	assert_output '["ce-1",1795402315123,"/sensors/7","s1",1,"hal:reading",{"t":21.5}]'
}

@test "validate: --cloudevents writes CloudEvents documents" {
	printf '%s\n' "$GOOD" > in.jsonl
	run starry-bus validate --cloudevents in.jsonl
	assert_success
	run jq -c '[.specversion, .id, .type, .time, .data, .sessionid, .priority]' <<<"$output"
	assert_output '["1.0","0b7c4bd2-4e6e-4a7e-9c1f-6f1d3f0e2a11","INPUT:USER_MESSAGE","2024-11-23T02:46:40.000Z",{"text":"hi"},"default",3]'
}

@test "validate: random binary input is rejected line by line without a crash" {
	head -c 200000 /dev/urandom > noise
	{ cat noise; printf '\n'; gen_events 1; } > in.jsonl
	run starry-bus validate --quiet --rejects rej.jsonl in.jsonl
	assert_failure 65
	assert_output "$(gen_events 1)"
	run starry-bus validate rej.jsonl
	assert_success
}

@test "validate: NUL bytes inside a line are refused, not truncated" {
	printf '{"id":"a\0b"}\n' > in.jsonl
	run starry-bus validate in.jsonl
	assert_failure 65
	assert_output --partial 'in.jsonl:1: '
}

@test "validate: --help and usage errors" {
	run starry-bus validate --help
	assert_success
	assert_line --partial 'usage: starry-bus validate'
	run starry-bus validate --no-such-option
	assert_failure 64
	run starry-bus nosuch
	assert_failure 64
	assert_line "starry-bus: error: unknown subcommand 'nosuch'"
	run starry-bus --version
	assert_success
	assert_output --regexp '^starry-bus [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "validate: --cloudevents rejects an event it cannot write, and goes on" {
	{ jq -c '.time = "x"' <<<"$GOOD"; gen_events 1; } > in.jsonl
	run starry-bus validate --cloudevents --rejects rej.jsonl in.jsonl
	assert_failure 65
	assert_line 'starry-bus: error: in.jsonl:1: cannot be written as a CloudEvent: member "time" collides with a CloudEvents attribute'
	assert_line --partial '"specversion":"1.0"'
	run jq -r '[.payload.input, .payload.line] | @tsv' rej.jsonl
	assert_output "$(printf 'in.jsonl\t1')"
}
