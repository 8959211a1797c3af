"""bizlogic.store on SQLite and on PostgreSQL: schema, imports, results, curation, jobs.

Every test gets a freshly migrated schema (PostgreSQL: downgraded to base and
upgraded again in the session's database) and pins the store's clock, so
timestamps are asserted exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.mining.engine import AnalysisResult
from bizlogic.mining.model import Condition, Insight, Pattern, Rule
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import Record
from bizlogic.records.tokenizer import Tokenizer
from bizlogic.store import clock, migrations, results
from bizlogic.store import repositories as repo
from bizlogic.store.db import Database
from bizlogic.store.tables import AnalysisJob, AnnotationRow, Base, InsightRow, RuleRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KS = "sentiment_correlation"
CO = "keyword_cooccurrence"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def now(monkeypatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(clock, "utcnow", fixed)
    return fixed


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'store.db'}"
    value = request.getfixturevalue("postgres_url")
    migrations.downgrade(value, "base")
    return value


@pytest.fixture
def db(url, now) -> Iterator[Database]:
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


# --- schema ---------------------------------------------------------------------------


def _constraint_names(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    names: dict[str, set[str]] = {}
    for table in Base.metadata.tables:
        checks = {c["name"] for c in inspector.get_check_constraints(table)}
        uniques = {c["name"] for c in inspector.get_unique_constraints(table)}
        foreign = {c["name"] for c in inspector.get_foreign_keys(table)}
        indexes = {i["name"] for i in inspector.get_indexes(table) if not i.get("unique")}
        names[table] = checks | uniques | foreign | indexes
    return names


def test_migrated_schema_matches_the_models(db, tmp_path):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    # Alembic does not compare CHECK constraints or names: compare them with the
    # schema the models create on their own.
    reference = sa.create_engine(f"sqlite:///{tmp_path / 'models.db'}")
    Base.metadata.create_all(reference)
    expected = _constraint_names(reference)
    reference.dispose()
    assert _constraint_names(db.engine) == expected
    assert "ck_business_logic_analysis_history_status" in expected[AnalysisJob.__tablename__]
    indexes = {i["name"]: i for i in sa.inspect(db.engine).get_indexes("business_rules")}
    index = indexes["idx_business_rules_project_confidence"]
    assert index["column_names"] == ["project_id", "confidence"]
    if db.dialect == "postgresql":
        assert index["column_sorting"] == {"confidence": ("desc",)}
    else:
        with db.engine.connect() as connection:
            sql = connection.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE name = :n"),
                {"n": "idx_business_rules_project_confidence"},
            )
        assert "confidence DESC" in sql


def test_down_to_base_leaves_only_alembic_version_and_up_restores(db, url):
    db.dispose()
    migrations.downgrade(url, "base")
    engine = sa.create_engine(db.url)
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    assert migrations.current(url) is None
    migrations.upgrade(url)
    assert set(sa.inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
        "alembic_version"
    }
    assert migrations.current(url) == migrations.head() == "0010"
    engine.dispose()


def test_migration_errors_are_one_line_and_hide_the_password(tmp_path):
    target = f"sqlite:///{tmp_path / 'm.db'}"
    with pytest.raises(
        migrations.MigrationError, match=r"m\.db: Can't locate revision identified by 'nonsense'"
    ):
        migrations.downgrade(target, "nonsense")
    with pytest.raises(migrations.MigrationError, match="not a database URL"):
        migrations.current("not a url")
    refused = "postgresql://bl:s3cret@127.0.0.1:1/bizlogic"
    with pytest.raises(migrations.MigrationError) as caught:
        migrations.upgrade(refused)
    assert str(caught.value).startswith("postgresql://bl:***@127.0.0.1:1/bizlogic: ")
    assert "s3cret" not in str(caught.value)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "--url", refused])
    assert result.exit_code == 1
    assert "error: postgresql://bl:***@127.0.0.1:1/bizlogic:" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["db", "downgrade", "--revision", "nonsense", "--url", target])
    assert result.exit_code == 1
    assert "Can't locate revision identified by 'nonsense'" in result.output


def test_sqlite_engine_creates_its_directory_and_runs_wal_with_foreign_keys(tmp_path):
    path = tmp_path / "new" / "dir" / "bizlogic.db"
    database = Database(f"sqlite:///{path}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()
    assert path.is_file()


def test_check_constraint_rejects_a_bad_job_status_and_the_job_is_unchanged(db):
    with db.scope() as session:
        repo.create_job(session, "p", [KS], {}, job_id="j1")
    session = db.session()
    try:
        session.get(AnalysisJob, "j1").status = "exploded"
        with pytest.raises(sa.exc.IntegrityError, match="status"):
            session.flush()
        session.rollback()
    finally:
        session.close()
    with db.scope() as session:
        assert repo.get_job(session, "j1").status == "queued"


# --- records --------------------------------------------------------------------------


def _record(i: int, text: str | None = None, **fields) -> Record:
    return Record(
        id=f"r{i:03d}",
        text=text or f"delivery was late again {i}",
        sentiment=fields.pop("sentiment", "negative"),
        created_at=fields.pop("created_at", T0 - timedelta(days=i)),
        **fields,
    )


def _tokens(records: list[Record]) -> list[list[str]]:
    tokenizer = Tokenizer()
    return [tokenizer.record_tokens(r.text, r.keywords) for r in records]


def _stored(db: Database, project: str = "p") -> list[tuple]:
    with db.scope() as session:
        rows = session.scalars(
            sa.select(AnnotationRow)
            .where(AnnotationRow.project_id == project)
            .order_by(AnnotationRow.id)
        )
        return [(r.id, r.text, r.sentiment, r.rating, r.created_at, r.tokens) for r in rows]


@pytest.mark.parametrize("batch_size", [None, 2])
def test_upsert_is_idempotent_and_counts_exactly(db, now, batch_size):
    records = [_record(i) for i in range(5)]
    with db.scope() as session:
        first = repo.upsert_records(session, "p", records, _tokens(records), batch_size=batch_size)
    assert first == (5, 0)
    now.now = T0 + timedelta(hours=1)
    with db.scope() as session:
        again = repo.upsert_records(session, "p", records, _tokens(records), batch_size=batch_size)
    assert again == (0, 0)

    changed = [*records[:2], _record(2, "delivery was fast"), *records[3:], _record(9)]
    with db.scope() as session:
        counts = repo.upsert_records(session, "p", changed, _tokens(changed), batch_size=batch_size)
        assert repo.count_records(session, "p") == 6
        stamps = {
            row.id: row.updated_at
            for row in session.execute(sa.select(AnnotationRow.id, AnnotationRow.updated_at))
        }
    assert (counts.inserted, counts.updated) == (1, 1)
    rows = _stored(db)
    assert [r[0] for r in rows] == ["r000", "r001", "r002", "r003", "r004", "r009"]
    assert rows[2][1:] == (
        "delivery was fast",
        "negative",
        None,
        T0 - timedelta(days=2),
        ["delivery", "fast"],
    )
    # Only rewritten rows get a new updated_at; unchanged ones keep the first import's.
    assert stamps["r002"] == stamps["r009"] == T0 + timedelta(hours=1)
    assert stamps["r000"] == T0


def test_upsert_duplicate_ids_keep_the_last_and_timestamps_are_utc(db):
    tz = timezone(timedelta(hours=8))
    records = [
        _record(1, "first version"),
        _record(1, "second version", created_at=datetime(2026, 1, 1, 8, 0, tzinfo=tz)),
        _record(2, created_at=datetime(2026, 1, 1, 8, 0)),  # naive = UTC
    ]
    with db.scope() as session:
        assert repo.upsert_records(session, "p", records, _tokens(records)) == (2, 0)
    rows = _stored(db)
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("r001", "second version", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        ("r002", "delivery was late again 2", datetime(2026, 1, 1, 8, 0, tzinfo=UTC)),
    ]
    assert rows[0][4].tzinfo is UTC
    with db.scope() as session:  # the same instant in another zone is not a change
        same = [_record(1, "second version", created_at=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))]
        assert repo.upsert_records(session, "p", same, _tokens(same)) == (0, 0)


def test_upsert_rejects_misaligned_tokens_and_a_failed_import_leaves_nothing(db):
    records = [_record(i) for i in range(3)]
    with db.scope() as session, pytest.raises(ValueError, match="3 records but 2 token lists"):
        repo.upsert_records(session, "p", records, _tokens(records)[:2])
    with pytest.raises(RuntimeError, match="after the upsert"), db.scope() as session:
        repo.upsert_records(session, "p", records, _tokens(records))
        raise RuntimeError("after the upsert")
    assert _stored(db) == []
    with db.scope() as session:
        assert repo.get_job(session, "none") is None
        assert session.scalar(sa.select(sa.func.count()).select_from(AnnotationRow)) == 0


def test_stored_records_stream_in_id_order_and_build_the_same_dataset(db):
    records = [
        _record(3, "Zoë ordered 苹果手机, delivery late"),
        _record(1, "refund requested", keywords=["refund", "money"]),
        _record(2, "Great service", sentiment="positive", rating=5.0, annotator="ann-1"),
    ]
    tokens = _tokens(records)
    with db.scope() as session:
        repo.upsert_records(session, "p", records, tokens)
        streamed = list(repo.iter_project_records(session, "p", batch_size=2))
        dataset = repo.build_project_dataset(session, "p")
    assert [r.id for r, _ in streamed] == ["r001", "r002", "r003"]
    by_id = {r.id: (r, t) for r, t in zip(records, tokens)}
    for record, stored_tokens in streamed:
        original, original_tokens = by_id[record.id]
        assert stored_tokens == original_tokens
        assert record.keywords == original.keywords
        assert record.project_id == "p"
        assert (record.text, record.rating, record.annotator) == (
            original.text,
            original.rating,
            original.annotator,
        )
    expected = build_dataset(sorted(records, key=lambda r: r.id))
    assert dataset.vocab == expected.vocab
    assert list(dataset.ids) == list(expected.ids)
    assert (dataset.tokens != expected.tokens).nnz == 0
    assert list(dataset.created_at) == list(expected.created_at)


def test_tokens_stored_by_earlier_versions_pass_todays_filter(db):
    """Numbers and stop words that an older tokenizer stored never reach the analysis;
    a record's own keywords are taken as given."""
    records = [
        Record(id="r1", text="the refund took 2999 days 您"),
        Record(id="r2", text="user words", keywords=["2999", "the"]),
    ]
    old_tokens = [["the", "refund", "took", "2999", "您", "4mg"], ["2999", "the"]]
    with db.scope() as session:
        repo.upsert_records(session, "p", records, old_tokens)
        dataset = repo.build_project_dataset(session, "p")
    rows = dataset.tokens.toarray()
    words = [[dataset.vocab[j] for j in row.nonzero()[0]] for row in rows]
    assert words == [["refund"], ["2999", "the"]]


