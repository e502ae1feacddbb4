"""Starts, watches and stops Puente's processes: `make run`, the end-to-end tests, the bench.

    actions  (rasa-sdk action server, this venv: puente.action_server)
    rasa     (Rasa 3.6 server, its own Python 3.10 venv, the trained model)
    webhooks (Flask under gunicorn)
    worker   (the job queue's consumer: `puente worker`)

Each process gets its settings through the environment, and only those it needs
(`PROCESS_SETTINGS`), so a test can start a whole stack on its own ports and database.
Each runs in its own session (a terminal's Ctrl-C reaches only the supervisor) and dies
with the process that started it, even a SIGKILLed one.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import requests
from sqlalchemy.engine import make_url

from puente.config import ENV_VARS, PROJECT_ROOT, Settings
from puente.db import resolve_url
from puente.jobs import heartbeat

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
    # No secret key: no action reads a phone number (people are known to it by pseudonym).
    "actions": frozenset({"DATABASE_URL", "PUENTE_DEFAULT_LANGUAGE", "LOG_LEVEL", "PUENTE_ENV"}),
    "rasa": frozenset(),
    # The queue and the database; the secret key (it decrypts numbers to send to), the Twilio
    # account and senders, and what shapes a send (rate, quiet hours, templates, callback URL).
    "worker": frozenset(
        {"DATABASE_URL", "QUEUE_URL", "LOG_LEVEL", "PUENTE_ENV", "PUENTE_VAR_DIR", "PUENTE_DEFAULT_LANGUAGE",
         "RETENTION_DAYS", "PUENTE_SECRET_KEY", "PUENTE_OLD_SECRET_KEY", "TWILIO_ACCOUNT_SID",
         "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER",
         "TWILIO_WHATSAPP_FROM", "TWILIO_SEND_RATE", "TWILIO_PRICE_PER_SEGMENT", "PUBLIC_BASE_URL",
         "QUIET_HOURS", "WHATSAPP_TEMPLATES_FILE"}
    ),
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
    #: Where it answers once it is up (a server)...
    ready_url: str = ""
    # The HTTP answers that mean "up": webhooks' /healthz answers 503 when it is up
    # but something behind it is not.
    ready_statuses: frozenset[int] = field(default=frozenset({200}))
    #: ... or, for a process that serves nothing, whether the one with this pid is up.
    ready_check: Callable[[int], bool] | None = None
    #: What it does once it is up, for messages ("did not … within 60 s").
    ready_when: str = ""

    def __post_init__(self) -> None:
        if not self.ready_when:
            self.ready_when = f"answer {self.ready_url}"


def worker_ready(database_url: str) -> Callable[[int], bool]:
    """Whether the worker with a given pid, on this host, has recorded a heartbeat."""
    hostname, _ = heartbeat.worker_identity()
    return functools.partial(heartbeat.seen, database_url, hostname)


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
            [str(bin_dir / "gunicorn"), "--config", str(PROJECT_ROOT / "gunicorn.conf.py")],
            puente_env("webhooks"),
            f"http://{settings.host}:{settings.port}/healthz",
            frozenset({200, 503}),
        ),
        ProcessSpec(
            "worker",
            [str(bin_dir / "puente"), "worker"],
            puente_env("worker"),
            ready_check=worker_ready(settings.database_url),
            ready_when="record a heartbeat",
        ),
    ]


READY_TIMEOUTS = {"actions": 60.0, "rasa": 240.0, "webhooks": 60.0, "worker": 60.0}

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl(2), resolved before any fork; None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn: the kernel SIGKILLs the child when the process that started it dies.

    Even a SIGKILLed supervisor, which can clean nothing up, leaves no server running.
    The kernel tracks the *thread* that forked: children are started from the main
    thread, which lives as long as the supervisor.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _never() -> bool:
    return False


class StartupError(RuntimeError):
    """A process exited, or did not answer in time, while the stack was starting."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name


