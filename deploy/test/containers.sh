#!/usr/bin/env bash
# The container check: builds the images of deploy/ and runs deploy/compose.yaml (PostgreSQL, the
# migration job, two broker replicas) under load, on a machine with no image registry.
#
#   deploy/test/containers.sh            (as root; .ci/run runs it)
#
# 1. The engine: installs Debian's docker.io, docker-compose and debootstrap when missing, starts
#    dockerd when `docker info` fails, and stops with a clear message if it cannot.
# 2. The base images, made locally under the standard names the committed files use, unless the
#    engine already has them: debian:bookworm-slim from debootstrap (deploy/test/base-image.sh, cached
#    in /var/tmp/mla-docker-base), and a postgres:15-bookworm stand-in built on it from Debian's
#    PostgreSQL 15 (deploy/test/postgres/).
# 3. The broker image from deploy/Dockerfile's runtime stage, with the binary that cargo builds on the
#    host (`cargo build --release --locked -p mla-broker` in CARGO_TARGET_DIR, default
#    /var/tmp/mla-target; MLA_BROKER_BINARY names a binary built already). Checks: no compiler, uid
#    10001, and a SQLite single node in its volume, restarted on the same data.
# 4. deploy/compose.yaml brought up as project mla-broker-test on free loopback ports, then
#    deploy/test/drive.py: a lifecycle through replica 1 watched on replica 2, then a write load
#    through both replicas while replica 1 is killed (docker kill), replica 2 is stopped with SIGTERM
#    (drain) and both are restarted one after the other; every acknowledged write must be there.
#    Then `mla-broker audit verify --content` in a container, and the replicas' read-only state.
#
# Everything it starts is removed at the end (containers, network, volumes); the images stay, so a
# second run takes a few minutes. MLA_CONTAINERS_KEEP=1 leaves the stack up for a look.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
STARTED=$(date +%s)
say() { printf '[containers %4ss] %s\n' "$(($(date +%s) - STARTED))" "$*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}

PROJECT=${MLA_CONTAINERS_PROJECT:-mla-broker-test}
BASE_CACHE=${MLA_DOCKER_BASE_CACHE:-/var/tmp/mla-docker-base}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/mla-target}

# --- 1. The engine ----------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root: the script installs packages and drives the Docker engine"
missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian"
  apt-get update -qq || die "apt-get update failed: Debian's package mirror is needed for the engine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
fi
# Debian's client: it has BuildKit built in (a newer client elsewhere on PATH may need buildx).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || die "no docker client (Debian's docker.io provides /usr/bin/docker)"
export DOCKER
docker() { "$DOCKER" "$@"; }
if ! docker info >/dev/null 2>&1; then
  say "the Docker engine is not running: starting dockerd (log /var/log/mla-dockerd.log)"
  # In a session of its own, so that it outlives this script (the next run finds it running).
  setsid nohup /usr/sbin/dockerd >>/var/log/mla-dockerd.log 2>&1 </dev/null &
  dockerd_pid=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
  docker info >/dev/null 2>&1 || {
    tail -n 15 /var/log/mla-dockerd.log >&2 || true
    kill -0 "$dockerd_pid" 2>/dev/null && why="did not answer within 60 s" || why="exited"
    die "the Docker engine could not be started: dockerd $why (the end of /var/log/mla-dockerd.log is above)"
  }
fi
say "engine: $(docker version -f 'Docker {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"

# --- 2. Base images ---------------------------------------------------------------------------------
has_image() { docker image inspect "$1" >/dev/null 2>&1; }
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }
if has_image debian:bookworm-slim; then
  say "base: debian:bookworm-slim present$( [ -n "$(label debian:bookworm-slim org.mla-broker.test.base)" ] && echo ' (the local debootstrap stand-in)')"
else
  say "base: making debian:bookworm-slim with debootstrap"
  bash deploy/test/base-image.sh "$BASE_CACHE" || die "could not make the debian:bookworm-slim base image"
fi
export DOCKER_BUILDKIT=1
if has_image postgres:15-bookworm && [ -z "$(label postgres:15-bookworm org.mla-broker.test.stand-in)" ]; then
  say "postgres:15-bookworm present (the official image): used as is"
