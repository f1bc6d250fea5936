#!/bin/sh
# master.sh WORKER_TEMPLATE WORKER_ID: asks its supervisor, through the
# AgentManagerTool, to start a worker; copies the answer it reads on stdin
# into $STARRY_AGENT_DIR/result, then sleeps.
printf '{"type":"EXEC:TOOL_CALL","payload":{"toolCallId":"call-1","tool":"agent.start","arguments":{"template":"%s","id":"%s","args":["from-master"]}}}\n' "$1" "$2"
IFS= read -r line && printf '%s\n' "$line" > "$STARRY_AGENT_DIR/result.tmp" &&
	mv "$STARRY_AGENT_DIR/result.tmp" "$STARRY_AGENT_DIR/result"
exec sleep 1000
