#!/bin/sh
# The compose file's RabbitMQ: start the broker, import deploy/rabbitmq/definitions.json, set the
# passwords from DEPLOYBUS_PASSWORD_<USER>, and only then report healthy (the marker file), so no
# daemon connects before its user can log in. SIGTERM stops the broker cleanly.
set -eu
marker=/var/lib/rabbitmq/deploybus-ready
rm -f "$marker"
rabbitmq-server &
server=$!
trap 'rabbitmqctl stop; wait "$server"; exit 0' TERM INT
until rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do
  if ! kill -0 "$server" 2>/dev/null; then echo "rabbitmq-server exited" >&2; exit 1; fi
  sleep 1
done
rabbitmqctl import_definitions /etc/deploybus/definitions.json
sh /etc/deploybus/set-passwords.sh
touch "$marker"
wait "$server"