else
  say "building the postgres:15-bookworm stand-in (deploy/test/postgres, Debian's PostgreSQL 15)"
  docker build -q -t postgres:15-bookworm deploy/test/postgres >/dev/null ||
    die "could not build the PostgreSQL stand-in (its apt-get needs Debian's mirror from the build container)"
fi

# --- 3. The broker image ----------------------------------------------------------------------------
if [ -n "${MLA_BROKER_BINARY:-}" ]; then
  BINARY=$MLA_BROKER_BINARY
  say "binary: $BINARY (MLA_BROKER_BINARY)"
else
  say "binary: cargo build --release --locked -p mla-broker (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo build --release --locked -p mla-broker || die "cargo build --release failed"
  BINARY=$CARGO_TARGET_DIR/release/mla-broker
fi
[ -x "$BINARY" ] || die "no broker binary at $BINARY"

WORK=$(mktemp -d /tmp/mla-containers.XXXXXX)
COMPOSE=(docker-compose --env-file "$WORK/env" -p "$PROJECT" -f deploy/compose.yaml)
SQLITE_NODE=$PROJECT-sqlite
cleanup() {
  local status=$?
  if [ "${MLA_CONTAINERS_KEEP:-}" = 1 ]; then
    say "MLA_CONTAINERS_KEEP=1: left up; remove with: ${COMPOSE[*]} down -v; docker rm -fv $SQLITE_NODE; rm -rf $WORK"
    exit "$status"
  fi
  docker rm -fv "$SQLITE_NODE" >/dev/null 2>&1 || true
  [ -f "$WORK/env" ] && "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The context holds the binary alone; stripped as the builder stage's `install -s` does.
mkdir "$WORK/context"
strip -o "$WORK/context/mla-broker" "$BINARY" 2>/dev/null || cp "$BINARY" "$WORK/context/mla-broker"
build_started=$(date +%s)
docker build -q -f deploy/Dockerfile --build-arg BINARY_STAGE=prebuilt -t mla-broker:local "$WORK/context" >/dev/null ||
  die "docker build of deploy/Dockerfile (runtime stage, prebuilt binary) failed"
say "built mla-broker:local in $(($(date +%s) - build_started)) s"
say "images:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E 'mla-broker:local|postgres:15-bookworm|debian:bookworm-slim' >&2

[ "$(docker image inspect -f '{{.Config.User}}' mla-broker:local)" = 10001:10001 ] || die "the image does not run as 10001:10001"
compilers=$(docker run --rm --entrypoint bash mla-broker:local -c 'for c in cc gcc clang rustc cargo ld; do command -v $c; done; true')
[ -z "$compilers" ] || die "the runtime image holds a compiler: $compilers"
[ "$(docker run --rm --entrypoint id mla-broker:local -u)" = 10001 ] || die "the image's process is not uid 10001"
say "image: runs as uid 10001, no compiler or linker (cc gcc clang rustc cargo ld)"

SECRET=$(openssl rand -hex 32)
ISSUER=mla-broker-container-test

# A single node on SQLite: the image's volume must be writable by uid 10001 and keep the data.
docker run -d --name "$SQLITE_NODE" -e MLA_JWT_HS256_SECRET="$SECRET" -e MLA_JWT_ISSUER="$ISSUER" \
  -p 127.0.0.1::8080 mla-broker:local >/dev/null
sqlite_port() { docker port "$SQLITE_NODE" 8080/tcp | head -n1 | sed 's/.*://'; }
sqlite_ready() {
  for _ in $(seq 60); do
    curl -sf "http://127.0.0.1:$(sqlite_port)/readyz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  docker logs --tail 20 "$SQLITE_NODE" >&2
  die "the SQLite node did not become ready"
}
sqlite_ready
ADMIN=$(MLA_JWT_HS256_SECRET=$SECRET MLA_JWT_ISSUER=$ISSUER MLA_DATA_DIR=$WORK/tokens "$BINARY" token --sub root --role admin)
curl -sf -X POST "http://127.0.0.1:$(sqlite_port)/v1/partners" -H "authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' \
  -d '{"code":"FR-MOJ","name":"Ministere de la Justice","country":"FR","kind":"STATE_AUTHORITY","active":true}' \
  >/dev/null || die "the SQLite node refused a partner"
docker restart -t 30 "$SQLITE_NODE" >/dev/null
sqlite_ready
curl -sf "http://127.0.0.1:$(sqlite_port)/v1/partners/FR-MOJ" -H "authorization: Bearer $ADMIN" >/dev/null ||
  die "the SQLite node lost its data on restart"
files=$(docker exec "$SQLITE_NODE" ls -A /var/lib/mla | tr '\n' ' ')
docker rm -fv "$SQLITE_NODE" >/dev/null
say "SQLite node: served, restarted on the same volume, data kept (/var/lib/mla: $files)"

# --- 4. Compose -------------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
openssl genpkey -algorithm ed25519 -out "$WORK/signing-key.pem" 2>/dev/null
chown 10001:10001 "$WORK/signing-key.pem"
chmod 0400 "$WORK/signing-key.pem"
cat >"$WORK/env" <<EOF
MLA_POSTGRES_PASSWORD=$(openssl rand -hex 16)
MLA_JWT_ISSUER=$ISSUER
MLA_JWT_AUDIENCE=mla-broker
MLA_JWT_JWKS_URL=
MLA_JWT_HS256_SECRET=$SECRET
MLA_SIGNING_KEY_PEM=$WORK/signing-key.pem
MLA_BROKER_1_GRPC_PORT=$(free_port)
MLA_BROKER_1_HTTP_PORT=$(free_port)
MLA_BROKER_2_GRPC_PORT=$(free_port)
MLA_BROKER_2_HTTP_PORT=$(free_port)
MLA_LOG=info
EOF
# A stack left by an interrupted run goes first.
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
up_started=$(date +%s)
"${COMPOSE[@]}" up -d --no-build 2>"$WORK/up.log" || {
  cat "$WORK/up.log" >&2
  "${COMPOSE[@]}" logs --tail 30 >&2 || true
  die "docker-compose up failed"
}
[ "$("${COMPOSE[@]}" ps -q migrate | xargs docker inspect -f '{{.State.ExitCode}}')" = 0 ] || die "the migrate job failed"
for service in broker-1 broker-2; do
  id=$("${COMPOSE[@]}" ps -q $service)
  for _ in $(seq 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && break
    sleep 1
  done
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || {
    docker logs --tail 30 "$id" >&2
    die "$service did not become healthy"
  }
done
say "compose up: postgres healthy, migrate exited 0, broker-1 and broker-2 healthy in $(($(date +%s) - up_started)) s"

set -a
# shellcheck disable=SC1091
. "$WORK/env"
set +a
export MLA_BROKER_BINARY=$BINARY COMPOSE_PROJECT=$PROJECT COMPOSE_ENV_FILE=$WORK/env MLA_TEST_WORK=$WORK
PYTHON=/usr/bin/python3
[ -x $PYTHON ] || PYTHON=python3
$PYTHON deploy/test/drive.py || die "the checks of deploy/test/drive.py failed (above)"

verify_started=$(date +%s)
"${COMPOSE[@]}" run --rm --no-deps -T migrate audit verify --content >"$WORK/audit.log" 2>&1 || {
  cat "$WORK/audit.log" >&2
  die "audit verify --content failed"
}
say "audit verify --content (in a container, against the stack's PostgreSQL): passed in $(($(date +%s) - verify_started)) s"

for service in broker-1 broker-2; do
  id=$("${COMPOSE[@]}" ps -q $service)
  [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id")" = true ] || die "$service: root filesystem not read-only"
  [ "$(docker top "$id" -eo pid,uid | tail -n +2 | awk '{print $2}' | sort -u | tr -d ' ')" = 10001 ] || die "$service: a process not of uid 10001"
  written=$(docker exec "$id" find /var/lib/mla -mindepth 1 | head -n 5)
  [ -z "$written" ] || die "$service wrote to /var/lib/mla on PostgreSQL: $written"
done
say "replicas: read-only root filesystem, uid 10001, nothing written to /var/lib/mla"
say "PASSED in $(($(date +%s) - STARTED)) s"
