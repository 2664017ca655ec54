#!/usr/bin/env bash
# Installs the engines and tools dialpay needs from Debian's packages, only
# when they are missing. Idempotent. Called by `make setup`.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }
have nats-server || need+=(nats-server)
have initdb || need+=(postgresql)
have promtool || need+=(prometheus)
have tshark || need+=(tshark)
perl -MNet::SMPP -e1 >/dev/null 2>&1 || need+=(libnet-smpp-perl)
have bearerbox || need+=(kannel)
have openssl || need+=(openssl)   # the TLS tests make their certificates
have node || need+=(nodejs npm)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: system packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${need[*]}" >&2
  echo "setup: run as root, or: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged servers; dialpay runs its own, so leave theirs alone.
echo "setup: done"
