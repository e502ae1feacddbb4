"""What bench/fanout and bench/burst share: a throwaway deployment with many subscribers.

- `Backend`: a fresh database and queue, embedded (an SQLite database and the SQLite queue
  in a temporary var folder) or distributed (a PostgreSQL database created on the server
  and a Redis queue of its own, `?name=`), removed afterwards;
- `add_subscribers`: N contacts and their subscriptions written with bulk INSERTs (COPY on
  PostgreSQL), each number encrypted and hashed by the vault as Puente's own code does.
  The numbers are fictional and never printed or written anywhere but the throwaway
  database (encrypted there): 555-01xx lines across many area codes (see `number`);
- `start_processes`: Puente's own processes as `make run` starts them (`puente.runner`:
  the same argv and the same environment, `settings_env`), the worker with extra options
  when a bench asks;
- `/proc` readings: peak RSS (VmHWM) and CPU time of a process and its descendants.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis
from sqlalchemy import Table, create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from puente.alerts.importer import insert_many  # noqa: E402
from puente.alerts.models import Subscription  # noqa: E402
from puente.config import Settings  # noqa: E402
from puente.db import Database  # noqa: E402
from puente.directory.store import import_directory, load_file  # noqa: E402
from puente.migrate import upgrade  # noqa: E402
from puente.models import Contact  # noqa: E402
from puente.privacy import Vault, new_pseudonym  # noqa: E402
from puente.runner import ProcessSpec, Stack, inherited_env, process_specs, settings_env  # noqa: E402
from tests.conftest import create_postgres_database, drop_postgres_database  # noqa: E402

DIRECTORY = ROOT / "data" / "directory.yaml"
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Subscribers' languages, in turn (Spanish readers are the most numerous, as on a real line).
LANGUAGES = ("en", "es", "es", "es", "vi", "tl", "ko", "zh_Hans", "zh_Hant")
#: The sender Puente's messages come from (fictional).
FROM_NUMBER = "+12135550155"
#: Rows per transaction while subscribers are written.
WRITE_BATCH = 5000
#: The fictional numbers: the 100 lines 555-0100..0199 under each of 800 area codes (NXX,
#: 200-999), then the same lines under other exchanges ending in 55.
EXCHANGES = (555, 255, 355, 455, 655, 755, 855, 955)
AREA_CODES = range(200, 1000)
LINES = 100


def number(i: int) -> str:
    """The i-th fictional number (E.164): +1 NXX 555 01xx first, distinct for every i below
    `max_numbers()` (an injective map: no two subscribers share a number, hence a hash)."""
    line, rest = i % LINES, i // LINES
    area, exchange = AREA_CODES[rest % len(AREA_CODES)], EXCHANGES[rest // len(AREA_CODES)]
    return f"+1{area}{exchange}{100 + line:04d}"


def max_numbers() -> int:
    return len(EXCHANGES) * len(AREA_CODES) * LINES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def load() -> str:
    """The load average, for every printed figure: the machine is shared."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


# --- the database and the queue -------------------------------------------------------------


@dataclass
class Backend:
    """A fresh database and queue for one run; `close` removes them (unless kept)."""

    kind: str  # "sqlite" or "postgres"
    database_url: str
    queue_url: str
    var_dir: Path
    admin_url: str = ""
    queue_name: str = ""

    @classmethod
    def create(cls, kind: str, workdir: Path, admin_url: str = POSTGRES_ADMIN_URL) -> Backend:
        var_dir = workdir / "var"
        var_dir.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite":
            return cls(kind, f"sqlite:///{workdir / 'puente.db'}", "", var_dir)
        name = "puente_bench_" + secrets.token_hex(4)
        url = create_postgres_database(admin_url)
        return cls(kind, url, f"{REDIS_URL}?name={name}", var_dir, admin_url, name)

    @property
    def label(self) -> str:
        return "SQLite + SQLite queue" if self.kind == "sqlite" else "PostgreSQL + Redis"

    def close(self, keep: bool = False) -> None:
        if self.kind != "postgres":
            return  # the files go with the temporary folder
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        try:
            for key in client.scan_iter(match=f"huey.*.{self.queue_name}*"):
                client.delete(key)
        finally:
            client.close()
        if keep:
            print(f"bench: kept the PostgreSQL database {self.database_url.rsplit('/', 1)[-1]}")
        else:
            drop_postgres_database(self.admin_url, self.database_url)

    def backend_pids(self) -> list[int]:
        """PostgreSQL: the server processes serving this database now (for their CPU time)."""
        if self.kind != "postgres":
            return []
        name = self.database_url.rsplit("/", 1)[-1]
        engine = create_engine(self.admin_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT pid FROM pg_stat_activity"
                         " WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": name},
                )
                return [int(pid) for (pid,) in rows]
        finally:
            engine.dispose()


