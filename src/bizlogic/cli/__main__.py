"""``python -m bizlogic.cli``: the same as the ``bizlogic`` command."""

from bizlogic.cli import app

app(prog_name="bizlogic")
