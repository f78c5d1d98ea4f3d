# Two commands do everything on a fresh machine:
#   make demo   set up .venv, write a phantom case and its figure, then run the pipeline on a phantom
#               case (registration, synthetic CT with the bundled model, metrics, figure) into demo_out/
#   make test   set up .venv with the test extras and run the whole test suite
# Override TORCH_SPEC to install another torch build first (e.g. a CUDA build).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
DEMO_OUT ?= demo_out

.PHONY: demo test quick lint bench clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: pyproject.toml | $(PY)
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.runtime-installed
	$(PIP) install -q -e ".[test]"
	touch $@

demo: $(VENV)/.runtime-installed
	mkdir -p $(DEMO_OUT)
	$(VENV)/bin/mrtoct phantom --out $(DEMO_OUT)/phantom --cases 1 --seed 0 --overwrite \
		--figure $(DEMO_OUT)/phantom_figure.png
	$(VENV)/bin/mrtoct demo --out $(DEMO_OUT)/pipeline

lint: $(VENV)/.test-installed
	$(PY) -m ruff check .

# The web app's tests click in a real headless Chromium: Debian's chromium and chromium-driver,
# installed here when missing (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing Debian's chromium and chromium-driver for the browser tests"; \
		$(SUDO) apt-get install -y -q chromium chromium-driver >/dev/null || { \
		$(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium chromium-driver >/dev/null; }; }

test: $(VENV)/.test-installed browser
	$(PY) -m ruff check .
	@$(PY) -c "from MRtoCTTranslationLib.precision import report; print('this machine:', report())"
	$(PY) -m pytest -q --durations=15

# The fast loop while developing (under two minutes): lint, then every test not marked slow (those that
# translate, train, serve or open a browser run in `make test`).
quick: $(VENV)/.test-installed
	$(PY) -m ruff check .
	$(PY) -m pytest -q -m "not slow"

bench: $(VENV)/.runtime-installed
	$(PY) Testing/benchmarks/bench_phantom.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
