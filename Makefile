# Two commands: `make demo` and `make test`. Each installs what it needs first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
JS_STAMP := js/node_modules/.installed
S3RVER_STAMP := tests/s3rver/node_modules/.installed
AXE_STAMP := tests/axe/node_modules/.installed
BUNDLE := s3_upload_widget/static/widget.js
JS_SOURCES := $(wildcard js/src/*.js js/src/*.css)
PYTEST_ARGS ?=
DEMO_ARGS ?=
# Jupyter refuses to run as root unless told; CI and these machines run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: demo test install build chromium lint typecheck test-js test-py bench clean

demo: install
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(DEMO_ARGS) notebooks/quickstart.ipynb

test: install chromium lint typecheck test-js test-py

install: $(PIP_STAMP)

build: $(BUNDLE)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(JS_STAMP): js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund
	touch $@

# The SigV4-verifying S3 server of the security tests.
$(S3RVER_STAMP): tests/s3rver/package.json tests/s3rver/package-lock.json
	cd tests/s3rver && npm ci --no-audit --no-fund
	touch $@

# JupyterHub's proxy for the JupyterHub browser test (tests/e2e/test_jupyterhub.py).
HUB_STAMP := tests/hub/node_modules/.installed
$(HUB_STAMP): tests/hub/package.json tests/hub/package-lock.json
	cd tests/hub && npm ci --no-audit --no-fund
	touch $@

# axe-core, the accessibility checker the browser tests inject into their pages.
$(AXE_STAMP): tests/axe/package.json tests/axe/package-lock.json
	cd tests/axe && npm ci --no-audit --no-fund
	touch $@

# The checksum-verifying S3 server of the tests (ministack), in a venv of its own: it pins
# its own botocore. The stamp holds the requirements' digest (tests/e2e/checksum_server.py
# reinstalls when it differs).
MINISTACK_STAMP := tests/ministack/.venv/.installed
$(MINISTACK_STAMP): tests/ministack/requirements.txt
	test -x tests/ministack/.venv/bin/python || python3 -m venv tests/ministack/.venv
	tests/ministack/.venv/bin/python -m pip install -q --disable-pip-version-check -r $<
	sha256sum $< | cut -d' ' -f1 > $@

$(BUNDLE): $(JS_STAMP) $(JS_SOURCES)
	cd js && npm run build

# The bundle is built first so that the package's build hook finds it and skips npm.
$(PIP_STAMP): $(PY) pyproject.toml $(BUNDLE)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

chromium:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check s3_upload_widget tests benchmarks tools notebooks
	$(VENV)/bin/ruff format --check s3_upload_widget tests benchmarks tools notebooks

typecheck: $(JS_STAMP)
	cd js && npm run typecheck

test-js: $(JS_STAMP)
	cd js && npm test

test-py: install $(BUNDLE) $(S3RVER_STAMP) $(AXE_STAMP) $(MINISTACK_STAMP) $(HUB_STAMP)
	$(PY) -m pytest -m "not slow_link" $(PYTEST_ARGS)

bench: install chromium
	$(PY) -m benchmarks.run && $(PY) -m benchmarks.many_files && $(PY) -m benchmarks.kernel_rtt
	$(PY) -m pytest -m slow_link -s $(PYTEST_ARGS)
	$(PY) -m benchmarks.link

clean:
	rm -rf $(VENV) js/node_modules tests/s3rver/node_modules tests/hub/node_modules tests/axe/node_modules tests/ministack/.venv s3_upload_widget/static .pytest_cache
