#!/usr/bin/env bash
# Installs journeyd as a systemd service: the binary, journeyd.service, journeyd@.service (cluster instances), journeyd.socket, journeyd-http.socket and journeyd-admin.socket (not enabled), the message
# catalog (then `journalctl --update-catalog`, so `journalctl -x` explains journeyd's records), the
# operations guide, and /etc/journeyd from the repository's rules/ (only when /etc/journeyd has no
# journeyd.yaml yet: an operator's rules are never overwritten).
#
#   scripts/install.sh [--binary PATH] [--prefix /usr] [--config-dir /etc/journeyd] [--rules DIR]
#                      [--no-catalog-update] [--no-daemon-reload]
#
# With --prefix /usr (the default) the files land where a distribution package puts them
# (/usr/bin, /usr/lib/systemd/system, /usr/lib/systemd/catalog, /usr/share/doc/journeyd); with
# --prefix /usr/local in the matching /usr/local directories, which systemd and journalctl also read.
# The units' ExecStart=/ExecStartPre=/ExecReload= are rewritten to the installed binary.
# Enable it with: systemctl enable --now journeyd.socket journeyd.service
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

binary=""
prefix=/usr
config_dir=/etc/journeyd
rules="$repo/rules"
update_catalog=1
daemon_reload=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --config-dir) config_dir="$2"; shift 2 ;;
    --rules) rules="$2"; shift 2 ;;
    --no-catalog-update) update_catalog=0; shift ;;
    --no-daemon-reload) daemon_reload=0; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$binary" ]]; then
  for candidate in "$repo/.build/release/journeyd" "$repo/.build/debug/journeyd"; do
    [[ -x "$candidate" ]] && { binary="$candidate"; break; }
  done
fi
[[ -x "$binary" ]] || { echo "install.sh: no journeyd binary (build it, or pass --binary PATH)" >&2; exit 1; }

bindir="$prefix/bin"
unitdir="$prefix/lib/systemd/system"
catalogdir="$prefix/lib/systemd/catalog"
docdir="$prefix/share/doc/journeyd"

install -D -m 0755 "$binary" "$bindir/journeyd"
for unit in journeyd.service journeyd@.service journeyd.socket journeyd-http.socket journeyd-admin.socket; do
  sed "s|/usr/bin/journeyd|$bindir/journeyd|g" "$repo/systemd/$unit" > "$unit.tmp.$$"
  install -D -m 0644 "$unit.tmp.$$" "$unitdir/$unit"
  rm -f "$unit.tmp.$$"
done
install -D -m 0644 "$repo/systemd/journeyd.catalog" "$catalogdir/journeyd.catalog"
install -D -m 0644 "$repo/docs/systemd.md" "$docdir/systemd.md"
install -D -m 0644 "$repo/docs/HTTP.md" "$docdir/HTTP.md"
install -D -m 0644 "$repo/docs/DEPLOYING-CLUSTER.md" "$docdir/DEPLOYING-CLUSTER.md"

if [[ -e "$config_dir/journeyd.yaml" ]]; then
  echo "install.sh: $config_dir/journeyd.yaml exists; the rules there are left as they are"
else
  install -d -m 0755 "$config_dir"
  cp -R "$rules/." "$config_dir/"
  chmod -R u=rwX,go=rX "$config_dir"
fi

if [[ $update_catalog == 1 ]]; then journalctl --update-catalog; fi
if [[ $daemon_reload == 1 && -d /run/systemd/system ]]; then systemctl daemon-reload; fi
echo "install.sh: installed $bindir/journeyd, units in $unitdir, catalog in $catalogdir, rules in $config_dir"
