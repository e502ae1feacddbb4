"""Settings from the environment over .env."""

from __future__ import annotations

import os
import stat
from datetime import time
from pathlib import Path

import pytest

from puente.broadcasts.quiet import QuietHours
from puente.config import ConfigError, ensure_env_file, load_settings, mask_url


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, env_file=tmp_path / "none")
    assert settings.port == 5000
    assert settings.database_url == "sqlite:///var/puente.db"
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.actions_url == "http://127.0.0.1:5055"


def test_process_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=6000\nRASA_PORT=6005\nPUBLIC_BASE_URL=https://a.example.org/\n")
    settings = load_settings({"PORT": "7000"}, env_file=env_file)
    assert settings.port == 7000
    assert settings.rasa_port == 6005
    assert settings.rasa_url == "http://127.0.0.1:6005"
    assert settings.public_base_url == "https://a.example.org"


def test_a_bad_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORT='fifty'"):
        load_settings({"PORT": "fifty"}, env_file=tmp_path / "none")


def test_missing_secret_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make setup"):
        load_settings({}, env_file=tmp_path / "none").require_secret_key()


def test_env_file_is_completed_once_and_kept_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUENTE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=6000")
    assert ensure_env_file(env_file) == ["PUENTE_SECRET_KEY", "TWILIO_AUTH_TOKEN"]
    first = env_file.read_text()
    assert ensure_env_file(env_file) == []
    assert env_file.read_text() == first
    assert first.startswith("PORT=6000\n")
    assert env_file.stat().st_mode & 0o077 == 0
    settings = load_settings({}, env_file=env_file)
    assert len(settings.require_secret_key()) >= 32


def test_env_file_is_never_readable_by_others_even_if_the_process_dies_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Created 0600, not widened by the umask and narrowed later: nothing to chmod at all."""
    monkeypatch.delenv("PUENTE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    old_umask = os.umask(0)
    # A process killed after writing and before any chmod leaves what was created.
    monkeypatch.setattr(Path, "chmod", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(os, "chmod", lambda *_args, **_kwargs: None)
    try:
        ensure_env_file(tmp_path / ".env")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"], "no temporary file is left behind"


SECRET = "s" * 48
TOKEN = "t0ken-" + "9" * 20
OLD_SECRET = "o1d-" + "o" * 44


def test_settings_repr_and_errors_never_show_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PUENTE_SECRET_KEY": SECRET, "TWILIO_AUTH_TOKEN": TOKEN, "PUENTE_OLD_SECRET_KEY": OLD_SECRET,
            "DATABASE_URL": "postgresql+psycopg://puente:hunter2pass@db:5432/puente",
            "QUEUE_URL": "redis://:redispass@redis:6379/0",
        },
        env_file=tmp_path / "none",
    )
    for shown in (repr(settings), str(settings), f"{settings}", repr([settings])):
        for secret in (SECRET, TOKEN, OLD_SECRET, "hunter2pass", "redispass"):
            assert secret not in shown
    assert "database_url='postgresql+psycopg://puente:***@db:5432/puente'" in repr(settings)
    assert "secret_key='***'" in repr(settings) and "port=5000" in repr(settings)
    # The secrets are still there for the code that needs them.
    assert settings.require_secret_key() == SECRET.encode()
    assert settings.twilio_auth_token == TOKEN
    assert settings.old_secret_key_bytes() == OLD_SECRET.encode()


def test_an_old_secret_key_is_optional_but_never_a_short_one(tmp_path: Path) -> None:
    assert load_settings({}, env_file=tmp_path / "none").old_secret_key_bytes() is None
    with pytest.raises(ConfigError, match="PUENTE_OLD_SECRET_KEY") as raised:
        load_settings({"PUENTE_OLD_SECRET_KEY": "short-one"}, env_file=tmp_path / "no").old_secret_key_bytes()
    assert "short-one" not in str(raised.value)


def test_mask_url_cuts_passwords_only() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5/d") == "postgresql://u:***@h:5/d"
    assert mask_url("redis://:pw@redis:6379/0") == "redis://:***@redis:6379/0"
    assert mask_url("http://127.0.0.1:5005") == "http://127.0.0.1:5005"
    assert mask_url("sqlite:///var/puente.db") == "sqlite:///var/puente.db"


def test_local_state_lives_in_var_unless_puente_var_dir_says_otherwise(tmp_path: Path) -> None:
    default = load_settings({}, env_file=tmp_path / "none")
    assert default.var_dir == default.project_root / "var"
    moved = load_settings({"PUENTE_VAR_DIR": str(tmp_path / "state")}, env_file=tmp_path / "none")
    assert moved.var_dir == tmp_path / "state"


def test_quiet_hours_default_to_the_night_and_can_be_turned_off(tmp_path: Path) -> None:
    default = load_settings({}, env_file=tmp_path / "none")
    assert default.quiet_hours == "21:00-08:00"
    assert default.quiet_window == QuietHours(time(21), time(8))
    assert load_settings({"QUIET_HOURS": "22:30 - 7:00"}, env_file=tmp_path / "none").quiet_window == (
        QuietHours(time(22, 30), time(7))
    )
    assert load_settings({"QUIET_HOURS": "OFF"}, env_file=tmp_path / "none").quiet_window is None


def test_bad_quiet_hours_stop_start_up_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"QUIET_HOURS": "9pm-8am"}, env_file=tmp_path / "none")
    assert str(raised.value) == "QUIET_HOURS='9pm-8am' is not HH:MM-HH:MM (e.g. 21:00-08:00) or off"
    env_file = tmp_path / ".env"
    env_file.write_text("QUIET_HOURS=08:00-08:00\n")
    with pytest.raises(ConfigError, match="QUIET_HOURS='08:00-08:00' starts and ends at the same time"):
        load_settings({}, env_file=env_file)


def test_whatsapp_templates_file_is_off_unless_set_and_relative_to_the_project(tmp_path: Path) -> None:
    default = load_settings({}, env_file=tmp_path / "none")
    assert default.whatsapp_templates_file == "" and default.whatsapp_templates_path is None
    relative = load_settings({"WHATSAPP_TEMPLATES_FILE": "data/templates.yml"}, env_file=tmp_path / "none")
    assert relative.whatsapp_templates_path == relative.project_root / "data" / "templates.yml"
    absolute = load_settings({"WHATSAPP_TEMPLATES_FILE": str(tmp_path / "t.yml")}, env_file=tmp_path / "none")
    assert absolute.whatsapp_templates_path == tmp_path / "t.yml"
