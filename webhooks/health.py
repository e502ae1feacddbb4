"""`GET /healthz`: 200 when webhooks, the database, rasa, actions and a worker answer; 503
naming what does not. A worker answers by its heartbeat in the database (puente.jobs.heartbeat):
one that has not beaten for 30 s is down, and so is every worker while the database is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, Response, jsonify

from puente.db import DATABASE_ERRORS
from puente.jobs import heartbeat
from webhooks.services import services

bp = Blueprint("health", __name__)

#: Seconds the database check may take (as long as Rasa's and the action server's).
DATABASE_CHECK_TIMEOUT = 2.0
#: Seconds to apply opt-outs kept during an outage, once the database answers again:
#: with the check, within the time the Rasa and action-server checks may take (4 s).
SPOOL_DRAIN_TIMEOUT = 1.5


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    core = services()

    def database() -> str | None:
        try:
            core.database.check(DATABASE_CHECK_TIMEOUT)
            # The database is back: the opt-outs kept while it was down take effect now.
            core.apply_spooled_optouts(SPOOL_DRAIN_TIMEOUT)
        except DATABASE_ERRORS as error:
            return f"unreachable ({type(error).__name__})"
        return None

    def worker() -> str | None:
        try:
            return heartbeat.problem(core.database, DATABASE_CHECK_TIMEOUT)
        except DATABASE_ERRORS as error:
            return f"unknown: the database is unreachable ({type(error).__name__})"

    checks = {
        "database": database,
        "rasa": core.assistant.check_rasa,
        "actions": core.assistant.check_actions,
        "worker": worker,
    }
    # In parallel: a dead service costs one timeout, not one per service.
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        problems = {name: f.result() for name, f in futures.items()}
    down = {name: problem for name, problem in problems.items() if problem}
    body: dict[str, object] = {
        "status": "ok" if not down else "unavailable",
        "services": {"webhooks": "ok", **{n: p or "ok" for n, p in problems.items()}},
        # STOPs received while the database was down and not yet applied.
        "spooled_optouts": len(core.optout_spool.pending()),
    }
    if down:
        body["down"] = sorted(down)
    return jsonify(body), 503 if down else 200
