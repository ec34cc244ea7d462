"""Short-lived TURN credentials: the "TURN REST API" scheme (coturn's ``use-auth-secret``).

The server and the TURN server share one secret. Each console and each box gets, per call, the
username ``<expiry unix time>:<who>`` and the password base64(HMAC-SHA1(secret, username)); the
TURN server recomputes it and refuses it after the expiry. So no long-lived TURN password is
ever handed to a browser or written to a box, and ``who`` appears in the TURN server's logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

# A call's allocation is refreshed with the same credentials until it ends, so they outlive
# the longest call by this margin.
MARGIN_S = 300.0


def turn_credentials(secret: str, who: str, valid_s: float, *,
                     now: float | None = None) -> tuple[str, str]:
    """(username, password) for ``who``, valid for ``valid_s`` seconds from ``now``."""
    expiry = int((time.time() if now is None else now) + valid_s)
    username = f"{expiry}:{who}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
