# The README's two set-up commands: `make quickstart` and `make test`. Each builds .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv quickstart test test-fast lint bench-lid clean

# torch==2.13.0 resolves to the CPU build here; a looser spec would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[app,dev]'
	touch $(STAMP)

venv: $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/mthinker pipeline examples/configs/tiny.yaml --output runs/quickstart

# The browser test drives Debian's chromium; install it when we are root and it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; }

test: $(STAMP) chromium
	$(PY) -m pytest -q -p no:cacheprovider tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser" tests

lint: $(STAMP)
	$(VENV)/bin/ruff check kit tests app.py

bench-lid: $(STAMP)
	$(VENV)/bin/mthinker bench lid --out docs/lid_benchmark.json

clean:
	rm -rf $(VENV) runs .pytest_cache
