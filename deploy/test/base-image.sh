#!/usr/bin/env bash
# Makes the local stand-in for `debian:bookworm-slim` on a machine that reaches Debian's package mirror
# but no image registry: debootstrap's minbase, trimmed as the official slim image is (no manuals,
# documentation or translations, apt's caches cleaned after each use), imported and tagged with the
# standard name, so that deploy/Dockerfile's runtime stage builds unchanged. Labelled
# org.mla-broker.test.base so that it is never mistaken for the real image.
#
#   deploy/test/base-image.sh [CACHE_DIR]      (default /var/tmp/mla-docker-base; needs root)
#
# The trimmed root filesystem is kept as a tarball in CACHE_DIR: later runs import it again in seconds
# instead of bootstrapping (about a minute). Called by deploy/test/containers.sh when the engine has
# no debian:bookworm-slim.
set -euo pipefail

CACHE=${1:-/var/tmp/mla-docker-base}
# Bump when the recipe below changes, so that an older tarball is not reused.
RECIPE=1
TARBALL=$CACHE/bookworm-slim-r$RECIPE.tar
MIRROR=${MLA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}

if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap is not installed" >&2; exit 1; }
  mkdir -p "$CACHE"
  ROOT=$CACHE/rootfs.tmp
  rm -rf "$ROOT"
  echo "base-image: debootstrap --variant=minbase bookworm from $MIRROR (about a minute)" >&2
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -n 20 "$CACHE/debootstrap.log" >&2
    echo "base-image: debootstrap failed (log: $CACHE/debootstrap.log)" >&2
    exit 1
  }

  # What the official slim images do (debuerreotype's slimify and its apt settings).
  cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$ROOT/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$ROOT/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$ROOT/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$ROOT/etc/apt/sources.list"
  cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MLA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$ROOT"/usr/share/{man,groff,info,lintian,linda}/*
  find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/*
  find "$ROOT/var/log" -type f -delete
  rm -f "$ROOT/etc/hostname" "$ROOT/etc/resolv.conf"
  : >"$ROOT/etc/machine-id"

  tar --numeric-owner --xattrs -C "$ROOT" -cf "$TARBALL.part" .
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$ROOT"
fi

"$DOCKER" import \
  --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL org.mla-broker.test.base=debootstrap-minbase-bookworm-r$RECIPE" \
  --message "local stand-in for debian:bookworm-slim (deploy/test/base-image.sh)" \
  "$TARBALL" debian:bookworm-slim >/dev/null
echo "base-image: debian:bookworm-slim imported from $TARBALL" >&2
