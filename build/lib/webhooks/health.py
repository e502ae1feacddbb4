"""`GET /healthz`: 200 when webhooks, rasa and actions answer; 503 naming what does not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from webhooks.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    core = services()

    def database() -> str | None:
        try:
            with core.database.session() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means "down"
            return f"unreachable ({type(error).__name__})"
        return None

    checks = {
        "database": database,
        "rasa": core.assistant.check_rasa,
        "actions": core.assistant.check_actions,
    }
    # In parallel: a dead service costs one timeout, not one per service.
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        problems = {name: f.result() for name, f in futures.items()}
    down = {name: problem for name, problem in problems.items() if problem}
    body: dict[str, object] = {
        "status": "ok" if not down else "unavailable",
        "services": {"webhooks": "ok", **{n: p or "ok" for n, p in problems.items()}},
    }
    if down:
        body["down"] = sorted(down)
    return jsonify(body), 503 if down else 200
