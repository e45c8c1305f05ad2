#!/usr/bin/env bash
# Make sure the servers the tests talk to can be had: PostgreSQL (a running one on
# 127.0.0.1:5432, CITYOPS_TEST_POSTGRES_URL, or installed binaries the fixtures start as the
# postgres user on a free port), Mosquitto (installed; the MQTT tests start their own) and
# nats-server (CITYOPS_TEST_NATS_URL, or the installed binary the bus fixtures start with
# JetStream on a free port).
set -euo pipefail

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
UPDATED=""
apt_install() {
  if [ -z "$UPDATED" ]; then
    $SUDO apt-get update -qq
    UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

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
  apt_install postgresql
fi

# Mosquitto: the MQTT tests start their own broker from the installed binary on a free port
# (or use CITYOPS_MQTT_URL when there is no binary).
if [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; then
  echo "mosquitto: installed; the tests start a throwaway broker"
elif [ -n "${CITYOPS_MQTT_URL:-}" ]; then
  echo "mosquitto: not installed; the tests use $CITYOPS_MQTT_URL"
else
  echo "mosquitto: installing"
  apt_install mosquitto
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
  apt_install nats-server
fi
