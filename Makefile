# The two commands of the quick start are `make demo` and `make test`; both set up what is missing.
# Deploying: `make deploy ARGS="-c projects='{\"pets\": {}}'"` sets up the venv (requirements.txt only)
# and the pinned CDK CLI, then runs `cdk deploy`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt pyproject.toml | sha1sum | cut -c1-12)
DEPLOY_STAMP := $(VENV)/.deploy-$(shell cat requirements.txt constraints.txt | sha1sum | cut -c1-12)
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: install deploy-env demo test unit e2e infra lint typecheck synth deploy cdk-cli offline-server validate bench bench-scale bench-report-scan bench-delta diagram hostile fuzz faults second-engine clean

## install: the venv (pinned packages); the targets that run code run it first
install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* $(VENV)/.deploy-* && touch $@ $(DEPLOY_STAMP)

## deploy-env: only what `cdk synth` needs (requirements.txt); a full `make install` covers it too
deploy-env: $(DEPLOY_STAMP)

$(DEPLOY_STAMP): requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@rm -f $(VENV)/.deploy-* && touch $@

## demo: run the pipeline offline on the example manifests (ARGS="--json" or ARGS="path.jsonl ...")
demo: install
	$(PY) -m offline.demo $(ARGS)

## offline-server: the offline stack as an HTTP endpoint on 127.0.0.1:4566 (ARGS="--port 5000 --project NAME")
offline-server: install
	$(PY) -m offline.server $(ARGS)

## validate: check a manifest without sending anything (ARGS="path.jsonl|s3://bucket/key [--json] [--warnings-as-rejections]")
validate: install
	$(PY) -m cli.validate $(ARGS)

## bench: plan-step benchmark (~4 min, ~1.3 GB temp disk under .bench/); writes docs/benchmarks.md
bench: install
	$(PY) -m benchmarks.plan_throughput --write-docs $(ARGS)

## fuzz: fuzz the plan step, 1,000,000 random and mutated lines (~100 s); writes docs/reliability.md
fuzz: install
	$(PY) -m benchmarks.fuzz_plan --lines 1000000 --seed 1 --write-docs $(ARGS)

## bench-scale: scale, polling, cost and end-to-end figures of the whole pipeline offline (~5 min); writes docs/benchmarks.md
bench-scale: install
	$(PY) -m benchmarks.scale_and_cost --write-docs $(ARGS)

## bench-report-scan: the report's listing of a 250,000-entry dataset, 300 ms a page, 2% throttled (~3 min); writes docs/benchmarks.md
bench-report-scan: install
	$(PY) -m benchmarks.report_scan --write-docs $(ARGS)

## bench-delta: delta sync and replace mode on a 250,000-line manifest: unchanged and 1% edited re-drops, index vs listing, cost, a replace; then the same sandboxed for peak memory (~11 min); writes docs/benchmarks.md
bench-delta: install
	$(PY) -m benchmarks.delta_sync --write-docs $(ARGS)
	$(PY) -m benchmarks.delta_sync --write-docs --sandboxed $(ARGS)

## diagram: render docs/architecture/pipeline.dot to pipeline.svg (Graphviz, pinned; installed with apt-get if missing)
GRAPHVIZ_VERSION := 2.42.2-7+deb12u1
diagram:
	@command -v dot >/dev/null || apt-get install -y -q graphviz=$(GRAPHVIZ_VERSION)
	dot -Tsvg docs/architecture/pipeline.dot -o docs/architecture/pipeline.svg

## hostile: hostile and careless inputs through the sandboxed pipeline (~2 min, ~300 MB temp disk under .bench/); writes docs/reliability.md
hostile: install
	$(PY) -m benchmarks.hostile --write-docs $(ARGS)

## faults: fault matrix, 100 seeded scenarios on the sandboxed offline stack (~7 min; ARGS="--in-process": ~4 min); writes docs/reliability.md
faults: install
	$(PY) -m benchmarks.fault_matrix --runs 100 --seed 1 --write-docs $(ARGS)

## second-engine: the pipeline's mocked paths on moto and on LocalStack's Step Functions, compared (~1 min; own venv
## .venv-second-engine with Python 3.13: pyenv's, or SECOND_ENGINE_PYTHON=/path/to/python3.13; ARGS="--scenario Retry --json out.json")
SECOND_ENGINE_VENV := .venv-second-engine
SECOND_ENGINE_STAMP := $(SECOND_ENGINE_VENV)/.installed-$(shell cat second_engine/requirements.txt 2>/dev/null | sha1sum | cut -c1-12)
SECOND_ENGINE_PYTHON ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)

second-engine: install $(SECOND_ENGINE_STAMP)
	$(PY) -m second_engine --localstack-python $(SECOND_ENGINE_VENV)/bin/python $(ARGS)

$(SECOND_ENGINE_STAMP): second_engine/requirements.txt
	@test -n "$(SECOND_ENGINE_PYTHON)" || { echo "second-engine: no Python 3.13 found (pyenv's versions/3.13.*, python3.13 on PATH); set SECOND_ENGINE_PYTHON" >&2; exit 2; }
	@test -x $(SECOND_ENGINE_VENV)/bin/python || $(SECOND_ENGINE_PYTHON) -m venv $(SECOND_ENGINE_VENV)
	$(SECOND_ENGINE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(SECOND_ENGINE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r second_engine/requirements.txt
	@rm -f $(SECOND_ENGINE_VENV)/.installed-* && touch $@

## test: lint, type-check and the whole test suite (what .ci/run runs)
test: install lint typecheck
	$(PY) -m pytest

unit: install
	$(PY) -m pytest tests/unit

e2e: install
	$(PY) -m pytest tests/e2e tests/offline

infra: install
	$(PY) -m pytest tests/infra

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install
	$(PY) -m mypy lambdas statemachine offline infra app.py tests cli benchmarks second_engine

## synth: the CloudFormation template with the pinned CDK CLI, into cdk.out/ (no credentials needed; ARGS="-c key=value")
synth: deploy-env $(NODE_STAMP)
	npx --no-install cdk synth --quiet $(ARGS)

## deploy: `cdk deploy` with the pinned CDK CLI and the account's credentials (ARGS="-c projects='{...}' --require-approval never")
deploy: deploy-env $(NODE_STAMP)
	npx --no-install cdk deploy $(ARGS)

## cdk-cli: the pinned CDK CLI (package-lock.json) into node_modules/, plus the venv cdk.json's app runs in
cdk-cli: deploy-env $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-* && touch $@

clean:
	rm -rf $(VENV) node_modules cdk.out .cache .mypy_cache .pytest_cache .ruff_cache .hypothesis
