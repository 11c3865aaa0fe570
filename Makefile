# The two commands of the quick start are `make demo` and `make test`; both set up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt | sha1sum | cut -c1-12)
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: install demo test unit e2e infra lint typecheck synth cdk-cli offline-server validate bench bench-scale fuzz faults clean

## install: the venv (pinned packages); the targets that run code run it first
install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@rm -f $(VENV)/.installed-* && touch $@

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

## faults: fault matrix, 100 seeded scenarios on the offline stack (~4 min); writes docs/reliability.md
faults: install
	$(PY) -m benchmarks.fault_matrix --runs 100 --seed 1 --write-docs $(ARGS)

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
	$(PY) -m mypy lambdas statemachine offline infra app.py tests cli benchmarks

## synth: the CloudFormation template with the pinned CDK CLI (no credentials needed)
synth: install $(NODE_STAMP)
	npx --no-install cdk synth --quiet

cdk-cli: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-* && touch $@

clean:
	rm -rf $(VENV) node_modules cdk.out .cache .mypy_cache .pytest_cache .ruff_cache .hypothesis
