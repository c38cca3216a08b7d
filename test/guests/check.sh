#!/usr/bin/env bash
# Smoke test for the guests built by the Makefile (`make -C test/guests check`):
# runs each one twice under QEMU, exactly as the demo and tests start them,
# and checks that QEMU ends by itself with status 0, that the guest printed
# the expected line, and that both runs printed the same thing.  Also checks
# that each hello/variant pair differs only in mix_step: all other symbols at
# the same addresses, mix_step starting at the same address.
set -u
cd "$(dirname "$0")"
B=build

# Every guest computes the same 32-bit checksum whatever the arch.
HELLO='checksum 0x8346d83d'
VARIANT='checksum 0x2a063cf2'

SPARC_KERNEL=(qemu-system-sparc -M SS-20 -m 256 -nographic -no-reboot
              -icount shift=0,sleep=off)
SPARC_BIOS=(qemu-system-sparc -M SS-20 -m 256 -nographic -no-reboot)
AARCH64=(qemu-system-aarch64 -M virt -cpu cortex-a57 -m 128 -nographic)
RISCV64=(qemu-system-riscv64 -M virt -bios none -m 128 -nographic)

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME EXPECTED-LINE COMMAND...
run() {
    local name=$1 want=$2 i rc t0 t1
    shift 2
    if ! command -v "$1" >/dev/null; then
        echo "SKIP $name: $1 not installed"
        return
    fi
    for i in 1 2; do
        t0=$(date +%s.%N)
        timeout 60 "$@" </dev/null >"$tmp/out$i" 2>&1
        rc=$?
        t1=$(date +%s.%N)
        if [ "$rc" != 0 ]; then
            echo "FAIL $name: exit status $rc (124 = timed out): $*"
            tail -n 5 "$tmp/out$i" | sed 's/^/    /'
            failed=1
            return
        fi
    done
    if ! tr -d '\r' <"$tmp/out1" | grep -qxF "$want"; then
        echo "FAIL $name: no line '$want' in the output of: $*"
        tail -n 5 "$tmp/out1" | sed 's/^/    /'
        failed=1
    elif ! cmp -s "$tmp/out1" "$tmp/out2"; then
        echo "FAIL $name: two runs printed different output: $*"
        failed=1
    else
        printf 'ok   %-28s %5.2f s  %s\n' "$name" "$(awk "BEGIN{print $t1 - $t0}")" "$want"
    fi
}

# same_but_mix_step BASE VARIANT [FUNCTION]: only FUNCTION (mix_step) differs
same_but_mix_step() {
    local a=$B/$1 b=$B/$2 f=${3:-mix_step}
    if ! diff <(nm -n "$a" | grep -v " $f\$" | awk '{print $1, $3}') \
              <(nm -n "$b" | grep -v " $f\$" | awk '{print $1, $3}') >/dev/null ||
       [ "$(nm "$a" | grep " $f\$")" != "$(nm "$b" | grep " $f\$")" ]; then
        echo "FAIL $1 / $2: symbols other than $f moved"
        failed=1
    else
        echo "ok   $1 / $2: only $f differs"
    fi
}

# runs_once NAME PATTERN COMMAND...: ends with 0 and prints a line matching
# PATTERN (for guests whose output depends on the host: the environment guest)
runs_once() {
    local name=$1 want=$2
    shift 2
    if ! command -v "$1" >/dev/null; then
        echo "SKIP $name: $1 not installed"
    elif ! timeout 60 "$@" </dev/null 2>&1 | grep -q "$want"; then
        echo "FAIL $name: no line matching '$want' from: $*"
        failed=1
    else
        echo "ok   $name"
    fi
}

run x86_64-hello          "$HELLO"   qemu-x86_64 $B/x86_64-hello
run x86_64-hello-variant  "$VARIANT" qemu-x86_64 $B/x86_64-hello-variant
run x86_64-loop-1000      'loop 1000' qemu-x86_64 $B/x86_64-loop 1000
run x86_64-loop           'loop 100000000' qemu-x86_64 $B/x86_64-loop
run x86_64-rep            'rep 8b010000' qemu-x86_64 $B/x86_64-rep
run x86_64-dense-1000     'dense 1000 6ae789f4' qemu-x86_64 $B/x86_64-dense 1000
run x86_64-xmm            'xmm 1000' qemu-x86_64 $B/x86_64-xmm 1000
run x86_64-xmm-variant    'xmm 1000' qemu-x86_64 $B/x86_64-xmm-variant 1000
run x86_64-cpuid          'cpuid 00000000' qemu-x86_64 -cpu qemu64 $B/x86_64-cpuid
run x86_64-world-probe    'end' qemu-x86_64 $B/x86_64-world-probe
run aarch64-world-probe   'end' qemu-aarch64 $B/aarch64-world-probe
run sparc-hello           "$HELLO"   "${SPARC_KERNEL[@]}" -kernel $B/sparc-hello.elf
run sparc-hello-variant   "$VARIANT" "${SPARC_KERNEL[@]}" -kernel $B/sparc-hello-variant.elf
run sparc-bios            "$HELLO"   "${SPARC_BIOS[@]}" -bios $B/sparc-bios.bin
run sparc-bios-variant    "$VARIANT" "${SPARC_BIOS[@]}" -bios $B/sparc-bios-variant.bin
runs_once x86_64-env      '^digest 0x' qemu-x86_64 $B/x86_64-env
runs_once aarch64-env     '^digest 0x' qemu-aarch64 $B/aarch64-env
run aarch64-hello         "$HELLO"   "${AARCH64[@]}" -kernel $B/aarch64-hello.elf
run aarch64-hello-variant "$VARIANT" "${AARCH64[@]}" -kernel $B/aarch64-hello-variant.elf
run riscv64-hello         "$HELLO"   "${RISCV64[@]}" -kernel $B/riscv64-hello.elf
run riscv64-hello-variant "$VARIANT" "${RISCV64[@]}" -kernel $B/riscv64-hello-variant.elf

same_but_mix_step x86_64-hello      x86_64-hello-variant
same_but_mix_step sparc-hello.elf   sparc-hello-variant.elf
same_but_mix_step sparc-bios.elf    sparc-bios-variant.elf
same_but_mix_step aarch64-hello.elf aarch64-hello-variant.elf
same_but_mix_step riscv64-hello.elf riscv64-hello-variant.elf
same_but_mix_step x86_64-env        x86_64-env-variant  digest_step
same_but_mix_step aarch64-env       aarch64-env-variant digest_step
same_but_mix_step x86_64-xmm        x86_64-xmm-variant  xmm_set

exit $failed
