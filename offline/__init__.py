"""The offline stack: the real pipeline on local AWS services (moto), for tests and the demo.

An adapter beside the product: lambdas/ and infra/ never import it. It runs the Lambda
code in-process, so it puts lambdas/ on the import path as the Lambda runtime does.
"""

import sys
from pathlib import Path

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))
