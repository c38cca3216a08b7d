#!/usr/bin/env bash
# Tries the README's two commands as a new user would: in a fresh Debian 12
# root, with a clean clone of this checkout's committed HEAD, and says how long
# each took the first time and how it ended. Run it before resolving any change
# to set-up.
#
#   usage: sudo bash scripts/fresh-root.sh [ROOT]
#
# ROOT (default /var/tmp/qemu-lockstep-fresh-root) must not exist yet, or be
# empty. The script makes it with debootstrap (minbase), gives it what a new
# machine here has (node and npm copied from this machine, gcc, make, python3,
# git, the CA bundle, apt's settings in /etc/apt/apt.conf.d), clones the
# checkout into ROOT/root/qemu-lockstep and runs there, as root in a chroot,
# the README's demo command and then its test command. Their output is shown
# and kept in ROOT/root/demo.log and ROOT/root/test.log. It ends 0 when the
# demo ended in its verdict (DIVERGED, exit 1) and the tests passed (exit 0).
#
# The root is kept for inspection (a few GB). /proc, /sys, /dev, /dev/pts and
# /dev/shm are mounted in it only while the script runs, in a mount namespace
# of its own, and unmounted on every way out. Remove the root with
#   rm -rf --one-file-system ROOT
set -euo pipefail

usage() {
    sed -n '7,21s/^# \{0,1\}//p' "$0"
}
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    -*) echo "fresh-root: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then
    echo "fresh-root: must be run as root (debootstrap, mount, chroot)" >&2
    exit 2
fi
for tool in debootstrap unshare chroot git findmnt; do
    command -v "$tool" >/dev/null || {
        echo "fresh-root: $tool not found (debootstrap: apt-get install debootstrap)" >&2
        exit 2
    }
done

