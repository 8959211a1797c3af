"""Insights in English and Chinese: one computation, two wordings, stored and served.

An analysis words every insight in both languages from the same figures; the
store keeps both (revision 0009); ``GET /insights/{project_id}?lang=`` serves
either, and rows stored before the revision keep their one wording and say
which language it is in.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.mining.engine import AnalysisResult, run_analysis
from bizlogic.mining.model import Insight, MiningParams
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import record_from_mapping
from bizlogic.records.synthetic import iter_records
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store import repositories as repo
from bizlogic.store.db import Database
from bizlogic.store.tables import InsightRow
from bizlogic.telemetry.metrics import Metrics

SECRET = "test-secret-" + "x" * 40
BASE = "/api/business-logic"
N_RECORDS, SEED = 3000, 5
ZH_SENTIMENT = {"positive": "正面", "negative": "负面", "neutral": "中性"}


def _pct(value: float) -> str:
    return f"{100.0 * value:.0f}%"


@dataclass
class Runs:
    en: AnalysisResult
    zh: AnalysisResult


@pytest.fixture(scope="module")
def runs() -> Runs:
    data = build_dataset(record_from_mapping(r) for r in iter_records(N_RECORDS, seed=SEED))
    return Runs(
        run_analysis(data, params=MiningParams(lang="en")),
        run_analysis(data, params=MiningParams(lang="zh")),
    )


def _finding(insight: Insight) -> tuple:
    """What an insight is about, whatever its language."""
    evidence = json.dumps(insight.evidence, sort_keys=True, default=str)
    return insight.algorithm, insight.insight_type, evidence, insight.impact_score


# --- the engine --------------------------------------------------------------------


def test_every_insight_is_worded_in_both_languages(runs):
    algorithms = {i.algorithm for i in runs.en.insights}
    assert algorithms == {
        "sentiment_correlation",
        "keyword_cooccurrence",
        "temporal_trends",
        "user_behavior",
    }
    for insight in runs.en.insights:
        assert insight.lang == "en" and set(insight.translations) == {"zh"}
        texts = insight.texts()
        assert list(texts) == ["en", "zh"]
        assert texts["en"] == {
            "title": insight.title,
            "description": insight.description,
            "recommendations": insight.recommendations,
        }
        en, zh = texts["en"], texts["zh"]
        assert len(en["recommendations"]) == len(zh["recommendations"]) >= 2
        for text in (en, zh):
            words = [text["title"], text["description"], *text["recommendations"]]
            assert all(words) and not any("{" in w for w in words)
        assert en["title"] != zh["title"]


def test_a_chinese_run_words_the_same_findings(runs):
    """Run in zh: its English translation is the en run's own text, and the other way round."""
    by_finding = {_finding(i): i for i in runs.zh.insights}
    assert len(by_finding) == len(runs.zh.insights) == len(runs.en.insights)
    for en in runs.en.insights:
        zh = by_finding[_finding(en)]
        assert zh.lang == "zh" and set(zh.translations) == {"en"}
        assert zh.texts() == en.texts()
    # The run's language orders insights of equal impact (by title); nothing else differs.
    assert sorted(map(_finding, runs.en.insights)) == sorted(map(_finding, runs.zh.insights))


def test_topic_cluster_words_come_from_the_pattern(runs):
    clusters = [p for p in runs.en.patterns if p.algorithm == "keyword_cooccurrence"][:5]
    insights = {
        tuple(i.evidence["keywords"]): i
        for i in runs.en.insights
        if i.algorithm == "keyword_cooccurrence" and "keywords" in i.evidence
    }
    assert len(clusters) == len(insights) >= 1
    for pattern in clusters:
        words = pattern.data["keywords"]
        size, npmi = len(words), pattern.data["mean_npmi"]
        shown = ", ".join(words[:5])
        insight = insights[tuple(words)]
        assert insight.texts() == {
            "en": {
                "title": f"Topic cluster: {shown}",
                "description": f"{size} keywords co-occur far more often than chance (mean NPMI "
                f"{npmi:.2f}); together they describe one recurring topic.",
                "recommendations": [
                    "Consider a dedicated label for this topic.",
                    "Review how this topic's sentiment evolves.",
                ],
            },
            "zh": {
                "title": f"话题簇：{shown}",
                "description": f"{size} 个关键词的共现远高于随机水平（平均 NPMI {npmi:.2f}），"
                "共同构成一个反复出现的话题。",
                "recommendations": ["考虑为该话题设立专门的标签。", "关注该话题情感随时间的变化。"],
            },
        }


