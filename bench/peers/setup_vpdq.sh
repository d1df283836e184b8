#!/usr/bin/env bash
# Builds Meta's vPDQ hasher (the `vpdq` PyPI package: Cython bindings over the C++ library)
# into the benchmark's virtual environment, for bench_video_hashing.py and
# bench_video_match.py. Benchmark environment only: Lykta itself never needs it.
#
#     bash bench/peers/setup_vpdq.sh            # into ./.venv
#     VENV=/path/to/venv bash bench/peers/setup_vpdq.sh
#
# vpdq ships only a source distribution; it links against the system FFmpeg libraries
# (Debian's libav*-dev), unlike PyAV, whose wheels bundle their own FFmpeg.
set -euo pipefail

VENV="${VENV:-.venv}"
VPDQ_VERSION="${VPDQ_VERSION:-0.2.5}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "no virtual environment at $VENV (set VENV=...)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential cmake pkg-config python3-dev \
    libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
    libswresample-dev libavdevice-dev libavfilter-dev

"$VENV/bin/pip" install --no-binary vpdq "vpdq==$VPDQ_VERSION"
"$VENV/bin/python" -c "import vpdq; print('vpdq', 'installed from', vpdq.__file__)"
