"""Settings, read once from the environment and an optional `.env` file.

The process environment wins over `.env`. Every setting Puente reads lives here:
the rest of the code receives a `Settings` object and never calls `os.environ`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dotenv import dotenv_values

if TYPE_CHECKING:
    from puente.broadcasts.quiet import QuietHours


def _project_root() -> Path:
    """Where `locales/`, `migrations/`, `nlu_data/`, `bot/`, `models/` and `var/` live.

    `PUENTE_ROOT` when set (the Docker image sets `/app`, where it copies them); else
    the source checkout this package runs from. A non-editable install lives in
    site-packages, away from those folders, so it needs `PUENTE_ROOT`.
    """
    configured = os.environ.get("PUENTE_ROOT")
    return Path(configured).resolve() if configured else Path(__file__).resolve().parent.parent


#: The folder holding Puente's data (see `_project_root`).
PROJECT_ROOT = _project_root()

DEFAULT_DATABASE_URL = "sqlite:///var/puente.db"


class ConfigError(ValueError):
    """A setting has a value Puente cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults documented in the README."""

    host: str = "127.0.0.1"
    port: int = 5000
    rasa_port: int = 5005
    actions_port: int = 5055
    rasa_url: str = ""
    actions_url: str = ""
    rasa_timeout: float = 10.0
    database_url: str = DEFAULT_DATABASE_URL
    queue_url: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base_url: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_from_number: str = ""
    twilio_whatsapp_from: str = ""
    #: Segments a second across every worker; 0 lifts the limit (a benchmark against a fake Twilio).
    twilio_send_rate: float = 1.0
    #: USD per SMS segment, for the estimates a dry run prints.
    twilio_price_per_segment: float = 0.0083
    public_base_url: str = ""
    secret_key: str = ""
    #: The key in use before PUENTE_SECRET_KEY, while `puente keys rotate` moves rows off it.
    old_secret_key: str = ""
    default_language: str = "en"
    log_level: str = "INFO"
    #: "development" (make run: the sample directory, the phone simulator) or "production".
    env: str = "production"
    project_root: Path = field(default=PROJECT_ROOT)
    #: Where local state lives (PUENTE_VAR_DIR); `var/` in the project root when unset.
    state_dir: str = ""
    #: Who runs the line and how to reach a person: said in every HELP answer.
    support_contact: str = ""
    #: Twilio's own opt-out handling answers its English keywords: Puente then only records them.
    twilio_answers_keywords: bool = False
    #: Conversation data older than this many days is purged.
    retention_days: int = 30
    #: No outbound message starts in these hours of the recipient's clock ("off": none).
    quiet_hours: str = "21:00-08:00"
    #: The approved WhatsApp templates (puente.broadcasts.templates); empty: none.
    whatsapp_templates_file: str = ""

    def __post_init__(self) -> None:
        if self.env not in ("development", "production"):
            raise ConfigError(f"PUENTE_ENV={self.env!r} is neither development nor production")
        if self.twilio_send_rate < 0:
            raise ConfigError(f"TWILIO_SEND_RATE={self.twilio_send_rate} is negative (0 lifts the limit)")
        if self.retention_days < 1:
            raise ConfigError(f"RETENTION_DAYS={self.retention_days} must be at least 1")
        # A bad QUIET_HOURS stops start-up, not the first broadcast hours later.
        _ = self.quiet_window
        # Derived defaults: the Rasa and action server URLs follow their ports.
        if not self.rasa_url:
            object.__setattr__(self, "rasa_url", f"http://127.0.0.1:{self.rasa_port}")
        if not self.actions_url:
            object.__setattr__(self, "actions_url", f"http://127.0.0.1:{self.actions_port}")
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        object.__setattr__(self, "actions_url", self.actions_url.rstrip("/"))
        object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))

    def __repr__(self) -> str:
        """Every setting but the secrets: keys and tokens masked, passwords cut from URLs."""
        shown = []
        for attr in self.__dataclass_fields__:
            value = getattr(self, attr)
            if attr in SECRET_FIELDS and value:
                value = "***"
            elif attr in URL_FIELDS and value:
                value = mask_url(value)
            shown.append(f"{attr}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def locales_dir(self) -> Path:
        return data_dir(self.project_root, "locales")

    @property
    def nlu_dir(self) -> Path:
        return data_dir(self.project_root, "nlu_data") / "nlu"

    @property
    def sample_directory(self) -> Path:
        """The sample directory loaded into an empty database in development."""
        return self.project_root / "data" / "directory.yaml"

    @property
    def var_dir(self) -> Path:
        """Local state: the SQLite database, the embedded queue, spools."""
        return Path(self.state_dir) if self.state_dir else self.project_root / "var"

    @property
    def quiet_window(self) -> QuietHours | None:
        """QUIET_HOURS parsed (None: off); a bad value raises ConfigError naming it."""
        # Imported here: the quiet-hours module raises this module's ConfigError.
        from puente.broadcasts.quiet import parse_quiet_hours

        return parse_quiet_hours(self.quiet_hours)

    @property
    def whatsapp_templates_path(self) -> Path | None:
        """WHATSAPP_TEMPLATES_FILE as a path (relative: to the project root), None when unset."""
        if not self.whatsapp_templates_file.strip():
            return None
        return self.project_root / Path(self.whatsapp_templates_file.strip()).expanduser()

    @property
    def development(self) -> bool:
        return self.env == "development"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, the dev runner)."""
        return replace(self, **changes)

    def require_secret_key(self) -> bytes:
        """The key behind phone-number encryption and hashing; refuses to run without one."""
        if len(self.secret_key) < 32:
            raise ConfigError(
                "PUENTE_SECRET_KEY is missing or shorter than 32 characters: "
                "run `make setup` to generate one into .env"
            )
        return self.secret_key.encode()

    def old_secret_key_bytes(self) -> bytes | None:
        """PUENTE_OLD_SECRET_KEY (see `puente keys rotate`), or None when unset."""
        if not self.old_secret_key:
            return None
        if len(self.old_secret_key) < 32:
            raise ConfigError("PUENTE_OLD_SECRET_KEY is shorter than 32 characters: no Puente key is")
        return self.old_secret_key.encode()