def test_sentiment_driver_words_come_from_the_rules(runs):
    drivers = [
        i
        for i in runs.en.insights
        if i.algorithm == "sentiment_correlation" and i.insight_type == "pattern_insight"
    ]
    assert {i.translations["zh"]["title"].split("情感")[0] for i in drivers} == {
        "正面",
        "负面",
        "中性",
    }
    for insight in drivers:
        sentiment = insight.title.split()[2]  # "What drives <sentiment> sentiment: ..."
        rules = [
            r
            for r in runs.en.rules
            if r.algorithm == "sentiment_correlation" and r.consequent.value == sentiment
        ]
        assert insight.evidence["rules"] == [r.key for r in rules[:5]]
        top, names = rules[0], [str(r.conditions[0].value) for r in rules[:5]]
        listed = ", ".join(f"{w} ({_pct(r.confidence)})" for w, r in zip(names, rules[:5]))
        base, conf = _pct(top.consequent_count / top.n_records), _pct(top.confidence)
        short, s = ", ".join(names[:3]), ZH_SENTIMENT[sentiment]
        assert insight.translations["zh"] == {
            "title": f"{s}情感的主要驱动词：{listed}",
            "description": f"有 {len(rules)} 个关键词使{s}情感的概率明显高于基准 {base}。"
            f"最强的是“{names[0]}”，出现在 {top.antecedent_count} 条记录中，其中 {conf} 为{s}。",
            "recommendations": [
                f"抽查包含“{names[0]}”的记录，确认其背后的原因。",
                f"按周跟踪提及 {short} 的记录占比。",
                "利用这些关键词对新记录进行预标注或分流复核。",
            ],
        }
        assert insight.title == f"What drives {sentiment} sentiment: {listed}"
        assert insight.description == (
            f"{len(rules)} keywords make {sentiment} much more likely than its base rate of "
            f"{base}. The strongest, '{names[0]}', appears in {top.antecedent_count} records "
            f"and {conf} of them are {sentiment}."
        )


def test_result_file_round_trip_keeps_both_wordings(runs):
    document = json.loads(json.dumps(runs.en.to_dict()))
    assert set(document["insights"][0]) >= {"lang", "translations"}
    again = AnalysisResult.from_dict(document)
    assert [i.texts() for i in again.insights] == [i.texts() for i in runs.en.insights]
    # A result written before insights carried their language: the run's, no translations.
    for insight in document["insights"]:
        del insight["lang"], insight["translations"]
    document["meta"]["params"]["lang"] = "zh"
    old = AnalysisResult.from_dict(document)
    assert {(i.lang, len(i.translations)) for i in old.insights} == {("zh", 0)}


# --- the store ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    value = request.getfixturevalue("postgres_url")
    migrations.downgrade(value, "base")
    return value


