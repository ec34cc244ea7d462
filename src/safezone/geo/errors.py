"""Error type raised for every geometry problem a user can cause.

The API layer translates errors by ``code`` (Thai/English), so ``code`` values are a
stable contract and ``params`` must carry everything a translated message needs.
"""

from __future__ import annotations

from typing import Final

#: Every code GeometryError may carry. Kept here so the API layer can check that it
#: has a translation for each one (e.g. in a unit test).
ERROR_CODES: Final[frozenset[str]] = frozenset(
    {
        "malformed",
        "not_polygon",
        "coordinate_out_of_range",
        "too_few_points",
        "too_many_points",
        "ring_not_closed",
        "self_intersection",
        "empty",
        "too_large",
        "invalid_kml",
        "file_too_large",
    }
)


class GeometryError(ValueError):
    """A user-supplied geometry or zone file was rejected.

    Attributes:
        code: stable machine-readable reason (one of ``ERROR_CODES``).
        params: values a translated message needs (area_km2, lon/lat, path, ...).
    """

    code: str
    params: dict[str, object]

    # code and message are positional-only so that params may use any keyword name.
    def __init__(self, code: str, message: str, /, **params: object) -> None:
        """Create an error with a machine code, an English message and parameters."""
        super().__init__(message)
        self.code = code
        self.params = dict(params)

    @property
    def message(self) -> str:
        """The readable English message (same as ``str(error)``)."""
        return str(self)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable representation for API error bodies."""
        return {"code": self.code, "message": self.message, "params": dict(self.params)}

    def __repr__(self) -> str:
        return f"GeometryError({self.code!r}, {self.message!r}, params={self.params!r})"
