"""Errors the state machine acts on by name (Retry/Catch ErrorEquals match the class name).

Lambda reports an unhandled exception as its class name, so these names are part of
the contract with statemachine/pipeline.asl.json: rename one and the Retry stops firing.
"""


class PipelineError(Exception):
    """Base for errors the pipeline raises on purpose."""


class DatasetBusyError(PipelineError):
    """The dataset is being created or updated (ResourceInUseException): wait and retry."""


class ServiceThrottledError(PipelineError):
    """Rekognition throttled us beyond botocore's own retries: back off in the state machine."""


class ServiceUnavailableError(PipelineError):
    """Rekognition answered 5xx beyond botocore's own retries: back off in the state machine."""


class ChunkRejectedError(PipelineError):
    """The service refused a chunk for a reason resending the same bytes cannot fix."""


class ProjectNotFoundError(PipelineError):
    """The routed project does not exist in this account and region."""


class DatasetLabelLimitError(PipelineError):
    """The manifest's labels with the dataset's own would pass the service's 250 (ERROR_MANIFEST_TOO_MANY_LABELS)."""


class DatasetMissingError(PipelineError):
    """The project has no dataset of the routed type and creating one is not allowed."""


class DatasetNotAllowedError(PipelineError):
    """The execution names a project or dataset type outside the function's own allow-list (ALLOWED_PROJECTS)."""


class ChunkTooLargeError(ChunkRejectedError):
    """The service refused a chunk for its size: the apply step splits it and sends the parts."""


class ReplaceRefusedError(PipelineError):
    """A replace was refused before anything changed (the removal guard, CreateDataset's limits, or the
    dataset changed after it was listed): the old dataset is in place, as it was."""


class ReplaceFailedError(PipelineError):
    """A replace deleted the old dataset and the new one could not be created: the message says whether
    the old entries were restored from the backup, and where the backup is."""


class DatasetCreateRefusedError(PipelineError):
    """CreateDataset refused the call outright (the manifest object unreadable, a parameter the service
    rejects, no permission): no dataset was made, and sending the same call again cannot change that."""