def test_byte_order_of_ids_is_the_same_on_both_backends(db):
    ids = ["b", "B", "a", "é", "Z", "10", "9", "_x"]
    records = [Record(id=i, text="same text") for i in ids]
    with db.scope() as session:
        repo.upsert_records(session, "p", records, _tokens(records))
        streamed = [r.id for r, _ in repo.iter_project_records(session, "p")]
    assert streamed == sorted(ids)  # code-point order = UTF-8 byte order


# --- results --------------------------------------------------------------------------


def _rule(word: str, confidence: float = 0.8, algorithm: str = KS, **extra) -> Rule:
    support_count = extra.pop("support_count", 20)
    return Rule(
        algorithm=algorithm,
        rule_type=extra.pop("rule_type", "keyword_sentiment"),
        conditions=(Condition("text", "contains", word),),
        consequent=Condition("sentiment", "eq", "negative"),
        support_count=support_count,
        support=support_count / 100,
        antecedent_count=25,
        consequent_count=40,
        n_records=100,
        confidence=confidence,
        lift=extra.pop("lift", 2.0),
        leverage=0.1,
        conviction=math.inf if confidence == 1.0 else 3.0,
        p_value=1e-6,
        q_value=1e-4,
        pmi=1.0,
        npmi=0.4,
        holdout_confidence=0.75,
        holdout_support_count=6,
        holdout_antecedent_count=8,
        examples=("r001", "r002"),
        score=extra.pop("score", 0.0),
    )


