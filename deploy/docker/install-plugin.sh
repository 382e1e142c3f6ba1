#!/bin/sh
# Installs the openclaw-mlflow package into a gateway image at build time (the Dockerfile's RUN step;
# also run by the project's tests against the real OpenClaw):
#
#   install-plugin.sh PACKAGE_DIR [DEST]     (DEST default: /opt/openclaw-mlflow)
#
# The package goes to a fixed folder outside OpenClaw's state directory, which is a volume at run time
# (a PersistentVolumeClaim, a Docker volume) and would hide anything installed into it at build time.
# The gateway finds it through `plugins.load.paths` in openclaw.json. The step fails the build when
# this image's `openclaw` cannot load the package with a configuration that uses it.
set -eu
src=${1:?usage: install-plugin.sh PACKAGE_DIR [DEST]}
dest=${2:-/opt/openclaw-mlflow}

for f in openclaw.plugin.json package.json index.js native/openclaw-mlflow-host.node native/libopenclaw_mlflow.so; do
  [ -f "$src/$f" ] || { echo "install-plugin: $src/$f is missing (build the package with 'make package')" >&2; exit 1; }
done
mkdir -p "$dest"
cp -R "$src"/. "$dest"/

# A throwaway state directory: this image's OpenClaw validates a configuration that loads the package.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
cat > "$check/openclaw.json" <<EOF
{
  "plugins": {
    "load": { "paths": ["$dest"] },
    "entries": {
      "mlflow": {
        "enabled": true,
        "hooks": { "allowConversationAccess": true },
        "config": { "trackingUri": "http://mlflow:5000", "experimentName": "openclaw" }
      }
    }
  }
}
EOF
OPENCLAW_STATE_DIR="$check" OPENCLAW_CONFIG_PATH="$check/openclaw.json" HOME="$check" openclaw config validate
OPENCLAW_STATE_DIR="$check" OPENCLAW_CONFIG_PATH="$check/openclaw.json" HOME="$check" openclaw plugins inspect mlflow >"$check/inspect.txt" 2>&1 \
  || { cat "$check/inspect.txt" >&2; echo "install-plugin: openclaw cannot inspect the mlflow plugin from $dest" >&2; exit 1; }
echo "install-plugin: openclaw-mlflow $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$dest/package.json") installed in $dest"
