#!/usr/bin/env bash
# `make package`: the OpenClaw plugin package, dist/openclaw-mlflow/ and its packed .tgz, ready for
#   openclaw plugins install ./dist/openclaw-mlflow      (or npm-pack:dist/openclaw-mlflow-<v>.tgz)
# The JavaScript entry and manifest come from package/; the native parts are the release builds
# of the Node addon (the host) and the MLflow plugin, stripped: OpenClaw copies the whole package
# at every registration, so size matters.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
out="$root/dist/openclaw-mlflow"

# Linked against glibc 2.28, as Node 24's own Linux x64 binaries are, so the package loads wherever
# Node does (Debian 10+, Ubuntu 20.04+, RHEL 8+): zig as the linker (cargo-zigbuild, ziglang), with
# the installed x86_64 std. ZIGBUILD names cargo-zigbuild (the Makefile's, from .cache/zig).
triple=x86_64-unknown-linux-gnu
glibc_target="$triple.2.28"
"${ZIGBUILD:-cargo-zigbuild}" zigbuild --release --target "$glibc_target" -p openclaw-plugin-mlflow -p openclaw-plugin-node
built="$target/$triple/release"
rm -rf "$out" "$root"/dist/openclaw-mlflow-*.tgz
mkdir -p "$out/native"
cp "$root"/package/{index.js,package.json,openclaw.plugin.json,README.md} "$out/"
cp "$built/libopenclaw_mlflow.so" "$out/native/libopenclaw_mlflow.so"
cp "$built/libopenclaw_mlflow_host.so" "$out/native/openclaw-mlflow-host.node"
strip --strip-all "$out"/native/*
(cd "$root/dist" && npm pack --silent --cache "$root/.cache/npm" ./openclaw-mlflow >/dev/null)
tgz=$(ls "$root"/dist/openclaw-mlflow-*.tgz)
echo "package: $out ($(du -sh "$out" | cut -f1) unpacked; $(du -h "$tgz" | cut -f1) packed as ${tgz#$root/})"