def _rows(db: Database, project: str) -> list[InsightRow]:
    with db.scope() as session:
        rows = session.scalars(
            sa.select(InsightRow).where(InsightRow.project_id == project).order_by(InsightRow.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_a_saved_analysis_stores_every_insight_in_both_languages(url, runs):
    migrations.upgrade(url)
    db = Database(url)
    try:
        with db.scope() as session:
            repo.create_job(session, "p", runs.en.meta["algorithms"], {"lang": "en"}, job_id="j1")
            repo.save_results(session, "p", "j1", runs.en)
        rows = _rows(db, "p")
    finally:
        db.dispose()
    assert len(rows) == len(runs.en.insights)
    by_title = {i.title: i for i in runs.en.insights}
    for row in rows:
        insight = by_title[row.title]
        assert row.lang == "en"
        assert row.translations == insight.texts()
        assert row.translations["en"] == {
            "title": row.title,
            "description": row.description,
            "recommendations": row.recommendations,
        }
        zh = row.as_dict_in("zh")
        assert {k: zh[k] for k in ("title", "description", "recommendations", "lang")} == {
            **insight.translations["zh"],
            "lang": "zh",
        }
        assert {k: v for k, v in zh.items() if k not in insight.translations["zh"]} == {
            **{k: v for k, v in row.as_dict().items() if k not in insight.translations["zh"]},
            "lang": "zh",
        }


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_PROJECTS = sa.table("projects", sa.column("id"), sa.column("created_at"), sa.column("updated_at"))
_JOBS = sa.table(
    "business_logic_analysis_history",
    sa.column("job_id"),
    sa.column("project_id"),
    sa.column("status"),
    sa.column("parameters", sa.JSON()),
    sa.column("algorithms", sa.JSON()),
    sa.column("attempts"),
    sa.column("created_at"),
    sa.column("progress"),
)
_INSIGHTS_0008 = sa.table(
    "business_insights",
    *(
        sa.column(name)
        for name in (
            "project_id",
            "job_id",
            "algorithm",
            "insight_key",
            "insight_type",
            "title",
            "description",
            "impact_score",
            "acknowledged",
            "created_at",
            "updated_at",
        )
    ),
    sa.column("recommendations", sa.JSON()),
    sa.column("evidence", sa.JSON()),
)
# Rows as revision 0008 stored them: one wording, the run's.
OLD_ROWS = [
    ("j-zh", "标注量呈上升趋势", "每天标注量上升。", ["增加人手。"], 0.9),
    ("j-default", "Annotation volume is rising", "Volume rose.", ["Add people."], 0.8),
    (None, "Weekly rhythm in annotation volume", "Mondays are busy.", ["Plan."], 0.7),
]


def _store_rows_at_0008(url: str) -> None:
    migrations.upgrade(url, "0008")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(_PROJECTS), [{"id": "old", "created_at": T0, "updated_at": T0}]
            )
            connection.execute(
                sa.insert(_JOBS),
                [
                    {
                        "job_id": job_id,
                        "project_id": "old",
                        "status": "completed",
                        "parameters": parameters,
                        "algorithms": ["temporal_trends"],
                        "attempts": 1,
                        "created_at": T0,
                        "progress": 1.0,
                    }
                    for job_id, parameters in (("j-zh", {"lang": "zh"}), ("j-default", {}))
                ],
            )
            connection.execute(
                sa.insert(_INSIGHTS_0008),
                [
                    {
                        "project_id": "old",
                        "job_id": job_id,
                        "algorithm": "temporal_trends",
                        "insight_key": f"k{n}",
                        "insight_type": "trend_insight",
                        "title": title,
                        "description": description,
                        "impact_score": impact,
                        "recommendations": recommendations,
                        "evidence": {"n": n},
                        "acknowledged": False,
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for n, (job_id, title, description, recommendations, impact) in enumerate(
                        OLD_ROWS
                    )
                ],
            )
    finally:
        engine.dispose()


def test_0009_fills_lang_from_the_job_and_leaves_translations_empty(url):
    _store_rows_at_0008(url)
    migrations.upgrade(url, "0009")
    assert migrations.current(url) == "0009"
    db = Database(url)
    try:
        rows = _rows(db, "old")
    finally:
        db.dispose()
    assert [(r.title, r.lang, r.translations) for r in rows] == [
        ("标注量呈上升趋势", "zh", None),
        ("Annotation volume is rising", "en", None),  # the job had no lang: the default
        ("Weekly rhythm in annotation volume", None, None),  # no job to tell
    ]
    migrations.downgrade(url, "0008")
    engine = sa.create_engine(url)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("business_insights")}
    finally:
        engine.dispose()
    assert not {"lang", "translations"} & columns and "title" in columns


# --- the API -----------------------------------------------------------------------


def _auth(role: str = "system_admin", projects: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'alice', role, projects)}"}


def _client(tmp_path, url: str) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=SECRET)
    return TestClient(create_app(settings, metrics=Metrics(50)), raise_server_exceptions=False)


def _analyse(client: TestClient, project: str, n_records: int, seed: int, lang: str) -> None:
    body = b"\n".join(
        json.dumps(r, ensure_ascii=False).encode()
        for r in iter_records(n_records, seed=seed, project_id=project)
    )
    imported = client.post(
        f"{BASE}/projects/{project}/records",
        content=body,
        headers={**_auth(), "Content-Type": "application/x-ndjson"},
    )
    assert imported.status_code == 200, imported.text
    accepted = client.post(
        f"{BASE}/analyze", json={"project_id": project, "lang": lang}, headers=_auth()
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"{BASE}/jobs/{job_id}", headers=_auth()).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert job["status"] == "completed", job


def _insights(client: TestClient, project: str, headers=None, **params) -> dict:
    response = client.get(
        f"{BASE}/insights/{project}", params={"limit": 1000, **params}, headers=headers or _auth()
    )
    assert response.status_code == 200, response.text
    return response.json()


TEXT = ("title", "description", "recommendations")


