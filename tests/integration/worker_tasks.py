"""A task for tests only: it naps, so a test can stop a worker while a task runs.

`python -c LAUNCH worker …` runs `puente worker` with it registered (the test process
registers it too, by importing this module, to enqueue it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from puente.jobs.queue import task

if TYPE_CHECKING:
    from puente.services import Services

#: Seconds a nap takes.
NAP_SECONDS = 1.5
#: `puente worker`, with this module's task registered.
LAUNCH = "import tests.integration.worker_tasks; from puente.cli import main; main()"


def started_marker(var_dir: Path, token: int) -> Path:
    """The file a nap creates when it starts."""
    return var_dir / f"nap-{token}.started"


@task("test_nap")
def nap(services: Services, token: int) -> int:
    """Marks that it started (a file in the var folder), naps, and answers `token`."""
    started_marker(services.settings.var_dir, token).touch()
    time.sleep(NAP_SECONDS)
    return token
