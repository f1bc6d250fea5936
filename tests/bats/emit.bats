#!/usr/bin/env bats
# starry-bus emit: one new, valid event; caused events inherit the trace.

load helper

setup() {
	starry_setup
}

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

@test "emit: prints one valid event with the defaults" {
	run starry-bus emit git:commit_pushed
	assert_success
	assert_equal "${#lines[@]}" 1
	printf '%s\n' "$output" | starry-bus validate >/dev/null
	run jq -r '[.type, .source, .sessionId, .priority, .payload, (has("parentId"))] | @json' <<<"$output"
	assert_output '["git:commit_pushed","starry-bus","default",3,null,false]'
}

@test "emit: the id and a new trace are UUID v4, the timestamp is now in ms" {
	before=$(($(date +%s) * 1000))
	ev=$(starry-bus emit test:x)
	after=$((($(date +%s) + 1) * 1000))
	[[ $(jq -r .id <<<"$ev") =~ $UUID_RE ]]
	[[ $(jq -r .traceId <<<"$ev") =~ $UUID_RE ]]
	ts=$(jq -r .timestamp <<<"$ev")
	[ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ]
}

@test "emit: ids are unique" {
	for i in $(seq 200); do starry-bus emit test:x; done | jq -r .id | sort | uniq -d > dups
	[ ! -s dups ]
}

@test "emit: fields from options, members in envelope order" {
	run starry-bus emit INPUT:USER_MESSAGE --payload '{"text":"hi"}' --source cli \
		--session s-9 --priority 0 --trace tr-1
	assert_success
	run jq -c '[keys_unsorted, .source, .sessionId, .priority, .traceId, .payload]' <<<"$output"
	assert_output '[["id","timestamp","traceId","source","sessionId","priority","type","payload"],"cli","s-9",0,"tr-1",{"text":"hi"}]'
}

@test "emit: --payload from @FILE and from stdin" {
	printf '{"a":[1,2,{"b":"é"}]}\n' > p.json
	run bash -c 'starry-bus emit t:x --payload @p.json | jq -c .payload'
	assert_output '{"a":[1,2,{"b":"é"}]}'
	run bash -c 'echo "\"text\"" | starry-bus emit t:x --payload - | jq -c .payload'
	assert_output '"text"'
	run starry-bus emit t:x --payload @missing.json
	assert_failure 66
}

@test "emit: invalid payload JSON exits 65 with the place" {
	run starry-bus emit t:x --payload '{"a":'
	assert_failure 65
	assert_output --partial 'starry-bus: error: --payload: invalid JSON at line 1'
	run starry-bus emit t:x --payload '{"a":1,"a":2}'
	assert_failure 65
}

@test "emit: a bad type or priority is refused" {
	run starry-bus emit notype
	assert_failure
	assert_output --partial 'NAMESPACE:NAME'
	run starry-bus emit 'a: b'
	assert_failure
	run starry-bus emit t:x --priority 6
	assert_failure 64
	assert_output --partial '--priority: expected an integer from 0 to 5'
	run starry-bus emit
	assert_failure 64
	run starry-bus emit a:b c:d
	assert_failure 64
}

@test "emit: --cause makes a caused event: trace, session and parentId" {
	cause=$(starry-bus emit INPUT:USER_MESSAGE --session s-7 --trace trace-42)
	run starry-bus emit EXEC:TOOL_CALL --cause "$cause"
	assert_success
	run jq -r '[.traceId, .sessionId, .parentId] | @tsv' <<<"$output"
	assert_output "$(jq -r '[.traceId, .sessionId, .id] | @tsv' <<<"$cause")"
	printf '%s\n' "$cause" > cause.json
	run bash -c 'starry-bus emit a:b --cause @cause.json | jq -r .parentId'
	assert_output "$(jq -r .id <<<"$cause")"
	run starry-bus emit a:b --cause '{"id":"x"}'
	assert_failure 65
	assert_output --partial '--cause: missing field "timestamp"'
}

@test "emit: the environment's trace, session and cause are inherited" {
	run env STARRY_TRACE_ID=env-trace STARRY_SESSION_ID=env-session STARRY_CAUSE_ID=env-cause \
		starry-bus emit a:b
	run jq -r '[.traceId, .sessionId, .parentId] | @tsv' <<<"$output"
	assert_output "$(printf 'env-trace\tenv-session\tenv-cause')"
}

@test "emit: options win over the environment, --cause over the environment" {
	cause=$(starry-bus emit a:cause --trace cause-trace --session cause-session)
	run env STARRY_TRACE_ID=env-trace STARRY_SESSION_ID=env-session \
		starry-bus emit a:b --cause "$cause" --session mine
	run jq -r '[.traceId, .sessionId, .parentId] | @tsv' <<<"$output"
	assert_output "$(printf 'cause-trace\tmine\t%s' "$(jq -r .id <<<"$cause")")"
}

@test "emit: --to a FIFO with a reader, a FIFO without one, and a file" {
	mkfifo f
	exec 7<>f		# a reader holds the FIFO open
	run starry-bus emit a:fifo --to f
	assert_success
	read -r -t 5 got <&7
	exec 7<&-
	run jq -r .type <<<"$got"
	assert_output a:fifo
	mkfifo lonely
	run starry-bus emit a:b --to lonely
	assert_failure 69
	assert_output 'starry-bus: error: --to lonely: no process reads this FIFO'
	starry-bus emit a:one --to log.jsonl
	starry-bus emit a:two --to log.jsonl
	run jq -r .type log.jsonl
	assert_output "a:one
a:two"
}

@test "emit: --cloudevents writes a CloudEvents 1.0 document" {
	run starry-bus emit a:b --payload '[1]' --priority 1 --cloudevents
	assert_success
	run jq -c '[.specversion, .type, .source, .data, .priority, .sessionid, (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$")), (.traceparent | test("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$"))]' <<<"$output"
	assert_output '["1.0","a:b","starry-bus",[1],1,"default",true,true]'
}

@test "emit: --trace starts its own chain: no parent or session from the environment" {
	run env STARRY_CAUSE_ID=env-cause STARRY_SESSION_ID=env-session \
		starry-bus emit a:b --trace mine
	run jq -r '[.traceId, .sessionId, (.parentId // "-")] | @tsv' <<<"$output"
	assert_output "$(printf 'mine\tdefault\t-')"
}

@test "emit: a line over PIPE_BUF is refused for a FIFO, where it could interleave" {
	mkfifo f
	exec 7<>f
	big=$(head -c 5000 /dev/zero | tr '\0' x)
	run starry-bus emit a:big --payload "\"$big\"" --to f
	exec 7<&-
	assert_failure 65
	assert_output --partial "a FIFO keeps only lines up to 4096 bytes whole"
	run starry-bus emit a:big --payload "\"$big\"" --to big.jsonl
	assert_success
}
