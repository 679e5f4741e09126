#!/usr/bin/env bash
# container-setup.sh: make this machine able to build and run Groundwork's image.
# Installs podman (Debian packages) when neither a working docker nor podman is
# present, writes podman's settings for this sandbox (only when podman is the engine
# here and the file is absent), and builds the stand-in base images under the very
# names the Dockerfile uses when they cannot be pulled:
#   docker.io/library/debian:bookworm-slim  from Debian's packages (mmdebstrap)
#   docker.io/library/golang:1.26-bookworm  that base + the host's Go toolchain
# Idempotent; prints the engine's name on its last line.
set -euo pipefail
GO_IMAGE=${GO_IMAGE:-docker.io/library/golang:1.26-bookworm}
BASE_IMAGE=docker.io/library/debian:bookworm-slim

engine=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	engine=docker
elif command -v podman >/dev/null; then
	engine=podman
else
	sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	echo "container-setup: installing podman" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		podman buildah runc fuse-overlayfs uidmap mmdebstrap >&2
	engine=podman
fi

if [ "$engine" = podman ] && [ ! -e /etc/containers/containers.conf ] && [ "${GROUNDWORK_PODMAN_SANDBOX:-}" = 1 ]; then
	# Only on the build/CI machines (make e2e sets GROUNDWORK_PODMAN_SANDBOX=1), never silently on a user's machine.
	sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo mkdir -p /etc/containers
	$sudo tee /etc/containers/containers.conf >/dev/null <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

have() { $engine image inspect "$1" >/dev/null 2>&1; }
pull() { [ "${GROUNDWORK_NO_PULL:-}" = 1 ] && return 1; timeout 60 $engine pull -q "$1" >/dev/null 2>&1; }

if ! have "$BASE_IMAGE" && ! pull "$BASE_IMAGE"; then
	echo "container-setup: building $BASE_IMAGE from Debian's packages (mmdebstrap, a few minutes)" >&2
	command -v mmdebstrap >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2; }
	mmdebstrap --variant=minbase --include=ca-certificates bookworm - | $engine import - "$BASE_IMAGE" >&2
fi

if ! have "$GO_IMAGE" && ! pull "$GO_IMAGE"; then
	echo "container-setup: building $GO_IMAGE from $BASE_IMAGE and the host's Go toolchain ($(go version))" >&2
	goroot=$(go env GOROOT)
	ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
	cp -a "$goroot" "$ctx/go"
	# The host's CA bundle: where HTTPS goes through an intercepting proxy
	# (as on these build machines), the module downloads in the build stage
	# trust what the host trusts. A pulled golang image has its own bundle.
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
	cat >"$ctx/Dockerfile" <<'DF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY go /usr/local/go
ENV PATH=/usr/local/go/bin:/go/bin:$PATH GOPATH=/go GOTOOLCHAIN=local
DF
	netflags=(); [ "$engine" = podman ] && netflags=(--network host)
	$engine build "${netflags[@]}" -t "$GO_IMAGE" "$ctx" >&2
fi
echo "$engine"
