#!/usr/bin/env bash
# QEMU's own TCG tests: the tests/tcg sources of the source package that
# scripts/build-qemu.sh builds QEMU from (with configs/targets, which their
# Makefile.target reads), so the tests are those of the QEMU the tests run.
# Only the sources are kept, in the cache outside the checkout like the
# QEMUs (shared by every checkout and clone here), linked as
# .cache/qemu-tcg-tests; test/guests/Makefile builds the corpus's programs
# from them with QEMU's own Makefile.target (make -C test/guests tcg).
# Called by scripts/setup.sh --tests; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/qemu-cache.sh
. scripts/qemu-cache.sh

# The version build-qemu.sh builds, read from it so the two never part.
version=$(sed -n '0,/^version=/s/^version=//p' scripts/build-qemu.sh)
source_version=$(sed -n '0,/^source_version=/s/^source_version=//p' scripts/build-qemu.sh)
for v in "$version" "$source_version"; do
    case $v in
        "" | *[[:space:]]*)
            echo "setup: cannot read QEMU's version from scripts/build-qemu.sh" >&2
            exit 1
            ;;
    esac
done
parts=(tests/tcg configs/targets)
# Bump when this script changes what ends up in the cached directory.
recipe=1

what="QEMU $version's tests/tcg"
cache=$(qemu_cache_dir)
key=$(cache_key "$version" "$source_version" "${parts[*]}" "$recipe")
dest=$cache/tcg-tests-$version-$key
link=.cache/qemu-tcg-tests

reuse() {
    [ -f "$dest/manifest" ] || return 1
    mkdir -p .cache
    ln -sfn "$dest" "$link"
    echo "setup: $what: cached at $dest (linked from $link)" >&2
}
reuse && exit 0

# The source comes through the bookworm archive the system uses, as
# build-qemu.sh's does.
bookworm_only "$what" "fetching it" "$link"

mkdir -p "$cache"
cache_lock "$cache" "$what"
reuse && exit 0

log=$cache/tcg-tests-$version-$key.log
: >"$log"
work_dir "$cache/.tmp.tcg-tests-$version-$key.XXXXXX"
started=$SECONDS

# A private apt state (qemu-cache.sh): only sid's source index.
private_apt "$what" "$tmp" <<<'deb-src [signed-by=KEYRING] MIRROR sid main'
mkdir -p "$tmp/src" "$tmp/out"
step "setup: $what: reading Debian sid's source index" "$log" \
    apt-get "${apt_private[@]}" update
step "setup: $what: downloading the source package qemu=$source_version" "$log" \
    env -C "$tmp/src" apt-get "${apt_private[@]}" source --download-only "qemu=$source_version"
orig=("$tmp"/src/qemu_*.orig.tar.*)
step "setup: $what: unpacking ${parts[*]} from ${orig[0]##*/}" "$log" \
    tar -xf "${orig[0]}" -C "$tmp/out" --strip-components=1 --wildcards \
    "${parts[@]/#/qemu-*/}"
for p in "${parts[@]}"; do
    [ -d "$tmp/out/$p" ] || { echo "setup: $what: ${orig[0]##*/} has no $p" >&2; exit 1; }
done
cat >"$tmp/out/manifest" <<EOF
version=$version
source=qemu $source_version (Debian sid: the upstream tarball's ${parts[*]})
recipe=$recipe
key=$key
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
mv "$log" "$tmp/out/fetch.log"
mv -T "$tmp/out" "$dest"
echo "setup: $what: fetched in $(human_secs $((SECONDS - started)))" >&2
reuse
