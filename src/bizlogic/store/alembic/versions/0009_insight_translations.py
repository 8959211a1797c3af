"""Insights in both languages: ``business_insights.lang`` and ``translations``.

``translations`` holds each finding in every language the engine words it in,
rendered from the same figures: ``{"en": {title, description,
recommendations}, "zh": {...}}``. ``lang`` names the language of the row's
own title, description and recommendations (the run's, as before).

Rows stored earlier have no translations (NULL); their ``lang`` is filled in
from their job's parameters (``lang``, which defaulted to ``en``) and stays
NULL where the job is gone.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_LANGS = ("en", "zh")
_CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table("business_insights") as batch:
        batch.add_column(sa.Column("lang", sa.String(8), nullable=True))
        batch.add_column(sa.Column("translations", sa.JSON(none_as_null=True), nullable=True))
    _fill_lang_from_jobs()


def _fill_lang_from_jobs() -> None:
    insights = sa.table(
        "business_insights",
        sa.column("id", sa.Integer()),
        sa.column("job_id", sa.String()),
        sa.column("lang", sa.String()),
    )
    jobs = sa.table(
        "business_logic_analysis_history",
        sa.column("job_id", sa.String()),
        sa.column("parameters", sa.JSON()),
    )
    bind = op.get_bind()
    found = bind.execute(
        sa.select(insights.c.id, jobs.c.parameters).join(jobs, insights.c.job_id == jobs.c.job_id)
    )
    by_lang: dict[str, list[int]] = defaultdict(list)
    for insight_id, parameters in found:
        lang = (parameters.get("lang") if isinstance(parameters, dict) else None) or "en"
        if lang in _LANGS:
            by_lang[lang].append(insight_id)
    for lang, ids in sorted(by_lang.items()):
        for start in range(0, len(ids), _CHUNK):
            bind.execute(
                sa.update(insights)
                .where(insights.c.id.in_(ids[start : start + _CHUNK]))
                .values(lang=lang)
            )


def downgrade() -> None:
    with op.batch_alter_table("business_insights") as batch:
        batch.drop_column("translations")
        batch.drop_column("lang")
