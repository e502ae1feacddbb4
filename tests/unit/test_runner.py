"""What `puente run` gives each process, how it paces restarts and what it shows.

The processes themselves are tested for real in tests/e2e/test_make_run.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from puente.config import ENV_VARS, Settings
from puente.db import Database
from puente.jobs import heartbeat
from puente.migrate import upgrade
from puente.runner import (
    INHERITED_ENV,
    PROCESS_SETTINGS,
    Backoff,
    ProcessSpec,
    Stack,
    process_specs,
    ready_message,
    settings_env,
    worth_showing,
)
from tests.conftest import make_settings

# Settings only the supervisor reads: to start rasa and actions on their ports.
SUPERVISOR_ONLY = {"RASA_PORT", "ACTIONS_PORT"}
TWILIO_CREDENTIALS = {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"}


@pytest.fixture
def settings() -> Settings:
    """Every setting set, secrets included, so that a leak would show."""
    return make_settings(
        "postgresql+psycopg://puente:db-password-1@127.0.0.1:5432/puente",
        host="127.0.0.2",
        twilio_account_sid="AC" + "1" * 32,
        twilio_api_base_url="http://127.0.0.1:9/twilio",
        twilio_messaging_service_sid="MG" + "2" * 32,
        twilio_from_number="+12135550100",
        twilio_whatsapp_from="+12135550101",
        public_base_url="https://puente.example.org",
        queue_url="redis://:queue-password-2@127.0.0.1:6379/0",
        old_secret_key="old-key-3-" + "o" * 40,
    )


def specs_env(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    shell = {"PATH": "/usr/bin", "HOME": "/home/p", "LC_ALL": "C.UTF-8", **(environ or {})}
    return {spec.name: spec.env for spec in process_specs(settings, environ=shell)}


def test_the_table_names_each_process_and_only_puentes_settings(settings: Settings) -> None:
    assert set(PROCESS_SETTINGS) == {spec.name for spec in process_specs(settings)}
    for names in PROCESS_SETTINGS.values():
        assert names <= set(ENV_VARS)


def test_every_setting_is_given_to_a_process_or_read_by_the_supervisor() -> None:
    """A new setting must be given to the processes that read it: this fails until it is."""
    given = set().union(*PROCESS_SETTINGS.values())
    assert set(ENV_VARS) - given == SUPERVISOR_ONLY


def test_each_process_gets_its_settings_and_no_others(settings: Settings) -> None:
    ours = settings_env(settings)
    for name, env in specs_env(settings).items():
        assert {k for k in env if k in ENV_VARS} == PROCESS_SETTINGS[name] & set(ours)
        for setting in PROCESS_SETTINGS[name] & set(ours):
            assert env[setting] == ours[setting]


def test_rasa_gets_none_of_puentes_secrets(settings: Settings) -> None:
    # Even exported in the shell that runs `make run`.
    shell = {name: value for name, value in settings_env(settings).items()}
    rasa = specs_env(settings, shell)["rasa"]
    assert not set(rasa) & set(ENV_VARS)
    everything = "\n".join(rasa.values())
    for secret in (settings.twilio_auth_token, settings.secret_key, "queue-password-2", "old-key-3"):
        assert secret not in everything
    # Its own database password, in its own tracker store URL, is all it gets.
    assert everything.count("db-password-1") == 1
    assert "db-password-1" in rasa["TRACKER_STORE_URL"]


def test_the_action_server_gets_no_twilio_credentials_and_no_secret_key(settings: Settings) -> None:
    actions = specs_env(settings, settings_env(settings))["actions"]
    assert not set(actions) & (TWILIO_CREDENTIALS | {"PUENTE_SECRET_KEY", "PUENTE_OLD_SECRET_KEY"})
    everything = "\n".join(actions.values())
    assert settings.twilio_auth_token not in everything and settings.secret_key not in everything
    assert "old-key-3" not in everything
    assert actions["DATABASE_URL"] == settings.database_url


def test_the_worker_gets_what_sending_needs_and_nothing_of_rasas(settings: Settings) -> None:
    worker = specs_env(settings, settings_env(settings))["worker"]
    assert worker["QUEUE_URL"] == settings.queue_url and worker["DATABASE_URL"] == settings.database_url
    # It decrypts numbers and sends through Twilio, shaped by the rate, quiet hours and templates.
    assert worker["PUENTE_SECRET_KEY"] == settings.secret_key
    assert set(worker) >= TWILIO_CREDENTIALS | {"TWILIO_SEND_RATE", "QUIET_HOURS", "PUBLIC_BASE_URL"}
    assert not set(worker) & {"RASA_URL", "ACTIONS_URL", "RASA_TIMEOUT", "PUENTE_SUPPORT_CONTACT"}


def test_the_worker_is_puente_worker_and_ready_once_it_has_beaten(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'puente.db'}"
    upgrade(url)
    worker = next(spec for spec in process_specs(make_settings(url)) if spec.name == "worker")
    assert Path(worker.argv[0]).name == "puente" and worker.argv[1:] == ["worker"]
    assert worker.ready_check is not None and worker.ready_when == "record a heartbeat"
    assert not worker.ready_check(4242)
    hostname, _ = heartbeat.worker_identity()
    database = Database(url)
    heartbeat.beat(database, hostname, 4242, datetime.now(UTC))
    heartbeat.beat(database, "another-host", 4243, datetime.now(UTC))
    database.dispose()
    assert worker.ready_check(4242)
    assert not worker.ready_check(4243)  # another host's process with that pid is not ours


def test_a_process_with_a_ready_check_is_ready_when_the_check_says_so_for_its_pid() -> None:
    asked: list[int] = []

    def check(pid: int) -> bool:
        asked.append(pid)
        return True

    stack = Stack([ProcessSpec("sleeper", ["sleep", "30"], {"PATH": os.environ["PATH"]}, ready_check=check)])
    assert not stack.is_ready("sleeper")  # not started
    stack.start("sleeper")
    try:
        assert stack.wait_ready("sleeper", timeout=5) < 5
        assert asked == [stack.processes["sleeper"].pid]
    finally:
        stack.stop_all(grace=1)


def test_children_keep_only_the_basics_of_the_shell(settings: Settings) -> None:
    shell = {"AWS_SECRET_ACCESS_KEY": "x", "PGPASSWORD": "pg", "LC_TIME": "C", "PYTHONPATH": "/elsewhere"}
    for name, env in specs_env(settings, shell).items():
        assert "AWS_SECRET_ACCESS_KEY" not in env
        assert env["PGPASSWORD"] == "pg" and env["LC_TIME"] == "C" and env["PATH"] == "/usr/bin"
        assert env.get("PYTHONPATH") != "/elsewhere", name
    assert {"PATH", "HOME", "LANG", "TMPDIR"} <= INHERITED_ENV


def test_children_that_read_settings_never_read_the_env_file(settings: Settings) -> None:
    env = specs_env(settings)
    assert env["webhooks"]["PUENTE_ENV_FILE"] == env["actions"]["PUENTE_ENV_FILE"] == os.devnull


def test_rasa_and_the_action_server_listen_on_host(settings: Settings) -> None:
    argv = {spec.name: spec.argv for spec in process_specs(settings)}
    assert argv["actions"][argv["actions"].index("--host") + 1] == "127.0.0.2"
    assert argv["rasa"][argv["rasa"].index("--interface") + 1] == "127.0.0.2"


def test_rasa_runs_with_the_logging_config_that_keeps_bodies_out(settings: Settings) -> None:
    rasa = next(spec for spec in process_specs(settings) if spec.name == "rasa")
    assert rasa.argv[rasa.argv.index("--logging-config-file") + 1] == "bot/logging.yml"


def test_restarts_back_off_from_1_s_to_30_s_and_reset_after_a_good_run() -> None:
    backoff = Backoff()
    assert [backoff.delay(ran_for=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(ran_for=61) == 1
    assert backoff.delay(ran_for=3) == 2


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("2026-11-28 08:19:23,576 WARNING puente.conversation: assistant unavailable", True),
        ("2026-11-28 08:20:08 ERROR    rasa.core.processor  - Encountered an exception", True),
        ("[2026-11-28 08:10:33 +0000] [11047] [CRITICAL] WORKER TIMEOUT (pid:11050)", True),
        ('{"event": "rest.message.received.failure", "text": "[withheld]", "level": "error"}', True),
        ("2026-11-28 08:09:53 INFO     root  - Starting Rasa server on http://127.0.0.1:6105", False),
        (".../pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call", False),
        ("  warnings.warn(", False),
        ("UserWarning: Your versions of rasa and rasa_sdk might not be compatible.", False),
        ("2026-11-28 08:09:45 ERROR rasa_sdk - Failed to read endpoint configuration", False),
        # A level word deep in the message is not the line's level.
        (
            "2026-11-28 08:09:45 INFO     rasa_sdk.executor  - Registered function for 'action_ERROR_codes'",
            False,
        ),
    ],
)
def test_make_run_shows_warnings_and_errors_but_not_known_noise(line: str, shown: bool) -> None:
    assert worth_showing(line) is shown


def test_the_ready_message_says_where_to_point_twilio_and_how_to_try_it(tmp_path: Path) -> None:
    local = make_settings("sqlite://", port=5123)
    said = ready_message(local, tmp_path)
    assert "http://127.0.0.1:5123/twilio/messages" in said and "PUBLIC_BASE_URL" in said
    assert "puente chat" in said and str(tmp_path / "rasa.log") in said
    assert str(tmp_path / "worker.log") in said
    public = ready_message(make_settings("sqlite://", public_base_url="https://puente.example.org"), tmp_path)
    assert "https://puente.example.org/twilio/messages" in public