def redis_cpu_seconds() -> float:
    """Redis's own CPU time so far (the server is shared: a difference over a run is an upper bound)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        info: dict[str, Any] = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        client.close()


def prepare_database(url: str) -> list[str]:
    """Migrate the fresh database and load the sample directory; the places people live in."""
    upgrade(url)
    database = Database(url)
    try:
        with database.session(None) as session:
            import_directory(session, load_file(DIRECTORY))
            from puente.directory.models import Jurisdiction

            return sorted(
                str(j) for j in session.scalars(select(Jurisdiction.id).where(Jurisdiction.kind != "state"))
            )
    finally:
        database.dispose()


@dataclass(frozen=True)
class Subscriber:
    """Who subscriber i is: never printed (the number stays in memory)."""

    index: int
    phone: str
    language: str


def subscriber(i: int) -> Subscriber:
    return Subscriber(i, number(i), LANGUAGES[i % len(LANGUAGES)])


def add_subscribers(
    url: str,
    vault: Vault,
    count: int,
    places: Sequence[str],
    topics: Callable[[int], Sequence[str]],
    progress: Callable[[int], None] | None = None,
) -> float:
    """Write subscribers 0..count-1 (contacts, then a subscription per topic) with bulk INSERTs,
    `WRITE_BATCH` per transaction; seconds taken."""
    if count > max_numbers():
        raise SystemExit(f"bench: at most {max_numbers()} fictional numbers: ask for fewer recipients")
    contacts_table = cast(Table, Contact.__table__)
    subscriptions_table = cast(Table, Subscription.__table__)
    database = Database(url)
    started = time.perf_counter()
    now = datetime.now(UTC)
    try:
        for first in range(0, count, WRITE_BATCH):
            people = [subscriber(i) for i in range(first, min(count, first + WRITE_BATCH))]
            hashes = [vault.phone_hash(p.phone) for p in people]
            if len(set(hashes)) != len(hashes):
                raise SystemExit("bench: two generated numbers share a hash: fix number()")
            rows = [
                {
                    "phone_hash": h, "phone_encrypted": vault.encrypt(p.phone), "key_id": vault.key_id,
                    "pseudonym": new_pseudonym(), "language": p.language, "language_source": "imported",
                    "channel": "sms", "created_at": now,
                }
                for p, h in zip(people, hashes, strict=True)
            ]
            with database.session(None) as session:
                insert_many(session, contacts_table, rows)
                ids = dict(
                    session.execute(
                        select(Contact.phone_hash, Contact.id).where(Contact.phone_hash.in_(hashes))
                    ).tuples().all()
                )
                subscriptions = [
                    {
                        "contact_id": ids[h], "topic": topic,
                        "jurisdiction_id": places[p.index % len(places)], "channel": "sms",
                        "language": p.language, "created_at": now, "updated_at": now,
                    }
                    for p, h in zip(people, hashes, strict=True)
                    for topic in topics(p.index)
                ]
                if subscriptions:
                    insert_many(session, subscriptions_table, subscriptions)
            if progress:
                progress(first + len(people))
        if database.engine.dialect.name == "postgresql":
            # Planner statistics, as autovacuum gathers them within a minute or so of such a load:
            # without them the audience query aggregates every remaining row for each page
            # (measured: 16.6 s instead of 1.1 s for 100,000 on a fresh database).
            with database.session(None) as session:
                session.execute(text("ANALYZE contacts, subscriptions"))
    finally:
        database.dispose()
    return time.perf_counter() - started


def contact_ids(url: str, vault: Vault, indexes: Sequence[int]) -> dict[int, int]:
    """Subscriber index -> contact id, found by hash as the webhook finds them."""
    by_hash = {vault.phone_hash(number(i)): i for i in indexes}
    database = Database(url)
    try:
        with database.session(None) as session:
            found = session.execute(
                select(Contact.phone_hash, Contact.id).where(Contact.phone_hash.in_(list(by_hash)))
            ).tuples()
            return {by_hash[h]: int(i) for h, i in found}
    finally:
        database.dispose()


# --- settings and processes -------------------------------------------------------------------


def bench_settings(backend: Backend, **values: Any) -> Settings:
    """A deployment of the bench's own: its database, queue and var folder, a new secret key."""
    return Settings(
        database_url=backend.database_url,
        queue_url=backend.queue_url,
        state_dir=str(backend.var_dir),
        secret_key=secrets.token_urlsafe(48),
        **values,
    )


