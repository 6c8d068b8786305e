#!/usr/bin/env bash
# The main job on the bundled default image: generate it (busybox userland, three
# layers: gzip, zstd, uncompressed), pull it through the library with every blob
# verified, and show what the VM would mount. Later stages boot it in a VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node --import tsx fixtures/generate.ts .cache/fixtures >/dev/null
image=.cache/fixtures/layers
cli() { node --import tsx src/cli/main.ts "$@"; }
cli inspect "$image"
echo
echo "Root filesystem (imagemounter ls $image /):"
cli ls "$image" /
echo
echo "Served tree: $(cli manifest "$image" | wc -l) entries, each verified and hashed (imagemounter manifest $image)."
