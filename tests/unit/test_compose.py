"""docker-compose.yml, read as docker compose would, and checked against what it configures.

No Docker engine runs here, so the file is checked for consistency with the code
(ports, URLs, paths, the tracker store URL derivation). The URL shapes it uses are
exercised against the real PostgreSQL and Redis in tests/integration/test_compose_services.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from puente.config import ENV_VARS, PROJECT_ROOT, Settings
from puente.jobs.worker import SHUTDOWN_TIMEOUT
from puente.runner import MODEL_PATH, PROCESS_SETTINGS, process_specs, tracker_store_url

ENV = {"POSTGRES_PASSWORD": "s3cret", "PORT": "", "PUENTE_SECRET_KEY": "k" * 48, "TWILIO_AUTH_TOKEN": "token",
       "PUENTE_SUPPORT_CONTACT": "Kern Coalition, (661) 555-0190"}


@contextmanager
def without(name: str) -> Iterator[None]:
    """The .env file without `name`, for the length of a `with`."""
    saved = ENV.pop(name)
    try:
        yield
    finally:
        ENV[name] = saved


def interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} forms."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = ENV.get(name, "")
        if op == ":?" and not current:
            raise AssertionError(f"{name} is required: {arg}")
        return current or (arg if op == ":-" else "")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def load() -> dict[str, Any]:
    raw = (PROJECT_ROOT / "docker-compose.yml").read_text()
    data: dict[str, Any] = yaml.safe_load(raw)
    return data


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = load()["services"][name]
    return found


def env_of(name: str) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in (service(name).get("environment") or {}).items()}


def test_only_services_that_exist() -> None:
    assert set(load()["services"]) == {"webhooks", "actions", "worker", "rasa", "postgres", "redis"}


def test_every_service_has_a_health_check_and_restarts() -> None:
    for name, spec in load()["services"].items():
        assert spec.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert spec.get("restart") == "unless-stopped", name


def test_app_services_build_their_own_image_target() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.MULTILINE)
    for name in ("webhooks", "actions", "worker"):
        assert service(name)["build"] == {"context": ".", "target": name}
        assert name in stages, f"the Dockerfile has no {name} stage"

    def stage(name: str) -> str:
        return dockerfile.split(f"AS {name}\n", 1)[1].split("\nFROM ", 1)[0]

    # Only the actions image carries rasa-sdk (the `actions` extra).
    assert "[actions]" in stage("actions")
    assert "[actions]" not in stage("webhooks") and "[actions]" not in stage("worker")
    assert "gunicorn.conf.py" in stage("webhooks")
    # The worker's image installs what webhooks' does, and runs `puente worker` as make run does.
    install = [line for line in stage("webhooks").splitlines() if "uv pip install" in line]
    assert install and install == [line for line in stage("worker").splitlines() if "uv pip install" in line]
    assert 'CMD ["puente", "worker"]' in stage("worker")
    worker = next(spec for spec in process_specs(Settings()) if spec.name == "worker")
    assert [Path(worker.argv[0]).name, *worker.argv[1:]] == ["puente", "worker"]


SECRETS = ("PUENTE_SECRET_KEY", "PUENTE_OLD_SECRET_KEY", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID")


def test_no_service_gets_the_whole_env_file_and_each_gets_only_its_secrets() -> None:
    for name, spec in load()["services"].items():
        assert "env_file" not in spec, f"{name} would get every setting in .env"
    assert not set(SECRETS) & set(env_of("rasa")), "Rasa needs no Twilio token or secret key"
    assert not set(SECRETS) & set(env_of("actions")), "actions reads no number, never talks to Twilio"
    # The worker sends: it decrypts numbers and talks to Twilio, with the same settings as webhooks.
    assert {"PUENTE_SECRET_KEY", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"} <= set(env_of("worker"))
    for setting in ("TWILIO_SEND_RATE", "QUIET_HOURS", "WHATSAPP_TEMPLATES_FILE", "PUBLIC_BASE_URL",
                    "TWILIO_FROM_NUMBER", "TWILIO_WHATSAPP_FROM", "TWILIO_MESSAGING_SERVICE_SID"):
        assert env_of("worker")[setting] == env_of("webhooks")[setting], setting
    # The templates file lives in ./config, mounted read-only where the setting points.
    assert "./config:/app/config:ro" in service("worker")["volumes"]
    assert "./config:/app/config:ro" in service("webhooks")["volumes"]
    assert {"PUENTE_SECRET_KEY", "TWILIO_AUTH_TOKEN"} <= set(env_of("webhooks"))
    # The key before a rotation: webhooks finds numbers hashed under it while rows move off it.
    assert "PUENTE_OLD_SECRET_KEY" in env_of("webhooks") and env_of("webhooks")["PUENTE_OLD_SECRET_KEY"] == ""
    assert "PUENTE_OLD_SECRET_KEY" in PROCESS_SETTINGS["webhooks"]
    # `puente purge` runs in the webhooks container: it reads RETENTION_DAYS there.
    assert env_of("webhooks")["RETENTION_DAYS"] == str(Settings().retention_days)
    for name in ("postgres", "redis"):
        assert not set(SECRETS) & set(env_of(name)), name


def test_a_missing_secret_key_or_auth_token_stops_compose_with_a_message() -> None:
    with without("TWILIO_AUTH_TOKEN"), pytest.raises(AssertionError, match="TWILIO_AUTH_TOKEN"):
        env_of("webhooks")
    with without("PUENTE_SECRET_KEY"), pytest.raises(AssertionError, match="PUENTE_SECRET_KEY"):
        env_of("webhooks")
    # Carriers require HELP to name who runs the line: a production deployment must say.
    with without("PUENTE_SUPPORT_CONTACT"), pytest.raises(AssertionError, match="PUENTE_SUPPORT_CONTACT"):
        env_of("webhooks")


def test_ports_match_the_defaults() -> None:
    defaults = Settings()
    webhooks = service("webhooks")
    assert webhooks["ports"] == ["${PORT:-5000}:5000"]
    assert interpolate(webhooks["ports"][0]) == f"{defaults.port}:5000"
    app = env_of("webhooks")
    # Inside its container webhooks listens on every interface; only its port is published.
    assert (app["HOST"], app["PORT"]) == ("0.0.0.0", "5000")  # noqa: S104
    assert service("actions")["command"][-2:] == ["--port", str(defaults.actions_port)]
    assert service("rasa")["command"][-2:] == ["--port", str(defaults.rasa_port)]
    assert app["RASA_URL"] == f"http://rasa:{defaults.rasa_port}"
    assert app["ACTIONS_URL"] == f"http://actions:{defaults.actions_port}"
    assert env_of("rasa")["ACTION_ENDPOINT_URL"] == app["ACTIONS_URL"] + "/webhook"
    assert [s for s, spec in load()["services"].items() if spec.get("ports")] == ["webhooks"]


def test_rasa_runs_the_trained_model_with_our_bot_files() -> None:
    rasa = service("rasa")
    assert rasa["image"] == "rasa/rasa:3.6.21"
    args = rasa["command"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in rasa["volumes"]}
    assert mounts == {"/app/bot": "./bot", "/app/models": "./models"}
    model = args[args.index("--model") + 1]
    assert PROJECT_ROOT / model == MODEL_PATH
    for flag in ("--endpoints", "--credentials"):
        assert (PROJECT_ROOT / args[args.index(flag) + 1]).is_file()
    assert env_of("rasa")["PYTHONPATH"] == rasa["working_dir"] == "/app"


def test_database_urls_agree_with_the_postgres_service() -> None:
    postgres = env_of("postgres")
    url = make_url(env_of("webhooks")["DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.password, url.database) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"],
    )
    assert env_of("actions")["DATABASE_URL"] == str(env_of("webhooks")["DATABASE_URL"])
    assert env_of("worker")["DATABASE_URL"] == str(env_of("webhooks")["DATABASE_URL"])
    # Rasa's tracker store: the same database, as puente.runner derives it for `make run`.
    assert env_of("rasa")["TRACKER_STORE_URL"] == tracker_store_url(env_of("webhooks")["DATABASE_URL"])


def test_a_missing_postgres_password_is_an_error_not_an_empty_password() -> None:
    with without("POSTGRES_PASSWORD"), pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        env_of("postgres")


def test_model_and_bot_paths_are_in_dockerignore_and_gitignore() -> None:
    assert "models" in (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert "models/" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assert Path(PROJECT_ROOT / "bot" / "credentials.yml").read_text().count("rest:") == 1


def test_compose_gives_each_service_no_setting_make_run_would_withhold() -> None:
    """The same sets as `make run` (puente.runner.PROCESS_SETTINGS): compose never gives more."""
    for name in ("webhooks", "actions", "worker", "rasa"):
        given = set(env_of(name)) & set(ENV_VARS)
        assert given <= PROCESS_SETTINGS[name], f"{name} gets {sorted(given - PROCESS_SETTINGS[name])}"
    assert "DATABASE_URL" in env_of("actions")
    assert {"DATABASE_URL", "QUEUE_URL"} <= set(env_of("worker"))


def test_the_action_server_and_rasa_run_as_make_run_runs_them() -> None:
    assert service("actions")["command"][:3] == ["python", "-m", "puente.action_server"]
    args = service("rasa")["command"]
    assert args[args.index("--logging-config-file") + 1] == "bot/logging.yml"
    assert (PROJECT_ROOT / "bot" / "logging.yml").is_file()


def test_the_worker_shares_the_queue_with_webhooks_and_is_checked_by_its_heartbeat() -> None:
    worker = service("worker")
    assert env_of("worker")["QUEUE_URL"] == env_of("webhooks")["QUEUE_URL"]
    assert make_url(env_of("worker")["QUEUE_URL"]).drivername == "redis"
    assert env_of("worker")["PUENTE_ENV"] == "production"
    assert worker["healthcheck"]["test"] == ["CMD", "puente", "worker", "--check"]
    assert worker["depends_on"] == {
        "postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"},
    }
    assert not worker.get("ports") and not worker.get("expose")
    # Docker's stop timeout outlasts the worker's own shutdown (tasks get 8 s to finish).
    assert int(worker["stop_grace_period"].rstrip("s")) > SHUTDOWN_TIMEOUT