def _insight(title: str, impact: float = 0.5, algorithm: str = KS, kind: str = "pattern_insight"):
    return Insight(kind, title, f"{title}.", impact, ["look at it"], algorithm, {"n": 3})


def _pattern(kind: str, strength: float, algorithm: str = KS) -> Pattern:
    return Pattern(algorithm, kind, f"{kind} at {strength}", strength, {"strength": strength})


def _result(rules=(), patterns=(), insights=(), algorithms=(KS,)) -> AnalysisResult:
    return AnalysisResult(
        meta={"algorithms": list(algorithms), "pattern_accuracy": 0.9, "n_records": 100},
        rules=list(rules),
        patterns=list(patterns),
        insights=list(insights),
    )


def _rules(db: Database, project: str = "p") -> dict[tuple[str, str], RuleRow]:
    with db.scope() as session:
        rows = session.scalars(sa.select(RuleRow).where(RuleRow.project_id == project))
        return {(r.algorithm, r.rule_key): r for r in rows}


def _job(db: Database, job_id: str, project: str = "p", algorithms=(KS,)) -> None:
    with db.scope() as session:
        repo.create_job(session, project, list(algorithms), {"min_support": 5}, job_id=job_id)
        repo.mark_running(session, job_id, "w1")


FIRST = _result(
    rules=[_rule("late", 0.9), _rule("refund", 0.8), _rule("broken", 1.0, lift=None)],
    patterns=[_pattern("keyword_association", 0.7), _pattern("keyword_association", 0.4)],
    insights=[_insight("What drives negative sentiment: late", 0.8), _insight("Old finding", 0.3)],
)


