#!/usr/bin/env bash
# Provides the QEMU a TCG developer builds: 10.2.2 from Debian sid's source
# package, plugin API 5, with dynamic linux-user emulators that load plugins
# (Debian 12 ships 7.2; trixie's linux-user is static, without plugins) and
# QEMU's own qemu-plugin.h beside them. The build takes minutes, so it is done
# once per machine and user, in the cache outside the checkout, keyed by
# everything that decides its contents; the checkout only gets the link
# .cache/qemu-10.2 -> that build, where code and tests look
# (.cache/qemu-10.2/bin/qemu-x86_64, .cache/qemu-10.2/include/qemu-plugin.h).
# Called by scripts/setup.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/qemu-cache.sh
. scripts/qemu-cache.sh

version=10.2.2
# Pinned: plain "apt-get source qemu" picks sid's newest, whose files the
# archive no longer serves.
source_version=1:10.2.2+ds-1
targets=(x86_64-linux-user aarch64-linux-user x86_64-softmmu sparc-softmmu)
binaries=(qemu-x86_64 qemu-aarch64 qemu-system-x86_64 qemu-system-sparc)
# --without-default-features keeps the build to what TCG plugins need; capstone
# is on because without it x86 disassembly in plugins is empty. The +ds tarball
# has no firmware, so the system emulators look in Debian's firmware packages
# (seabios, ipxe-qemu, qemu-system-data with OpenBIOS), as Debian's own QEMU
# does. The prefix stays /usr/local: QEMU relocates configured paths under its
# prefix relative to the binary, and the firmware paths must stay as given.
configure_flags=(
    --python=/usr/bin/python3
    "--target-list=$(IFS=,; echo "${targets[*]}")"
    --without-default-features
    --enable-tcg --enable-plugins --enable-capstone --enable-pixman
    --disable-docs --disable-werror --disable-download --disable-rust
    --disable-tools --disable-guest-agent --disable-install-blobs
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
# Of Debian's patches only this one: the +ds tarball lacks the compressed EDK2
# images that meson otherwise insists on unpacking for x86_64-softmmu. Debian's
# others change behaviour (e.g. aarch64 linux-user without pointer
# authentication) and we want upstream's.
debian_patches=(skip-unpack-edk2-blobs.patch)
# Bump when this script changes what ends up in the cached directory.
recipe=1
jobs=2
# The host packages the build needs; meson >= 1.5 and pycotap (QEMU's
# configure checks both; the +ds tarball bundles no Python wheels) come from
# bookworm-backports, the rest from bookworm.
build_deps=(
    libpixman-1-dev flex bison python3-setuptools device-tree-compiler
    ninja-build libglib2.0-dev libcapstone-dev pkg-config gcc make xz-utils
    patch python3-venv
)
backports_deps=(meson python3-pycotap)

what="QEMU $version"
cache=$(qemu_cache_dir)
key=$(cache_key "$version" "$source_version" "${targets[*]}" \
    "${configure_flags[*]}" "${debian_patches[*]}" "$recipe")
dest=$cache/$version-$key
link=.cache/qemu-10.2

# Reuse: the directory appears in one rename, with its manifest, so existing
# means whole. Running the binary also catches host libraries gone missing.
reuse() {
    local out
    [ -f "$dest/manifest" ] || return 1
    if ! out=$("$dest/bin/qemu-x86_64" --version 2>&1); then
        echo "setup: $what: the cached build in $dest does not run:" >&2
        printf '    %s\n' "$out" >&2
        echo "setup: $what: remove $dest to build it again" >&2
        exit 1
    fi
    mkdir -p .cache
    ln -sfn "$dest" "$link"
    echo "setup: $what: cached at $dest (linked from $link)" >&2
    # The system emulators take their firmware from Debian's packages, which
    # setup.sh installs with QEMU 7.2; say so if one has gone.
    local f
    for f in /usr/share/seabios/bios-256k.bin /usr/lib/ipxe/qemu/efi-e1000.rom \
        /usr/share/qemu/openbios-sparc32; do
        [ -e "$f" ] || echo "setup: $what: warning: firmware $f is missing" \
            "(packages seabios, ipxe-qemu, qemu-system-data)" >&2
    done
    return 0
}
reuse && exit 0

# The build follows Debian 12's archive (bookworm-backports for meson).
bookworm_only "$what" "building it" "$link"

mkdir -p "$cache"
cache_lock "$cache" "$what"
# Another set-up may have finished it while we waited for the lock.
reuse && exit 0

log=$cache/$version-$key.log
: >"$log"
work_dir "$cache/.tmp.$version-$key.XXXXXX"
started=$SECONDS
echo "setup: $what: not cached; building it once for this machine" \
    "(10–20 min on 2 cores), log in $log" >&2

# Build dependencies from the system's own sources, as setup.sh installs its
# packages.
missing=()
for p in "${build_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    # setup.sh updates apt's lists only when its own packages are missing.
    step "setup: $what: updating apt's package lists" "$log" as_root apt-get update -q
    step "setup: $what: installing ${missing[*]}" "$log" \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
fi

# A private apt state (qemu-cache.sh): bookworm and its backports for
# meson, sid's sources for QEMU.
private_apt "$what" "$tmp" <<'EOF'
deb [signed-by=KEYRING] MIRROR bookworm main
deb [signed-by=KEYRING] MIRROR bookworm-backports main
deb-src [signed-by=KEYRING] MIRROR sid main
EOF
mkdir -p "$tmp/src"
step "setup: $what: reading Debian's package lists (bookworm, bookworm-backports, sid sources)" \
    "$log" apt-get "${apt_private[@]}" update
meson_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || v=
    [ -n "$v" ] && dpkg --compare-versions "$v" ge 1.5 \
        && dpkg-query -W -f='${Status}' python3-pycotap 2>/dev/null | grep -q 'install ok installed'
}
if ! meson_ok; then
    step "setup: $what: installing ${backports_deps[*]} from bookworm-backports" "$log" \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_private[@]}" \
        -t bookworm-backports install -y -q --no-install-recommends "${backports_deps[@]}"
fi
# apt checks the files against the signed Sources index. The upstream (orig)
# tarball is built, with only the Debian patches named above.
step "setup: $what: downloading the source package qemu=$source_version" "$log" \
    env -C "$tmp/src" apt-get "${apt_private[@]}" source --download-only "qemu=$source_version"
orig=("$tmp"/src/qemu_*.orig.tar.*)
debian=("$tmp"/src/qemu_*.debian.tar.*)
step "setup: $what: unpacking ${orig[0]##*/}" "$log" \
    tar -xf "${orig[0]}" -C "$tmp/src"
mkdir "$tmp/src/debian-packaging"
tar -xf "${debian[0]}" -C "$tmp/src/debian-packaging"
srcs=("$tmp"/src/qemu-*/)
src=${srcs[0]%/}
[ -x "$src/configure" ] || { echo "setup: $what: no configure in $src" >&2; exit 1; }
for p in "${debian_patches[@]}"; do
    step "setup: $what: applying Debian's $p" "$log" \
        patch -d "$src" -p1 -i "$tmp/src/debian-packaging/debian/patches/$p"
done
rm -rf "$tmp"/src/qemu_* "$tmp/src/debian-packaging"

# configure refuses options it does not know, so a flag that stopped existing
# fails here rather than being ignored.
mkdir "$tmp/build"
step "setup: $what: configuring ${targets[*]}" "$log" \
    env -C "$tmp/build" "$src/configure" "${configure_flags[@]}"
build_start=$SECONDS
for i in "${!targets[@]}"; do
    # One binary at a time so each step says how long it took; the first one
    # also builds what they all share.
    step "setup: $what: building ${targets[$i]}" "$log" \
        ninja -C "$tmp/build" -j "$jobs" "${binaries[$i]}"
done
build_secs=$((SECONDS - build_start))

# The finished directory: the binaries, QEMU's plugin header where the
# project's plugin build looks for it (<bin>/../include/qemu-plugin.h), the
# log and a manifest saying how it was made.
out=$tmp/out
mkdir -p "$out/bin" "$out/include"
for b in "${binaries[@]}"; do
    cp "$tmp/build/$b" "$out/bin/$b"
done
cp "$src/include/qemu/qemu-plugin.h" "$out/include/qemu-plugin.h"
"$out/bin/qemu-x86_64" --version | head -1 | grep -q "version $version" || {
    echo "setup: $what: the built qemu-x86_64 is not $version:" >&2
    "$out/bin/qemu-x86_64" --version >&2
    exit 1
}
cat >"$out/manifest" <<EOF
version=$version
source=qemu $source_version (Debian sid: upstream tarball + ${debian_patches[*]})
targets=${targets[*]}
configure=configure ${configure_flags[*]}
recipe=$recipe
key=$key
build_seconds=$build_secs
total_seconds=$((SECONDS - started))
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
compiler=$(gcc --version | head -1)
EOF
mv "$log" "$out/build.log"
mv -T "$out" "$dest"
echo "setup: $what: built in $(human_secs $((SECONDS - started))) (compiling: $(human_secs "$build_secs"))" >&2
reuse