def child_env(settings: Settings) -> dict[str, str]:
    """What a CLI command gets: every setting (as `make run` gives webhooks), never `.env`.

    PYTHONPATH makes every child run this checkout's code (a shared venv's editable install
    may point at another checkout; in a plain checkout it changes nothing).
    """
    return {
        **inherited_env(os.environ),
        **settings_env(settings),
        "PUENTE_ENV_FILE": os.devnull,
        "PUENTE_ROOT": str(ROOT),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def puente_command(settings: Settings, *args: str, timeout: float = 120) -> str:
    """Run `puente ARGS` as a coordinator would; its stdout (raises with its output on failure)."""
    command = [str(Path(sys.executable).parent / "puente"), *args]
    done = subprocess.run(
        command, cwd=ROOT, env=child_env(settings), capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: `puente {args[0]} {args[1] if len(args) > 1 else ''}` failed "
                         f"({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout


def broadcast_id(output: str) -> int:
    found = re.search(r"^Broadcast (\d+)$", output, re.MULTILINE)
    if found is None:
        raise SystemExit(f"bench: `puente broadcast send` printed no id:\n{output}")
    return int(found.group(1))


@dataclass
class Processes:
    """Puente's processes for one run, started as `make run` starts them, logs in `log_dir`."""

    stack: Stack
    workers: list[str] = field(default_factory=list)

    def pid(self, name: str) -> int:
        return self.stack.processes[name].pid

    def stop(self) -> None:
        self.stack.stop_all()


def start_processes(
    settings: Settings,
    log_dir: Path,
    *,
    workers: int = 1,
    threads: int | None = None,
    webhooks: bool = False,
    ready_timeout: float = 90.0,
    profile_to: Path | None = None,
) -> Processes:
    """`workers` workers (the first with the periodic jobs, the rest `--no-periodic`, as the
    README says to run several) and, if asked, webhooks under gunicorn: argv and environment
    from `puente.runner.process_specs`, what `make run` uses. `profile_to`: the first worker
    runs under bench/profiled_worker.py, which writes its profile there when it stops."""
    specs = {spec.name: spec for spec in process_specs(settings)}
    chosen: list[ProcessSpec] = []
    if webhooks:
        spec = specs["webhooks"]
        chosen.append(ProcessSpec(spec.name, spec.argv, {**spec.env, "PYTHONPATH": str(ROOT)}, spec.ready_url,
                                  spec.ready_statuses))
    base = specs["worker"]
    names = []
    for n in range(workers):
        argv = list(base.argv)
        if n == 0 and profile_to is not None:
            argv = [sys.executable, str(ROOT / "bench" / "profiled_worker.py"), str(profile_to)]
        if threads is not None:
            argv += ["--threads", str(threads)]
        if n > 0:
            argv.append("--no-periodic")
        name = "worker" if n == 0 else f"worker{n + 1}"
        names.append(name)
        chosen.append(ProcessSpec(name, argv, {**base.env, "PYTHONPATH": str(ROOT)},
                                  ready_check=base.ready_check, ready_when=base.ready_when))
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(chosen, log_dir=log_dir)
    try:
        for spec in chosen:
            stack.start(spec.name)
        for spec in chosen:
            stack.wait_ready(spec.name, ready_timeout)
    except BaseException:
        stack.stop_all()
        raise
    return Processes(stack, names)


# --- /proc ---------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> Iterator[int]:
    """`pid` and every process below it."""
    yield pid
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            yield from descendants(int(child))


def peak_rss_kib(pid: int) -> int:
    """VmHWM (the kernel's high-water mark of the resident set) of `pid` and its descendants, summed."""
    total = 0
    for each in descendants(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) if found else 0
    return total


def rss_kib(pid: int) -> int:
    """VmRSS (the resident set now) of `pid` and its descendants, summed."""
    total = 0
    for each in descendants(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) if found else 0
    return total


def cpu_seconds(pids: Sequence[int], tree: bool = True) -> float:
    """User + system CPU time of `pids` (and their descendants), every thread included."""
    total = 0.0
    for pid in pids:
        for each in descendants(pid) if tree else (pid,):
            try:
                stat = Path(f"/proc/{each}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
