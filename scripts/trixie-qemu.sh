#!/usr/bin/env bash
# A second, newer QEMU: Debian trixie's system emulators (10.0, plugin API 4)
# in a root of their own, made with debootstrap. The root (≈650 MB) lives in
# the cache outside the checkout, so every checkout and clean clone on the
# machine shares one. The emulators run through that root's own loader and
# libraries, leaving the host's QEMU untouched; the wrappers in
# .cache/qemu-10/bin look like any QEMU binary to code and tests.
# Called by scripts/setup.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/qemu-cache.sh
. scripts/qemu-cache.sh

suite=trixie
include=qemu-system-arm,qemu-system-sparc,qemu-system-misc
wrapped=(aarch64 arm sparc sparc64 riscv64)
# Bump when this script changes what ends up in the cached directory.
recipe=1

what="QEMU 10.0 (Debian $suite)"
cache=$(qemu_cache_dir)
key=$(cache_key "$suite" "$include" "$recipe")
dest=$cache/$suite-10.0-$key
q10=$PWD/.cache/qemu-10
# Where set-up kept the root before it moved to the cache: a checkout that
# still has one hands it over instead of downloading it again.
old=$q10/root

if [ -f "$dest/manifest" ]; then
    echo "setup: $what: cached at $dest" >&2
else
    mkdir -p "$cache"
    cache_lock "$cache" "$what"
    if [ -f "$dest/manifest" ]; then
        echo "setup: $what: cached at $dest" >&2
    else
        log=$cache/$suite-10.0-$key.log
        : >"$log"
        tmp=$(mktemp -d "$cache/.tmp.$suite-10.0-$key.XXXXXX")
        # The cached directory only appears by the final rename, so an
        # interrupted run leaves nothing half-made; debootstrap's files are
        # root's, hence as_root.
        trap 'as_root rm -rf "$tmp"' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
        if [ -x "$old/usr/bin/qemu-system-aarch64" ]; then
            step "setup: $what: moving $old into the cache" "$log" \
                as_root mv -T "$old" "$tmp/root"
            origin="moved from $old"
        else
            step "setup: $what: installing ${include//,/ } into a $suite root" "$log" \
                as_root debootstrap --variant=minbase "--include=$include" "$suite" "$tmp/root"
            origin="debootstrap --variant=minbase --include=$include $suite"
        fi
        cat >"$tmp/manifest" <<EOF
suite=$suite
qemu=$(dpkg-query --admindir="$tmp/root/var/lib/dpkg" -W -f='${Version}' qemu-system-arm)
origin=$origin
recipe=$recipe
key=$key
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
        mv "$log" "$tmp/setup.log"
        mv -T "$tmp" "$dest"
        trap - EXIT
        echo "setup: $what: installed at $dest" >&2
    fi
fi

# A checkout whose old root was not the one moved keeps no second copy.
if [ -e "$old" ]; then
    echo "setup: $what: removing the old copy in $old (the cache has one)" >&2
    as_root rm -rf "$old" "$q10/root.new"
fi
rm -f "$q10/debootstrap.log"

# The wrappers, written each time (cheap) so that they name this machine's
# cache, and replaced by rename so a running test never reads half a file.
mkdir -p "$q10/bin"
root=$dest/root
for target in "${wrapped[@]}"; do
    cat >"$q10/bin/qemu-system-$target.new" <<WRAPPER
#!/bin/sh
# qemu-system-$target 10.0 from Debian $suite (written by scripts/trixie-qemu.sh)
root='$root'
QEMU_MODULE_DIR="\$root/usr/lib/x86_64-linux-gnu/qemu"
export QEMU_MODULE_DIR
exec "\$root/lib64/ld-linux-x86-64.so.2" \\
    --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/lib/x86_64-linux-gnu" \\
    "\$root/usr/bin/qemu-system-$target" -L "\$root/usr/share/qemu" \\
    -display none -audio none "\$@"
WRAPPER
    chmod +x "$q10/bin/qemu-system-$target.new"
    mv "$q10/bin/qemu-system-$target.new" "$q10/bin/qemu-system-$target"
done
