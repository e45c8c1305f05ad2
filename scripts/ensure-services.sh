#!/usr/bin/env bash
# Make sure the servers the tests talk to can be had: PostgreSQL (a running one on
# 127.0.0.1:5432, CITYOPS_TEST_POSTGRES_URL, or installed binaries the fixtures start as the
# postgres user on a free port), and nats-server (CITYOPS_TEST_NATS_URL, or the installed binary
# the bus fixtures start with JetStream on a free port).
set -euo pipefail

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

have_pg_binaries() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
pg_running() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432
}

if [ -n "${CITYOPS_TEST_POSTGRES_URL:-}" ] || pg_running; then
  echo "postgres: reachable"
elif have_pg_binaries; then
  echo "postgres: binaries installed; the tests start a throwaway server"
else
  echo "postgres: installing server binaries"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

have_nats() {
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ]
}

if [ -n "${CITYOPS_TEST_NATS_URL:-}" ]; then
  echo "nats: using $CITYOPS_TEST_NATS_URL"
elif have_nats; then
  echo "nats: nats-server installed; the tests start a throwaway server with JetStream"
else
  echo "nats: installing nats-server"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi
