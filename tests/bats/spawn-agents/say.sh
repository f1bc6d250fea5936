#!/bin/sh
# say.sh [LINE...]: an agent that notes its pid in $STARRY_AGENT_DIR/pids,
# prints each LINE on stdout, then sleeps (as the same pid) until stopped.
echo $$ >> "$STARRY_AGENT_DIR/pids"
for line; do
	printf '%s\n' "$line"
done
exec sleep 1000
