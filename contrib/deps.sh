#!/bin/sh
# The Debian packages starry builds and tests with: what is missing is
# installed with apt-get when run as root; otherwise it is named, with the
# command that installs it, and the exit status is 1.
set -u
pkgs="gcc make pkg-config libc6-dev libjansson-dev libyaml-dev libcmocka-dev
bats bats-assert bats-support mandoc jq util-linux clang
libsqlite3-dev sqlite3 s6 bubblewrap tmux"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "starry: missing packages:$missing" >&2
	echo "starry: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "starry: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2 || exit 1
