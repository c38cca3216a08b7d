#!/usr/bin/env bash
# Sets up qemu-lockstep on a Debian 12 / Ubuntu machine, in two sizes:
#
#   bash scripts/setup.sh           what the demo needs: Debian's QEMU 7.2
#                                   linux-user, gcc, glib headers, binutils,
#                                   a pinned Deno from npm, the x86_64 guests
#                                   (under a minute on a fresh machine)
#   bash scripts/setup.sh --tests   everything the tests need: the above, and
#                                   Debian's QEMU 7.2 system emulators, cross
#                                   compilers, Chromium (the test of the HTML
#                                   verdict), every guest, the benchmark
#                                   kernel, trixie's QEMU 10.0, QEMU 10.2.2
#                                   and programs of QEMU's own tests/tcg;
#                                   the first time on a machine it builds
#                                   QEMU 10.2.2 (20 minutes or more on 2 cores)
#
# Safe to run again, either way round: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "$0"
}
tests=0
case "${1:-}" in
    "") ;;
    --tests) tests=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "setup: one argument at most" >&2; usage >&2; exit 2; }
started=$SECONDS
# as_root, human_secs
# shellcheck source=scripts/qemu-cache.sh
. scripts/qemu-cache.sh

# What the demo uses: QEMU 7.2's dynamic qemu-x86_64 (it loads plugins;
# qemu-user-static does not), gcc and glib's headers to build the plugin,
# objdump to disassemble (binutils-multiarch's knows every preset), setarch.
packages=(
    qemu-user binutils-multiarch libglib2.0-dev pkg-config make gcc libc6-dev
    util-linux
)
if [ "$tests" = 1 ]; then
    packages+=(
        qemu-system-sparc qemu-system-x86 qemu-system-arm qemu-system-misc
        gcc-sparc64-linux-gnu gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu
        libc6-dev-arm64-cross
        libxml2-utils debootstrap debian-archive-keyring chromium gdb-multiarch
        # Debian programs the corpus runs as installed (test/corpus.json)
        python3 perl git xz-utils
    )
fi
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

# The bundled guests, built from source in the repo: the x86_64 ones (host
# gcc) for the demo, all of them for the tests.
if [ "$tests" = 1 ]; then
    make -s -C test/guests
else
    make -s -C test/guests x86_64
fi

if [ "$tests" = 0 ]; then
    echo "setup: done in $(human_secs $((SECONDS - started))) ($("$deno" --version | head -1))." \
        "The demo: $deno task demo; the tests need bash scripts/setup.sh --tests" \
        "(the first time on a machine it builds QEMU 10.2.2: 20 min or more on 2 cores)" >&2
    exit 0
fi

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
# QEMU's own tests/tcg, from the source QEMU 10.2.2 is built from: the test
# corpus (test/corpus.json) runs programs built from them, x86_64 with the
# host's gcc, aarch64 with the cross compiler (static, its libc6-dev-arm64-cross).
bash scripts/tcg-tests.sh
if [ -d .cache/qemu-tcg-tests/tests/tcg ]; then
    make -s -C test/guests tcg
fi

echo "setup: done in $(human_secs $((SECONDS - started))) ($("$deno" --version | head -1));" \
    "run it as $deno" >&2
