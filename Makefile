# The two commands a person needs: `make run` (the whole system offline) and `make test`.
# Everything else here is what those two call. The project's own files install what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
VENV_STAMP := $(VENV)/.installed
SAM_STAMP := .venv-sam/.installed
CHECKOV := .venv-checkov/bin/checkov
CHECKOV_STAMP := .venv-checkov/.installed
FUNCTION_REQS := $(wildcard functions/*/requirements.txt)
FUNCTION_STAMP := $(VENV)/.functions-installed
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0

.PHONY: help install lock run test lint typecheck template-check scan unit component e2e fuzz soak crash token bench screenshots openapi clean

help:
	@echo "make run     start the whole system offline (local AWS, local API, provider sandbox)"
	@echo "make test    lint, type checks, template checks and every test"
	@echo "make token ROLE=student SUB=stu_ana00001   print an access token for the running local stack"
	@echo "make fuzz    schema fuzzing of the whole API, longer than make test runs it (FUZZ_EXAMPLES=400)"
	@echo "make soak    10,000 webhook deliveries to 20 receivers failing 30 % at random (SOAK_EVENTS=10000)"
	@echo "make crash   every event consumer SIGKILLed at every point of a batch (make test: one point each)"
	@echo "make bench   one table of every benchmark figure (README, Performance); BENCH_QUICK=1 for a short check"
	@echo "make screenshots  the console tests, renewing the screenshots in docs/images"
	@echo "make scan    checkov over template.yaml (make test runs it; exceptions are written in the template)"
	@echo "make lock    resolve every requirements pin again (after changing a .in file or dev.txt)"

STEP := scripts/step
PIP_HINT := check that PyPI is reachable (pip's output is above), then run the command again

$(VENV_STAMP): requirements/dev.txt requirements/constraints.txt layers/core/requirements.txt
	@echo "Setting up (once; later runs skip what is done):"
	@$(STEP) "venv (.venv)" "is python3.11 with venv installed? (PYTHON=...)" $(PYTHON) -m venv $(VENV)
	@$(STEP) "pip 25.3" "$(PIP_HINT)" $(VENV)/bin/pip install --upgrade pip==25.3
	@$(STEP) "packages (requirements/)" "$(PIP_HINT)" \
		$(VENV)/bin/pip install -r requirements/dev.txt -c requirements/constraints.txt
	@touch $@

# aws-sam-cli pins its own dependencies, so it lives in a venv of its own.
$(SAM_STAMP): requirements/sam.txt
	@$(STEP) "venv (.venv-sam)" "is python3.11 with venv installed? (PYTHON=...)" $(PYTHON) -m venv .venv-sam
	@$(STEP) "SAM CLI (requirements/sam.txt)" "$(PIP_HINT)" .venv-sam/bin/pip install -r requirements/sam.txt
	@touch $@

# checkov pins many dependencies of its own too: a venv of its own, like the SAM CLI.
$(CHECKOV_STAMP): requirements/checkov.txt
	@$(STEP) "venv (.venv-checkov)" "is python3.11 with venv installed? (PYTHON=...)" $(PYTHON) -m venv .venv-checkov
	@$(STEP) "checkov (requirements/checkov.txt)" "$(PIP_HINT)" .venv-checkov/bin/pip install -r requirements/checkov.txt
	@touch $@

# Every pin is written by the resolver from the .in files and dev.txt, never copied from a venv:
# the layer and the functions (what `sam build` installs), the development venv, the SAM CLI, checkov.
# The resolver (uv, which has no dependencies) has a venv of its own, so that a broken lock file
# never stops its own repair.
UV := .venv-lock/bin/uv
UV_VERSION := 0.13.9
UV_COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --custom-compile-command "make lock"
$(UV):
	@$(STEP) "venv (.venv-lock)" "is python3.11 with venv installed? (PYTHON=...)" $(PYTHON) -m venv .venv-lock
	@$(STEP) "uv $(UV_VERSION)" "$(PIP_HINT)" .venv-lock/bin/pip install uv==$(UV_VERSION)

lock: $(UV)
	$(UV_COMPILE) layers/core/requirements.in -o layers/core/requirements.txt
	for f in functions/*/requirements.in; do \
		$(UV_COMPILE) $$f -c layers/core/requirements.txt -o $${f%.in}.txt || exit 1; done
	$(UV_COMPILE) requirements/dev.txt $(FUNCTION_REQS) -o requirements/constraints.txt
	$(UV_COMPILE) requirements/sam.in -o requirements/sam.txt
	$(UV_COMPILE) requirements/checkov.in -o requirements/checkov.txt

SWAGGER_UI := functions/api_docs/swagger_ui/swagger-ui-bundle.js
$(SWAGGER_UI): scripts/fetch_swagger_ui.sh
	@$(STEP) "Swagger UI assets (npm)" "check that the npm registry is reachable" scripts/fetch_swagger_ui.sh

# The browser tests' chromium, from Debian (Playwright itself is a pinned pip package in dev.txt).
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): scripts/install_chromium.sh | $(VENV_STAMP)
	@$(STEP) "chromium (Debian package)" "check that Debian's package mirror is reachable (apt-get's output is above)" scripts/install_chromium.sh
	@touch $@

