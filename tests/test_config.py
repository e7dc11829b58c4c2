"""Settings from STVOS_* variables: nesting, defaults, secrets, readable failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from stvos.config import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("STVOS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_no_configuration_means_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'stvos.db'}"
    assert settings.is_sqlite
    assert settings.rate_limit.per_minute == 100
    assert settings.rate_limit.burst == 20
    assert settings.redis_url is None


def test_sections_nest_with_one_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STVOS_DATABASE_URL", "postgresql+asyncpg://app:s3cret@db:5432/stvos")
    monkeypatch.setenv("STVOS_DATABASE_POOL_SIZE", "25")
    monkeypatch.setenv("STVOS_RATE_LIMIT_PER_MINUTE", "600")
    monkeypatch.setenv("STVOS_RATE_LIMIT_BURST", "50")
    monkeypatch.setenv("STVOS_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("STVOS_SERVER_MAX_BODY_BYTES", "2048")
    settings = load_settings()
    assert settings.database.pool_size == 25
    assert not settings.is_sqlite
    assert settings.rate_limit.per_minute == 600
    assert settings.rate_limit.burst == 50
    assert settings.server.max_body_bytes == 2048
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://cache:6379/0"


def test_secrets_do_not_leak_into_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STVOS_DATABASE_URL", "postgresql+asyncpg://app:s3cret@db:5432/stvos")
    settings = load_settings()
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())
    assert "s3cret" in settings.database_url


def test_dot_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "STVOS_RATE_LIMIT_BURST=7\nSTVOS_ENVIRONMENT=production\n"
        "STVOS_AUTH_JWT_SECRET=" + "k" * 40 + "\n"
    )
    settings = load_settings()
    assert settings.rate_limit.burst == 7
    assert settings.environment == "production"
    assert settings.auth.jwt_secret is not None


def test_production_refuses_to_start_without_a_signing_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STVOS_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="STVOS_AUTH_JWT_SECRET must be set"):
        load_settings()
    monkeypatch.setenv("STVOS_AUTH_JWT_SECRET", "short")
    with pytest.raises(SettingsError, match="STVOS_AUTH_JWT_SECRET: must be at least 32 bytes"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("STVOS_DATABASE_URL", "mysql://root@localhost/x", "STVOS_DATABASE_URL"),
        ("STVOS_RATE_LIMIT_PER_MINUTE", "lots", "STVOS_RATE_LIMIT_PER_MINUTE"),
        ("STVOS_RATE_LIMIT_BURST", "0", "STVOS_RATE_LIMIT_BURST"),
        ("STVOS_ENVIRONMENT", "staging", "STVOS_ENVIRONMENT"),
        ("STVOS_DATABASE_APP_ROLE", "robert'); drop", "STVOS_DATABASE_APP_ROLE"),
    ],
)
def test_invalid_values_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, mentions: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert mentions in str(caught.value)
    assert str(caught.value).startswith("invalid configuration")
