#!/usr/bin/env bash
# Set up (or verify) the mmvitplug environment. Idempotent: a second run only
# re-checks, in seconds.
#
#   bash tools/setup_env.sh            # what `make setup` runs
#
# Where things go (outside the clone, so every clone and CI run reuses them):
#   $MMVITPLUG_HOME/venv                     the virtual environment
#   $MMVITPLUG_HOME/wheels/torch-<ver>/      the mmcv wheel built for that torch
# MMVITPLUG_HOME defaults to ~/.cache/mmvitplug. PYTHON picks the interpreter
# the venv is made from (default python3; 3.9-3.11 work with the pinned stack).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${MMVITPLUG_HOME:-$HOME/.cache/mmvitplug}"
VENV="$HOME_DIR/venv"
BASE_PYTHON="${PYTHON:-python3}"
TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
WHEELS="$HOME_DIR/wheels/torch-$TORCH_VERSION"
PY="$VENV/bin/python"

log() { echo "[setup] $*"; }

if [ ! -x "$PY" ]; then
    log "creating venv $VENV from $BASE_PYTHON"
    mkdir -p "$HOME_DIR"
    "$BASE_PYTHON" -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
fi

pip_install() { "$PY" -m pip install -q "$@"; }

# `mim search` / `mim train mmvitplug ...` look for <dist location>/mmvitplug
# (then its .mim/ folder, made by setup.py). A PEP 660 editable install
# imports through setuptools' finder and has no such folder, so link it to
# this clone's package (the import resolves to the same files).
link_for_mim() {
    local site
    site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    if [ -e "$site/mmvitplug" ] && [ ! -L "$site/mmvitplug" ]; then
        log "$site/mmvitplug is a real folder (a non-editable install): left as is"
    else
        ln -sfn "$ROOT/mmvitplug" "$site/mmvitplug"
    fi
}

editable_here() {
    # Is mmvitplug installed editable from *this* clone?
    # from / : the clone's own folder on sys.path would always be found first
    (cd / && "$PY" - "$ROOT") <<'EOF' 2>/dev/null
import os, sys
import importlib.util
spec = importlib.util.find_spec('mmvitplug')
root = os.path.realpath(sys.argv[1])
sys.exit(0 if spec and os.path.realpath(spec.origin).startswith(root + os.sep) else 1)
EOF
}

if "$PY" "$ROOT/tools/check_env.py" --quiet 2>/dev/null \
        && "$PY" -c 'import pytest, xdist, timm, sklearn, flake8, isort, mim' 2>/dev/null; then
    if ! editable_here || [ ! -e "$ROOT/mmvitplug/.mim/model-index.yml" ]; then
        log "installing mmvitplug (editable) from $ROOT"
        (cd "$ROOT" && pip_install --no-deps --no-build-isolation -e .)
    fi
    link_for_mim
    "$PY" "$ROOT/tools/check_env.py"
    exit 0
fi

log "installing torch $TORCH_VERSION + matching torchvision (~1-2 min)"
pip_install -r "$ROOT/requirements/torch.txt"
log "installing the OpenMMLab stack and test tools"
pip_install -r "$ROOT/requirements/torch.txt" -r "$ROOT/requirements/stack.txt" \
    -r "$ROOT/requirements/tests.txt"

MMCV_WHEEL=$(ls "$WHEELS"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$MMCV_WHEEL" ]; then
    log "building mmcv $MMCV_VERSION against torch $TORCH_VERSION" \
        "(once; ~15 min on 2 cores; cached in $WHEELS)"
    mkdir -p "$WHEELS"
    BUILD_TMP=$(mktemp -d)
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$PY" -m pip wheel -q --no-build-isolation \
        --no-deps -w "$BUILD_TMP" "mmcv==$MMCV_VERSION"
    mv "$BUILD_TMP"/mmcv-*.whl "$WHEELS"/   # atomic enough: never a half wheel
    rm -rf "$BUILD_TMP"
    MMCV_WHEEL=$(ls "$WHEELS"/mmcv-$MMCV_VERSION-*.whl | head -n 1)
else
    log "using cached $MMCV_WHEEL"
fi
pip_install --no-deps --force-reinstall "$MMCV_WHEEL"
# mmcv's own runtime deps (addict, yapf, ...) without letting pip touch torch
pip_install -r "$ROOT/requirements/torch.txt" "mmcv==$MMCV_VERSION" \
    --find-links "$WHEELS"

log "installing mmvitplug (editable) from $ROOT"
(cd "$ROOT" && pip_install --no-deps --no-build-isolation -e .)
link_for_mim

if ! "$PY" "$ROOT/tools/check_env.py"; then
    log "the environment check failed: see the fixes named above"
    exit 1
fi
