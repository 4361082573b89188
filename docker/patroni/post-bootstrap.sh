#!/bin/sh
# Patroni's bootstrap.post_bootstrap: runs once, on the member that initialised the
# cluster, with a superuser connection string as $1. Creates Wharf's role and
# database (Patroni 3's bootstrap.users is deprecated).
set -eu
psql "$1" -q -v ON_ERROR_STOP=1 -v user="${WHARF_DB_USER:-wharf}" -v pw="$WHARF_DB_PASSWORD" \
  -v db="${WHARF_DB_NAME:-wharf}" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
SQL
