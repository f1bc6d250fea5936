#!/bin/sh
# hostile.sh: what a broken agent may print: a 1 MiB line, invalid UTF-8,
# a JSON object whose type is not a type, binary garbage on stderr; then a
# plain line "still here" and sleep.
head -c 1048576 /dev/zero | tr '\0' a
echo
printf 'bad utf-8: \377\376\300\257 end\n'
printf '%s\n' '{"type":"not a type","payload":{"n":1}}'
head -c 8192 /dev/urandom >&2
printf '\0\0\0\n' >&2
echo "still here"
exec sleep 1000
