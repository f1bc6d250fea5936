#!/bin/sh
# probe.sh: what a sandboxed agent can see and do, one finding a line in
# probe in its folder (written last, whole, when done).
out=$STARRY_AGENT_DIR/probe.tmp
cd "$STARRY_AGENT_DIR" || exit 1
{
	for dev in /dev/*; do
		echo "dev $dev"
	done
	find /dev -type b 2>/dev/null | sed 's/^/blockdev /'
	for dir in /plugins/*; do
		echo "plugin $dir $(cat "$dir/file" 2>/dev/null)"
		touch "$dir/written" 2>/dev/null && echo "wrote $dir"
	done
	touch /usr/starry-probe 2>/dev/null && echo "wrote /usr"
	touch /etc/starry-probe 2>/dev/null && echo "wrote /etc"
	echo mine > own && echo "wrote own"
	sed -n '3,$p' /proc/net/dev | sed 's/:.*//; s/^ */netif /'
	ip -o link 2>/dev/null | awk -F': ' '{ print "iplink " $2 }'
} > "$out" 2>&1
mv "$out" probe
exec sleep 1000