class Stack:
    """A set of Puente processes, started together and stopped together.

    `log_dir` gets each process's output as `<name>.log` (appended); `on_line`, if
    given, sees every line too, with the process's name.
    """

    def __init__(
        self,
        specs: Iterable[ProcessSpec],
        log_dir: Path | None = None,
        on_line: Callable[[str, str], None] | None = None,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.log_dir = log_dir
        self.on_line = on_line
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._threads: list[threading.Thread] = []

    def log_path(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def start(self, name: str) -> None:
        """Start `name` (again). Call from the main thread (see `_die_with_parent`)."""
        spec = self.specs[name]
        log_path = self.log_path(name)
        log = log_path.open("ab") if log_path else None
        process = subprocess.Popen(
            spec.argv, cwd=PROJECT_ROOT, env=spec.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        self.processes[name] = process
        if log:
            started = datetime.now().isoformat(timespec="seconds")
            log.write(f"--- {name} started (pid {process.pid}) at {started}\n".encode())
        thread = threading.Thread(target=self._pump, args=(name, process.stdout, log), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self, name: str, stream: IO[bytes] | None, log: IO[bytes] | None) -> None:
        """Copy a process's output to its log and `on_line`; never stop before the stream
        ends, or the process would block on a full pipe."""
        assert stream is not None
        for line in iter(stream.readline, b""):
            if log:
                try:
                    log.write(line)
                    log.flush()
                except OSError:
                    pass  # a full disk must not stall the process
            if self.on_line:
                try:
                    self.on_line(name, line.decode(errors="replace").rstrip())
                except Exception:  # noqa: BLE001, S110 - a closed terminal must not stall it either
                    pass
        stream.close()
        if log:
            log.close()

    def is_ready(self, name: str) -> bool:
        """Whether `name` answers its ready URL (or passes its ready check) now."""
        spec = self.specs[name]
        if spec.ready_check is not None:
            process = self.processes.get(name)
            return process is not None and spec.ready_check(process.pid)
        try:
            return requests.get(spec.ready_url, timeout=2).status_code in spec.ready_statuses
        except requests.RequestException:
            return False

    def wait_ready(self, name: str, timeout: float, cancelled: Callable[[], bool] = _never) -> float:
        """Seconds until `name` is ready (see `is_ready`; 0 if cancelled first).

        Raises StartupError if it exits or does not answer within `timeout` seconds.
        """
        spec = self.specs[name]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if cancelled():
                return 0.0
            code = self.exit_code(name)
            if code is not None:
                raise StartupError(name, f"exited with code {code} during start-up")
            if self.is_ready(name):
                return time.monotonic() - started
            time.sleep(0.25)
        raise StartupError(name, f"did not {spec.ready_when} within {timeout:.0f} s")

    def start_all(
        self, report: Callable[[str, float], None] | None = None, cancelled: Callable[[], bool] = _never
    ) -> None:
        """Start every process, then wait until each answers, in start-up order.

        Returns early, with the processes left running, once `cancelled()`.
        """
        for name in self.specs:
            if cancelled():
                return
            self.start(name)
        for name in self.specs:
            seconds = self.wait_ready(name, READY_TIMEOUTS[name], cancelled)
            if cancelled():
                return
            if report:
                report(name, seconds)

    def exit_code(self, name: str) -> int | None:
        """The exit code of `name` if it has ended (negative: killed by that signal), else None.

        What it leaves behind in its process group (a gunicorn worker, say) is killed
        first: it would keep the port, or outlive a stop.
        """
        process = self.processes.get(name)
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        try:
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                return None
        except ChildProcessError:  # reaped already: its group id may name another process now
            return process.wait()
        # Ended but not reaped, the leader keeps its pid, so its group id names no other process.
        _signal_group(process.pid, signal.SIGKILL)
        return process.wait()

    def stop(self, name: str, grace: float = 10.0, hurry: Callable[[], bool] = _never) -> None:
        """SIGTERM `name`'s process group; SIGKILL it after `grace` seconds or once `hurry` is set."""
        self._stop([name], grace, hurry)

    def stop_all(self, grace: float = 10.0, hurry: Callable[[], bool] = _never) -> None:
        """Stop every process at once (the same way as `stop`), then wait for their output."""
        self._stop(list(reversed(self.processes)), grace, hurry)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _stop(self, names: list[str], grace: float, hurry: Callable[[], bool]) -> None:
        running = [name for name in names if name in self.processes and self.exit_code(name) is None]
        for name in running:
            _signal_group(self.processes[name].pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        killed = False
        while running:
            if not killed and (time.monotonic() >= deadline or hurry()):
                for name in running:
                    _signal_group(self.processes[name].pid, signal.SIGKILL)
                killed = True
            running = [name for name in running if self.exit_code(name) is None]
            if running:
                time.sleep(0.05)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class Backoff:
    """Restart delays: `first` seconds, doubling up to `cap`; back to `first` for a
    process that had run `stable_after` seconds before it stopped."""

    def __init__(self, first: float = 1.0, cap: float = 30.0, stable_after: float = 60.0) -> None:
        self.first, self.cap, self.stable_after = first, cap, stable_after
        self._next = first

    def delay(self, ran_for: float) -> float:
        if ran_for >= self.stable_after:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay


class Supervisor:
    """Keeps a started stack up: restarts what stops, with backoff, until told to stop.

    `request_stop` is the signal handler. It only sets flags (a handler that raised
    could interrupt start-up or shutdown half-way and orphan processes; one that took
    a lock could deadlock), so a signal never cuts shutdown short: a second one during
    shutdown kills what is still stopping instead of waiting for it.
    """

    def __init__(self, stack: Stack, say: Callable[[str], None], tick: float = 0.25) -> None:
        self.stack = stack
        self.say = say
        self.tick = tick
        self.stopping = False
        self.hurry = False
        self.backoff = {name: Backoff() for name in stack.specs}
        self._started_at: dict[str, float] = {}
        self._restart_at: dict[str, float] = {}
        self._down_since: dict[str, float] = {}
        self._starting: set[str] = set()

    def request_stop(self, _signum: int = 0, _frame: object = None) -> None:
        if self.stopping:
            self.hurry = True
        self.stopping = True

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start the stack and keep it up until `request_stop`; stop it all. The exit code."""
        try:
            try:
                self._started_at = dict.fromkeys(self.stack.specs, time.monotonic())
                self.stack.start_all(
                    lambda name, seconds: self.say(f"puente: {name} is up ({seconds:.1f} s)"),
                    lambda: self.stopping,
                )
            except StartupError as error:
                self.say(f"puente: {error}; stopping the rest.")
                self._show_log_tail(error.name)
                return 1
            if not self.stopping and on_ready:
                on_ready()
            while not self.stopping:
                self.check()
                time.sleep(self.tick)
            return 0
        finally:
            self.say("puente: stopping…")
            self.stack.stop_all(hurry=lambda: self.hurry)
            self.say("puente: stopped.")

    def check(self) -> None:
        """One round: notice what stopped, restart what is due, report what is back."""
        now = time.monotonic()
        for name in self.stack.specs:
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    self.stack.start(name)
                    self._started_at[name] = now
                    self._starting.add(name)
                continue
            code = self.stack.exit_code(name)
            if code is not None:
                self._schedule_restart(name, now, f"stopped (exit {code})")
            elif name in self._starting:
                if self.stack.is_ready(name):
                    self._starting.discard(name)
                    down = now - self._down_since.pop(name, now)
                    self.say(f"puente: {name} is back (down {down:.0f} s)")
                elif now - self._started_at[name] > READY_TIMEOUTS[name]:
                    self.stack.stop(name, hurry=lambda: self.hurry)
                    what = f"did not {self.stack.specs[name].ready_when} within {READY_TIMEOUTS[name]:.0f} s"
                    self._schedule_restart(name, now, what)

    def _schedule_restart(self, name: str, now: float, what: str) -> None:
        delay = self.backoff[name].delay(now - self._started_at[name])
        self._starting.discard(name)
        self._down_since.setdefault(name, now)
        self._restart_at[name] = now + delay
        log = self.stack.log_path(name)
        where = f" (log: {_shown(log)})" if log else ""
        self.say(f"puente: {name} {what}; restarting in {delay:g} s{where}")

    def _show_log_tail(self, name: str, lines: int = 15) -> None:
        path = self.stack.log_path(name)
        if path is None or not path.is_file():
            return
        tail = path.read_bytes().decode(errors="replace").splitlines()[-lines:]
        self.say(f"puente: the end of {_shown(path)}:")
        for line in tail:
            self.say(f"  {line}")


# A child's line is shown on the terminal when it says it is a warning or an error...
_LEVEL = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")
_JSON_LEVEL = re.compile(r'"level": "(warning|error|critical)"')
#: ... unless it is one of these, known and harmless.
KNOWN_NOISE = (
    # rasa-sdk 3.21 on Rasa 3.6 (puente.action_server also filters it at the source).
    re.compile(r"versions of rasa and rasa_sdk might not be compatible"),
    # rasa-sdk looking for a tracing configuration Puente does not use.
    re.compile(r"Failed to read endpoint configuration"),
)


def worth_showing(line: str) -> bool:
    """Whether a child's output line belongs on `make run`'s terminal (the log has them all)."""
    if not (_LEVEL.search(line[:80]) or _JSON_LEVEL.search(line)):
        return False
    return not any(noise.search(line) for noise in KNOWN_NOISE)


def _shown(path: Path) -> str:
    """`path` relative to the current folder when inside it: what a person would type."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def ready_message(settings: Settings, log_dir: Path) -> str:
    """What `make run` says once everything answers: where to point Twilio, how to try it."""
    local = f"http://{settings.host}:{settings.port}/twilio/messages"
    if settings.public_base_url:
        twilio = f"  Twilio: set the number's messaging webhook to {settings.public_base_url}/twilio/messages"
    else:
        twilio = (
            "  Twilio needs a public URL for it: run a tunnel to this port (ngrok or similar), set\n"
            "  PUBLIC_BASE_URL to the tunnel's URL, and set your number's messaging webhook to\n"
            "  PUBLIC_BASE_URL/twilio/messages"
        )
    logs = ", ".join(_shown(log_dir / f"{name}.log") for name in ("webhooks", "rasa", "actions", "worker"))
    return "\n".join(
        [
            f"puente: ready. The Twilio webhook is {local}",
            twilio,
            "  Try it here: .venv/bin/puente chat texts the webhook as Twilio would",
            f"  Logs: {logs}",
            "  Ctrl-C stops everything.",
        ]
    )


def run_foreground(
    settings: Settings, echo: Callable[[str], None] = print, log_dir: Path | None = None
) -> int:
    """`make run`: start everything, keep it up, stop all on Ctrl-C or SIGTERM. The exit code."""
    if not MODEL_PATH.is_file():
        echo(f"No trained model at {MODEL_PATH}: run `make train` (make run does it for you).")
        return 2
    log_dir = log_dir or settings.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            try:
                echo(line)
            except OSError:
                pass  # the terminal is gone; keep supervising until told to stop

    def on_line(name: str, line: str) -> None:
        if worth_showing(line):
            say(f"[{name}] {line[:300]}")

    stack = Stack(process_specs(settings), log_dir=log_dir, on_line=on_line)
    supervisor = Supervisor(stack, say)
    # Children run in their own sessions, so a terminal's Ctrl-C reaches only us.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)
    say(f"puente: starting {', '.join(stack.specs)} (logs in {_shown(log_dir)}/)")
    return supervisor.run(on_ready=lambda: say(ready_message(settings, log_dir)))
