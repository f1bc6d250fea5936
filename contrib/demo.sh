#!/bin/sh
# make demo: starry's main job on its embedded defaults, in a throwaway
# STARRY_HOME. Starts the bus hub, subscribes to it, publishes a small
# causal chain of events, routes a burst by priority, and stops cleanly.
#   demo.sh BINDIR
set -eu
bindir=$(cd "${1:-bin}" && pwd)
PATH="$bindir:$PATH"
demo=$(mktemp -d "${TMPDIR:-/tmp}/starry-demo.XXXXXX")
export STARRY_HOME="$demo/home" STARRY_RUNTIME="$demo/run" STARRY_CONFIG="$demo/config"
hub= sub=
cleanup() {
	status=$?
	if [ -n "$sub" ]; then kill "$sub" 2>/dev/null || true; fi
	if [ -n "$hub" ]; then kill "$hub" 2>/dev/null || true; wait "$hub" || true; fi
	rm -rf "$demo"
	exit "$status"
}
trap cleanup EXIT INT TERM

# Bold headings on a terminal, plain text elsewhere or with NO_COLOR.
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m') off=$(printf '\033[0m')
else bold= off=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off" >&2; }

say "starting the hub (starry-bus serve) in $STARRY_RUNTIME"
mkfifo "$demo/ready"
starry-bus serve --ready-fd 3 3>"$demo/ready" 2>"$demo/hub.log" &
hub=$!
read -r _ < "$demo/ready"

say "a subscriber for git:* and INPUT:* events (starry-bus sub)"
mkfifo "$demo/subready"
starry-bus sub --type 'git:*' --type 'INPUT:*' --ready-fd 3 3>"$demo/subready" \
	> "$demo/seen.jsonl" &
sub=$!
read -r _ < "$demo/subready"

say "publishing a causal chain: a push, and the review it causes"
push=$(starry-bus emit git:commit_pushed --source demo --payload '{"branch":"main"}')
printf '%s\n' "$push" | starry-bus pub
starry-bus emit INPUT:USER_MESSAGE --cause "$push" --payload '{"text":"review it"}' |
	starry-bus pub
starry-bus emit other:ignored | starry-bus pub
n=0
while [ "$(wc -l < "$demo/seen.jsonl")" -lt 2 ] && [ "$n" -lt 250 ]; do
	sleep 0.02; n=$((n + 1))
done
echo "the subscriber saw (same trace, parentId = the push's id):" >&2
cat "$demo/seen.jsonl"

say "routing a burst: 5 background events, then 1 urgent; urgent leaves first"
{
	for i in 1 2 3 4 5; do starry-bus emit job:background --priority 5 --payload "$i"; done
	starry-bus emit alert:server_down --priority 0 --payload '"urgent"'
} > "$demo/burst.jsonl"
echo "priority, type, payload of each event as route lets it out:" >&2
starry-bus route --queue 100 < "$demo/burst.jsonl" | jq -c '[.priority, .type, .payload]'

say "validating a file with a bad line (exit 65, the reason on stderr)"
{ starry-bus emit ok:one; echo '{"id":"broken"'; } > "$demo/mixed.jsonl"
starry-bus validate "$demo/mixed.jsonl" > /dev/null || echo "validate exited $?" >&2

say "stopping the hub (SIGTERM): it flushes, then says what it carried"
kill "$hub"; wait "$hub" || true; hub=
wait "$sub" || true; sub=
cat "$demo/hub.log" >&2
