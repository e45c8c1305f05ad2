"""基金监管 runs as background jobs: the analyst's request starts a run and returns at once.

A month of a city's settlements is millions of fee lines (10 million: ~10 s to evaluate here, on
top of reading them from the database), too long to hold an HTTP request and, on SQLite, the
write lock of its session. A run happens in a
thread of the serving process with its own transaction; the page polls the job. One run at a time
per process: a second request while one runs gets the running job's id in a 409. Jobs are kept in
memory (the latest ``KEEP``); a restart forgets them, which loses nothing, because clues are
stored once per rule, subject and month and running the period again adds only what is new.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError

from cityops.api.context import AppContext, unit_of_work
from cityops.errors import Conflict
from cityops.scenarios.medicare import supervision_load
from cityops.scenarios.medicare.supervision_load import DbRun, Period
from cityops.scenarios.medicare.supervision_rules import SHIPPED, load_rules

log = logging.getLogger(__name__)
KEY = "medicare_supervision_jobs"
KEEP = 20

JobStatus = Literal["running", "done", "failed"]


@dataclass
class SupervisionJob:
    id: str
    period: Period
    started_at: datetime
    status: JobStatus = "running"
    finished_at: datetime | None = None
    run: DbRun | None = None
    error: str | None = None


class SupervisionJobs:
    """The process's supervision runs, newest last."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, SupervisionJob] = OrderedDict()

    def start(self, *, p: Period) -> SupervisionJob:
        """A new running job over ``p``; Conflict ``supervision_running`` if one is running."""
        with self._lock:
            running = next((j for j in self._jobs.values() if j.status == "running"), None)
            if running is not None:
                raise Conflict(
                    f"supervision run {running.id} is still running; wait for it",
                    code="supervision_running",
                )
            job = SupervisionJob(uuid.uuid4().hex, p, self.ctx.clock.now())
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        name = f"supervision-{job.id[:8]}"
        threading.Thread(target=self._run, args=(job,), daemon=True, name=name).start()
        return job

    def get(self, job_id: str) -> SupervisionJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def latest(self, limit: int) -> list[SupervisionJob]:
        with self._lock:
            return list(reversed(self._jobs.values()))[:limit]

    def _run(self, job: SupervisionJob) -> None:
        settings = self.ctx.settings
        run: DbRun | None = None
        error: str | None = None
        try:
            rules = load_rules(settings.medicare_supervision_rules or SHIPPED)
            with unit_of_work(self.ctx) as session:
                run = supervision_load.supervise_database(
                    session=session, rules=rules, p=job.period, tz=settings.tz,
                    at=job.started_at,
                )  # fmt: skip
        except IntegrityError:
            error = "another supervision run (another process) was storing clues; run again"
        except Exception as exc:  # the job reports it; the server goes on
            log.exception("supervision run %s failed", job.id)
            error = f"the run failed: {type(exc).__name__}"
        with self._lock:
            job.run, job.error = run, error
            job.status = "done" if run is not None else "failed"
            job.finished_at = self.ctx.clock.now()


def jobs_of(ctx: AppContext) -> SupervisionJobs:
    """The process's job list (made on first use)."""
    found = ctx.extras.get(KEY)
    if not isinstance(found, SupervisionJobs):
        found = ctx.extras.setdefault(KEY, SupervisionJobs(ctx))
    assert isinstance(found, SupervisionJobs)
    return found
