#!/bin/sh
# safety.sh MODE: prints tool calls and their results, then copies the
# first line it reads on stdin into $STARRY_AGENT_DIR/stdin and sleeps.
# MODE repeated: the same call fails 3 times; streak: 5 different calls
# fail in a row; rate: 8 of 10 results fail, never more than 3 in a row.
call() {	# call N TOOL ARG SUCCESS
	printf '{"type":"EXEC:TOOL_CALL","payload":{"toolCallId":"c%s","tool":"%s","arguments":{"path":"%s"}}}\n' "$1" "$2" "$3"
	if [ "$4" = true ]; then
		printf '{"type":"EXEC:TOOL_RESULT","payload":{"toolCallId":"c%s","success":true,"result":"ok"}}\n' "$1"
	else
		printf '{"type":"EXEC:TOOL_RESULT","payload":{"toolCallId":"c%s","success":false,"error":{"code":"ENOENT","message":"no such file","source":"fs.read"}}}\n' "$1"
	fi
}
case $1 in
repeated)
	for n in 1 2 3; do call "$n" fs.read /same false; done ;;
streak)
	for n in 1 2 3 4 5; do call "$n" fs.read "/file$n" false; done ;;
rate)
	n=0
	for ok in false false false true false false false true false false; do
		n=$((n + 1))
		call "$n" fs.read "/file$n" "$ok"
	done ;;
esac
IFS= read -r line && printf '%s\n' "$line" > "$STARRY_AGENT_DIR/stdin.tmp" &&
	mv "$STARRY_AGENT_DIR/stdin.tmp" "$STARRY_AGENT_DIR/stdin"
exec sleep 1000