def test_save_results_writes_every_field_and_the_snapshot(db):
    _job(db, "j1")
    with db.scope() as session:
        counts = repo.save_results(session, "p", "j1", FIRST)
    assert counts.as_dict() == {
        "rules_inserted": 3,
        "rules_updated": 0,
        "rules_deleted": 0,
        "patterns_inserted": 2,
        "patterns_deleted": 0,
        "insights_inserted": 2,
        "insights_updated": 0,
        "insights_deleted": 0,
    }
    stored = _rules(db)
    late = stored[(KS, _rule("late").key)]
    assert late.measures() == _rule("late", 0.9).to_dict()
    assert (late.job_id, late.is_active, late.created_at) == ("j1", True, T0)
    broken = stored[(KS, _rule("broken").key)]
    assert (broken.conviction, broken.conviction_infinite, broken.lift) == (None, True, None)
    assert Rule.from_dict(broken.measures()).to_dict() == _rule("broken", 1.0, lift=None).to_dict()
    with db.scope() as session:
        snapshot = repo.load_job_result(session, "j1")
        assert repo.load_job_result(session, "missing") is None
    assert snapshot.to_dict() == FIRST.to_dict()


def test_rerun_replaces_results_of_its_algorithms_and_keeps_curated_state(db, now):
    _job(db, "j1", algorithms=(KS, CO))
    other = _rule("late", 0.7, algorithm=CO, rule_type="keyword_association")
    first = _result(
        rules=[*FIRST.rules, other],
        patterns=[*FIRST.patterns, _pattern("cluster", 0.6, CO)],
        insights=[*FIRST.insights, _insight("Topic cluster: late", 0.4, CO)],
        algorithms=(KS, CO),
    )
    with db.scope() as session:
        repo.save_results(session, "p", "j1", first)
    before = _rules(db)
    late_id = before[(KS, _rule("late").key)].id
    with db.scope() as session:
        repo.toggle_rule(session, late_id)
        kept, _ = repo.list_insights(session, "p", insight_type="pattern_insight")
        driver = next(i for i in kept if i.title.startswith("What drives"))
        repo.acknowledge_insight(session, driver.id, "carol")

    now.now = T0 + timedelta(days=1)
    _job(db, "j2")
    second = _result(
        rules=[_rule("late", 0.95), _rule("damaged", 0.85)],
        patterns=[_pattern("keyword_association", 0.5)],
        insights=[_insight("What drives negative sentiment: late", 0.9)],
    )
    with db.scope() as session:
        counts = repo.save_results(session, "p", "j2", second)
    assert (counts.rules_inserted, counts.rules_updated, counts.rules_deleted) == (1, 1, 2)
    assert (counts.patterns_inserted, counts.patterns_deleted) == (1, 2)
    assert (counts.insights_inserted, counts.insights_updated, counts.insights_deleted) == (
        0,
        1,
        1,
    )
    after = _rules(db)
    assert set(after) == {(KS, _rule("late").key), (KS, _rule("damaged").key), (CO, other.key)}
    late = after[(KS, _rule("late").key)]
    # Toggled, so curated (docs/storage.md): its confidence stays what the expert saw.
    assert (late.id, late.is_active, late.confidence, late.job_id) == (late_id, False, 0.9, "j2")
    assert late.curated_at == T0
    assert (late.created_at, late.updated_at) == (T0, T0 + timedelta(days=1))
    assert after[(CO, other.key)].job_id == "j1"  # the other algorithm's rule is untouched
    with db.scope() as session:
        insights, total = repo.list_insights(session, "p")
        patterns, _ = repo.list_patterns(session, "p")
    assert total == 2
    survivor = next(i for i in insights if i.algorithm == KS)
    assert (survivor.id, survivor.impact_score) == (driver.id, 0.9)
    assert (survivor.acknowledged, survivor.acknowledged_by, survivor.acknowledged_at) == (
        True,
        "carol",
        T0,
    )
    assert sorted((p.algorithm, p.strength) for p in patterns) == [(CO, 0.6), (KS, 0.5)]


