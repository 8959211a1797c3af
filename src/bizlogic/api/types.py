"""Parameter types shared by the routes, bounded so no input reaches the database unchecked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from bizlogic.store.projects import validate_project_id

INT32_MAX = 2_147_483_647  # row ids are 32-bit integers on PostgreSQL

RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]
ProjectIdField = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(validate_project_id)
]
