"""Limit/offset pages with their total, the shape every list endpoint returns."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def check_page(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit: must be a positive integer, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset: must be a non-negative integer, got {offset!r}")


def fetch_page(
    session: Session, statement: Select[tuple[T]], order_by: list[Any], limit: int, offset: int
) -> tuple[list[T], int]:
    """Rows ``offset … offset+limit`` of ``statement`` in ``order_by`` order, and the total."""
    check_page(limit, offset)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.order_by(*order_by).limit(limit).offset(offset)).all()
    return list(rows), int(total or 0)
