#!/usr/bin/env bash
# Installs what tests/ops/test_container.py needs to build and run the project's Containerfile without a
# registry: podman (build and run), mmdebstrap (a base image from Debian packages, since no registry image
# can be pulled here), runc (crun cannot start containers on these machines, see tests/support/containers.py),
# uidmap, buildah and skopeo (podman's companions). Idempotent: installs only what is missing.
set -euo pipefail
missing=()
for tool in podman buildah skopeo mmdebstrap runc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
