#!/bin/sh
# setup.sh: install the Debian 12 packages whet builds against. Idempotent;
# run as root (or with sudo available).
set -eu
PKGS="gcc make cmake pkg-config libopenblas-dev libcjson-dev libyaml-dev libpcre2-dev \
libutf8proc-dev libmicrohttpd-dev libcairo2-dev python3-numpy curl ca-certificates"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
