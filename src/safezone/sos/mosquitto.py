"""Mosquitto password and ACL files for SOS boxes (when an external Mosquitto is the broker).

The password file uses Mosquitto 2's own format, ``user:$7$<iterations>$<salt>$<hash>`` with
PBKDF2-HMAC-SHA512 (what ``mosquitto_passwd`` writes by default); a test starts a real
``mosquitto`` with the files written here. The ACL lets each box (user name = box code) use
only its own topics, and the server's user every box topic. After changing either file, send
Mosquitto SIGHUP to reload them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

# mosquitto_passwd's defaults (Mosquitto 2.0): 101 iterations, 12-byte salt, SHA-512.
ITERATIONS = 101
SALT_BYTES = 12


def mosquitto_hash(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> str:
    """The ``$7$`` (PBKDF2-SHA512) entry Mosquitto 2 expects for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"$7${iterations}${salt_b64}${digest_b64}"


def verify_mosquitto_hash(password: str, entry: str) -> bool:
    """Whether ``password`` matches a ``$7$`` entry."""
    try:
        _, kind, iterations, salt, digest = entry.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except ValueError:
        return False


def _write_private(path: Path, text: str) -> None:
    # Atomic replace, owner-only: the file holds password hashes.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_password(path: Path, username: str, password: str) -> None:
    """Add or replace ``username``'s entry in a Mosquitto password file (created if absent)."""
    if ":" in username or "\n" in username:
        raise ValueError("a Mosquitto user name cannot contain ':' or a newline")
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] != username]
    kept.append(f"{username}:{mosquitto_hash(password)}")
    _write_private(path, "\n".join(kept) + "\n")


def render_acl(root: str, server_username: str) -> str:
    """ACL text: each box only its own topics; the server every box topic."""
    box = f"{root}/box/%u"
    return "\n".join(
        [
            "# SafeZone SOS boxes (written by `safezone box provision`; do not edit by hand).",
            "# A box logs in with its code as user name and may use only its own topics.",
            f"pattern write {box}/event",
            f"pattern write {box}/heartbeat",
            f"pattern write {box}/status",
            f"pattern write {box}/call",
            f"pattern read {box}/ack",
            f"pattern read {box}/cmd",
            "",
            f"user {server_username}",
            f"topic readwrite {root}/box/#",
            "",
        ]
    )


def write_acl(path: Path, root: str, server_username: str) -> None:
    """Write the ACL file (idempotent)."""
    _write_private(path, render_acl(root, server_username))
