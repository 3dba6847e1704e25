#!/usr/bin/env bash
# Builds the container image (Dockerfile) with podman, the way this machine allows:
# `podman build --isolation=chroot`, the host's CA bundle given to pip as a build
# secret when present (pip behind a TLS-inspecting proxy; a bind mount over
# /etc/ssl/certs/ca-certificates.crt would break the ca-certificates package's
# install inside the build), Docker image format (OCI drops SHELL and HEALTHCHECK),
# and, when no registry answers
# for the official Python image, a Debian bookworm base made with debootstrap.
# The base root file system is cached under IMAGE_CACHE_DIR between runs.
#
# Settings: IMAGE (localhost/voicebot:latest), BASE (an image to build on; default:
# the official python:3.11-slim-bookworm if it can be pulled, else the debootstrap
# base), IMAGE_CACHE_DIR (/var/tmp/voicebot-image), DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-localhost/voicebot:latest}"
CACHE="${IMAGE_CACHE_DIR:-/var/tmp/voicebot-image}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
OFFICIAL=docker.io/library/python:3.11-slim-bookworm
DEBIAN_BASE=localhost/debian-base:bookworm
CA=/etc/ssl/certs/ca-certificates.crt
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
started=$(date +%s)

need=()
command -v podman >/dev/null || need+=(podman)
if [ -z "${BASE:-}" ]; then command -v debootstrap >/dev/null || need+=(debootstrap); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PODMAN=(podman); [ "$(id -u)" -eq 0 ] || PODMAN=(sudo podman)

debian_base() {
  # A minimal Debian bookworm made here (about a minute), imported as an image.
  if "${PODMAN[@]}" image exists "$DEBIAN_BASE"; then return; fi
  mkdir -p "$CACHE"
  local tarball="$CACHE/debian-bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    local rootfs
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    echo "== debootstrap --variant=minbase bookworm (cached in $tarball)"
    $SUDO debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    $SUDO tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    $SUDO rm -rf "$rootfs"
  fi
  "${PODMAN[@]}" import -q "$tarball" "$DEBIAN_BASE" >/dev/null
}

if [ -z "${BASE:-}" ]; then
  if "${PODMAN[@]}" image exists "$OFFICIAL" || timeout 60 "${PODMAN[@]}" pull -q "$OFFICIAL" >/dev/null 2>&1; then
    BASE="$OFFICIAL"
  else
    echo "== No registry answers for $OFFICIAL: building on a debootstrap Debian base"
    debian_base
    BASE="$DEBIAN_BASE"
  fi
fi

args=(build --isolation=chroot --format docker --build-arg "BASE=$BASE" -t "$IMAGE" -f Dockerfile)
if [ -s "$CA" ]; then args+=(--secret "id=build_ca,src=$CA"); fi
echo "== podman build on $BASE"
"${PODMAN[@]}" "${args[@]}" .

size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "Built $IMAGE on $BASE in $(( $(date +%s) - started )) s; size $(( size / 1000000 )) MB"