install: $(VENV_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) $(FUNCTION_STAMP) $(SWAGGER_UI) $(BROWSER_STAMP)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy over layers/ and functions/ (pyproject.toml [tool.mypy] says what is checked and why).
# Its cache (.mypy_cache) makes a second run a few seconds.
typecheck: $(VENV_STAMP)
	$(VENV)/bin/mypy

template-check: $(SAM_STAMP)
	$(SAM) validate --lint
	$(SAM) build --parallel --cached --build-dir .aws-sam/build > .aws-sam-build.log 2>&1 || (cat .aws-sam-build.log; exit 1)
	@echo "sam build: ok"
	.venv-sam/bin/python scripts/check_bytecode.py .aws-sam/build

# The infrastructure scan: every check passes or is skipped in template.yaml itself, on the resource,
# with its reason (Metadata: checkov: skip: - id, comment). Offline: no download, no platform.
scan: $(CHECKOV_STAMP)
	$(CHECKOV) --file template.yaml --framework cloudformation --quiet --compact --skip-download

unit: $(VENV_STAMP)
	$(PY) -m pytest tests/unit -q

component: $(VENV_STAMP)
	$(PY) -m pytest tests/component -q

# The local stack (offline/): ports are variables, e.g. `make run API_PORT=8080`.
API_PORT ?= 3000
AWS_PORT ?= 4566
SANDBOX_PORT ?= 4010
URL_PORT ?= 3001

# Function-specific requirements go into the same venv, so every worker can import them.
$(FUNCTION_STAMP): $(VENV_STAMP) $(FUNCTION_REQS)
	@$(STEP) "functions' packages" "$(PIP_HINT)" \
		$(VENV)/bin/pip install $(addprefix -r ,$(FUNCTION_REQS)) -c requirements/constraints.txt
	@touch $@

# Template parameters of the local stack: webhook receivers on 127.0.0.1 may be registered (the SSRF
# rules refuse loopback everywhere else); sign-in may redirect to the local API's callbacks and to a
# local web app (docs/sign-in.md). More with PARAMETERS="Key=Value ...".
comma := ,
space := $(subst ,, )
SIGNIN_CALLBACKS := $(foreach p,google microsoft github,http://127.0.0.1:$(API_PORT)/api/v1/integration/oauth/$(p)/callback)
# The web console (docs/console.md) at http://127.0.0.1:$(API_PORT)/console/ or http://localhost:...
CONSOLE_ORIGINS := http://127.0.0.1:$(API_PORT) http://localhost:$(API_PORT)
LOCAL_PARAMETERS := WebhooksAllowLoopback=true \
	SignInRedirectUris=$(subst $(space),$(comma),$(SIGNIN_CALLBACKS) $(addsuffix /console/callback,$(CONSOLE_ORIGINS)) http://localhost:8080/signin/callback) \
	SignInReturnTo=$(subst $(space),$(comma),$(addsuffix /console/,$(CONSOLE_ORIGINS)) http://localhost:8080/)
PARAMETERS ?=

run: $(FUNCTION_STAMP) $(SWAGGER_UI)
	@$(PY) -m offline run --api-port $(API_PORT) --aws-port $(AWS_PORT) --sandbox-port $(SANDBOX_PORT) --url-port $(URL_PORT) \
		$(foreach p,$(LOCAL_PARAMETERS) $(PARAMETERS),--parameter $(p))

ROLE ?= admin
SUB ?=
token: $(VENV_STAMP)
	@$(PY) -m offline token --role $(ROLE) --sub $(SUB)

e2e: $(FUNCTION_STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest tests/e2e -q

# Two pytest workers, a test file each at a time (its module-scoped stacks stay with it): the end
# to end tests spend most of their time waiting on a stack, so one worker leaves a core idle.
# TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
test: lint typecheck template-check scan $(FUNCTION_STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest tests -q -n $(TEST_WORKERS) --dist loadfile --durations=25

# make test fuzzes every operation with 40 requests, the same each run; this runs new ones, more.
FUZZ_EXAMPLES ?= 400
fuzz: $(FUNCTION_STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(PY) -m pytest tests/fuzz -q --timeout=1800

# make test soaks 300 deliveries and kills each consumer at one point; these do the whole of it.
SOAK_EVENTS ?= 10000
soak: $(FUNCTION_STAMP)
	SOAK_EVENTS=$(SOAK_EVENTS) $(PY) -m pytest tests/e2e/soak -q --timeout=1800

crash: $(FUNCTION_STAMP)
	CRASH_POINTS=all $(PY) -m pytest tests/e2e/faults/test_crash_points.py -q

# The console tests' screenshots, renewed in docs/images (a normal run writes them to a temporary folder).
screenshots: $(FUNCTION_STAMP) $(BROWSER_STAMP)
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/images $(PY) -m pytest tests/e2e/console -q

openapi: $(VENV_STAMP)
	$(PY) scripts/build_openapi.py

# One table of every figure (README, Performance), saved as benchmarks/results/<UTC date>.json;
# BENCH_QUICK=1 for a short check that every part runs.
bench: $(FUNCTION_STAMP)
	$(PY) -m benchmarks.run_all

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache .offline
