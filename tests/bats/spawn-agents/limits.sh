#!/bin/sh
# limits.sh: writes its resource limits (open files, address space in KiB,
# CPU seconds) into limits in $STARRY_AGENT_DIR, one a line; then sleeps.
{
	echo "nofile $(ulimit -n)"
	echo "as $(ulimit -v)"
	echo "cpu $(ulimit -t)"
} > "$STARRY_AGENT_DIR/limits.tmp"
mv "$STARRY_AGENT_DIR/limits.tmp" "$STARRY_AGENT_DIR/limits"
exec sleep 1000
