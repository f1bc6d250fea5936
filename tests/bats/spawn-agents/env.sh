#!/bin/sh
# env.sh: writes its environment to env, its working folder to cwd and its
# arguments (one a line) to args, all in $STARRY_AGENT_DIR; then sleeps.
env > "$STARRY_AGENT_DIR/env.tmp"
pwd > "$STARRY_AGENT_DIR/cwd"
: > "$STARRY_AGENT_DIR/args"
for a; do
	printf '%s\n' "$a" >> "$STARRY_AGENT_DIR/args"
done
mv "$STARRY_AGENT_DIR/env.tmp" "$STARRY_AGENT_DIR/env"
exec sleep 1000
