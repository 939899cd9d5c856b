#!/usr/bin/env bash
# Builds Vigil's container image (deploy/Dockerfile) so that the build itself needs no network:
#   1. the wheels of Vigil's own packages (uv build, the whole workspace) and of every locked
#      dependency (uv export --frozen, then pip download for CPython 3.11 on this machine's
#      architecture: the python3 of Debian bookworm) go into a wheelhouse;
#   2. `docker build` runs on a context holding only the Dockerfile and that wheelhouse, and
#      installs it with `pip install --no-index`.
# Only step 1 talks to PyPI, from the host (with the host's CA trust); nothing inside the
# build does, unless the base image lacks python3 (debian:bookworm-slim does: apt-get then
# installs it from Debian).
#
# Usage: scripts/build-image.sh [TAG] [docker build options...]   (default TAG: vigil:latest)
# Env:   VIGIL_IMAGE_CONTEXT  where the context is made (default: build/image)
set -euo pipefail

cd "$(dirname "$0")/.."
TAG="${1:-vigil:latest}"
shift || true
CONTEXT="${VIGIL_IMAGE_CONTEXT:-build/image}"
UV="${UV:-.tools/bin/uv}"
[[ -x "$UV" ]] || UV="$(command -v uv || true)"
PIP_PYTHON="${PIP_PYTHON:-.tools/bin/python}"
[[ -x "$PIP_PYTHON" ]] || PIP_PYTHON=python3

say() { echo "build-image: $*" >&2; }

if [[ -z "$UV" ]]; then
  say "uv is missing: run make install (it puts uv in .tools/), or install uv"
  exit 1
fi

ARCH="$(uname -m)"
# Every manylinux tag glibc 2.36 (bookworm's) can run, newest first: pip takes exact tags.
PLATFORMS=()
for minor in $(seq 36 -1 5); do PLATFORMS+=(--platform "manylinux_2_${minor}_${ARCH}"); done
PLATFORMS+=(--platform "manylinux2014_${ARCH}" --platform "manylinux2010_${ARCH}")
PLATFORMS+=(--platform "manylinux1_${ARCH}" --platform "linux_${ARCH}")

rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/wheels"
say "wheels of the workspace (uv build)"
"$UV" build --all-packages --wheel --quiet --out-dir "$CONTEXT/wheels"
say "wheels of the locked dependencies (uv export + pip download)"
"$UV" export --frozen --no-dev --no-emit-workspace --no-hashes --quiet \
  --output-file "$CONTEXT/wheels/requirements.txt"
"$PIP_PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
  --only-binary=:all: --python-version 3.11 --implementation cp \
  --abi cp311 --abi abi3 --abi none "${PLATFORMS[@]}" \
  --requirement "$CONTEXT/wheels/requirements.txt" --dest "$CONTEXT/wheels" 2> >(
    grep -v "is ignored: it is neither a file nor a directory" >&2
  )
cp deploy/Dockerfile "$CONTEXT/Dockerfile"
say "docker build -t $TAG $CONTEXT"
docker build --tag "$TAG" "$@" "$CONTEXT"
