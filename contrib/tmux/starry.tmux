#!/usr/bin/env bash
# starry.tmux: a tmux plugin (TPM, or run-shell from ~/.tmux.conf) that
# shows the AI agents of starry-tmux-scan(1) in the status line and binds
# a key to the menu of those that need you.
#
#   set -g @plugin 'path/to/starry/contrib/tmux'     # with TPM, or:
#   run-shell /path/to/starry/contrib/tmux/starry.tmux
#
# Options (set before the plugin runs):
#   @starry-status   where the counts go: right (default), left, or off
#   @starry-menu-key the prefix key for the menu (default: a); "" for none
#   @starry-watch    on: start the watcher (hooks, faster status) when
#                    none runs for this server
#   @starry-command  the starry-tmux-scan to run (default: from PATH)
set -u

opt() {
	local v
	v=$(tmux show-option -gqv "$1")
	printf '%s' "${v:-$2}"
}

scan=$(opt @starry-command "$(command -v starry-tmux-scan 2>/dev/null)")
if [ -z "$scan" ]; then
	tmux display-message "starry.tmux: starry-tmux-scan is not on PATH (set @starry-command)"
	exit 0
fi

# The counts, in front of what the status line already shows; once.
where=$(opt @starry-status right)
case $where in
right | left)
	current=$(tmux show-option -gqv "status-$where")
	case $current in
	*"starry-tmux-scan"*) ;;
	*) tmux set-option -g "status-$where" "#($scan status)$current" ;;
	esac
	# The counts change with the agents, not with the clock.
	interval=$(tmux show-option -gqv status-interval)
	if [ "${interval:-15}" -gt 5 ]; then
		tmux set-option -g status-interval 5
	fi
	;;
esac

key=$(opt @starry-menu-key a)
if [ -n "$key" ]; then
	tmux bind-key "$key" run-shell -b "$scan menu -c '#{client_name}'"
fi

if [ "$(opt @starry-watch off)" = on ]; then
	tmux run-shell -b "$scan watch >/dev/null 2>&1 || true"
fi
