#!/bin/sh
# With no arguments (or "patroni"): write /etc/patroni/patroni.yml from the
# environment and run Patroni as this container's PID 1 (it stops PostgreSQL on
# SIGTERM and reaps its children). Any other command runs as given (e.g. etcd).
#
# Environment:
#   MEMBER_NAME            this member's name in the group (required; also its
#                          application_name, so synchronous_standby_names shows it)
#   MEMBER_ADDRESS         host name or address the others reach it at (default: MEMBER_NAME)
#   ETCD_HOSTS             etcd's client endpoints, host:port[,host:port...] (default etcd:2379)
#   PATRONI_SCOPE          the group's name in etcd (default wharf)
#   PG_SUPERUSER_PASSWORD  password of postgres (required)
#   PG_REPLICATION_PASSWORD password of replicator, the standbys' user (required)
#   WHARF_DB_PASSWORD      password of Wharf's role (required; WHARF_DB_USER and
#                          WHARF_DB_NAME default to wharf), created at bootstrap
#   PATRONI_TTL, PATRONI_LOOP_WAIT, PATRONI_RETRY_TIMEOUT   (default 8, 2, 3)
# The bootstrap section only counts when the group is first created (it is then
# kept in etcd; change it later with `patronictl edit-config`).
set -eu
if [ $# -gt 0 ] && [ "$1" != patroni ]; then
  exec "$@"
fi
: "${MEMBER_NAME:?MEMBER_NAME is required}"
: "${PG_SUPERUSER_PASSWORD:?PG_SUPERUSER_PASSWORD is required}"
: "${PG_REPLICATION_PASSWORD:?PG_REPLICATION_PASSWORD is required}"
: "${WHARF_DB_PASSWORD:?WHARF_DB_PASSWORD is required}"
address="${MEMBER_ADDRESS:-$MEMBER_NAME}"
# YAML single-quoted scalars: double any quote.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
conf=/etc/patroni/patroni.yml
umask 077
cat >"$conf" <<YAML
scope: $(q "${PATRONI_SCOPE:-wharf}")
name: $(q "$MEMBER_NAME")
restapi:
  listen: 0.0.0.0:8008
  connect_address: $(q "$address:8008")
etcd3:
  hosts: $(q "${ETCD_HOSTS:-etcd:2379}")
bootstrap:
  dcs:
    # A lost leader's key expires within ttl; a standby then takes it on its next
    # loop. Patroni wants loop_wait + 2 * retry_timeout <= ttl.
    ttl: ${PATRONI_TTL:-8}
    loop_wait: ${PATRONI_LOOP_WAIT:-2}
    retry_timeout: ${PATRONI_RETRY_TIMEOUT:-3}
    maximum_lag_on_failover: 1048576
    # Only a synchronous standby (which has every acknowledged commit) may be promoted.
    synchronous_mode: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        synchronous_commit: "on"
        max_connections: 200
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  post_bootstrap: /usr/local/bin/patroni-post-bootstrap
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $(q "$address:5432")
  # A directory inside the volume, not the volume itself: Patroni moves a failed
  # data directory aside, which a mount point does not allow.
  data_dir: /var/lib/postgresql/data/pgdata
  bin_dir: /usr/lib/postgresql/15/bin
  use_unix_socket: true
  # A new standby's pg_basebackup asks for an immediate checkpoint: the default
  # (spread) one keeps it waiting for minutes after the group was created.
  basebackup:
    - checkpoint: fast
  pg_hba:
    - local all all trust
    - host replication replicator all scram-sha-256
    - host all all all scram-sha-256
  authentication:
    superuser:
      username: postgres
      password: $(q "$PG_SUPERUSER_PASSWORD")
    replication:
      username: replicator
      password: $(q "$PG_REPLICATION_PASSWORD")
  parameters:
    unix_socket_directories: /var/run/postgresql
    password_encryption: scram-sha-256
YAML
exec patroni "$conf"
