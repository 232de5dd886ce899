"""Pagination shared by every list: limit/offset in, a page envelope out."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total so clients can page through."""

    items: list[T]
    total: int
    limit: int
    offset: int
