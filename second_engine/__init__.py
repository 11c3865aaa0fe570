"""A second Step Functions engine as a check of statemachine/pipeline.asl.json.

The same mocked scenarios (every Task state answers from a mock configuration, in the
format of AWS's Step Functions Local / LocalStack's `SFN_MOCK_CONFIG`) run on two engines:

- moto's ASL executor with the project's own patches (offline/engine.py), in the project venv;
- LocalStack's Step Functions interpreter (`localstack-core[runtime]`, Python 3.13), started as
  a separate process from its own venv and driven over HTTP with boto3.

Each scenario's end state and state sequence are compared; `make second-engine` runs it all.
Nothing here imports localstack: the project venv (and mypy) never needs it.
"""
