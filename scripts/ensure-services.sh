#!/usr/bin/env bash
# Make sure the servers the tests talk to can be had: PostgreSQL (a running one on
# 127.0.0.1:5432, CITYOPS_TEST_POSTGRES_URL, or installed binaries the fixtures start as the
# postgres user on a free port) and Mosquitto (installed; the MQTT tests start their own).
set -euo pipefail

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
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# Mosquitto: the MQTT tests start their own broker from the installed binary on a free port
# (or use CITYOPS_MQTT_URL when there is no binary).
if [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; then
  echo "mosquitto: installed; the tests start a throwaway broker"
elif [ -n "${CITYOPS_MQTT_URL:-}" ]; then
  echo "mosquitto: not installed; the tests use $CITYOPS_MQTT_URL"
else
  echo "mosquitto: installing"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto >/dev/null
fi
