"""A database error never carries the statement's parameters (record text) into logs."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bizlogic.store.db import Database

SECRET_TEXT = "customer 4711 wrote something private"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_errors_hide_parameters(request, tmp_path, backend):
    url = (
        f"sqlite:///{tmp_path / 'e.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    failing = "SELECT * FROM no_such_table WHERE x = :x"
    database = Database(url)
    try:
        with pytest.raises(DBAPIError) as caught, database.scope() as session:
            session.execute(text(failing), {"x": SECRET_TEXT})
        assert SECRET_TEXT not in str(caught.value)
        assert "hidden due to hide_parameters" in str(caught.value)
    finally:
        database.dispose()
