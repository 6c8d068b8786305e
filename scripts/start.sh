#!/usr/bin/env bash
# The main job on a fresh machine: set up what is missing, build the page, make the
# embedded VM's guest (first time only), generate the bundled demo image (a linux/386
# busybox image, as an OCI layout), verify it through the library, then serve the page
# and print the URL that boots the demo in the embedded VM. Runs until Ctrl-C.
# IMAGEMOUNTER_LISTEN=tcp:HOST:PORT changes where the page is served.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
[ -f .cache/vm/v86/assets.json ] || npm run --silent vm-assets
node --import tsx fixtures/generate.ts .cache/fixtures >/dev/null
demo=.cache/fixtures/run-386
cli() { node dist/cli.js "$@"; }
cli inspect "$demo" --platform linux/386
echo
echo "Root filesystem (imagemounter ls $demo /):"
cli ls "$demo" / --platform linux/386
echo
listen=${IMAGEMOUNTER_LISTEN:-tcp:127.0.0.1:8080}
echo "Serving the page; open the URL after → (the first boot takes a minute and is saved; later loads start from the snapshot)."
exec node dist/cli.js web --listen "$listen" --layout demo="$demo"
