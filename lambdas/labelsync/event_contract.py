"""The completion events' names: what subscribers' rules match on, and what IAM allows us to send.

Plain constants, no imports: the CDK app (infra/) reads them with only requirements.txt installed.
"""

SOURCE = "labelsync"
RUN_COMPLETED = "Custom Labels Sync Run Completed"
RUN_REJECTED = "Custom Labels Sync Run Rejected"
RUN_FAILED = "Custom Labels Sync Run Failed"
DETAIL_TYPES = (RUN_COMPLETED, RUN_REJECTED, RUN_FAILED)
