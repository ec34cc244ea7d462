"""RTSP authentication: Basic (RFC 7617) and Digest (RFC 2617 / RFC 7616).

Digest supports MD5, MD5-sess, SHA-256 and SHA-256-sess, ``qop=auth`` / ``auth-int`` and the
legacy RFC 2069 form without qop, which many older cameras still send.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ALGORITHMS = {"MD5": "md5", "SHA-256": "sha256"}


@dataclass(frozen=True)
class Challenge:
    """One challenge from a ``WWW-Authenticate`` header; ``scheme`` is lower case."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """All challenges in the ``WWW-Authenticate`` values (one header may hold several)."""
    out: list[Challenge] = []
    for text in values:
        pos, scheme, params = 0, "", {}
        while pos < len(text):
            while pos < len(text) and text[pos] in " \t,":
                pos += 1
            m = _TOKEN.match(text, pos)
            if m is None:
                break  # garbage: keep what was understood so far
            name, pos = m.group(0), m.end()
            rest = text[pos:].lstrip(" \t")
            if rest.startswith("=") and scheme:
                pos = len(text) - len(rest) + 1
                while pos < len(text) and text[pos] in " \t":
                    pos += 1
                q = _QUOTED.match(text, pos)
                if q is not None:
                    value, pos = re.sub(r"\\(.)", r"\1", q.group(1)), q.end()
                else:
                    end = text.find(",", pos)
                    end = len(text) if end < 0 else end
                    value, pos = text[pos:end].strip(), end
                params[name.lower()] = value
            else:
                if scheme:
                    out.append(Challenge(scheme, params))
                scheme, params = name.lower(), {}
        if scheme:
            out.append(Challenge(scheme, params))
    return out


def _hash(algorithm: str, text: str) -> str:
    # Digest's hashes are protocol-mandated, not a choice of ours (hence usedforsecurity=False).
    return hashlib.new(algorithm, text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic_authorization(username: str, password: str) -> str:
    """``Authorization`` value for Basic."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def digest_response(
    *,
    params: dict[str, str],
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str | None:
    """``Authorization`` value answering a Digest challenge; None for an unknown algorithm."""
    algorithm = params.get("algorithm", "MD5")
    name = _ALGORITHMS.get(algorithm.upper().removesuffix("-SESS"))
    if name is None:
        return None
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    offered = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else "auth-int" if "auth-int" in offered else None
    cnonce = cnonce or secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    ha1 = _hash(name, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _hash(name, f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + hashlib.new(name, body, usedforsecurity=False).hexdigest()
    ha2 = _hash(name, a2)
    if qop:
        response = _hash(name, f"{ha1}:{nonce}:{nc_text}:{cnonce}:{qop}:{ha2}")
    else:
        response = _hash(name, f"{ha1}:{nonce}:{ha2}")
    user = username
    if params.get("userhash", "").lower() == "true":
        user = _hash(name, f"{username}:{realm}")
    parts = [
        f"username={_quote(user)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
    ]
    if "algorithm" in params:
        parts.append(f"algorithm={algorithm}")
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={_quote(cnonce)}"]
    if params.get("userhash", "").lower() == "true":
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


def _algorithm(challenge: Challenge) -> str:
    return challenge.params.get("algorithm", "MD5").upper()


class Authenticator:
    """Answers a server's challenges for one connection (the nonce count grows per request)."""

    def __init__(self, username: str, password: str, challenges: list[Challenge]) -> None:
        self.username = username
        self.password = password
        digests = [c for c in challenges if c.scheme == "digest"]
        # Prefer SHA-256 when offered (RFC 7616 §3.7), then MD5; Basic only when nothing else.
        digests.sort(key=lambda c: 0 if _algorithm(c).startswith("SHA") else 1)
        self.challenge = next(
            (c for c in digests if _algorithm(c).removesuffix("-SESS") in _ALGORITHMS),
            next((c for c in challenges if c.scheme == "basic"), None),
        )
        self.nc = 0

    @property
    def usable(self) -> bool:
        return self.challenge is not None

    def header(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for the next request."""
        if self.challenge is None:
            return None
        if self.challenge.scheme == "basic":
            return basic_authorization(self.username, self.password)
        self.nc += 1
        return digest_response(
            params=self.challenge.params,
            method=method,
            uri=uri,
            username=self.username,
            password=self.password,
            nc=self.nc,
        )
