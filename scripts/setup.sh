#!/usr/bin/env bash
# Installs what the tools and tests need when it is missing: Debian packages (we run as
# root on CI and dev machines; sudo otherwise) and the npm packages from the lock file.
# Sourced-safe and idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  docker-registry   # the real registry the acceptance tests pull from
  skopeo            # pushes the generated OCI layouts to it
  umoci             # independent unpacker the tree is compared against
  busybox-static    # the fixture images' userland
  zstd              # compresses the zstd fixture layers
  openssl           # throwaway certificate for the token-auth registry
  apache2-utils     # htpasswd for the basic-auth registry
  gzip tar          # the native reference of the ingest benchmark
  qemu-system-x86   # boots Debian's kernel as the real 9P client (TCG, no KVM needed)
  cpio              # independent unpacker our initramfs writer is checked against
  diod              # native 9P2000.L server: the reference of the 9P benchmark
  chromium          # the real browser of the page tests (driven by playwright-core)
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# The embedded VM's guest is i386 (v86 emulates a 32-bit PC): its kernel and busybox come
# from Debian's i386 packages, fetched with apt-get download (never installed).
need_update=""
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  echo "setup: dpkg --add-architecture i386 (for the embedded VM's guest packages)" >&2
  $sudo dpkg --add-architecture i386
  need_update=1
fi

missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ -n "$need_update" ]; then
  $sudo apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
