"""Settings: every knob is an ``STVOS_*`` environment variable (or a line in ``.env``).

Sections nest with a single underscore after the section name, so ``STVOS_DATABASE_URL`` is
``settings.database.url`` and ``STVOS_RATE_LIMIT_PER_MINUTE`` is
``settings.rate_limit.per_minute``. With no configuration at all the server runs on a SQLite
file in ``./data``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from stvos import __version__


class DatabaseSettings(BaseModel):
    url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL, sqlite+aiosqlite:///path.db or postgresql+asyncpg://... "
        "(a secret: it may carry a password); default: a SQLite file in the data directory.",
    )
    pool_size: int = Field(default=10, ge=1, le=200)
    # Overflow connections are closed on return: under load above the pool, a new PostgreSQL
    # backend per burst (bench/: 16 clients on a pool of 8 with overflow, 225 heartbeats/s;
    # without, 1,300). So by default requests wait for a pooled connection instead.
    max_overflow: int = Field(default=0, ge=0, le=200)
    pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long a request waits for a pooled connection before it is answered "
        "503 (with Retry-After).",
    )
    echo: bool = False
    app_role: str | None = Field(
        default="stvos_app",
        description="PostgreSQL: the role each connection switches to (SET ROLE) so that "
        "row-level security applies even when the login role owns the tables. Empty disables.",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$|^$",
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if not value.get_secret_value().startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError(
                "must be a sqlite+aiosqlite:///... or postgresql+asyncpg://... SQLAlchemy URL"
            )
        return value


class RateLimitSettings(BaseModel):
    per_minute: int = Field(default=100, ge=1, description="Sustained requests/minute per key.")
    burst: int = Field(default=20, ge=1, description="Requests allowed at once per key.")
    enabled: bool = True


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger bodies get 413.")
    cors_origins: list[str] = Field(default_factory=list)


class SecuritySettings(BaseModel):
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a resolved API key is trusted before it is looked up again; "
        "a revocation made by another process takes effect within this time.",
    )


class AuthSettings(BaseModel):
    """Tokens and the brute-force throttles of sign-in and password recovery."""

    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 signing key of access tokens (32+ bytes). Unset: generated once into "
        "the data directory (required in production).",
    )
    jwt_issuer: str = "stvos"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    admin_token_ttl_seconds: int = Field(default=3_600, ge=60, le=86_400)
    login_per_account: int = Field(default=10, ge=1, description="Sign-ins per account per 15 min")
    login_per_client: int = Field(default=60, ge=1, description="Sign-ins per client per minute")
    recovery_per_account: int = Field(default=5, ge=1, description="Resets per account per hour")
    recovery_per_client: int = Field(default=30, ge=1, description="Resets per client per minute")
    voucher_checks_per_address: int = Field(
        default=60,
        ge=1,
        description="Voucher look-ups (validate, join page) per address per 15 min",
    )
    voucher_checks_per_client: int = Field(
        default=300, ge=1, description="Voucher validations per client per minute"
    )
    reset_token_ttl_minutes: int = Field(default=30, ge=5, le=24 * 60)

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes")
        return value


class IdempotencySettings(BaseModel):
    ttl_hours: int = Field(default=24, ge=1, le=24 * 30)


class MailSettings(BaseModel):
    """Outgoing mail: kept in the ``mail_outbox`` table, and relayed by SMTP when configured."""

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that delivers the outbox; unset: mail stays in the outbox table.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    from_address: str = Field(
        default="no-reply@localhost", pattern=r"^[^@\s<>]+@[^@\s<>]+$", max_length=320
    )
    from_name: str | None = Field(
        default=None, max_length=120, description="Sender display name; unset: the client's name."
    )
    reset_url: str = Field(
        default="http://localhost:3000/reset-password?token={token}",
        max_length=2000,
        description="Link in password-reset mails; {token} is replaced by the reset token and "
        "{client} by the client's slug.",
    )

    @field_validator("smtp_host", "smtp_username", "from_name")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("reset_url")
    @classmethod
    def _has_token(cls, value: str) -> str:
        if "{token}" not in value or "://" not in value:
            raise ValueError("must be a URL containing {token}")
        return value


class ContentSettings(BaseModel):
    """The on-demand library: signed playback URLs (``/video/access/:classId``)."""

    video_signing_key: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs playback URLs (32+ bytes; share it with the CDN "
        "edge or player proxy that checks them). Unset: derived from the access-token secret.",
    )
    video_url_ttl_seconds: int = Field(
        default=300, ge=30, le=86_400, description="How long a signed playback URL works."
    )

    @field_validator("video_signing_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes")
        return value


class LiveKitSettings(BaseModel):
    """Video rooms (1-on-1 bookings, live classes) on LiveKit.

    The embedded default signs tokens for a local ``livekit-server --dev`` (key ``devkey``,
    secret ``secret``, ``ws://localhost:7880``); set all three for a real deployment.
    """

    url: str = Field(
        default="ws://localhost:7880",
        pattern=r"^(wss?|https?)://[^\s]+$",
        max_length=500,
        description="The LiveKit server apps connect to (ws:// or wss://).",
    )
    api_key: str = Field(default="devkey", min_length=1, max_length=200)
    api_secret: SecretStr = Field(
        default=SecretStr("secret"), description="LiveKit API secret (signs room tokens)."
    )
    token_ttl_minutes: int = Field(
        default=120, ge=5, le=24 * 60, description="Lifetime of a room token handed to an app."
    )
    join_early_minutes: int = Field(
        default=10, ge=0, le=60, description="How long before the start a room can be joined."
    )

    @property
    def is_dev_default(self) -> bool:
        return self.api_key == "devkey" and self.api_secret.get_secret_value() == "secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STVOS_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("data"), description="Where the embedded database lives.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    housekeeping_interval_minutes: int = Field(
        default=15, ge=0, le=24 * 60, description="How often expired rows are purged; 0: never."
    )
    redis_url: SecretStr | None = Field(
        default=None, description="redis://host:port/db; shares rate limits between processes."
    )

    database: DatabaseSettings = DatabaseSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    server: ServerSettings = ServerSettings()
    security: SecuritySettings = SecuritySettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    auth: AuthSettings = AuthSettings()
    mail: MailSettings = MailSettings()
    content: ContentSettings = ContentSettings()
    livekit: LiveKitSettings = LiveKitSettings()

    @model_validator(mode="after")
    def _production_needs_explicit_secrets(self) -> Settings:
        if self.environment == "production" and self.auth.jwt_secret is None:
            raise ValueError("STVOS_AUTH_JWT_SECRET must be set in production")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'stvos.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def version(self) -> str:
        return __version__


class SettingsError(RuntimeError):
    """Configuration is invalid; the message lists each bad variable in plain words."""


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, failing fast with a readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = "_".join(str(p) for p in err["loc"]).upper()
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"  STVOS_{path}: {message}" if path else f"  {message}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