def test_insights_route_serves_the_chosen_language(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with _client(tmp_path, url) as client:
        _analyse(client, "demo", N_RECORDS, SEED, "en")
        _analyse(client, "other", 1500, 6, "zh")
        stored = _insights(client, "demo")  # as today: the run's wording, no lang field
        zh = _insights(client, "demo", lang="zh")
        en = _insights(client, "demo", lang="en")
        again = _insights(client, "demo")

        db = Database(url)
        try:
            rows = {r.id: r for r in _rows(db, "demo")}
        finally:
            db.dispose()
        assert stored == again and stored["total"] == len(rows) > 0
        assert [i["id"] for i in zh["insights"]] == [i["id"] for i in stored["insights"]]
        for plain, chinese, english in zip(
            stored["insights"], zh["insights"], en["insights"], strict=True
        ):
            row = rows[plain["id"]]
            assert "lang" not in plain
            assert {k: plain[k] for k in TEXT} == row.translations["en"]
            assert {k: chinese[k] for k in TEXT} == row.translations["zh"]
            assert chinese["lang"] == "zh" and english["lang"] == "en"
            assert english == {**plain, "lang": "en"}
            assert {k: v for k, v in chinese.items() if k not in TEXT} == {
                **{k: v for k, v in plain.items() if k not in TEXT},
                "lang": "zh",
            }
            assert chinese["title"] != plain["title"]
        # e.g. the sentiment drivers, worded in Chinese from the same figures
        assert any(i["title"].startswith("正面情感的主要驱动词：") for i in zh["insights"])

        # The dashboard's top open items: titles in the requested language.
        def top_open(**extra) -> list[str]:
            response = client.post(
                f"{BASE}/visualization",
                json={"project_id": "demo", "visualization_type": "insight_dashboard", **extra},
                headers=_auth(),
            )
            assert response.status_code == 200, response.text
            return [item["title"] for item in response.json()["top_open"]]

        def first_five(page: dict) -> list[str]:
            ordered = sorted(page["insights"], key=lambda i: (-i["impact_score"], i["title"]))
            return [i["title"] for i in ordered[:5]]

        assert top_open() == first_five(stored)
        assert top_open(lang="zh") == first_five(zh)
        assert top_open(lang="en") == first_five(stored)

        # A bad language is refused, naming the parameter.
        bad = client.get(f"{BASE}/insights/demo", params={"lang": "fr"}, headers=_auth())
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert error["code"] == "INVALID_REQUEST" and error["message"].startswith("query.lang: ")
        assert [d["field"] for d in error["details"]] == ["query.lang"]
        bad_view = client.post(
            f"{BASE}/visualization",
            json={"project_id": "demo", "visualization_type": "insight_dashboard", "lang": "de"},
            headers=_auth(),
        )
        assert bad_view.status_code == 422
        assert [d["field"] for d in bad_view.json()["error"]["details"]] == ["body.lang"]

        # A token limited to "demo" sees demo's insights, in either language, and nothing else.
        scoped = _auth("viewer", ["demo"])
        assert _insights(client, "demo", scoped, lang="zh") == zh
        theirs = _insights(client, "other", lang="en")
        assert theirs["total"] > 0
        assert {i["project_id"] for i in theirs["insights"]} == {"other"}
        for params in ({}, {"lang": "zh"}, {"lang": "en"}):
            refused = client.get(f"{BASE}/insights/other", params=params, headers=scoped)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "FORBIDDEN"
            assert "other" in refused.text and "insights" not in refused.json()
        hidden = client.post(
            f"{BASE}/visualization",
            json={"project_id": "other", "visualization_type": "insight_dashboard", "lang": "zh"},
            headers=scoped,
        )
        assert hidden.status_code == 403 and "top_open" not in hidden.json()


def test_insights_stored_before_0009_keep_their_wording_and_say_its_language(url, tmp_path):
    _store_rows_at_0008(url)
    with _client(tmp_path, url) as client:  # the app's start-up migrates to 0009
        stored = _insights(client, "old")
        for lang in ("en", "zh"):
            shown = _insights(client, "old", lang=lang)
            assert shown["total"] == 3
            assert [
                (i["title"], i["description"], i["recommendations"], i["lang"])
                for i in shown["insights"]
            ] == [
                (title, description, recommendations, language)
                for (_, title, description, recommendations, _), language in zip(
                    OLD_ROWS, ("zh", "en", None), strict=True
                )
            ]
            assert [{k: v for k, v in i.items() if k != "lang"} for i in shown["insights"]] == (
                stored["insights"]
            )
        assert all("lang" not in i for i in stored["insights"])
