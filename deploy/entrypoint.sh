#!/bin/sh
# Container entrypoint of vhbot.
#   no arguments:   migrate the database, then replace this shell with the bot,
#                   so the SIGTERM of `docker stop` reaches `vhbot run` itself.
#   with arguments: run them instead (`docker compose run --rm keytool vhbot keys init`).
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

# A failed upgrade (database not reachable yet) ends the container; its restart
# policy starts it again. `vhbot run` waits for Telegram by itself.
vhbot db upgrade
exec vhbot run
