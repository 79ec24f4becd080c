# The two commands a person needs: `make run` (the whole system offline) and `make test`.
# Everything else here is what those two call. The project's own files install what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
VENV_STAMP := $(VENV)/.installed
SAM_STAMP := .venv-sam/.installed
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run test lint template-check unit component e2e token bench openapi clean

help:
	@echo "make run     start the whole system offline (local AWS, local API, provider sandbox)"
	@echo "make test    lint, template checks and every test"
	@echo "make token ROLE=admin SUB=1   print an access token for the running local stack"
	@echo "make bench   run the benchmark scripts (figures in the README)"

$(VENV_STAMP): requirements/dev.txt requirements/constraints.txt layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip==25.3
	$(VENV)/bin/pip install -q -r requirements/dev.txt -c requirements/constraints.txt
	touch $@

# aws-sam-cli pins its own dependencies, so it lives in a venv of its own.
$(SAM_STAMP): requirements/sam.txt
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/pip install -q -r requirements/sam.txt
	touch $@

SWAGGER_UI := functions/api_docs/swagger_ui/swagger-ui-bundle.js
$(SWAGGER_UI): scripts/fetch_swagger_ui.sh
	scripts/fetch_swagger_ui.sh

install: $(VENV_STAMP) $(SWAGGER_UI)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

template-check: $(SAM_STAMP)
	$(SAM) validate --lint
	$(SAM) build --parallel --cached --build-dir .aws-sam/build > .aws-sam-build.log 2>&1 || (cat .aws-sam-build.log; exit 1)
	@echo "sam build: ok"

unit: $(VENV_STAMP)
	$(PY) -m pytest tests/unit -q

component: $(VENV_STAMP)
	$(PY) -m pytest tests/component -q

# The local stack (offline/): ports are variables, e.g. `make run API_PORT=8080`.
API_PORT ?= 3000
AWS_PORT ?= 4566
SANDBOX_PORT ?= 4010
URL_PORT ?= 3001
FUNCTION_REQS := $(wildcard functions/*/requirements.txt)
FUNCTION_STAMP := $(VENV)/.functions-installed

# Function-specific requirements go into the same venv, so every worker can import them.
$(FUNCTION_STAMP): $(VENV_STAMP) $(FUNCTION_REQS)
	@for f in $(FUNCTION_REQS); do $(VENV)/bin/pip install -q -r $$f || exit 1; done
	@touch $@

# Template parameters of the local stack: webhook receivers on 127.0.0.1 may be registered (the SSRF
# rules refuse loopback everywhere else). More with PARAMETERS="Key=Value ...".
LOCAL_PARAMETERS := WebhooksAllowLoopback=true
PARAMETERS ?=

run: $(FUNCTION_STAMP) $(SWAGGER_UI)
	@$(PY) -m offline run --api-port $(API_PORT) --aws-port $(AWS_PORT) --sandbox-port $(SANDBOX_PORT) --url-port $(URL_PORT) \
		$(foreach p,$(LOCAL_PARAMETERS) $(PARAMETERS),--parameter $(p))

ROLE ?= admin
SUB ?= 1
token: $(VENV_STAMP)
	@$(PY) -m offline token --role $(ROLE) --sub $(SUB)

e2e: $(FUNCTION_STAMP)
	$(PY) -m pytest tests/e2e -q

test: lint template-check $(FUNCTION_STAMP)
	$(PY) -m pytest tests -q

openapi: $(VENV_STAMP)
	$(PY) scripts/build_openapi.py

bench: $(VENV_STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .offline
