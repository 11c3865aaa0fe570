"""Plan step: route the dropped object, plan it, write the run's files, start one execution.

The execution name is derived from the object's identity, so a duplicated S3 event is
recognised before any work (DescribeExecution) and again at StartExecution.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import IO, Any, BinaryIO, cast

from labelsync import clock
from labelsync.domain import rules
from labelsync.domain.jsonl import dump_lines
from labelsync.domain.planning import (
    CONVERSIONS,
    KEPT_ITEMS,
    PLAN_REJECTED,
    REJECTS,
    SOURCE_REFS,
    WARNINGS,
    ManifestPlan,
    PlanCounts,
    plan_manifest,
)
from labelsync.domain.routing import RouteRejected, Target, route
from labelsync.domain.runs import ManifestRef, RunLayout, execution_name
from labelsync.domain.turns import Ticket, order_key
from labelsync.ports import Executions, ObjectNotReadable, ObjectStore, RunLedger
from labelsync.settings import Settings

PLAN_SCHEMA = "labelsync.plan/v1"


@dataclass(frozen=True)
class PlanOutcome:
    execution_name: str
    started: bool
    status: str | None
    note: str


SIDE_FILE_MEMORY = 8 << 20  # side files spill to /tmp past this


class _StoreSink:
    """Chunks go to S3 as they are packed; side files are spooled and uploaded at the end."""

    def __init__(self, store: ObjectStore, bucket: str, layout: RunLayout) -> None:
        self._store, self._bucket, self._layout = store, bucket, layout
        self.side: dict[str, IO[bytes]] = {}
        self.digests: dict[int, str] = {}

    def write_chunk(self, index: int, data: bytes) -> str:
        key = self._layout.chunk_key(index)
        self.digests[index] = hashlib.sha256(data).hexdigest()
        self._store.put_bytes(self._bucket, key, data, content_type="application/x-ndjson")
        return key

    def append(self, name: str, data: bytes) -> None:
        spool = self.side.get(name)
        if spool is None:
            spool = self.side[name] = tempfile.SpooledTemporaryFile(max_size=SIDE_FILE_MEMORY)  # noqa: SIM115 - closed by close()
        spool.write(data)

    def stream(self, name: str) -> IO[bytes]:
        """The side file from its start, to upload as it is read: 3,000 rejected lines with a 99,000-character
        source-ref are a 300 MB rejects file, which must not be copied into memory to be sent."""
        spool = self.side.get(name)
        if spool is None:
            return io.BytesIO()
        spool.seek(0)
        return spool

    def close(self) -> None:
        for spool in self.side.values():
            spool.close()

    def discard(self) -> None:
        """Forget the side files of a plan that could not finish: the run lists none of its lines."""
        self.close()
        self.side.clear()
        self.digests.clear()


def plan_and_start(
    ref: ManifestRef,
    settings: Settings,
    store: ObjectStore,
    executions: Executions,
    ledger: RunLedger | None = None,
) -> PlanOutcome:
    """Plan, write the run's files, queue the run on its dataset's ledger, start its execution."""
    name = execution_name(ref)
    if executions.exists(name):
        return PlanOutcome(name, False, None, "duplicate event: this object version already has an execution")
    layout = RunLayout.for_run(settings.work_prefix, name)
    target: Target | None = None
    sink = _StoreSink(store, settings.bucket, layout)
    try:
        target = route(ref.key, settings.incoming_prefix, settings.projects)
    except RouteRejected as rejected:
        plan = ManifestPlan(PLAN_REJECTED, PlanCounts(), reason=(rejected.code, rejected.message))
    else:
        plan = _plan(ref, settings, store, sink)

    # A replace is another plan than an update of the same lines: one never resumes the other.
    dataset = "" if target is None else target.dataset_key + (" replace" if target.replace else "")
    digest = plan_digest(dataset, sink.digests, settings.chunk_limit_bytes)
    try:
        _write_run_files(ref, target, plan, settings, layout, store, sink, digest)
    finally:
        sink.close()
    order = order_key(ref.event_time, ref.sequencer, name)
    payload: dict[str, Any] = {
        "run": {
            "id": name,
            "bucket": settings.bucket,
            "prefix": layout.prefix,
            "manifest": ref.as_dict(),
            "order": order,
            "digest": digest,
        },
        "target": target.as_dict() if target else None,
        "plan": {"status": plan.status, "chunkCount": len(plan.chunks), "counts": plan.counts.as_dict()},
        "poll": settings.poll.as_state(),
    }
    if ledger is not None and target is not None and plan.status != PLAN_REJECTED:
        ticket = Ticket(target.dataset_key, order, name, layout.prefix, ref.uri, digest, execution=name)
        ledger.register(replace(ticket, registered_at=clock.now()))
    started = executions.start(name, payload)
    note = "started" if started else "duplicate event: execution already started"
    return PlanOutcome(name, started, plan.status, note)


def plan_digest(dataset: str, chunk_digests: Mapping[int, str], chunk_limit: int) -> str:
    """Equal for the same chunks to the same dataset: how a resume recognises the plan it continues."""
    text = "\n".join([dataset, str(chunk_limit), *(chunk_digests[i] for i in sorted(chunk_digests))])
    return hashlib.sha256(text.encode()).hexdigest()


def _plan(ref: ManifestRef, settings: Settings, store: ObjectStore, sink: _StoreSink) -> ManifestPlan:
    try:
        return plan_manifest(
            lambda: store.open(ref.bucket, ref.key, version_id=ref.version_id),
            chunk_limit=settings.chunk_limit_bytes,
            sink=sink,
            warnings_as_rejections=settings.warnings_as_rejections,
            refuse_unusable=settings.refuse_unusable,
        )
    except ObjectNotReadable as exc:  # deleted since its event: the user took the upload back
        sink.discard()
        message = f"{exc}; it was deleted before it could be planned, or this function may not read it"
        return ManifestPlan(PLAN_REJECTED, PlanCounts(), reason=(rules.MANIFEST_INACCESSIBLE, message))
    except (OSError, EOFError, zlib.error) as exc:  # e.g. a truncated or fake .gz file
        sink.discard()
        message = f"the manifest could not be read: {type(exc).__name__}: {exc}"
        return ManifestPlan(PLAN_REJECTED, PlanCounts(), reason=(rules.UNREADABLE_MANIFEST, message))


def _write_run_files(
    ref: ManifestRef,
    target: Target | None,
    plan: ManifestPlan,
    settings: Settings,
    layout: RunLayout,
    store: ObjectStore,
    sink: _StoreSink,
    digest: str,
) -> None:
    ndjson = "application/x-ndjson"
    bucket = settings.bucket
    store.put_bytes(
        bucket, layout.superseded_key, dump_lines(s.as_dict() for s in plan.superseded), content_type=ndjson
    )
    spooled = (
        (REJECTS, layout.rejects_key),
        (SOURCE_REFS, layout.source_refs_key),
        (WARNINGS, layout.warnings_key),
        (CONVERSIONS, layout.conversions_key),
    )
    for name, key in spooled:
        store.put_stream(bucket, key, cast(BinaryIO, sink.stream(name)), content_type=ndjson)
    document = {
        "schema": PLAN_SCHEMA,
        "manifest": ref.as_dict(),
        "target": target.as_dict() if target else None,
        "status": plan.status,
        "rejection": {"code": plan.reason[0], "message": plan.reason[1]} if plan.reason else None,
        "counts": plan.counts.as_dict(),
        "readiness": plan.readiness.as_dict() if plan.readiness else None,
        "labels": plan.labels,
        "digest": digest,
        "chunks": [{**chunk.as_dict(), "sha256": sink.digests.get(chunk.index)} for chunk in plan.chunks],
        "settings": {
            "warningsAsRejections": settings.warnings_as_rejections,
            "refuseUnusable": settings.refuse_unusable,
            "chunkLimitBytes": settings.chunk_limit_bytes,
        },
        "warningCodes": plan.warning_codes,
        "warnings": [w.as_dict() for w in plan.warnings],
        "conversions": [c.as_dict() for c in plan.conversions],
        "listsCut": {
            "rejections": plan.counts.rejected > len(plan.rejections),
            "warnings": plan.counts.warnings > len(plan.warnings),
            "conversions": plan.counts.converted > KEPT_ITEMS,
        },
        "warningsUri": f"s3://{bucket}/{layout.warnings_key}",
        "conversionsUri": f"s3://{bucket}/{layout.conversions_key}",
        "splits": [],
    }
    store.put_bytes(bucket, layout.plan_key, json.dumps(document, indent=1).encode("utf-8"))