def test_save_results_is_all_or_nothing(db, monkeypatch):
    _job(db, "j1")
    with db.scope() as session:
        repo.save_results(session, "p", "j1", FIRST)
    before_rules = {k: r.as_dict() for k, r in _rules(db).items()}
    with db.scope() as session:
        before_insights = [i.as_dict() for i in repo.list_insights(session, "p")[0]]
        before_patterns = [p.as_dict() for p in repo.list_patterns(session, "p")[0]]
    _job(db, "j2")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing insights")

    # Rules and patterns of the new run are already written when this raises.
    monkeypatch.setattr(results, "_replace_insights", explode)
    second = _result(rules=[_rule("damaged")], patterns=[_pattern("keyword_association", 0.1)])
    with pytest.raises(RuntimeError, match="disk full"), db.scope() as session:
        repo.save_results(session, "p", "j2", second)
    assert {k: r.as_dict() for k, r in _rules(db).items()} == before_rules
    with db.scope() as session:
        assert [i.as_dict() for i in repo.list_insights(session, "p")[0]] == before_insights
        assert [p.as_dict() for p in repo.list_patterns(session, "p")[0]] == before_patterns
        assert repo.load_job_result(session, "j2") is None


def test_save_results_refuses_inconsistent_results_before_writing(db):
    _job(db, "j1")
    duplicate = _result(rules=[_rule("late"), _rule("late")])
    with pytest.raises(ValueError, match="duplicate rule in one result"), db.scope() as session:
        repo.save_results(session, "p", "j1", duplicate)
    stray = _result(rules=[_rule("late", algorithm=CO)])
    stray_error = r"did not run: \['keyword_cooccurrence'\]"
    with pytest.raises(ValueError, match=stray_error), db.scope() as session:
        repo.save_results(session, "p", "j1", stray)
    with pytest.raises(ValueError, match="belongs to project 'p'"), db.scope() as session:
        repo.save_results(session, "q", "j1", FIRST)
    assert _rules(db) == {}


def test_identical_insight_titles_in_one_run_are_both_kept(db):
    twice = _result(insights=[_insight("Same", 0.5), _insight("Same", 0.4)])
    with db.scope() as session:
        repo.save_results(session, "p", None, twice)
        rows, total = repo.list_insights(session, "p")
    assert total == 2
    assert len({r.insight_key for r in rows}) == 2


# --- reading and curating ---------------------------------------------------------------


@pytest.fixture
def curated(db) -> Database:
    rules = [
        _rule("a", 0.9, support_count=10, score=0.5),
        _rule("b", 0.7, support_count=30, lift=None, score=0.8),
        _rule("c", 0.7, support_count=20, lift=1.5, score=0.1),
        _rule("d", 0.6, support_count=40, rule_type="class_association", score=0.3),
        _rule("e", 1.0, support_count=5, lift=4.0, score=0.6),
    ]
    insights = [
        _insight("one", 0.2),
        _insight("two", 0.9, kind="quality_insight"),
        _insight("three", 0.5),
    ]
    patterns = [
        _pattern("keyword_association", 0.3),
        _pattern("change_point", 0.8),
        _pattern("keyword_association", 0.6),
    ]
    with db.scope() as session:
        repo.save_results(session, "p", None, _result(rules, patterns, insights))
        repo.save_results(session, "other", None, _result([_rule("a", 0.99)]))
    return db


def _words(rows: list[RuleRow]) -> list[str]:
    return [r.conditions[0]["value"] for r in rows]


