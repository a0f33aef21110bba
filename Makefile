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
FLOOR_TORCH_SPEC ?= torch==2.1.0 --index-url https://download.pytorch.org/whl/cpu
test-floors: system-deps
	$(PYTHON) -m venv .venv-floors
	.venv-floors/bin/python -m pip install -q --upgrade pip
	.venv-floors/bin/python -m pip install -q $(FLOOR_TORCH_SPEC)
	$(PYTHON) .ci/floor_constraints.py --extras dev,distributed > .venv-floors/floors.txt
	.venv-floors/bin/python -m pip install -q -c .venv-floors/floors.txt -e ".[dev,distributed]"
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
