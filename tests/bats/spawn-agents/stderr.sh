#!/bin/sh
# stderr.sh COUNT: writes COUNT numbered lines of 100 bytes to stderr, one
# write each, then "done" into $STARRY_AGENT_DIR/done, and sleeps.
i=1
while [ "$i" -le "$1" ]; do
	printf 'line %06d %087d\n' "$i" 0 >&2
	i=$((i + 1))
done
echo done > "$STARRY_AGENT_DIR/done"
exec sleep 1000
