#!/bin/sh
# The demo's worker agent: does one visible thing, reports it as an event
# (with the tokens a model would have used), and exits.
task=${1:-nothing to do}
echo "worker $OPENSTARRY_AGENT_ID: $task"
files=$(ls /etc | wc -l)
printf '{"type":"demo:report","payload":{"task":"%s","files":%d,"usage":{"input_tokens":12,"output_tokens":30}}}\n' \
	"$task" "$files"
