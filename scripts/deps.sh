#!/usr/bin/env bash
# Installs the Debian packages the build, the tests, the demo and the
# benchmarks need. Idempotent: does nothing when everything is present.
set -euo pipefail
pkgs=(
  build-essential pkg-config clang clang-format
  libnetfilter-queue-dev libnfnetlink-dev libmnl-dev libip4tc-dev
  libsqlite3-dev sqlite3 check libsubunit-dev libpcap-dev libsodium-dev libssl-dev libhttp-parser-dev
  iproute2 iptables conntrack tcpdump tshark tcpreplay
  nginx-light lighttpd curl wrk apache2-utils iperf3 haproxy python3 gnuplot-nox
  procps psmisc
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packaged web servers start themselves on install; the tests start their
# own instances inside namespaces, so stop the system-wide ones.
for s in nginx lighttpd haproxy; do
  systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
done
