# PeerPost: `make run` starts everything locally; `make test` runs the whole suite.
# Both create the virtualenv and install what is missing (PyPI and Debian packages only).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# Lambda supports Python 3.13 for years to come; chalice picks the runtime from this interpreter.
PYTHON_313 := $(shell for p in $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 $$(command -v python3.13); do \
  "$$p" -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: run reset code test test-fast browser-deps bench clean package checkov deploy

$(STAMP): requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON_313)" ]; then echo "Python 3.13 is needed (python3.13 on PATH, or pyenv install 3.13)"; exit 1; fi
	@test -x $(PY) || $(PYTHON_313) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade "pip<26.3" 2>&1 | grep -v "^WARNING: Location" || true  # chalice 1.34 needs pip<26.3
	@$(PY) -m pip install --quiet -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import chalice, moto, mjml, playwright" && touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --silent && touch $@

browser-deps: node_modules/.installed
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

# Local data lives in .peerpost-data (git-ignored) across restarts; `make reset` wipes it.
DATA_DIR ?= .peerpost-data

run: $(STAMP)
	$(PY) -m localdev --data-dir $(DATA_DIR)

reset:
	rm -rf $(DATA_DIR)

# The demo coordinator's current two-factor code (her authenticator key is printed by `make run`).
code: $(STAMP)
	@$(PY) -c "from localdev import demo; from chalicelib import two_factor; print(two_factor.current_code(demo.coordinator_totp()))"

test: $(STAMP) browser-deps checkov
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# Without Chromium, running servers or the Lambda package: the loop while changing a service.
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not browser and not live and not package" $(PYTEST_ARGS)

# Every bench/run_*.py, in name order; each prints a table and merges into bench/results.json.
bench: $(STAMP)
	@for script in bench/run_*.py; do [ -e "$$script" ] || continue; echo "== $$script"; \
	  $(PY) -m bench.$$(basename $$script .py) || exit 1; done

# Deploying to AWS (docs/deploy.md). SES_SEND_RATE is the account's SES maximum send rate.
STAGE ?= dev
STACK ?= peerpost-$(STAGE)
SES_SEND_RATE ?= 14
PARAMETERS ?=
ARTEFACTS_BUCKET ?=
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

package: $(STAMP)
	$(PY) -m infra.package --ses-send-rate $(SES_SEND_RATE)

# checkov pins boto3/packaging below requirements-dev.txt: it gets a virtualenv of its own.
$(CHECKOV): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON_313) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt 2>&1 | grep -v "^WARNING: Location" || true
	@test -x $(CHECKOV) && touch $(CHECKOV)

checkov: $(CHECKOV)

deploy: package
	@test -n "$(ARTEFACTS_BUCKET)" || { echo "Set ARTEFACTS_BUCKET=<an S3 bucket for the package>"; exit 1; }
	aws cloudformation package --template-file dist/sam.json --s3-bucket $(ARTEFACTS_BUCKET) \
	  --output-template-file dist/packaged.yaml
	aws cloudformation deploy --template-file dist/packaged.yaml --stack-name $(STACK) \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameter-overrides Stage=$(STAGE) $(PARAMETERS)
	@aws cloudformation describe-stacks --stack-name $(STACK) \
	  --query "Stacks[0].Outputs[?OutputKey=='EndpointURL'||OutputKey=='TableName'].[OutputKey,OutputValue]" --output text

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) dist vendor .pytest_cache .hypothesis

# The newsletter benchmark with peak memory at 100,000 subscribers as well (slow: several minutes).
.PHONY: bench-100k
bench-100k: $(STAMP)
	$(PY) -m bench.run_newsletter --with-100k
