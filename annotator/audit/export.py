"""Export of a project's audit log as CSV, run as a job with progress."""

import csv
import io
import json
from typing import Any

from django.core.files.base import ContentFile

from annotator.audit.models import AuditEvent
from annotator.jobs.models import Job
from annotator.jobs.services import report_progress

CSV_COLUMNS = [
    "id",
    "created_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "request_id",
]
CHUNK = 500


def export_audit_log(job: Job) -> tuple[dict[str, Any], ContentFile[bytes]]:
    """Write every audit event of the job's project to CSV, reporting progress per chunk."""
    events = (
        AuditEvent.objects.filter(project=job.project)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    total = events.count()
    report_progress(job=job, done=0, total=total, message="Exporting audit events")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    done, last_id = 0, 0
    while True:
        chunk = list(events.filter(id__gt=last_id).order_by("id")[:CHUNK])
        if not chunk:
            break
        for event in chunk:
            writer.writerow(
                [
                    event.id,
                    event.created_at.isoformat(),
                    event.actor.username if event.actor else "",
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.object_repr,
                    json.dumps(event.changes, sort_keys=True),
                    event.request_id,
                ]
            )
        done, last_id = done + len(chunk), chunk[-1].id
        report_progress(job=job, done=min(done, total), message=f"{done} of {total} events")
    data = buffer.getvalue().encode()
    return {"events": done, "bytes": len(data)}, ContentFile(data)
