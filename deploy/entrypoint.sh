#!/bin/sh
# Container entrypoint of vhbot.
#   no arguments:   migrate the database, then replace this shell with the bot,
#                   so the SIGTERM of `docker stop` reaches `vhbot run` itself.
#   with arguments: run them instead (`docker compose run --rm keytool vhbot keys init`).
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

vhbot db upgrade
exec vhbot run
