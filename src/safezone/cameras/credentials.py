"""Camera stream credentials: encrypted at rest (Fernet), never returned, never logged.

Stream URLs are stored without user-info; the credentials are joined back only at the moment a
connection is opened, and the joined URL is never logged (use ``redact`` for messages).
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken


class CredentialsError(ValueError):
    """The stored credentials cannot be decrypted with the configured key."""


class CredentialBox:
    """Encrypts and decrypts (username, password) pairs with one key."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode("ascii"))

    def seal(self, username: str | None, password: str | None) -> str | None:
        if not username and not password:
            return None
        data = json.dumps({"u": username or "", "p": password or ""}).encode("utf-8")
        return self._fernet.encrypt(data).decode("ascii")

    def open(self, token: str | None) -> tuple[str, str] | None:
        if not token:
            return None
        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise CredentialsError("camera credentials cannot be decrypted (wrong key?)") from exc
        return str(data["u"]), str(data["p"])


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``rtsp://user:pass@host/path`` → (``rtsp://host/path``, user, pass)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def with_userinfo(url: str, credentials: tuple[str, str] | None) -> str:
    """The URL with credentials joined in, for opening a connection (never log it)."""
    if not credentials:
        return url
    user, password = credentials
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(url: str) -> str:
    """The URL safe for logs and messages."""
    return split_userinfo(url)[0]
