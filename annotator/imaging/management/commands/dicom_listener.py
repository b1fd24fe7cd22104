"""manage.py dicom_listener: receive DICOM over DIMSE (C-ECHO, C-STORE) until stopped."""

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotator.imaging.dimse import listener_from_settings


class Command(BaseCommand):
    """Serve C-ECHO and C-STORE; the called AE title routes each association to a project."""

    help = (
        "Receive DICOM over DIMSE (C-ECHO, C-STORE). Each project is addressed by the AE "
        "title in its imaging settings. Defaults: DICOM_LISTENER_HOST/PORT/AE_TITLE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=None, help="Address to bind (default: setting).")
        parser.add_argument("--port", type=int, default=None, help="Port (default: setting).")
        parser.add_argument("--ae-title", default=None, help="The listener's own AE title.")

    def handle(self, *args: Any, **options: Any) -> None:
        listener = listener_from_settings(
            host=options["host"], port=options["port"], ae_title=options["ae_title"]
        )
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        host, port = listener.start()
        self.stdout.write(
            self.style.SUCCESS(
                f"DICOM listener {listener.ae_title} on {host}:{port}; a project is addressed by "
                "the called AE title of its imaging settings. Ctrl-C stops."
            ),
            ending="\n",
        )
        self.stdout.flush()
        stop.wait()
        self.stdout.write("Stopping: waiting for open associations to finish…")
        listener.stop()