def test_list_rules_filters_sorts_and_pages_exactly(curated):
    with curated.scope() as session:
        rows, total = repo.list_rules(session, "p")  # the analysis's ranking: by score
        assert (_words(rows), total) == (["b", "e", "a", "d", "c"], 5)
        rows, total = repo.list_rules(session, "p", sort="confidence")
        assert (_words(rows), total) == (["e", "a", "b", "c", "d"], 5)  # ties by id
        rows, total = repo.list_rules(session, "p", sort="confidence", limit=2, offset=1)
        assert (_words(rows), total) == (["a", "b"], 5)
        rows, total = repo.list_rules(session, "p", sort="confidence", limit=2, offset=4)
        assert (_words(rows), total) == (["d"], 5)
        rows, _ = repo.list_rules(session, "p", sort="lift")  # NULL lift = infinite
        assert _words(rows) == ["b", "e", "a", "d", "c"]
        rows, _ = repo.list_rules(session, "p", sort="lift", order="asc")
        assert _words(rows) == ["c", "a", "d", "e", "b"]
        rows, _ = repo.list_rules(session, "p", sort="support_count", order="asc")
        assert _words(rows) == ["e", "a", "c", "b", "d"]
        rows, total = repo.list_rules(session, "p", sort="confidence", min_confidence=0.7)
        assert (_words(rows), total) == (["e", "a", "b", "c"], 4)
        rows, total = repo.list_rules(session, "p", rule_type="class_association")
        assert (_words(rows), total) == (["d"], 1)
        a = repo.list_rules(session, "p", sort="id", order="asc")[0][0]
        repo.toggle_rule(session, a.id)
        rows, total = repo.list_rules(session, "p", active_only=True, min_confidence=0.75)
        assert (_words(rows), total) == (["e"], 1)
        rows, total = repo.list_rules(session, "nobody")
        assert (rows, total) == ([], 0)
        # A rule without a score (imported, or stored before revision 0003) ranks last.
        b = next(r for r in repo.list_rules(session, "p")[0] if r.conditions[0]["value"] == "b")
        b.score = None
        session.flush()
        assert _words(repo.list_rules(session, "p")[0]) == ["e", "a", "d", "c", "b"]
        assert _words(repo.list_rules(session, "p", order="asc")[0])[0] == "b"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "popularity"}, "sort: must be one of score, confidence, support"),
        ({"order": "up"}, "order: must be asc or desc, got 'up'"),
        ({"min_confidence": 1.5}, "min_confidence: must be between 0 and 1, got 1.5"),
        ({"limit": 0}, "limit: must be a positive integer, got 0"),
        ({"offset": -1}, "offset: must be a non-negative integer, got -1"),
    ],
)
def test_list_rules_rejects_bad_arguments_by_name(curated, kwargs, message):
    with curated.scope() as session, pytest.raises(ValueError, match=message):
        repo.list_rules(session, "p", **kwargs)


def test_list_patterns_and_insights_filter_and_page(curated):
    with curated.scope() as session:
        rows, total = repo.list_patterns(session, "p")
        assert ([r.strength for r in rows], total) == ([0.8, 0.6, 0.3], 3)
        rows, total = repo.list_patterns(session, "p", pattern_type="keyword_association")
        assert ([r.strength for r in rows], total) == ([0.6, 0.3], 2)
        rows, total = repo.list_patterns(session, "p", min_strength=0.5, limit=1, offset=1)
        assert ([r.strength for r in rows], total) == ([0.6], 2)
        rows, total = repo.list_insights(session, "p")
        assert ([r.title for r in rows], total) == (["two", "three", "one"], 3)
        rows, total = repo.list_insights(session, "p", insight_type="quality_insight")
        assert ([r.title for r in rows], total) == (["two"], 1)
        repo.acknowledge_insight(session, rows[0].id, "dave")
        rows, total = repo.list_insights(session, "p", unacknowledged_only=True)
        assert ([r.title for r in rows], total) == (["three", "one"], 2)


def test_toggle_confidence_and_delete(curated, now):
    with curated.scope() as session:
        rule = repo.list_rules(session, "p", limit=1)[0][0]
        rule_id = rule.id
        now.now = T0 + timedelta(minutes=5)
        assert repo.toggle_rule(session, rule_id).is_active is False
        assert repo.toggle_rule(session, rule_id).is_active is True
        assert repo.toggle_rule(session, rule_id, active=True).is_active is True
        updated = repo.set_rule_confidence(session, rule_id, 0.42)
        assert (updated.confidence, updated.updated_at) == (0.42, T0 + timedelta(minutes=5))
        with pytest.raises(ValueError, match=r"confidence: must be between 0 and 1, got -0\.1"):
            repo.set_rule_confidence(session, rule_id, -0.1)
        with pytest.raises(ValueError, match="confidence: must be a number between 0 and 1"):
            repo.set_rule_confidence(session, rule_id, math.nan)
    with curated.scope() as session:
        assert repo.get_rule(session, rule_id).confidence == 0.42
        deleted = repo.delete_rule(session, rule_id)
        assert deleted.id == rule_id
    with curated.scope() as session:
        for action in (repo.get_rule, repo.delete_rule, repo.toggle_rule):
            with pytest.raises(repo.NotFoundError, match=f"rule {rule_id} not found"):
                action(session, rule_id)
        assert repo.list_rules(session, "p")[1] == 4


