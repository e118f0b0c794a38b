# The README's two set-up commands: `make quickstart` and `make test`. Each builds .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch==2.13.0 resolves to the CPU build here; a looser spec would pull several GB of CUDA wheels.
TORCH := torch==2.13.0
# verl's own environment (verl pins an older transformers than the kit): verl, the kit's reward side, no
# training stack. The verl release is pinned in $(VERL_REQUIREMENTS) only.
VERL_VENV := .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
VERL_STAMP := $(VERL_VENV)/.installed
VERL_REQUIREMENTS := examples/verl/requirements.txt

.PHONY: venv verl-env quickstart test test-fast lint bench-lid clean chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[app,dev]'
	touch $(STAMP)

venv: $(STAMP)

# verl 0.9.1 itself requires no torch build; its tensordict/torchdata take any, so the CPU pin comes first.
$(VERL_STAMP): $(VERL_REQUIREMENTS) pyproject.toml
	test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install -q $(TORCH)
	$(VERL_PY) -m pip install -q -r $(VERL_REQUIREMENTS)
	$(VERL_PY) -m pip install -q --no-deps -e .
	touch $(VERL_STAMP)

verl-env: $(VERL_STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/mthinker pipeline examples/configs/tiny.yaml --output runs/quickstart

# The browser test drives Debian's chromium; the CJK and Thai fonts let it draw the demo's questions (the
# screenshots in docs/). apt runs only when something is missing, and only as root. CI (.ci/run) sets
# MTHINKER_REQUIRE_BROWSER=1, so there a missing browser fails the browser tests instead of skipping them.
BROWSER_FONTS := fonts-noto-cjk fonts-thai-tlwg
chromium:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="chromium"; \
	if command -v dpkg-query >/dev/null 2>&1; then for p in $(BROWSER_FONTS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $$missing >/dev/null; } || echo "apt-get could not install$$missing"; \
	  else echo "not installed:$$missing (needs root and apt): browser tests skip, or fail with MTHINKER_REQUIRE_BROWSER=1"; fi; \
	fi

# --doctest-modules runs the `>>>` examples in kit/'s docstrings, so they cannot drift from the code.
test: $(STAMP) $(VERL_STAMP) chromium
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules tests kit

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser" tests

lint: $(STAMP)
	$(VENV)/bin/ruff check kit tests app.py

bench-lid: $(STAMP)
	$(VENV)/bin/mthinker bench lid --output docs/lid_benchmark.json

clean:
	rm -rf $(VENV) $(VERL_VENV) runs .pytest_cache
