"""The worker check job: which device the worker that took it computes on."""

import platform
import socket
from typing import Any

from annotator.jobs.models import Job
from annotator.jobs.services import report_progress
from ml_assist.device import select_device


def check_worker(job: Job) -> tuple[dict[str, Any], None]:
    """Report what the worker that took the job can compute on (a tiny tensor op proves it)."""
    import torch

    report_progress(job=job, done=0, total=2, message="Selecting device")
    device = select_device()
    probe = torch.arange(8, dtype=torch.float32, device=device)
    checksum = float((probe * probe).sum().item())  # 140.0 on any working device
    report_progress(job=job, done=1, total=2, message=f"Computed on {device}")
    cuda = torch.cuda.is_available()
    devices = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    )
    return {
        "hostname": socket.gethostname(),
        "queue": job.queue,
        "device": str(device),
        "torch_version": torch.__version__,
        "cuda_available": cuda,
        "cuda_devices": devices,
        "python": platform.python_version(),
        "checksum": checksum,
    }, None