def test_acknowledge_records_who_and_when_once(curated, now):
    with curated.scope() as session:
        insight = repo.list_insights(session, "p", limit=1)[0][0]
        now.now = T0 + timedelta(hours=2)
        acknowledged = repo.acknowledge_insight(session, insight.id, "erin")
    assert (acknowledged.acknowledged_by, acknowledged.acknowledged_at) == (
        "erin",
        T0 + timedelta(hours=2),
    )
    now.now = T0 + timedelta(hours=3)
    with curated.scope() as session:
        again = repo.acknowledge_insight(session, insight.id, "frank")
        stored = session.get(InsightRow, insight.id)
        assert (again.acknowledged_by, stored.acknowledged_at) == ("erin", T0 + timedelta(hours=2))
        assert stored.as_dict()["acknowledged_at"] == "2026-03-01T14:00:00Z"
        with pytest.raises(ValueError, match="user: the acknowledging user is required"):
            repo.acknowledge_insight(session, insight.id, " ")
        with pytest.raises(repo.NotFoundError, match="insight 999999 not found"):
            repo.acknowledge_insight(session, 999_999, "erin")


def test_rule_application_outlives_its_rule(curated, now):
    with curated.scope() as session:
        rule = repo.list_rules(session, "p", limit=1)[0][0]
        application = repo.record_rule_application(
            session, rule.id, "target", "adapt", {"confidence": 0.5}, applied_by="gina"
        )
        with pytest.raises(ValueError, match="mode: must be one of copy, adapt, got 'move'"):
            repo.record_rule_application(session, rule.id, "target", "move", {})
    with curated.scope() as session:
        repo.delete_rule(session, rule.id)
    with curated.scope() as session:
        rows, total = repo.list_rule_applications(session, "target")
    assert total == 1
    assert rows[0].as_dict() == {
        "id": application.id,
        "rule_id": None,  # ON DELETE SET NULL, also on SQLite (foreign keys are on)
        "rule_key": rule.rule_key,
        "source_project_id": "p",
        "target_project_id": "target",
        "mode": "adapt",
        "result": {"confidence": 0.5},
        "applied_by": "gina",
        "applied_at": "2026-03-01T12:00:00Z",
    }


def test_project_stats(curated):
    records = [_record(1, annotator="x"), _record(2, annotator="y"), _record(3, annotator="x")]
    with curated.scope() as session:
        repo.upsert_records(session, "p", records, _tokens(records))
        repo.create_job(session, "p", [KS], {}, job_id="q1")
        repo.create_job(session, "p", [KS], {}, job_id="done")
        repo.mark_running(session, "done", "w")
        repo.finish_job(session, "done", {"rules": 5})
        first = repo.list_rules(session, "p", sort="confidence", limit=1)[0][0]
        repo.toggle_rule(session, first.id)
        stats = repo.project_stats(session, "p")
        with pytest.raises(repo.NotFoundError, match="project 'nope' not found"):
            repo.project_stats(session, "nope")
    assert stats["records"] == {
        "total": 3,
        "annotators": 2,
        "first_created_at": "2026-02-26T12:00:00Z",
        "last_created_at": "2026-02-28T12:00:00Z",
        "last_imported_at": "2026-03-01T12:00:00Z",
    }
    assert stats["rules"]["total"] == 5 and stats["rules"]["active"] == 4
    assert stats["rules"]["mean_active_confidence"] == pytest.approx((0.9 + 0.7 + 0.7 + 0.6) / 4)
    assert stats["rules"]["by_type"] == {"keyword_sentiment": 4, "class_association": 1}
    assert stats["patterns"] == {
        "total": 3,
        "by_type": {"keyword_association": 2, "change_point": 1},
    }
    assert stats["insights"]["unacknowledged"] == 3
    assert stats["jobs"]["by_status"] == {"queued": 1, "completed": 1}
    assert stats["jobs"]["last_completed"] == {
        "job_id": "done",
        "finished_at": "2026-03-01T12:00:00Z",
        "results": {"rules": 5},
    }


# --- jobs ---------------------------------------------------------------------------------


