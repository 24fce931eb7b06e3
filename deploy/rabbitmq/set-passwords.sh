#!/bin/sh
# Sets the RabbitMQ passwords of the deploybus users, after `rabbitmqctl import_definitions
# definitions.json` (the definitions carry no passwords: an imported user cannot log in until this
# runs, and a re-import blanks the passwords again, so run this after every import).
#
#   set-passwords.sh DIR     one file per user, named after the user, holding its password
#                            (e.g. /etc/deploybus/rabbitmq-passwords/git-watcher)
#   set-passwords.sh         the environment: DEPLOYBUS_PASSWORD_<USER>, the user name in upper case
#                            with "-" as "_" (DEPLOYBUS_PASSWORD_GIT_WATCHER)
#
# The users are those with permissions on the vhost (DEPLOYBUS_VHOST, default "deploybus"). A user
# without a password here is left as it is and named on stderr. Passwords go to rabbitmqctl on stdin,
# never on a command line (which any local user could read in /proc).
# Extra arguments for rabbitmqctl (e.g. "-n rabbit@node2") go in RABBITMQCTL_OPTS.
set -eu

vhost="${DEPLOYBUS_VHOST:-deploybus}"
dir="${1:-}"
if [ -n "$dir" ] && [ ! -d "$dir" ]; then
  echo "set-passwords.sh: $dir is not a directory of password files" >&2
  exit 64
fi

# import_definitions finishes in the background: give it up to 30 s to create the users.
tries=0
while :; do
  # shellcheck disable=SC2086 # RABBITMQCTL_OPTS is a list of words on purpose
  users=$(rabbitmqctl ${RABBITMQCTL_OPTS:-} -q list_permissions -p "$vhost" --no-table-headers 2>/dev/null | cut -f1 || true)
  tries=$((tries + 1))
  if [ -n "$users" ] || [ "$tries" -ge 30 ]; then break; fi
  sleep 1
done
if [ -z "$users" ]; then
  echo "set-passwords.sh: no user has permissions on vhost \"$vhost\"; import definitions.json first" >&2
  exit 1
fi

set_count=0
missing=""
for user in $users; do
  password=""
  if [ -n "$dir" ]; then
    if [ -f "$dir/$user" ]; then password=$(cat "$dir/$user"); fi
  else
    variable="DEPLOYBUS_PASSWORD_$(printf '%s' "$user" | tr 'a-z-' 'A-Z_')"
    password=$(printenv "$variable" || true)
  fi
  if [ -z "$password" ]; then
    missing="$missing $user"
    continue
  fi
  # shellcheck disable=SC2086
  printf '%s\n' "$password" | rabbitmqctl ${RABBITMQCTL_OPTS:-} -q change_password "$user" >/dev/null
  set_count=$((set_count + 1))
done

echo "set-passwords.sh: set $set_count password(s) on vhost \"$vhost\""
if [ -n "$missing" ]; then
  echo "set-passwords.sh: no password given for:$missing (left unchanged; a user never given one cannot log in)" >&2
fi
