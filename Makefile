# The README's two commands: `make demo` and `make test`.
# Each installs what it needs into a local virtual environment first.
#
# TORCH_SPEC picks the torch build: the CPU wheel by default. A GPU user runs e.g.
#   make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
BIN := $(VENV)/bin
SYSTEM_PACKAGES := xvfb libxcb-icccm4 libxcb-keysyms1 libgl1 libegl1

.PHONY: demo test setup system-deps test-floors

demo: setup
	$(BIN)/histoseg demo

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: system-deps $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[dev,openslide,distributed]"
	touch $@

# The fast tests against the minimum versions pyproject.toml allows (.ci/floor_constraints.py
# pins each dependency to its floor). PYTHON should be the oldest Python supported (3.11).
# The installs use uv, not pip: with ~30 exact pins pip backtracks through the unpinned
# transitive dependencies and stops with "resolution-too-deep", while uv's resolver settles
# them in seconds (or names the conflict). The floors are given as exact pins (==floor)
# rather than uv's --resolution lowest-direct, so a floor that cannot be installed (no wheel
# for PYTHON) fails loudly instead of the run quietly testing the next version up.
# torch is installed first, by pip as in `make setup` (pip's configuration is what finds the
# CPU wheel of FLOOR_TORCH_SPEC where the machine provides one), and is left out of the pins;
# uv then keeps it. A GPU user can pick a CUDA build, e.g.
#   make test-floors FLOOR_TORCH_SPEC="torch==2.3.0 --index-url https://download.pytorch.org/whl/cu121"
FLOOR_TORCH_SPEC ?= torch==2.13.0
UV_SPEC ?= uv==0.13.8
FLOOR_UV := .venv-floors/bin/uv pip install -q --python .venv-floors/bin/python
test-floors: system-deps
	$(PYTHON) -m venv --clear .venv-floors
	.venv-floors/bin/python -m pip install -q "$(UV_SPEC)"
	.venv-floors/bin/python -m pip install -q $(FLOOR_TORCH_SPEC)
	$(PYTHON) .ci/floor_constraints.py --extras dev,distributed > .venv-floors/floors.txt
	$(FLOOR_UV) -c .venv-floors/floors.txt -e ".[dev,distributed]"
	.venv-floors/bin/python -m pytest -m "not slow" $(PYTEST_ARGS)

# napari needs an X display with OpenGL: Xvfb and Mesa, plus two xcb libraries
# without which PyQt6 aborts with a misleading xcb-cursor message.
system-deps:
	@if command -v Xvfb >/dev/null && ldconfig -p | grep -q libxcb-icccm.so.4 \
	    && ldconfig -p | grep -q libxcb-keysyms.so.1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	else \
	    echo "Missing system packages; run: sudo apt-get install -y $(SYSTEM_PACKAGES)"; exit 1; \
	fi
