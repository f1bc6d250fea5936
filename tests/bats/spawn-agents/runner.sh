#!/bin/sh
# runner.sh MANIFEST: an agent_runner for OpenStarry manifests: writes the
# manifest's path and its identity.id into runner in $STARRY_AGENT_DIR.
printf '%s\n' "$1" > "$STARRY_AGENT_DIR/runner.tmp"
jq -r .identity.id "$1" >> "$STARRY_AGENT_DIR/runner.tmp"
mv "$STARRY_AGENT_DIR/runner.tmp" "$STARRY_AGENT_DIR/runner"
exec sleep 1000
