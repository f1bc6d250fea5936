#!/bin/sh
# version.sh: appends $VERSION (from the template's env) to versions in
# $STARRY_AGENT_DIR at each start, then sleeps.
echo "$VERSION" >> "$STARRY_AGENT_DIR/versions"
exec sleep 1000
