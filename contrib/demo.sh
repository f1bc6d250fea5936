#!/bin/sh
# make demo: starry's main job on its embedded defaults, in a throwaway
# STARRY_HOME. Boots the fleet with `starry-spawn serve --boot`: the bus
# hub and the state writer from etc/starry/starry.yaml, then the master
# agent of share/starry/agents, which asks for a worker through the
# AgentManagerTool. Shows the agents, the stored trace of the whole
# chain, the bus routing a burst by priority, and stops cleanly.
#   demo.sh BINDIR
set -eu
bindir=$(cd "${1:-bin}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$bindir:$PATH"
demo=$(mktemp -d "${TMPDIR:-/tmp}/starry-demo.XXXXXX")
export STARRY_HOME="$demo/home" STARRY_RUNTIME="$demo/run" STARRY_CONFIG="$demo/config"
unset STARRY_TRACE_ID STARRY_SESSION_ID STARRY_CAUSE_ID
daemon=
cleanup() {
	status=$?
	if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" || true; fi
	rm -rf "$demo"
	exit "$status"
}
trap cleanup EXIT INT TERM

# Bold headings on a terminal, plain text elsewhere or with NO_COLOR.
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m') off=$(printf '\033[0m')
else bold= off=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off" >&2; }

# poll SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
poll() {
	n=$(($1 * 50)); shift
	until "$@"; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then echo "demo: timed out waiting for: $*" >&2; return 1; fi
		sleep 0.02
	done
}

say "configuration: the shipped starry.yaml, master: master, the example agents"
mkdir -p "$STARRY_CONFIG/agents"
cp "$top/etc/starry/starry.yaml" "$STARRY_CONFIG/"
echo 'master: master' >> "$STARRY_CONFIG/starry.yaml"
ln -s "$top/share/starry/agents/master.yaml" "$top/share/starry/agents/worker.yaml" \
	"$STARRY_CONFIG/agents/"
starry-spawn validate

say "booting: starry-spawn serve --boot (each step is also an event)"
mkfifo "$demo/ready"
starry-spawn serve --boot --ready-fd 3 3>"$demo/ready" 2>"$demo/serve.log" </dev/null &
daemon=$!
read -r _ < "$demo/ready"
cat "$demo/serve.log" >&2

say "the master asked for a worker (agent.start); waiting for its report"
reported() {
	[ "$(starry-state query --type 'demo:*' 2>/dev/null | wc -l)" -ge 2 ]
}
poll 10 reported
finished() { starry-spawn status worker-1 --json 2>/dev/null | grep -q '"state":"exited"'; }
poll 10 finished
starry-spawn list

say "what the worker reported, from the store"
starry-state query --type 'demo:*' | jq -c '[.source, .type, .payload]'

say "the stored trace of the chain: boot, master, tool call, worker, answer"
trace=$(starry-state query --type demo:delegated | jq -r .traceId)
starry-state trace "$trace"

say "the bus routes a burst: 5 background events, then 1 urgent; urgent leaves first"
{
	for i in 1 2 3 4 5; do starry-bus emit job:background --priority 5 --payload "$i"; done
	starry-bus emit alert:server_down --priority 0 --payload '"urgent"'
} > "$demo/burst.jsonl"
starry-bus route --queue 100 < "$demo/burst.jsonl" | jq -c '[.priority, .type, .payload]'

say "stopping the daemon (SIGTERM): the master, then the infrastructure"
kill "$daemon"; wait "$daemon" || true; daemon=
tail -n 1 "$demo/serve.log" >&2
starry-spawn list
