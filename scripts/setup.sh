#!/usr/bin/env bash
# Installs everything qemu-lockstep needs on a fresh Debian 12 / Ubuntu machine:
# QEMU (system + linux-user), cross compilers for the bundled guests, glib
# headers, binutils for symbols and disassembly, Chromium (the test of the
# HTML verdict), and a pinned Deno from npm. Then builds the bundled guests
# and provides two newer QEMUs (see the end). Safe to run again: every step
# is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(
    qemu-user qemu-system-sparc qemu-system-x86 qemu-system-arm qemu-system-misc
    gcc-sparc64-linux-gnu gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu
    libc6-dev-arm64-cross
    binutils-multiarch libglib2.0-dev pkg-config make gcc libc6-dev
    util-linux libxml2-utils debootstrap debian-archive-keyring chromium
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
fi

# Deno, pinned in scripts/deno/package-lock.json. It lives there, not at the
# top, so that Deno itself never mistakes the project for an npm package.
deno=scripts/deno/node_modules/.bin/deno
if ! "$deno" --version >/dev/null 2>&1; then
    echo "setup: installing Deno from npm" >&2
    (cd scripts/deno && npm ci --no-audit --no-fund --loglevel=error)
fi

# The bundled guests, built from source in the repo.
make -s -C test/guests

# The benchmark's kernel: Debian's own linux-image-amd64, unpacked.
if [ ! -s test/guests/build/vmlinuz ]; then
    pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "setup: downloading $pkg for the benchmark kernel" >&2
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
    dpkg-deb -x "$tmp"/*.deb "$tmp/root"
    cp "$tmp"/root/boot/vmlinuz-* test/guests/build/vmlinuz
    rm -rf "$tmp"
    trap - EXIT
fi
# Two newer QEMUs, kept in the user's cache outside the checkout (shared by
# every checkout and clone here) with only small pointers in .cache/:
# Debian trixie's system emulators (10.0, plugin API 4) behind wrappers in
# .cache/qemu-10/bin, and QEMU 10.2.2 built from Debian's source (plugin API 5,
# linux-user that loads plugins) linked as .cache/qemu-10.2. The first set-up
# on a machine builds the latter (20 minutes on 2 cores); later ones reuse it.
bash scripts/trixie-qemu.sh
bash scripts/build-qemu.sh

echo "setup: done ($("$deno" --version | head -1)); run it as $deno" >&2
