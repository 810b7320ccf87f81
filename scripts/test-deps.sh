#!/usr/bin/env bash
# What the test suite needs from Debian and PyPI, installed when missing (as root; otherwise it says what
# is missing and stops). Called by scripts/test.sh and .ci/run; quick when everything is there.
#
# Debian:
#   tzdata: IANA zones for users' time zones; python3: the reference implementation and the loopback peers;
#   libsqlite3-dev: the state store (GRDB); libsystemd-dev: sd_notify and the journal (CSystemd);
#   systemd-container: real systemd 252 in systemd-nspawn for the service tests; procps: ps/pgrep in the
#   service test; openssl: test certificates and keys for the TLS and push peers; prometheus: promtool checks
#   a scrape of /metrics; libnats-dev: the NATS C client with JetStream (CNats, cluster mode's event log);
#   nats-server: the JetStream server the JourneyNATS tests start on loopback; postgresql-15: the cluster
#   state store's tests start a PostgreSQL 15 of their own (initdb and postgres as the postgres user, on a
#   temporary socket and port); chromium: the report test renders the HTML report headless.
# PyPI:
#   aiosmtpd: a real SMTP server; segment-analytics-python, rudder-sdk-python: the real clients against the
#   HTTP input; cryptography: the peers that verify FCM's RS256 and APNs' ES256 JWTs; h2: the APNs peer
#   (HTTP/2 over TLS).
set -euo pipefail

debian=(tzdata python3 python3-pip libsqlite3-dev libsystemd-dev systemd-container procps openssl prometheus
  libnats-dev nats-server postgresql-15 chromium)
pypi=(aiosmtpd segment-analytics-python rudder-sdk-python cryptography h2)

missing=()
for package in "${debian[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

absent=()
for package in "${pypi[@]}"; do python3 -m pip show -q "$package" >/dev/null 2>&1 || absent+=("$package"); done
if ((${#absent[@]})); then
  echo "test-deps: installing from PyPI: ${absent[*]}" >&2
  # Debian's own python3 marks itself externally managed (PEP 668) and pip refuses to install beside
  # apt's packages unless told to; these test clients conflict with none of them.
  flags=()
  if python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    flags+=(--break-system-packages)
  fi
  python3 -m pip install -q "${flags[@]}" "${absent[@]}"
fi
