#!/bin/sh
# fail.sh [STATUS] [SLOW_RUN]: notes the time of each start (Unix ms) in
# $STARRY_AGENT_DIR/starts, then exits with STATUS (default 1). Start
# number SLOW_RUN runs for 500 ms before it exits.
echo "$(date +%s%3N)" >> "$STARRY_AGENT_DIR/starts"
if [ -n "$2" ] && [ "$(wc -l < "$STARRY_AGENT_DIR/starts")" -eq "$2" ]; then
	sleep 0.5
fi
exit "${1:-1}"
