"""manage.py seed_demo: demo accounts, demo projects and the sample image library."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from annotator.core.demo import DEMO_USERS, seed_demo, seed_demo_images
from annotator.imaging.samples import build_sample_library


class Command(BaseCommand):
    """Create what `make run` shows; safe to run again."""

    help = "Create demo users and projects and write the sample DICOM library (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--samples",
            type=Path,
            default=settings.VAR_DIR / "sample-data",
            help="Folder for the sample DICOM library.",
        )
        parser.add_argument("--ct-slices", type=int, default=120)
        parser.add_argument(
            "--no-samples", action="store_true", help="Skip writing the sample DICOM library."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = seed_demo()
        self.stdout.write(
            f"Demo data: {counts['users']} users and {counts['projects']} "
            "projects created (existing ones kept)."
        )
        if not options["no_samples"]:
            library = build_sample_library(options["samples"], ct_slices=options["ct_slices"])
            files = sum(len(paths) for paths in library.values())
            self.stdout.write(f"Sample DICOM library: {files} files in {options['samples']}.")
            for name, count in seed_demo_images(library=options["samples"]).items():
                self.stdout.write(f"  ingested {count} images into '{name}'")
        self.stdout.write(self.style.SUCCESS("Demo accounts (username / password):"))
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.username:16} {spec.password:22} {spec.role}")
