#!/bin/sh
# The demo's master agent. It counts its boots in its snapshot (restored
# through STARRY_SNAPSHOT), asks the daemon for a worker through the
# AgentManagerTool (an EXEC:TOOL_CALL of agent.start on stdout), and
# reports the answer that comes back on stdin as EXEC:TOOL_RESULT.
boots=0
if [ -n "${STARRY_SNAPSHOT:-}" ] && [ -r "$STARRY_SNAPSHOT" ]; then
	boots=$(sed -n 's/.*"boots":\([0-9]*\).*/\1/p' "$STARRY_SNAPSHOT")
fi
boots=$((${boots:-0} + 1))
echo "master $OPENSTARRY_AGENT_ID: boot number $boots"
printf '{"type":"STATE:SNAPSHOT","payload":{"agentId":"%s","boots":%d}}\n' \
	"$OPENSTARRY_AGENT_ID" "$boots"
printf '{"type":"EXEC:TOOL_CALL","payload":{"toolCallId":"call-%d","tool":"agent.start","arguments":{"template":"worker","id":"worker-%d","args":["count the files in /etc"]}}}\n' \
	"$boots" "$boots"
while IFS= read -r line; do
	case $line in
	*'"EXEC:TOOL_RESULT"'*'"success":true'*)
		echo '{"type":"demo:delegated","payload":{"ok":true}}' ;;
	*'"EXEC:TOOL_RESULT"'*)
		echo '{"type":"demo:delegated","payload":{"ok":false}}' ;;
	esac
done
