"""The JSON values the library takes and returns, as ``TypedDict``s.

Their one definition is the library's: ``include/schema/*.json``, generated from the
Rust types. ``tests/test_schema.py`` checks that each class here has exactly the
properties of its schema. Arguments are ``total=False`` where the library has defaults.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

__all__ = [
    "EngineConfig",
    "ProviderConfig",
    "EventRetention",
    "DirectorySettings",
    "NewDirectory",
    "DirectoryUpdate",
    "TokenInfo",
    "LoginInfo",
    "Directory",
    "IssuedToken",
    "Event",
    "EventGroup",
    "EventStats",
    "Transform",
    "MappingEntry",
    "Mapping",
    "FoundUser",
    "OidcConfig",
    "OidcSettings",
    "LoginStart",
    "Login",
    "RateLimitOptions",
    "AdminOptions",
    "ServerOptions",
]


class ProviderConfig(TypedDict, total=False):
    """``engine_config.json#/$defs/Config``: the SCIM protocol's limits."""

    base_url: str
    strict: bool
    max_results: int
    max_operations: int
    max_payload_size: int
    large_group_members: int
    cursor_timeout_secs: int
    max_sort_window: int
    max_filter_scan: int
    max_member_filter: int


class EventRetention(TypedDict, total=False):
    """``engine_config.json#/$defs/EventRetention`` (``None``: no limit)."""

    max_age_secs: Optional[int]
    max_count: Optional[int]


class EngineConfig(TypedDict, total=False):
    """``engine_config.json``: the engine's configuration."""

    public_url: str
    scim_path: str
    login_path: str
    provider: ProviderConfig
    #: 64 hex characters: seals stored OIDC client secrets.
    secrets_key: Optional[str]
    events: EventRetention
    event_lease_ms: int


class DirectorySettings(TypedDict, total=False):
    """``directory.json#/$defs/DirectorySettings``."""

    enforce_domain: bool
    strict: bool
    fill_domain: bool


class NewDirectory(TypedDict, total=False):
    """``new_directory.json`` (``name``, ``domain``, ``idp``, ``services`` required)."""

    name: str
    domain: str
    idp: str
    services: List[str]
    settings: DirectorySettings
    mapping_profile: Optional[str]


class DirectoryUpdate(TypedDict, total=False):
    """``directory_update.json``: only what changes."""

    domain: Optional[str]
    services: Optional[List[str]]
    settings: Optional[DirectorySettings]


class TokenInfo(TypedDict):
    """``directory.json#/$defs/TokenInfo``."""

    issued_at: str
    expires_at: str
    lifespan_months: int


class LoginInfo(TypedDict):
    """``directory.json#/$defs/LoginInfo``."""

    client_id: str
    config_url: str
    claim: str
    attribute: str
    redirect_uri: str
    login_url: str


class Directory(TypedDict):
    """``directory.json``: a directory as the admin sees it."""

    id: str
    name: str
    domain: str
    idp: str
    services: List[str]
    settings: DirectorySettings
    created: str
    token: Optional[TokenInfo]
    tenant_url: str
    login: Optional[LoginInfo]


class IssuedToken(TypedDict):
    """``issued_token.json``: the only time the secret is available."""

    secret: str
    issued_at: str
    expires_at: str
    lifespan_months: int


class Event(TypedDict):
    """``event.json``: one change event."""

    seq: int
    kind: str
    resource_type: str
    resource_id: str
    time: str
    data: Dict[str, Any]


class EventGroup(TypedDict):
    """``event_group.json``: a consumer group's cursors."""

    group: str
    acked: int
    delivered: int
    owner: Optional[str]
    lease_until: int


class EventStats(TypedDict):
    """``event_stats.json``: the state of a directory's outbox."""

    last_seq: int
    acked: int
    kept: int
    dropped: int


class Transform(TypedDict, total=False):
    """``mapping_entry.json#/$defs/Transform``: ``{"kind": "lowercase"}``,
    ``{"kind": "default", "value": …}``, …"""

    kind: str
    value: Any


class MappingEntry(TypedDict, total=False):
    """``mapping_entry.json`` (``target`` and ``source`` required)."""

    target: str
    source: str
    required: bool
    immutable: bool
    transform: Optional[Transform]


class Mapping(TypedDict, total=False):
    """``mapping.json``: one service's mapping."""

    profile: str
    users: List[MappingEntry]
    groups: List[MappingEntry]


class FoundUser(TypedDict):
    """``found_user.json`` (or ``None``)."""

    id: str
    resource: Dict[str, Any]
    record: Dict[str, Any]


class OidcConfig(TypedDict, total=False):
    """``oidc_settings.json#/$defs/OidcConfig`` (``client_id``, ``client_secret`` and
    ``config_url`` required)."""

    client_id: str
    client_secret: str
    config_url: str
    redirect_uri: str
    scopes: List[str]
    claim: str
    allowed_algs: List[str]
    leeway_secs: int
    extra_authorize_params: Dict[str, str]
    allow_http: bool
    ca_bundle_pem: Optional[str]
    require_email_verified: bool
    token_endpoint_auth: str


class OidcSettings(TypedDict, total=False):
    """``oidc_settings.json``: the relying party and the attribute its claim matches."""

    config: OidcConfig
    attribute: str


class LoginStart(TypedDict):
    """``login_start.json``: send the browser to ``authorization_url``."""

    authorization_url: str
    state: str
    expires_at: int


class Login(TypedDict):
    """``login.json``: who logged in, and the validated claims."""

    user: FoundUser
    claims: Dict[str, Any]


class RateLimitOptions(TypedDict):
    """``server_options.json#/$defs/RateLimitJson``."""

    per_second: int
    burst: int


class AdminOptions(TypedDict, total=False):
    """``server_options.json#/$defs/AdminJson`` (``credential`` required)."""

    credential: str
    allow_remote: bool


class ServerOptions(TypedDict, total=False):
    """``server_options.json``: the built-in server's options."""

    listen: Optional[str]
    tls_cert: Optional[str]
    tls_key: Optional[str]
    max_header_bytes: Optional[int]
    header_timeout_ms: Optional[int]
    request_timeout_ms: Optional[int]
    shutdown_grace_ms: Optional[int]
    max_connections: Optional[int]
    max_in_flight: Optional[int]
    max_in_flight_per_directory: Optional[int]
    rate_limit: Optional[RateLimitOptions]
    admin: Optional[AdminOptions]
