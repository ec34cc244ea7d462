"""The camera kind's part of the generic asset service: turning validated input into columns.

* Credentials arrive as ``username``/``password`` fields or as user-info inside a stream URL.
  They are sealed into ``credentials_enc`` here and removed from the values, so nothing later
  (row, audit entry, response, log) ever holds them in clear.
* The tier is derived, never set: ``linked`` when the camera has a stream URL, else
  ``registered``.
* Only the owner organisation's partners, admins and supervisors may change the sharing policy.
"""

from __future__ import annotations

from typing import Any

from safezone.assets.models import PointAsset
from safezone.auth.roles import EDITORS, Role
from safezone.auth.service import Principal
from safezone.cameras.credentials import CredentialBox, CredentialsError, split_userinfo
from safezone.cameras.models import Camera
from safezone.problems import Problem
from safezone.settings import Settings

_URL_FIELDS = ("stream_url", "sub_stream_url")
_NOT_NULL = ("ptz", "sharing_policy", "alarm_radius_m", "buffer_seconds")


def may_set_sharing_policy(who: Principal, organisation_id: int | None) -> bool:
    """Admins and supervisors, or a partner of the camera's owner organisation."""
    if who.role in EDITORS:
        return True
    return (
        who.role == Role.partner
        and organisation_id is not None
        and who.organisation_id == organisation_id
    )


def _box(settings: Settings | None) -> CredentialBox:
    if settings is None:
        # A programming error (a caller forgot to pass settings), not bad input.
        raise RuntimeError("camera credentials need the settings that hold the credentials key")
    return CredentialBox(settings.resolved_credentials_key())


def _stored_credentials(current: Camera | None, settings: Settings | None) -> tuple[str, str]:
    if current is None or not current.credentials_enc:
        return "", ""
    try:
        opened = _box(settings).open(current.credentials_enc)
    except CredentialsError as exc:
        raise Problem(409, "camera_credentials_unreadable", id=current.id) from exc
    return opened or ("", "")


def _url_credentials(values: dict[str, Any]) -> tuple[str, str] | None:
    """Strip user-info from the stream URLs in ``values``; the credentials found, if any."""
    found: tuple[str, str] | None = None
    for key in _URL_FIELDS:
        url = values.get(key)
        if not url:
            continue
        clean, user, password = split_userinfo(url)
        values[key] = clean
        if user is None and password is None:
            continue
        pair = (user or "", password or "")
        if found is not None and found != pair:
            raise Problem(422, "camera_credentials_conflict")
        found = pair
    return found


def prepare_camera(
    values: dict[str, Any],
    *,
    who: Principal,
    current: PointAsset | None,
    settings: Settings | None,
) -> None:
    """Turn validated Create/Update values into column values, in place (see module doc)."""
    camera = current if isinstance(current, Camera) else None
    for key in _NOT_NULL:
        if key in values and values[key] is None:
            del values[key]  # PATCH with null: leave the value as it is
    org_id = values.get("organisation_id", camera.organisation_id if camera else None)
    if "sharing_policy" in values:
        if (camera is None or values["sharing_policy"] != camera.sharing_policy) and not (
            may_set_sharing_policy(who, org_id)
        ):
            raise Problem(403, "camera_policy_owner_only")
    explicit = {k: values.pop(k) for k in ("username", "password") if k in values}
    if camera is None:  # a create lists every field; only the ones given count
        explicit = {k: v for k, v in explicit.items() if v is not None}
    from_url = _url_credentials(values)
    if explicit or from_url:
        old: tuple[str, str] | None
        try:
            old = _stored_credentials(camera, settings)
        except Problem:
            if not from_url and not {"username", "password"} <= explicit.keys():
                raise  # a partial change needs the stored half it keeps
            old = None  # unreadable (the key changed?): a complete new login replaces it
        user, password = from_url or old or ("", "")
        # Explicit fields win over user-info; ``None`` means "no value" for that part.
        user = explicit.get("username", user) or ""
        password = explicit.get("password", password) or ""
        # Re-sealing equal values would give a new token: keep the old one (re-import unchanged).
        if (user, password) != old:
            values["credentials_enc"] = _box(settings).seal(user, password)
    if camera is None or "stream_url" in values:
        url = values.get("stream_url")
        values["tier"] = "linked" if url else "registered"
