"""One construct per concern; the stack wires them together."""

from infra.constructs.functions import PipelineFunctions
from infra.constructs.notifications import ReportTopic
from infra.constructs.storage import PipelineBucket
from infra.constructs.workflow import PipelineWorkflow

__all__ = ["PipelineBucket", "PipelineFunctions", "PipelineWorkflow", "ReportTopic"]
