"""The pipeline's state machine definition file and the one way its placeholders are filled.

CDK passes the same keys as DefinitionSubstitutions (CloudFormation fills them);
the offline stack calls `render`. Both read `PLACEHOLDERS`, so a key cannot be
forgotten on one side only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

DEFINITION_PATH = Path(__file__).with_name("pipeline.asl.json")

RESOLVE_DATASET_FUNCTION = "ResolveDatasetFunctionArn"
APPLY_CHUNK_FUNCTION = "ApplyChunkFunctionArn"
REPORT_FUNCTION = "ReportFunctionArn"
TAKE_TURN_FUNCTION = "TakeTurnFunctionArn"
SKIP_UNCHANGED_FUNCTION = "SkipUnchangedFunctionArn"
RECORD_CHUNK_FUNCTION = "RecordChunkFunctionArn"
REPLACE_DATASET_FUNCTION = "ReplaceDatasetFunctionArn"
REPORT_TOPIC = "ReportTopicArn"  # the bare alert when the report function itself fails
PLACEHOLDERS: tuple[str, ...] = (
    TAKE_TURN_FUNCTION,
    RESOLVE_DATASET_FUNCTION,
    SKIP_UNCHANGED_FUNCTION,
    APPLY_CHUNK_FUNCTION,
    RECORD_CHUNK_FUNCTION,
    REPLACE_DATASET_FUNCTION,
    REPORT_FUNCTION,
    REPORT_TOPIC,
)

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def definition_text() -> str:
    return DEFINITION_PATH.read_text(encoding="utf-8")


def placeholders_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def with_timeout(text: str, seconds: int) -> str:
    """The definition with a top-level TimeoutSeconds (the file has none: the value follows the settings).

    Placeholders are inside strings, so they survive the JSON round trip untouched.
    """
    definition = json.loads(text)
    if "TimeoutSeconds" in definition:
        raise ValueError("the definition file must not set TimeoutSeconds: the stack derives it from the settings")
    if seconds < 1:
        raise ValueError(f"TimeoutSeconds must be positive, got {seconds}")
    head = {key: definition.pop(key) for key in ("Comment", "StartAt") if key in definition}
    return json.dumps({**head, "TimeoutSeconds": seconds, **definition}, indent=2, ensure_ascii=False) + "\n"


def render(substitutions: Mapping[str, str], text: str | None = None) -> str:
    """Fill every `${Key}`; refuse unknown or missing keys so a typo fails at deploy, not mid-run."""
    text = definition_text() if text is None else text
    found = placeholders_in(text)
    missing = found - set(substitutions)
    extra = set(substitutions) - found
    if missing or extra:
        raise ValueError(f"definition placeholders mismatch: missing={sorted(missing)} unknown={sorted(extra)}")
    rendered = _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)
    json.loads(rendered)  # a substitution must not break the JSON
    return rendered
