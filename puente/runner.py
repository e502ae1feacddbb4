"""Starts and stops Puente's processes together: `make run`, the end-to-end tests, the bench.

    actions  (rasa-sdk action server, this venv: puente.action_server)
    rasa     (Rasa 3.6 server, its own Python 3.10 venv, the trained model)
    webhooks (Flask under gunicorn)

Each process gets its settings through the environment, and only those it needs
(`PROCESS_SETTINGS`), so a test can start a whole stack on its own ports and database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from sqlalchemy.engine import make_url

from puente.config import ENV_VARS, PROJECT_ROOT, Settings
from puente.db import resolve_url

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL_PATH = PROJECT_ROOT / "models" / "puente.tar.gz"
# Relative to the project folder, where every process starts.
RASA_LOGGING_CONFIG = "bot/logging.yml"

#: Which of Puente's settings (names from `puente.config.ENV_VARS`) each process is
#: given. Nothing else of Puente's reaches a child: not the supervisor's environment,
#: not `.env` (children read `PUENTE_ENV_FILE`, set to an empty file). Rasa runs
#: third-party code with the conversation in it and gets none of them, only its own
#: variables (see `process_specs`); the action server gets no Twilio credentials.
#: docker-compose.yml mirrors this table.
PROCESS_SETTINGS: dict[str, frozenset[str]] = {
    # Everything but the two ports that only the supervisor uses (to start rasa and
    # actions, whose URLs webhooks gets as RASA_URL and ACTIONS_URL).
    "webhooks": frozenset(ENV_VARS) - {"RASA_PORT", "ACTIONS_PORT"},
    "actions": frozenset({"DATABASE_URL", "PUENTE_SECRET_KEY", "PUENTE_DEFAULT_LANGUAGE", "LOG_LEVEL"}),
    "rasa": frozenset(),
}

#: What every child keeps of the supervisor's environment: where programs and the home
#: folder are, the locale, the time zone, the temporary folder, CA certificates.
INHERITED_ENV = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"}
)
#: ... and variables starting with these: the locale's (LC_*), and libpq's (PG*:
#: PGPASSWORD, PGSSLMODE…), which a PostgreSQL DATABASE_URL may rely on.
INHERITED_ENV_PREFIXES = ("LC_", "PG")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce `settings` in a child process."""
    env = {}
    for name, (attr, _kind) in ENV_VARS.items():
        value = getattr(settings, attr)
        if value not in ("", None):
            env[name] = str(value)
    return env


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What a child keeps of `environ` (see `INHERITED_ENV`)."""
    return {
        name: value
        for name, value in environ.items()
        if name in INHERITED_ENV or name.startswith(INHERITED_ENV_PREFIXES)
    }


def tracker_store_url(database_url: str) -> str:
    """The same database, as a URL for Rasa's SQLAlchemy 1.4 with its own drivers."""
    url = make_url(resolve_url(database_url))
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    elif url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
    return url.render_as_string(hide_password=False)


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str


