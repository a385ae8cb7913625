# mmvitplug: the two commands of the README are `make demo` and `make test`.
# Both set everything up first (idempotent; the first run builds mmcv once,
# ~15 min on 2 cores, and caches it outside the clone).
MMVITPLUG_HOME ?= $(HOME)/.cache/mmvitplug
PY := $(MMVITPLUG_HOME)/venv/bin/python
export MMVITPLUG_HOME

.PHONY: setup data demo test test-fast benchmark lint

setup:
	bash tools/setup_env.sh

data: setup
	$(PY) tools/make_bundled_data.py

# Train and evaluate on the bundled data: DeiT distilled from a convnet
# teacher (digits), Mask R-CNN (shapes-coco) and UperNet (shapes-ade) with a
# DeiT backbone. Prints a results table at the end.
demo: data
	$(PY) tools/run_demo.py

# The whole suite, the slow end-to-end runs (marker e2e) included, on two
# worker processes (pytest-xdist; the machine has 2 cores, and most tests,
# the tool runs included, use one); a test is handed to whichever worker is
# free (worksteal).
XDIST := -n 2 --dist worksteal
test: data
	$(PY) -m pytest $(XDIST)

test-fast: data
	$(PY) -m pytest $(XDIST) -m "not e2e"

benchmark: setup
	$(PY) tools/analysis/benchmark.py --arch deit-tiny --timm deit_tiny_patch16_224

# flake8 + isort with the OpenMMLab settings of setup.cfg (tests/test_style.py
# checks the same); `make lint FIX=1` sorts the imports in place.
LINT_PATHS := mmvitplug tools tests configs setup.py
lint: setup
	$(PY) -m isort $(if $(FIX),,--check-only --diff) $(LINT_PATHS)
	$(PY) -m flake8 $(LINT_PATHS)
