#!/bin/sh
# worker.sh [ARG...]: writes its arguments and trace into marker in
# $STARRY_AGENT_DIR, says "worker done" on stdout and exits 0.
echo "$* $STARRY_TRACE_ID" > "$STARRY_AGENT_DIR/marker"
echo "worker done"