checkout=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/var/tmp/qemu-lockstep-fresh-root}
case $root in /*) ;; *) root=$PWD/$root ;; esac
root=${root%/}

# The mounts go into a mount namespace of our own with private propagation:
# nothing mounted in the root shows on the host (a bind of /dev would
# otherwise pass a mount on ROOT/dev/shm to the host's /dev/shm), and should
# this script be killed outright, they go with its last process. The trap
# below still unmounts them on every exit.
if [ -z "${FRESH_ROOT_NAMESPACE:-}" ]; then
    exec env FRESH_ROOT_NAMESPACE=1 unshare --mount --propagation private -- \
        bash "$0" "$@"
fi

# shellcheck source=scripts/qemu-cache.sh
. "$checkout/scripts/qemu-cache.sh" # human_secs

if [ -e "$root" ] && [ -n "$(ls -A "$root")" ]; then
    echo "fresh-root: $root exists and is not empty; remove it first:" >&2
    echo "    rm -rf --one-file-system $root" >&2
    exit 2
fi

say() { printf 'fresh-root: %s\n' "$*"; }

# On every way out: stops what still runs inside the root (only this script
# starts processes there: a command interrupted, or something it left
# running), then unmounts everything below the root, deepest first (what we
# mounted, and anything a command inside left mounted, e.g. an interrupted
# debootstrap).
root_pids() {
    local p
    for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then echo "${p#/proc/}"; fi
    done
}
clean_up() {
    local pids i m
    pids=$(root_pids)
    if [ -n "$pids" ]; then
        say "stopping what still runs in the root: $(echo $pids)"
        # TERM, then KILL after 5 s, until nothing runs there (a build may
        # start new processes meanwhile).
        for i in $(seq 1 40); do
            # shellcheck disable=SC2086 # a list of pids
            if [ "$i" -le 10 ]; then kill $pids; else kill -KILL $pids; fi 2>/dev/null || true
            sleep 0.5
            pids=$(root_pids)
            [ -n "$pids" ] || break
        done
    fi
    findmnt -rn -o TARGET | awk -v r="$root/" 'index($0, r) == 1' | sort -r \
        | while read -r m; do
            umount "$m" 2>/dev/null || umount -l "$m" || true
        done
}
trap clean_up EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The archive, from this machine's apt configuration: every Debian 12
# (bookworm*) source it reads packages from, main, updates and security
# alike. The root gets the same sources.
# shellcheck disable=SC2016 # $(...) here is apt's own placeholder syntax
mapfile -t sources < <(apt-get indextargets --no-release-info \
    --format '$(TARGET_OF) $(CREATED_BY) $(REPO_URI) $(RELEASE) $(COMPONENT)' \
    | awk '$1 == "deb" && $2 == "Packages" && $4 ~ /^bookworm(-|$)/ { print $3, $4, $5 }' \
    | sort -u)
mirror=$(printf '%s\n' "${sources[@]}" | awk '$2 == "bookworm" { print $1; exit }')
if [ -z "$mirror" ]; then
    echo "fresh-root: apt's sources on this machine name no Debian bookworm archive" >&2
    exit 2
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
include=gcc,make,python3,git,ca-certificates

started=$SECONDS
say "$(date -u +%Y-%m-%dT%H:%M:%SZ), root $root, archive $mirror"
mkdir -p "$root"
t=$SECONDS
say "debootstrap --variant=minbase --include=$include bookworm"
if ! debootstrap --variant=minbase "--include=$include" "--keyring=$keyring" \
    bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1; then
    tail -n 30 "$root.debootstrap.log" >&2
    echo "fresh-root: debootstrap failed (log: $root.debootstrap.log)" >&2
    exit 1
fi
mv "$root.debootstrap.log" "$root/debootstrap.log"
say "debootstrap took $(human_secs $((SECONDS - t))) (log: $root/debootstrap.log)"

# What a new machine here has besides the packages: apt's sources and
# settings, name resolution, the machine's own CA certificates (the npm
# registry is reached through them), and Node.js with npm as installed here
# (Debian 12's nodejs is 18; the machine's is newer), with npm's global
# settings.
for s in "${sources[@]}"; do
    # shellcheck disable=SC2086 # URI SUITE COMPONENT
    set -- $s
    echo "deb [signed-by=$keyring] $1 $2 $3"
done >"$root/etc/apt/sources.list"
cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp -L /etc/hosts "$root/etc/hosts"
if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
node=$(readlink -f "$(command -v node)")
npm_cli=$(readlink -f "$(command -v npm)")
prefix=$(dirname "$(dirname "$node")")
node_files=("${node#/}")
for f in "$prefix"/bin/npm "$prefix"/bin/npx "$prefix"/bin/corepack \
    "$prefix"/lib/node_modules "$prefix"/include/node "$prefix"/etc/npmrc /etc/npmrc; do
    if [ -e "$f" ] || [ -L "$f" ]; then node_files+=("${f#/}"); fi
done
case $npm_cli in
    "$prefix"/lib/node_modules/*) ;;
    *) echo "fresh-root: npm ($npm_cli) is not under $prefix/lib/node_modules" >&2; exit 2 ;;
esac
tar -C / -cf - "${node_files[@]}" | tar -C "$root" -xf -
say "copied node $(node --version) and npm $(npm --version) from $prefix"

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"

# The environment of a login on a new machine, not this script's.
env_vars=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
# A new machine's environment names the machine's CA bundle for Node.js.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    env_vars+=("NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS")
fi
in_root() {
    chroot "$root" env -i "${env_vars[@]}" "$@"
}
if ! out=$(in_root update-ca-certificates 2>&1); then
    printf '%s\n' "$out" >&2
    echo "fresh-root: update-ca-certificates failed in the root" >&2
    exit 1
fi

git clone -q --no-hardlinks "$checkout" "$root/root/qemu-lockstep"
commit=$(git -C "$root/root/qemu-lockstep" log -1 --format='%h %s')
say "cloned $checkout at $commit"
say "the root took $(human_secs $((SECONDS - started))) to make"

# The README's two commands: its indented lines that start with set-up, the
# demo's first, then the tests'.
readme=$root/root/qemu-lockstep/README.md
mapfile -t commands < <(sed -n 's/^    \(bash scripts\/setup\.sh.*\)$/\1/p' "$readme")
if [ ${#commands[@]} -ne 2 ] || [[ ${commands[0]} != *"task demo"* ]] \
    || [[ ${commands[1]} != *"task test"* ]]; then
    echo "fresh-root: README.md should hold two indented commands starting" \
        "'bash scripts/setup.sh', the demo's then the tests'; found:" >&2
    printf '    %s\n' "${commands[@]}" >&2
    exit 2
fi

# CI must run what the README says new users run.
if ! grep -qxF "${commands[1]}" "$root/root/qemu-lockstep/.ci/run" 2>/dev/null; then
    say "warning: .ci/run does not run the README's test command (${commands[1]})"
fi

# run NAME COMMAND: runs COMMAND in the clone, without standard input (as
# CI does), showing its output and keeping it in ROOT/root/NAME.log; sets rc
# and secs. In the background, so that a signal to this script is handled at
# once, not when the command ends.
run() {
    local name=$1 command=$2 t=$SECONDS
    local rcfile=$root/root/.$name.rc
    say "$name command: $command"
    rm -f "$rcfile"
    {
        local r=0
        in_root bash -c "cd /root/qemu-lockstep && $command" 2>&1 || r=$?
        echo "$r" >"$rcfile"
    } | tee "$root/root/$name.log" &
    wait $! || true
    rc=$(cat "$rcfile" 2>/dev/null || echo 255)
    secs=$((SECONDS - t))
    say "$name command: exit $rc after $(human_secs "$secs")"
}
run demo "${commands[0]}"
demo_rc=$rc demo_secs=$secs
run test "${commands[1]}"
test_rc=$rc test_secs=$secs

# The demo ends in a verdict of divergence (exit 1); anything else, such as a
# set-up that failed, is a failure.
demo_ok=0
if [ "$demo_rc" = 1 ] && grep -q '^DIVERGED' "$root/root/demo.log"; then demo_ok=1; fi
summary=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$root/root/test.log" | tail -1 || true)

echo
say "summary, $(date -u +%Y-%m-%d), commit $commit, root $root"
say "  demo command: $(human_secs "$demo_secs"), exit $demo_rc" \
    "($([ "$demo_ok" = 1 ] && echo "its verdict, DIVERGED" || echo "FAILED: expected DIVERGED, exit 1"))"
say "  test command: $(human_secs "$test_secs"), exit $test_rc (${summary:-no 'N passed, N failed' line})"
say "  logs: $root/root/demo.log, $root/root/test.log; remove the root with: rm -rf --one-file-system $root"
[ "$demo_ok" = 1 ] && [ "$test_rc" = 0 ]
