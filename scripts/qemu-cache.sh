# shellcheck shell=bash
# Helpers for the set-up steps that keep large QEMUs in the user's cache,
# outside the checkout, so that every checkout and clean clone on a machine
# shares one copy. Sourced by scripts/build-qemu.sh, scripts/trixie-qemu.sh
# and scripts/tcg-tests.sh.
#
# Layout, under ${XDG_CACHE_HOME:-$HOME/.cache}/qemu-lockstep/qemu/:
#   NAME-KEY/        one finished QEMU; appears in one rename, so it is whole
#   NAME-KEY.log     the output of the step that made it (kept on failure)
#   .tmp.*           work in progress of the lock holder; stale ones are removed
#   .lock            held (flock) by whoever builds, so builds never overlap

# Where the QEMUs live. A missing or relative base is refused, not replaced by
# a shared directory such as /tmp: another user could put binaries there that
# set-up would then hand to the tests as ours.
qemu_cache_dir() {
    local base
    if [ -n "${XDG_CACHE_HOME:-}" ]; then
        base=$XDG_CACHE_HOME
    elif [ -n "${HOME:-}" ]; then
        base=$HOME/.cache
    else
        echo "setup: cannot cache QEMU: neither XDG_CACHE_HOME nor HOME is set; set one of them" >&2
        return 1
    fi
    case $base in
        /*) ;;
        *)
            echo "setup: cannot cache QEMU: the cache base must be an absolute path, not '$base'" >&2
            return 1
            ;;
    esac
    printf '%s/qemu-lockstep/qemu\n' "$base"
}

# The first 12 hex digits of the SHA-256 of the arguments, one per line: the
# key that names a cached QEMU after everything that decides its contents.
cache_key() {
    printf '%s\n' "$@" | sha256sum | cut -c1-12
}

# "8 min 12 s" or "42 s".
human_secs() {
    if [ "$1" -ge 60 ]; then
        printf '%d min %d s' $(($1 / 60)) $(($1 % 60))
    else
        printf '%d s' "$1"
    fi
}

# Takes the cache's lock on file descriptor 9 for the rest of the calling
# script (children inherit it, so an orphaned build still holds it), saying so
# when another set-up has it. Then removes what an interrupted holder left.
cache_lock() {
    local dir=$1 what=$2
    exec 9>"$dir/.lock"
    if ! flock -n 9; then
        echo "setup: $what: waiting for another set-up that is building into $dir" >&2
        flock 9
    fi
    # Only a lock holder makes .tmp.* directories, and we hold the lock now.
    # A debootstrap root inside one is root's.
    rm -rf "$dir"/.tmp.* 2>/dev/null || as_root rm -rf "$dir"/.tmp.*
}

# step LABEL LOG COMMAND...: says LABEL, runs one command with its output
# appended to LOG, then says how long it took. On failure it prints the tail of
# LOG and returns the command's status. COMMAND runs in an "if" context, where
# bash ignores "set -e": pass a simple command or a function that chains with
# "&&", never a function that relies on errexit.
step() {
    local label=$1 log=$2 start=$SECONDS rc=0
    shift 2
    printf '%s … ' "$label" >&2
    "$@" >>"$log" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        printf '(took %s)\n' "$(human_secs $((SECONDS - start)))" >&2
        return 0
    fi
    printf 'failed after %s (status %d); the end of %s:\n' \
        "$(human_secs $((SECONDS - start)))" "$rc" "$log" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
    return "$rc"
}

# bookworm_only WHAT DOING LINK: goes on only on Debian 12 (bookworm), whose
# archive the steps take their packages and sources from; elsewhere says
# what is skipped and ends the calling script with success.
bookworm_only() {
    local what=$1 doing=$2 link=$3 os
    os=$(. /etc/os-release && echo "${ID:-}-${VERSION_CODENAME:-}")
    if [ "$os" != debian-bookworm ]; then
        echo "setup: $what: skipped: $doing needs Debian 12 (bookworm), this is $os;" \
            "$link will be missing" >&2
        exit 0
    fi
}

# work_dir TEMPLATE: makes the lock holder's work directory (mktemp -d
# TEMPLATE) as $tmp, removed on any exit of the calling script: what it
# makes appears in the cache only by a final rename, so an interrupted
# step leaves nothing half-made. A killed set-up's leftovers are removed by
# the next lock holder (cache_lock).
work_dir() {
    tmp=$(mktemp -d "$1") || exit 1
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# private_apt WHAT DIR: a private apt state in DIR/apt: the sources list
# read from stdin (MIRROR in it is replaced by the archive the system
# already uses for bookworm, KEYRING by Debian's keyring), lists kept
# there, downloads run as us (apt's _apt user cannot enter a private cache
# directory). The system's sources and lists stay as they are. Sets the
# array apt_private, the options to give apt-get.
private_apt() {
    local what=$1 dir=$2 mirror
    # shellcheck disable=SC2016 # $(...) here is apt's own placeholder syntax
    mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' \
        | awk '$2 == "bookworm" && $3 == "deb" { print $1; exit }')
    if [ -z "$mirror" ]; then
        echo "setup: $what: apt's sources name no Debian bookworm archive to take the source from" >&2
        exit 1
    fi
    mkdir -p "$dir/apt/lists/partial"
    sed -e "s|MIRROR|$mirror|g" \
        -e "s|KEYRING|/usr/share/keyrings/debian-archive-keyring.gpg|g" >"$dir/apt/sources.list"
    apt_private=(
        -o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$dir/apt/lists" -o Dir::Cache::pkgcache=
        -o Dir::Cache::srcpkgcache= -o "APT::Sandbox::User=$(id -un)"
    )
}

# Runs a command as root, through sudo when we are not root.
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
