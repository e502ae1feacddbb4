"""Settings from the environment over .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.config import ConfigError, ensure_env_file, load_settings


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


def test_local_state_lives_in_var_unless_puente_var_dir_says_otherwise(tmp_path: Path) -> None:
    default = load_settings({}, env_file=tmp_path / "none")
    assert default.var_dir == default.project_root / "var"
    moved = load_settings({"PUENTE_VAR_DIR": str(tmp_path / "state")}, env_file=tmp_path / "none")
    assert moved.var_dir == tmp_path / "state"
