#!/bin/sh
# stubborn.sh: ignores SIGTERM; writes "ready" once it does.
trap '' TERM
echo $$ >> "$STARRY_AGENT_DIR/pids"
echo ready > "$STARRY_AGENT_DIR/ready"
exec sleep 1000