#: Settings never shown: not in a repr, an error message or a log line.
SECRET_FIELDS = frozenset({"secret_key", "old_secret_key", "twilio_auth_token"})
#: Settings that may carry a password inside a URL.
URL_FIELDS = frozenset({"database_url", "queue_url", "rasa_url", "actions_url", "twilio_api_base_url"})


def mask_url(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def data_dir(root: Path, name: str) -> Path:
    """`root/name`, a folder Puente ships; a clear error when it is not there."""
    path = root / name
    if not path.is_dir():
        raise ConfigError(
            f"{path} does not exist: set PUENTE_ROOT to the folder that holds locales/, "
            "migrations/ and nlu_data/ (a source checkout, or /app in the Docker image)"
        )
    return path


# environment variable -> (Settings field, type)
ENV_VARS: dict[str, tuple[str, type]] = {
    "HOST": ("host", str),
    "PORT": ("port", int),
    "RASA_PORT": ("rasa_port", int),
    "ACTIONS_PORT": ("actions_port", int),
    "RASA_URL": ("rasa_url", str),
    "ACTIONS_URL": ("actions_url", str),
    "RASA_TIMEOUT": ("rasa_timeout", float),
    "DATABASE_URL": ("database_url", str),
    "QUEUE_URL": ("queue_url", str),
    "TWILIO_ACCOUNT_SID": ("twilio_account_sid", str),
    "TWILIO_AUTH_TOKEN": ("twilio_auth_token", str),
    "TWILIO_API_BASE_URL": ("twilio_api_base_url", str),
    "TWILIO_MESSAGING_SERVICE_SID": ("twilio_messaging_service_sid", str),
    "TWILIO_FROM_NUMBER": ("twilio_from_number", str),
    "TWILIO_WHATSAPP_FROM": ("twilio_whatsapp_from", str),
    "TWILIO_SEND_RATE": ("twilio_send_rate", float),
    "TWILIO_PRICE_PER_SEGMENT": ("twilio_price_per_segment", float),
    "PUBLIC_BASE_URL": ("public_base_url", str),
    "PUENTE_SECRET_KEY": ("secret_key", str),
    "PUENTE_OLD_SECRET_KEY": ("old_secret_key", str),
    "PUENTE_DEFAULT_LANGUAGE": ("default_language", str),
    "LOG_LEVEL": ("log_level", str),
    "PUENTE_ENV": ("env", str),
    "PUENTE_VAR_DIR": ("state_dir", str),
    "PUENTE_SUPPORT_CONTACT": ("support_contact", str),
    "TWILIO_ANSWERS_KEYWORDS": ("twilio_answers_keywords", bool),
    "RETENTION_DAYS": ("retention_days", int),
    "QUIET_HOURS": ("quiet_hours", str),
    "WHATSAPP_TEMPLATES_FILE": ("whatsapp_templates_file", str),
}

_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}


def _parse(kind: type, raw: str) -> Any:
    if kind is bool:
        try:
            return _BOOLEANS[raw.strip().lower()]
        except KeyError:
            raise ValueError(raw) from None
    return kind(raw)


def env_file_path() -> Path:
    """The `.env` file read for settings: `PUENTE_ENV_FILE`, else `.env` in the project root."""
    return Path(os.environ.get("PUENTE_ENV_FILE") or PROJECT_ROOT / ".env")


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Read settings from `environ` (default: the process) over the `.env` file."""
    values: dict[str, str] = {}
    path = env_file if env_file is not None else env_file_path()
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    kwargs: dict[str, Any] = {}
    for name, (attr, kind) in ENV_VARS.items():
        raw = values.get(name)
        if raw is None or raw == "":
            continue
        try:
            kwargs[attr] = _parse(kind, raw)
        except ValueError:
            shown = "***" if attr in SECRET_FIELDS else mask_url(raw) if attr in URL_FIELDS else raw
            raise ConfigError(f"{name}={shown!r} is not a valid {kind.__name__}") from None
    return Settings(**kwargs)


def ensure_env_file(path: Path | None = None) -> list[str]:
    """Create or complete `.env` with generated local secrets; return the names added.

    A secret key and a local development Twilio auth token are generated only when
    neither the process environment nor the file already has them.
    """
    path = path or env_file_path()
    existing = dotenv_values(path) if path.is_file() else {}
    wanted = {
        "PUENTE_SECRET_KEY": lambda: secrets.token_urlsafe(48),
        # Inbound signatures are always checked; locally, `puente chat` signs with this.
        "TWILIO_AUTH_TOKEN": lambda: "dev-" + secrets.token_hex(16),
    }
    added = [n for n in wanted if not existing.get(n) and not os.environ.get(n)]
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text() if path.is_file() else "# Puente local settings (never commit this file)\n"
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{name}={wanted[name]()}\n" for name in added)
        _write_private(path, text)
    return added


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` in a file that is 0600 from its creation, never wider.

    The text goes to a new file opened with mode 0600 (whatever the umask), which then
    takes the old file's place in one rename: no moment exists where the secrets sit
    in a file others can read, nor a half-written .env.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
