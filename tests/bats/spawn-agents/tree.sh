#!/bin/sh
# tree.sh: a process tree that shrugs off SIGTERM. Every process ignores
# TERM; the agent has a child with a grandchild, and a grandchild that
# left through setsid into a session of its own, orphaned at once. Each
# pid goes into tree.pids; "ready" is written when all 5 are there.
cd "$STARRY_AGENT_DIR" || exit 1
trap '' TERM
echo $$ >> tree.pids
sh -c 'echo $$ >> tree.pids; sleep 1000 & echo $! >> tree.pids; wait' &
sh -c 'setsid sh -c "echo \$\$ >> tree.pids; exec sleep 1000" &'
sleep 1000 &
echo $! >> tree.pids
while [ "$(wc -l < tree.pids)" -lt 5 ]; do
	sleep 0.01
done
echo ready > ready
wait
