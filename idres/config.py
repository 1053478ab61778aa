"""Node configuration: environment variables, overridable from the CLI."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping
from urllib.parse import urlsplit

ROLES = ("top-level", "secondary", "enterprise")
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


@dataclass(frozen=True)
class Config:
    """Everything a node needs to know about itself."""

    database: str = "./idres.db"
    node_prefix: str = "88.118"
    base_url: str = "http://127.0.0.1:8000"
    node_role: str = "secondary"
    max_body_bytes: int = 1024 * 1024
    max_mint: int = 100_000
    pool_size: int = 8            # PostgreSQL connections per process (a gthread worker runs 8 threads)
    ledger_key_file: str = ""   # default: beside the SQLite file, or ./idres-ledger.key
    ledger_key: str = field(default="", repr=False)  # PRIVATE+KEY+... instead of a file; never logged
    ledger_origin: str = ""     # default: <host of base_url>/<node prefix>
    max_events: int = 10_000
    anchor_rpc: str = ""        # JSON-RPC URL of an EVM chain; empty: in-process test chain
    anchor_key: str = field(default="", repr=False)  # hex account key for anchoring; never logged
    hdl_host: str = "127.0.0.1"  # binary Handle protocol (RFC 3652), UDP and TCP
    hdl_port: int = 2641         # 0: the binary protocol is not served
    upstream_url: str = ""       # REST base URL of the node above (top-level for a secondary)
    upstream_handle: str = ""    # our credentials there, "300:0.NA/<node prefix>"
    upstream_secret: str = field(default="", repr=False)  # its secret; never logged
    upstream_timeout: float = 2.0  # seconds, for every call to another node
    hdl_public_host: str = ""    # address other nodes reach hdl_port at (default: hdl_host,
                                 # or base_url's host when hdl_host is a wildcard)
    upstream_retry_base: float = 1.0   # seconds before the first retry of a registration upward
    upstream_retry_max: float = 600.0  # ceiling of the exponential backoff
    stats_flush_seconds: float = 5.0   # how often a process writes its resolution counts

    @property
    def key_file(self) -> str:
        """Where the ledger's signing key lives."""
        if self.ledger_key_file:
            return self.ledger_key_file
        if self.is_postgres:
            return "./idres-ledger.key"
        return self.database + ".ledger-key"

    @property
    def origin(self) -> str:
        """The checkpoint origin line (and signing key name)."""
        if self.ledger_origin:
            return self.ledger_origin
        host = self.base_url.split("://", 1)[1].split("/", 1)[0]
        return f"{host}/{self.node_prefix}"

    @property
    def is_postgres(self) -> bool:
        return self.database.startswith(("postgresql://", "postgres://"))

    @property
    def registers_upward(self) -> bool:
        """True when new prefix records are registered at the node above."""
        return bool(self.upstream_url and self.upstream_handle)

    @property
    def hdl_address(self) -> str:
        """The host other nodes reach this node's binary-protocol interface at."""
        if self.hdl_public_host:
            return self.hdl_public_host
        if self.hdl_host not in WILDCARD_HOSTS:
            return self.hdl_host
        return urlsplit(self.base_url).hostname or ""

    def validate(self) -> "Config":
        """Reject settings the node cannot run with."""
        from idres.handles import validate_prefix

        if self.node_role not in ROLES:
            raise ValueError(f"IDRES_NODE_ROLE must be one of {', '.join(ROLES)}, not {self.node_role!r}")
        validate_prefix(self.node_prefix, field="IDRES_NODE_PREFIX")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("IDRES_BASE_URL must be an http:// or https:// URL")
        if not 1 <= self.pool_size <= 100:
            raise ValueError("IDRES_POOL_SIZE must be from 1 to 100")
        if not 0 <= self.hdl_port <= 65535:
            raise ValueError("IDRES_HDL_PORT must be 0 (off) or a port number up to 65535")
        if self.upstream_url and not self.upstream_url.startswith(("http://", "https://")):
            raise ValueError("IDRES_UPSTREAM_URL must be an http:// or https:// URL")
        if not 0 < self.upstream_timeout <= 60:
            raise ValueError("IDRES_UPSTREAM_TIMEOUT must be more than 0 and at most 60 seconds")
        if not 0 < self.upstream_retry_base <= self.upstream_retry_max:
            raise ValueError("IDRES_UPSTREAM_RETRY_BASE must be more than 0 and at most "
                             "IDRES_UPSTREAM_RETRY_MAX")
        if not 0 < self.stats_flush_seconds <= 3600:
            raise ValueError("IDRES_STATS_FLUSH_SECONDS must be more than 0 and at most 3600")
        self._validate_upstream()
        return self

    def _validate_upstream(self) -> None:
        """A node below another registers its prefixes there: it needs its identity and secret."""
        if not self.upstream_url:
            return
        if self.node_role != "top-level" and not (self.upstream_handle and self.upstream_secret):
            raise ValueError(f"IDRES_NODE_ROLE={self.node_role} with IDRES_UPSTREAM_URL needs "
                             f"IDRES_UPSTREAM_HANDLE (300:0.NA/{self.node_prefix}) and IDRES_UPSTREAM_SECRET")
        if self.upstream_handle:
            expected = f"0.NA/{self.node_prefix}"
            index, sep, handle = self.upstream_handle.partition(":")
            if not (sep and index.isascii() and index.isdigit() and handle.lower() == expected.lower()):
                raise ValueError(f"IDRES_UPSTREAM_HANDLE must be <index>:{expected} (this node's "
                                 f"identity at the upstream), not {self.upstream_handle!r}")
            if not self.upstream_secret:
                raise ValueError("IDRES_UPSTREAM_HANDLE is set but IDRES_UPSTREAM_SECRET is empty")
        if self.hdl_port and self.hdl_address in WILDCARD_HOSTS:
            raise ValueError("IDRES_HDL_PUBLIC_HOST must name the address other nodes reach "
                             "the binary protocol at")
        if self.registers_upward and self.hdl_port and not _is_ip(self.hdl_address):
            # RFC 3651's HS_SITE holds a 16-byte address: a host name cannot be published there.
            raise ValueError(f"IDRES_HDL_PUBLIC_HOST must be the IP address other nodes reach the "
                             f"binary protocol at ({self.hdl_address!r} is a host name)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_ENV = {
    "database": "IDRES_DATABASE",
    "node_prefix": "IDRES_NODE_PREFIX",
    "base_url": "IDRES_BASE_URL",
    "node_role": "IDRES_NODE_ROLE",
    "ledger_key_file": "IDRES_LEDGER_KEY_FILE",
    "ledger_key": "IDRES_LEDGER_KEY",
    "ledger_origin": "IDRES_LEDGER_ORIGIN",
    "anchor_rpc": "IDRES_ANCHOR_RPC",
    "anchor_key": "IDRES_ANCHOR_KEY",
    "hdl_host": "IDRES_HDL_HOST",
    "hdl_port": "IDRES_HDL_PORT",
    "upstream_url": "IDRES_UPSTREAM_URL",
    "upstream_handle": "IDRES_UPSTREAM_HANDLE",
    "upstream_secret": "IDRES_UPSTREAM_SECRET",
    "upstream_timeout": "IDRES_UPSTREAM_TIMEOUT",
    "hdl_public_host": "IDRES_HDL_PUBLIC_HOST",
    "upstream_retry_base": "IDRES_UPSTREAM_RETRY_BASE",
    "upstream_retry_max": "IDRES_UPSTREAM_RETRY_MAX",
    "stats_flush_seconds": "IDRES_STATS_FLUSH_SECONDS",
    "pool_size": "IDRES_POOL_SIZE",
}


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Build a config from ``environ`` (default ``os.environ``), then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {name: _typed(name, env[var]) for name, var in _ENV.items() if env.get(var)}
    known = {f.name for f in fields(Config)}
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ValueError(f"Unknown setting {name!r}")
        if value is not None:
            values[name] = value
    values["base_url"] = values.get("base_url", Config.base_url).rstrip("/")
    return replace(Config(), **values).validate()


_NUMERIC = {f.name: f.type for f in fields(Config) if f.type in ("int", "float")}


def _typed(name: str, text: str) -> Any:
    """Environment variables are text; numeric settings are parsed, with the variable named."""
    kind = _NUMERIC.get(name)
    if kind is None:
        return text
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        raise ValueError(f"{_ENV[name]} must be a number, not {text!r}") from None
