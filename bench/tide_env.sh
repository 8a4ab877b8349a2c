#!/bin/sh
# Builds a Debian trixie chroot with Python 3.13, torch and tide-gpr 0.1.2,
# then runs bench/bench_tide.py inside it on this checkout.
#
# TIDE (tide-gpr on PyPI) needs Python >= 3.12; Debian bookworm has 3.11.
# The chroot gives both libraries one interpreter (3.13) on the same kernel
# and CPU. torchwave is this checkout: its Python package plus the Go-built
# python/torchwave/libtorchwave.so, bind-mounted, on PYTHONPATH.
#
# Run as root from anywhere; every step is skipped when already done:
#
#   sh bench/tide_env.sh                      # build the chroot, full benchmark
#   sh bench/tide_env.sh --quick              # arguments go to bench_tide.py
#   TIDE_ROOT=/srv/trixie sh bench/tide_env.sh --nt 200
#
# Needs: debootstrap, network access to deb.debian.org and PyPI, Go (for
# `make build`), ~7 GB of disk (the PyPI torch wheel pulls the CUDA libraries).
set -eu

ROOT=${TIDE_ROOT:-/opt/trixie}                 # the chroot
REPO=$(cd "$(dirname "$0")/.." && pwd)         # this checkout
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TORCH=${TORCH_VERSION:-2.15.0}                 # same torch as the host benchmarks
VENV=/opt/venv                                 # inside the chroot

# 1. The Go library, built on the host (the chroot has no Go).
if [ ! -f "$REPO/python/torchwave/libtorchwave.so" ]; then
    (cd "$REPO" && PATH=/usr/local/go/bin:$PATH make build)
fi

# 2. A minimal trixie root.
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || apt-get install -y debootstrap
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"
fi

# 3. Mounts: /proc, /dev, /sys for Python and torch; the checkout at /repo.
#    DNS and the host's CA bundle so pip works as on the host.
#    They come off again when the script ends, however it ends: a bind
#    mount of the checkout left behind would make `rm -rf "$ROOT"` delete it.
unmount() {
    for m in "$ROOT/repo" "$ROOT/sys" "$ROOT/dev" "$ROOT/proc"; do
        ! mountpoint -q "$m" || umount "$m"
    done
}
trap unmount EXIT
trap 'exit 1' INT TERM
mkdir -p "$ROOT/repo"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
mountpoint -q "$ROOT/sys" || mount --bind /sys "$ROOT/sys"
mountpoint -q "$ROOT/repo" || mount --bind "$REPO" "$ROOT/repo"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/host-ca-certificates.crt"

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
    PIP_CERT=/etc/host-ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"; }

# 4. Python 3.13 and a venv with torch, tide-gpr and what they import.
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    in_root apt-get update
    in_root apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
fi
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    in_root python3 -m venv "$VENV"
fi
if ! in_root "$VENV/bin/python" -c "import tide, torch" 2>/dev/null; then
    in_root "$VENV/bin/pip" install "torch==$TORCH" numpy scipy "tide-gpr==0.1.2" tqdm
fi

# 5. The benchmark, from the bind-mounted checkout.
in_root sh -c "cd /repo && PYTHONPATH=/repo/python $VENV/bin/python bench/bench_tide.py \"\$@\"" \
    bench_tide "$@"
