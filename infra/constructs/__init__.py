"""One construct per concern; the stack wires them together."""

from infra.constructs.encryption import PipelineKey
from infra.constructs.failures import FailedEventsQueue
from infra.constructs.functions import PipelineFunctions
from infra.constructs.labeling_jobs import LabelingJobSync
from infra.constructs.ledger import LedgerTable
from infra.constructs.monitoring import PipelineMonitoring
from infra.constructs.notifications import AlertTopic, ReportTopic, subscribe
from infra.constructs.storage import PipelineBucket
from infra.constructs.workflow import PipelineWorkflow

__all__ = [
    "AlertTopic",
    "FailedEventsQueue",
    "LabelingJobSync",
    "LedgerTable",
    "PipelineBucket",
    "PipelineFunctions",
    "PipelineKey",
    "PipelineMonitoring",
    "PipelineWorkflow",
    "ReportTopic",
    "subscribe",
]
