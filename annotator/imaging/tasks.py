"""Celery entry points of the imaging app (default queue)."""

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from annotator.imaging.metadata import warm_metadata
from annotator.imaging.models import Series, SeriesStatus
from annotator.imaging.pool import warm_pool
from annotator.imaging.services import ingest_staged_upload
from annotator.imaging.volume import build_series_volumes
from annotator.jobs.names import BUILD_VOLUMES_TASK, INGEST_UPLOAD_TASK
from annotator.jobs.services import run_job

logger = logging.getLogger(__name__)


@worker_ready.connect
def _start_ingest_pool(**_: Any) -> None:
    """Start the ingest processes with the worker, so the first upload does not wait."""
    warm_pool(settings.IMAGING_INGEST_PROCESSES)


@shared_task(
    name=INGEST_UPLOAD_TASK, acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300
)
def ingest_upload_task(job_id: str) -> None:
    """Ingest a staged upload (files, folders, zips) and report per file."""
    run_job(job_id=job_id, work=ingest_staged_upload)


@shared_task(name=BUILD_VOLUMES_TASK, acks_late=True, soft_time_limit=3600, time_limit=3900)
def build_series_volumes_task(series_ids: list[int]) -> None:
    """Plan stacks and write the voxel caches of the given series; idempotent."""
    for series in Series.objects.filter(pk__in=series_ids):
        try:
            build_series_volumes(series)
            warm_metadata(series)  # the viewer asks for the series metadata first
        except Exception as error:  # a broken series must not stop the others
            logger.exception("Volume build failed for series %s", series.pk)
            Series.objects.filter(pk=series.pk).update(
                status=SeriesStatus.FAILED, status_message=f"{type(error).__name__}: {error}"[:300]
            )
