"""manage.py run_stack: the web server and a Celery worker together; Ctrl-C stops both."""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from annotator.jobs.worker import worker_argv


class Command(BaseCommand):
    """Start web + worker as child processes and stop them all when one ends or on Ctrl-C."""

    help = "Run the development web server and a Celery worker (queues default and gpu)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {
            "web": [
                python,
                manage,
                "runserver",
                f"{options['host']}:{options['port']}",
                "--noreload",
            ],
            "worker": worker_argv(),
        }
        children = {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()
        }
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        self.stdout.write(
            self.style.SUCCESS(
                f"\nAnnotator is starting at http://{options['host']}:{options['port']}/ "
                f"(database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
                f"broker: {broker}). Press Ctrl-C to stop.\n"
            )
        )
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
            ended = [name for name, child in children.items() if child.poll() is not None]
            self.stderr.write(f"{', '.join(ended)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children.values():
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