def test_job_lifecycle(db, now):
    with db.scope() as session:
        job = repo.create_job(
            session, "p", [KS, CO], {"min_support": 5}, requested_by="alice", job_id="j1"
        )
        assert (job.status, job.progress, job.attempts, job.created_at) == ("queued", 0.0, 0, T0)
        repo.create_job(session, "p", [KS], {}, requested_by="bob", job_id="j2")
        assert repo.count_active_jobs(session) == 2
        assert repo.count_active_jobs(session, requested_by="alice") == 1
    now.now = T0 + timedelta(seconds=10)
    with db.scope() as session:
        job = repo.mark_running(session, "j1", "worker-7")
        assert (job.status, job.worker_id, job.attempts, job.started_at) == (
            "running",
            "worker-7",
            1,
            T0 + timedelta(seconds=10),
        )
        with pytest.raises(repo.ConflictError, match="job j1 is running; only queued jobs"):
            repo.mark_running(session, "j1", "worker-8")
    now.now = T0 + timedelta(seconds=20)
    with db.scope() as session:
        assert repo.update_progress(session, "j1", 0.5, "sentiment_correlation") is True
        with pytest.raises(ValueError, match=r"progress: must be between 0 and 1, got 1\.5"):
            repo.update_progress(session, "j1", 1.5)
    with db.scope() as session:
        job = repo.get_job(session, "j1")
        assert (job.progress, job.stage, job.heartbeat_at) == (
            0.5,
            "sentiment_correlation",
            T0 + timedelta(seconds=20),
        )
        finished = repo.finish_job(session, "j1", {"rules": 3, "pattern_accuracy": 0.8})
        assert (finished.status, finished.progress, finished.finished_at) == (
            "completed",
            1.0,
            T0 + timedelta(seconds=20),
        )
        assert finished.as_dict()["results"] == {"rules": 3, "pattern_accuracy": 0.8}
        with pytest.raises(repo.ConflictError, match="job j1 is completed; only queued or"):
            repo.cancel_job(session, "j1")
        assert repo.cancel_job(session, "j2").status == "cancelled"
        assert repo.update_progress(session, "j2", 0.1) is False
        with pytest.raises(repo.NotFoundError, match="job 'nope' not found"):
            repo.cancel_job(session, "nope")
        jobs, total = repo.list_jobs(session, "p")
        assert ([j.job_id for j in jobs], total) == (["j1", "j2"], 2)
        jobs, total = repo.list_jobs(session, "p", status="cancelled")
        assert ([j.job_id for j in jobs], total) == (["j2"], 1)
        assert repo.count_active_jobs(session) == 0


def test_a_cancelled_job_cannot_complete_and_its_results_roll_back(db):
    _job(db, "j1")
    with db.scope() as session:
        repo.cancel_job(session, "j1")
    with pytest.raises(repo.ConflictError, match="job j1 is cancelled"), db.scope() as session:
        repo.save_results(session, "p", "j1", FIRST)
        repo.finish_job(session, "j1", results.results_summary(FIRST))
    assert _rules(db) == {}
    with db.scope() as session:
        assert repo.get_job(session, "j1").results is None


def test_jobs_left_unfinished_requeue_and_fail(db, now):
    with db.scope() as session:
        for name in ("old-queued", "old-running", "new-running", "done"):
            repo.create_job(session, "p", [KS], {}, job_id=name)
        repo.mark_running(session, "old-running", "w1")
        repo.mark_running(session, "done", "w1")
        repo.finish_job(session, "done", {})
    now.now = T0 + timedelta(minutes=10)
    with db.scope() as session:
        repo.mark_running(session, "new-running", "w2")
        left = [j.job_id for j in repo.jobs_left_unfinished(session)]
        stale = [
            j.job_id
            for j in repo.jobs_left_unfinished(session, stale_before=T0 + timedelta(minutes=5))
        ]
    assert left == ["new-running", "old-queued", "old-running"]  # created together: by id
    assert stale == ["old-queued", "old-running"]
    with db.scope() as session:
        requeued = repo.requeue_job(session, "old-running")
        assert (requeued.status, requeued.worker_id, requeued.attempts) == ("queued", None, 1)
        assert repo.mark_running(session, "old-running", "w3").attempts == 2
        failed = repo.fail_job(session, "old-queued", "worker died twice")
        assert (failed.status, failed.error) == ("failed", "worker died twice")
        with pytest.raises(ValueError, match="error: a failed job needs a reason"):
            repo.fail_job(session, "new-running", "")
        with pytest.raises(repo.ConflictError, match="only running jobs can be requeued"):
            repo.requeue_job(session, "old-queued")
        assert [j.job_id for j in repo.jobs_left_unfinished(session)] == [
            "new-running",
            "old-running",
        ]


def test_create_job_validates_its_input(db):
    with db.scope() as session:
        with pytest.raises(ValueError, match="algorithms: expected a non-empty list"):
            repo.create_job(session, "p", [], {})
        with pytest.raises(ValueError, match="project_id: longer than 128 characters"):
            repo.create_job(session, "p" * 129, [KS], {})
        with pytest.raises(ValueError, match="project_id: must be a non-empty string"):
            repo.create_job(session, " ", [KS], {})
        job = repo.create_job(session, "p", [KS], {})
        assert len(job.job_id) == 36 and job.job_id.count("-") == 4
