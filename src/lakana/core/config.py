"""Configuration: one Settings object built from ``LAKANA_*`` variables and an optional ``.env``."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All of Lakana's settings; build it with :func:`load_settings`, never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="LAKANA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path("./var"), description="Data folder: SQLite file, keys, files.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in home.")
    secret_key: str | None = Field(default=None, description="Session/CSRF key.")
    ledger_key_path: Path | None = Field(default=None, description="Ed25519 private key (PEM).")
    ledger_checkpoint_every: int = Field(default=1000, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=10000, ge=0, le=600000)
    default_language: str = "fr"
    session_idle_minutes: int = Field(default=60, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    https: bool = Field(default=False, description="Served over HTTPS (Secure cookies, HSTS).")
    trust_proxy_headers: bool = False
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = "lakana@localhost"
    jobs_inline: bool = Field(default=False, description="Run background jobs in-process.")
    base_url: str = "http://127.0.0.1:8000"
    exposure_allow_private: bool = Field(
        default=False, description="Let exposure scans reach private and loopback addresses "
        "(tests, demo, internal networks); otherwise public addresses only.")
    exposure_nameservers: str = Field(
        default="", description="Resolvers for exposure scans, 'IP[:PORT]' comma-separated "
        "(empty: the system's).")
    exposure_concurrency: int = Field(default=50, ge=1, le=1000,
                                      description="Targets scanned at once.")
    exposure_timeout: float = Field(default=10.0, gt=0, le=120,
                                    description="Seconds allowed per network operation.")
    exposure_auto_case: bool = Field(
        default=True, description="Open a CSIRT case automatically for a new critical finding.")
    detection_rules_dir: Path | None = Field(
        default=None, description="Extra Sigma rules (a folder, read recursively) run beside "
        "Lakana's own; their licence is kept per rule.")
    detection_retention_days: int = Field(
        default=180, ge=1, le=3650, description="Days log events are kept, for institutions "
        "without their own retention policy.")
    detection_ingest_concurrency: int = Field(
        default=2, ge=1, le=64, description="Ingest requests one institution may have in "
        "progress at once; more get 429, so one institution's flood never stalls another's.")
    detection_body_timeout: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds a log shipper has to send a whole "
        "ingest request body; a slower one gets 408 and frees its institution's slot.")
    biometry_keystore: Path | None = Field(
        default=None, description="Keystore file of the biometric registry's master keys "
        "(default: keystore.json in the data folder).")
    biometry_keystore_passphrase: str | None = Field(
        default=None, description="Passphrase protecting the keystore file.")
    biometry_pkcs11_module: Path | None = Field(
        default=None, description="PKCS#11 library of the HSM holding the master keys (then "
        "the keystore file is not used).")
    biometry_pkcs11_token: str = Field(default="lakana", description="HSM token label.")
    biometry_pkcs11_pin: str | None = Field(default=None, description="HSM user PIN.")
    biometry_sms_url: str | None = Field(
        default=None, description="HTTP endpoint of the SMS gateway that sends citizens their "
        "one-time codes (JSON POST {to, text}); unset: codes go to the outbox file in the data "
        "folder (development and demo only).")
    biometry_deceased_retention_days: int = Field(
        default=3650, ge=0, le=36500, description="Days a deceased person's data is kept "
        "before its lawful deletion.")
    biometry_rejected_retention_days: int = Field(
        default=90, ge=0, le=3650, description="Days the captures of an enrollment rejected as "
        "a duplicate are kept (for appeal) before deletion.")
    biometry_abis_url_prefixes: list[str] = Field(
        default_factory=list, description="URL prefixes (for example MOSIP's data share "
        "'https://mosip.example/v1/datashare/get/') from which the ABIS API may fetch a "
        "request's referenceURL; end each with '/'. Empty: no URL is fetched.")
    biometry_abis_fetch_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds allowed to fetch one referenceURL.")
    biometry_abis_fetch_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
        description="Largest referenceURL body (CBEFF) fetched.")
    biometry_abis_datashare_token: str | None = Field(
        default=None, description="JWT sent as the 'Authorization' cookie when fetching "
        "MOSIP's data share (from MOSIP's authmanager).")
    biometry_abis_partner_key: Path | None = Field(
        default=None, description="PEM RSA private key of the ABIS partner, to decrypt "
        "MOSIP's encrypted data share.")
    biometry_abis_shards: int = Field(
        default=0, ge=0, le=64, description="Worker processes holding each gallery in "
        "memory (the ABIS references; the registry's issued identities, searched by "
        "deduplication and by relying services' identification): a sharded candidate "
        "search whose short list is re-scored with Bozorth3, kept in step with the database "
        "before each search. 0: every search opens the whole sealed gallery.")
    biometry_face_encoder: str = Field(
        default="", description="Face encoder of the matching engine, by entry point name "
        "('dlib' is built in; a licensed model's package adds its own). Empty: faces are "
        "checked and stored but not compared.")
    biometry_fpir_calibration: Path | None = Field(
        default=None, description="Impostor score calibration file (written by 'lakana "
        "biometry matching calibrate') from which the ABIS API turns a targetFPIR into a "
        "threshold; unset: the engine's own threshold.")
    syslog_host: str = Field(default="127.0.0.1", description="Address the syslog receiver "
                             "listens on.")
    syslog_port: int = Field(default=6514, ge=0, le=65535, description="Syslog TCP port.")
    syslog_tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) of the syslog receiver: TLS when set.")
    syslog_tls_key: Path | None = Field(default=None, description="PEM key of the receiver.")
    syslog_tls_client_ca: Path | None = Field(
        default=None, description="PEM CA bundle: when set, senders must present a client "
        "certificate it signed.")
    webhook_allow_http: bool = Field(
        default=False, description="Let webhooks use plain http to loopback addresses (tests, "
        "local receivers); otherwise only https to public addresses.")

    @cached_property
    def resolved_home(self) -> Path:
        """The data folder as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'lakana.db'}"

    @property
    def effective_ledger_key_path(self) -> Path:
        """Where the platform's Ed25519 ledger signing key lives."""
        return self.ledger_key_path or self.resolved_home / "keys" / "ledger-ed25519.pem"

    @property
    def files_dir(self) -> Path:
        """Root of the content-addressed file store."""
        return self.resolved_home / "files"

    def effective_secret_key(self) -> bytes:
        """The key for sessions and CSRF tokens, from the setting or the home's key file."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.resolved_home / "secret.key"
        if path.exists():
            return path.read_bytes().strip()
        raise RuntimeError("secret key missing: run `lakana init` or set LAKANA_SECRET_KEY")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
