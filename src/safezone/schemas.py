"""Schema building blocks shared by every domain."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Input(BaseModel):
    """Base for request bodies: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ListOut(BaseModel, Generic[T]):
    """A page of results and the total number that match."""

    data: list[T]
    count: int = Field(description="Total number of matching items (all pages).")
    limit: int
    offset: int


class Page(BaseModel):
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(_page)]

Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude (EPSG:4326).")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude (EPSG:4326).")]
NameTh = Annotated[str, Field(min_length=1, max_length=200, description="Name in Thai.")]
NameEn = Annotated[str, Field(max_length=200, description="Name in English.")]