def process_specs(
    settings: Settings,
    rasa_bin: Path = RASA_BIN,
    model: Path = MODEL_PATH,
    environ: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """What to start, in start-up order, and how to tell each is ready."""
    base = {**inherited_env(os.environ if environ is None else environ), "PYTHONUNBUFFERED": "1"}
    ours = settings_env(settings)
    bin_dir = Path(sys.executable).parent

    def puente_env(name: str) -> dict[str, str]:
        return {
            **base,
            **{k: v for k, v in ours.items() if k in PROCESS_SETTINGS[name]},
            "PUENTE_ROOT": str(PROJECT_ROOT),
            "PUENTE_ENV_FILE": os.devnull,  # only what the supervisor gives: never .env
        }

    rasa_env = {
        **base,
        "ACTION_ENDPOINT_URL": f"{settings.actions_url}/webhook",
        "TRACKER_STORE_URL": tracker_store_url(settings.database_url),
        # bot.components (the tokenizer) and bot.log_privacy (the logging config) live here.
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONWARNINGS": "ignore",  # Rasa 3.6's dependencies' deprecation noise (some gets through)
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    return [
        ProcessSpec(
            "actions",
            [
                sys.executable, "-m", "puente.action_server",
                "--host", settings.host, "--port", str(settings.actions_port),
                "--log-level", settings.log_level,
            ],
            puente_env("actions"),
            f"{settings.actions_url}/health",
        ),
        ProcessSpec(
            "rasa",
            [
                str(rasa_bin), "run", "--model", str(model),
                "--endpoints", "bot/endpoints.yml", "--credentials", "bot/credentials.yml",
                "--logging-config-file", RASA_LOGGING_CONFIG,
                "--interface", settings.host, "--port", str(settings.rasa_port),
            ],
            rasa_env,
            f"{settings.rasa_url}/",
        ),
        ProcessSpec(
            "webhooks",
            [
                str(bin_dir / "gunicorn"), "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            ],
            puente_env("webhooks"),
            f"http://{settings.host}:{settings.port}/healthz",
        ),
    ]


READY_TIMEOUTS = {"actions": 60.0, "rasa": 240.0, "webhooks": 60.0}


class Stack:
    """A set of Puente processes, started together and stopped together."""

    def __init__(
        self,
        specs: Iterable[ProcessSpec],
        log_dir: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.log_dir = log_dir
        self.echo = echo
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._threads: list[threading.Thread] = []

    def start(self, name: str) -> None:
        spec = self.specs[name]
        process = subprocess.Popen(
            spec.argv, cwd=PROJECT_ROOT, env=spec.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        log = (self.log_dir / f"{name}.log").open("ab") if self.log_dir else None
        thread = threading.Thread(target=self._pump, args=(name, process.stdout, log), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self, name: str, stream: IO[bytes] | None, log: IO[bytes] | None) -> None:
        assert stream is not None
        for line in iter(stream.readline, b""):
            if log:
                log.write(line)
                log.flush()
            if self.echo:
                self.echo(f"[{name}] {line.decode(errors='replace').rstrip()}")
        stream.close()
        if log:
            log.close()

    def wait_ready(self, name: str, timeout: float) -> float:
        """Seconds until `name` answers its ready URL; raises if it dies or times out."""
        spec, process = self.specs[name], self.processes[name]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode} during start-up")
            try:
                if requests.get(spec.ready_url, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{name} did not answer {spec.ready_url} within {timeout:.0f} s")

    def start_all(self, report: Callable[[str, float], None] | None = None) -> None:
        """Start every process, then wait until each answers, in start-up order."""
        for name in self.specs:
            self.start(name)
        for name in self.specs:
            seconds = self.wait_ready(name, READY_TIMEOUTS[name])
            if report:
                report(name, seconds)

    def stop(self, name: str, grace: float = 10.0) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
        for thread in self._threads:
            thread.join(timeout=5)

    def first_exited(self) -> str | None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None


def run_foreground(settings: Settings, echo: Callable[[str], None] = print) -> int:
    """`make run`: start everything, report where it listens, stop all on Ctrl-C or SIGTERM."""
    if not MODEL_PATH.is_file():
        echo(f"No trained model at {MODEL_PATH}: run `make train` (make run does it for you).")
        return 2

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Children run in their own sessions (a terminal's Ctrl-C reaches only us), so
    # SIGINT and SIGTERM become an interrupt that stops them all, even during
    # start-up, and even when a shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    stack = Stack(process_specs(settings), log_dir=None, echo=echo)
    code = 0
    try:
        stack.start_all(lambda name, seconds: echo(
            f"puente: {name} is up ({seconds:.1f} s) at {stack.specs[name].ready_url}"
        ))
        echo(
            f"puente: ready. Twilio webhook: http://{settings.host}:{settings.port}/twilio/messages"
            " — try `.venv/bin/puente chat` in another terminal; Ctrl-C stops everything."
        )
        while (dead := stack.first_exited()) is None:
            time.sleep(0.5)
        echo(f"puente: {dead} stopped unexpectedly; stopping the rest.")
        code = 1
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as error:
        echo(f"puente: {error}; stopping the rest.")
        code = 1
    finally:
        echo("puente: stopping…")
        stack.stop_all()
    return code
