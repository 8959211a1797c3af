"""The `bizlogic` command as a user runs it: exit codes, messages, files written."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bizlogic.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parent.parent / "fixtures"


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "records.jsonl"
    result = _invoke("demo-data", str(path), "--records", "5000", "--seed", "3")
    assert result.exit_code == 0, result.output
    return path


def test_demo_data_writes_records_and_truth(demo_file):
    lines = demo_file.read_text("utf-8").splitlines()
    assert len(lines) == 5000
    truth = json.loads(demo_file.with_name("records.truth.json").read_text("utf-8"))
    assert truth["n_records"] == 5000 and truth["seed"] == 3


def test_analyze_json_holds_everything(demo_file):
    result = _invoke("analyze", str(demo_file), "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["meta"]["n_records"] == 5000
    assert document["meta"]["source"] == {
        "file": str(demo_file),
        "rejected": 0,
        "accepted": 5000,
        "format": "jsonl",
        "skipped_cancelled": 0,
    }
    assert {r["rule_type"] for r in document["rules"]} >= {"keyword_sentiment", "temporal"}
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout


def test_max_rules_caps_the_result_and_all_rules_keeps_everything(demo_file):
    def run(*extra):
        result = _invoke("analyze", str(demo_file), "--json", "--min-support", "5", *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    everything = run("--all-rules")
    capped = run("--max-rules", "3")
    assert everything["meta"]["params"]["max_rules"] is None
    assert everything["meta"]["params"]["min_support_source"] == "given"
    assert len(everything["rules"]) > 3
    assert [r["key"] for r in capped["rules"]] == [r["key"] for r in everything["rules"][:3]]
    beyond = capped["meta"]["rules_not_kept"]["beyond_max_rules"]
    assert sum(beyond.values()) == len(everything["rules"]) - 3
    assert everything["meta"]["rules_not_kept"]["beyond_max_rules"] == {}


def test_analyze_output_file_and_human_summary(demo_file, tmp_path):
    out = tmp_path / "report.json"
    result = _invoke(
        "analyze",
        str(demo_file),
        "-o",
        str(out),
        "--top",
        "3",
        "--algorithms",
        "sentiment_correlation",
    )
    assert result.exit_code == 0
    assert "Top rules" in result.stdout and f"full result written to {out}" in result.output
    document = json.loads(out.read_text("utf-8"))
    meta = document["meta"]
    assert meta["algorithms"] == ["sentiment_correlation"]
    # Every rule the algorithm found is either in the result or counted as not kept.
    assert meta["rules_found"] == meta["stats"]["sentiment_correlation"]["rules"]
    not_kept = sum(sum(counts.values()) for counts in meta["rules_not_kept"].values())
    assert len(document["rules"]) + not_kept == meta["rules_found"]


def test_bad_rows_are_reported_and_strict_rejects_everything(tmp_path):
    data = tmp_path / "in.jsonl"
    good = [
        json.dumps({"id": f"r{i}", "text": f"refund broken item {i}", "sentiment": "negative"})
        for i in range(8)
    ]
    data.write_text("\n".join([*good[:3], '{"text": ""}', "not json", *good[3:]]) + "\n", "utf-8")
    result = _invoke("analyze", str(data), "--json", "--min-support", "2")
    assert result.exit_code == 3  # partial: the good rows were analysed
    assert json.loads(result.stdout)["meta"]["source"]["rejected"] == 2
    rejects = [
        json.loads(line) for line in (tmp_path / "in.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["location"], r["field"]) for r in rejects] == [(4, "text"), (5, "json")]
    assert rejects[0]["reason"] == "empty"

    out = tmp_path / "strict.json"
    strict = _invoke("analyze", str(data), "--strict", "-o", str(out))
    assert strict.exit_code == 1
    assert "--strict: 2 bad row(s); nothing was analysed" in strict.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-confidence", "2"], "--min-confidence: must be between 0 and 1"),
        (["--min-support", "0"], "--min-support: must be between 1 and 2147483647"),
        (["--max-rules", "0"], "--max-rules: expected a positive integer"),
        (["--algorithms", "magic"], "--algorithms: unknown ['magic']"),
        (["--since", "yesterday"], "--since: not an ISO-8601 timestamp: 'yesterday'"),
        (["--lang", "fr"], "--lang: must be 'en' or 'zh'"),
    ],
)
def test_bad_options_exit_1_with_the_option_named(demo_file, args, message):
    result = _invoke("analyze", str(demo_file), *args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_missing_file_and_unknown_format(tmp_path):
    missing = _invoke("analyze", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    odd = tmp_path / "data.bin"
    odd.write_bytes(b"\x00\x01binary")
    unknown = _invoke("analyze", str(odd))
    assert unknown.exit_code == 1 and "error:" in unknown.output


def test_error_messages_print_brackets_as_text(tmp_path):
    """A "[" in a file name is text in every command's error, not Rich markup (which ate
    "[red]" whole, or failed on "[/x]")."""
    for args in (("analyze",), ("logs", "analyze")):
        for name in ("a[red]b.jsonl", "c[/x]d.jsonl"):
            result = _invoke(*args, str(tmp_path / name))
            assert result.exit_code == 1
            assert f"{tmp_path / name}" in result.output.replace("\n", ""), result.output


def test_label_studio_export_end_to_end(tmp_path):
    export = tmp_path / "export.json"
    made = _invoke("demo-data", str(export), "--format", "labelstudio", "--records", "3000")
    assert made.exit_code == 0
    result = _invoke(
        "analyze",
        str(export),
        "--format",
        "labelstudio",
        "--json",
        "--algorithms",
        "sentiment_correlation,user_behavior",
    )
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["meta"]["n_records"] == 3000
    planted = {("refund", "negative"), ("excellent", "positive"), ("满意", "positive")}
    found = {
        (r["conditions"][0]["value"], r["consequent"]["value"])
        for r in document["rules"]
        if r["rule_type"] == "keyword_sentiment"
    }
    assert planted <= found


def test_label_studio_fixture(tmp_path):
    result = _invoke(
        "analyze",
        str(FIXTURES / "labelstudio" / "export_full.json"),
        "--format",
        "labelstudio",
        "--min-support",
        "1",
        "--holdout",
        "0",
        "--json",
    )
    assert result.exit_code == 0
    source = json.loads(result.stdout)["meta"]["source"]
    assert (source["accepted"], source["format"]) == (4, "labelstudio-json")
    assert source["skipped_cancelled"] >= 1
    assert "cancelled Label Studio annotation(s) skipped" in result.output


def test_detect_changes_between_two_results(demo_file, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert (
        _invoke(
            "analyze", str(demo_file), "-o", str(first), "--until", "2026-03-01T00:00:00Z"
        ).exit_code
        == 0
    )
    assert _invoke("analyze", str(demo_file), "-o", str(second)).exit_code == 0
    result = _invoke("detect-changes", str(first), str(second), "--json")
    assert result.exit_code == 0
    changes = json.loads(result.stdout)
    # The negative-share change point (2026-03-16) is only visible in the full period.
    assert any(p["data"]["sentiment"] == "negative" for p in changes["new_change_points"])
    same = json.loads(_invoke("detect-changes", str(second), str(second), "--json").stdout)
    assert same["has_changes"] is False
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    broken = _invoke("detect-changes", str(bad), str(second))
    assert broken.exit_code == 1 and "not an analysis result" in broken.output


def test_console_script_runs_as_a_process(demo_file):
    exe = Path(sys.executable).with_name("bizlogic")
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        [str(exe), "analyze", str(demo_file), "--top", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "records analysed" in done.stdout
    assert "import" in done.stderr and "analysis" in done.stderr  # progress bars on stderr
    helped = subprocess.run(
        [str(exe), "analyze", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0 and "Examples" in helped.stdout


def test_invalid_settings_are_named_without_their_values(monkeypatch, tmp_path):
    """A bad BL_* variable stops every command with exit 2 naming the variable (it was a
    pydantic traceback); values are not echoed, since some are secrets."""
    from bizlogic.settings import get_settings

    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BL_DATABASE_URL", "postgresql://bl:hunter2@db.example/bl")
    monkeypatch.setenv("BL_DB_POOL_SIZE", "0")
    monkeypatch.setenv("BL_RETENTION_DAYS", "many")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["logs", "analyze", "--hours", "1"])
        assert result.exit_code == 2
        text = " ".join(result.output.split())
        assert text.startswith("error: invalid configuration: BL_DB_POOL_SIZE: Input should be")
        assert "BL_RETENTION_DAYS: Input should be a valid integer" in text
        assert "hunter2" not in text and "many" not in text
        monkeypatch.setenv("BL_DB_POOL_SIZE", "5")
        monkeypatch.setenv("BL_RETENTION_DAYS", "30")
        monkeypatch.setenv("BL_JOB_STALE_S", "10")
        monkeypatch.setenv("BL_JOB_HEARTBEAT_S", "10")
        result = runner.invoke(app, ["logs", "analyze", "--hours", "1"])
        assert result.exit_code == 2
        assert " ".join(result.output.split()) == (
            "error: invalid configuration: BL_JOB_STALE_S must be at least twice "
            "BL_JOB_HEARTBEAT_S, or a live worker's job could be taken over"
        )
    finally:
        get_settings.cache_clear()


# ---------------------------------------------------------------- input problems: exit codes


@pytest.fixture
def data_dir(monkeypatch, tmp_path) -> Path:
    """`bizlogic import` writes to a SQLite database of its own in ``tmp_path``."""
    from bizlogic.settings import get_settings

    for name in [n for n in os.environ if n.startswith("BL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _text(result) -> str:
    return " ".join(result.output.split())


def _jsonl(path: Path, *rows: object) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) for r in rows), "utf-8")
    return path


GOOD = {"id": "g1", "text": "refund broken item", "sentiment": "negative"}


def test_import_exit_codes_say_what_was_stored(data_dir, tmp_path):
    """0 all stored, 3 partial (report named), 1 nothing usable with the reason."""
    good = _jsonl(tmp_path / "good.jsonl", json.dumps(GOOD) + "\n")
    done = _invoke("import", str(good), "--project", "p")
    assert done.exit_code == 0, done.output
    assert done.stdout == "p: 1 imported, 0 updated, 0 unchanged, 0 rejected\n"

    mixed = _jsonl(tmp_path / "mixed.jsonl", json.dumps({**GOOD, "id": "g2"}) + "\n", "oops\n")
    partial = _invoke("import", str(mixed), "--project", "p")
    assert partial.exit_code == 3
    report = tmp_path / "mixed.rejects.jsonl"
    assert f"1 row(s) rejected; report: {report}" in _text(partial)
    assert "p: 1 imported, 0 updated, 0 unchanged, 1 rejected" in partial.stdout
    assert json.loads(report.read_text("utf-8"))["field"] == "json"

    bad = _jsonl(tmp_path / "bad.jsonl", '{"text": ""}\n', "oops\n")
    rejected = _invoke("import", str(bad), "--project", "p")
    assert rejected.exit_code == 1
    assert _text(rejected).endswith(
        f"error: {bad}: no valid records: all 2 row(s) were rejected "
        f"(report: {tmp_path / 'bad.rejects.jsonl'})"
    )

    for name, content in (("empty.jsonl", ""), ("empty.json", " \n"), ("empty.csv", "\ufeff")):
        empty = _jsonl(tmp_path / name, content)
        nothing = _invoke("import", str(empty), "--project", "p")
        assert nothing.exit_code == 1
        assert _text(nothing) == f"error: {empty}: no valid records: the file is empty"
        analysed = _invoke("analyze", str(empty))
        assert analysed.exit_code == 1, name
        assert f"error: {empty}: no valid records: the file is empty" in _text(analysed)


def test_strict_import_stores_nothing_even_past_a_batch(data_dir, tmp_path):
    """--strict with a bad row after the first stored batch of 5,000: all rolled back."""
    rows = [json.dumps({"id": f"r{i}", "text": f"review {i}"}) + "\n" for i in range(6_000)]
    bad = _jsonl(tmp_path / "late.jsonl", *rows, '{"text": ""}\n')
    refused = _invoke("import", str(bad), "--project", "p", "--strict")
    assert refused.exit_code == 1
    assert "error: --strict: 1 bad row(s); nothing was imported" in _text(refused)
    with sqlite3.connect(data_dir / "bizlogic.db") as db:
        assert db.execute("SELECT count(*) FROM annotations").fetchone() == (0,)


def test_wrong_format_that_yields_nothing_says_why(data_dir, tmp_path):
    """A canonical JSON array read as Label Studio was "0 imported, 0 rejected", exit 0."""
    array = tmp_path / "records.json"
    array.write_text(json.dumps([GOOD]), "utf-8")
    why = (
        f"error: {array}: no valid records: the array's objects are not Label Studio tasks "
        "(no 'data' / 'annotations' keys); drop --format labelstudio (HTTP: format=json)"
    )
    imported = _invoke("import", str(array), "--project", "p", "--format", "labelstudio")
    assert (imported.exit_code, _text(imported)) == (1, why)
    analysed = _invoke("analyze", str(array), "--format", "labelstudio")
    assert analysed.exit_code == 1
    assert why in _text(analysed)
    assert _invoke("import", str(array), "--project", "p").exit_code == 0


def test_analyze_of_an_empty_file_exits_1_with_the_reason(tmp_path):
    empty = _jsonl(tmp_path / "empty.jsonl", "\n\n")
    result = _invoke("analyze", str(empty))
    assert result.exit_code == 1
    assert f"error: {empty}: no valid records: the file is empty" in _text(result)


def test_import_takes_the_input_options_of_analyze(data_dir, tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("body,polarity\nrefund broken item,negative\n", "utf-8")
    args = ["--csv-map", "text=body", "--csv-map", "sentiment=polarity"]
    result = _invoke("import", str(reviews), "--project", "p", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout == "p: 1 imported, 0 updated, 0 unchanged, 0 rejected\n"
    export = FIXTURES / "labelstudio" / "export_full.json"
    ls = _invoke(
        "import", str(export), "--project", "ls", "--format", "labelstudio",
        "--control", "sentiment=sentiment", "--text-key", "text",
    )  # fmt: skip
    assert ls.exit_code == 0, ls.output
    assert "4 imported" in ls.stdout
    helped = _invoke("import", "--help").stdout
    assert all(option in helped for option in ("--csv-map", "--control", "--text-key"))


@pytest.mark.parametrize("command", ["analyze", "import"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "xml"],
            "error: --format: unknown format 'xml'; expected one of auto, labelstudio, json, "
            "jsonl, csv, tsv, labelstudio-json, labelstudio-json-min, labelstudio-csv, "
            "labelstudio-tsv",
        ),
        (
            ["--control", "foo"],
            "error: --control: expected CONTROL=sentiment|label|ignore, got 'foo'",
        ),
        (
            ["--control", "a=bogus"],
            "error: --control: a=bogus: the target must be one of sentiment, label, ignore",
        ),
        (["--csv-map", "text"], "error: --csv-map: expected FIELD=COLUMN, got 'text'"),
        (
            ["--csv-map", "body=text"],
            "error: --csv-map: 'body' is not a record field; fields: id, project_id, text, "
            "sentiment, rating, label, annotator, task_id, lead_time, status, created_at, "
            "keywords",
        ),
    ],
)
def test_bad_input_options_are_usage_errors(data_dir, demo_file, command, args, message):
    """Exit 2 and one line naming the option and what it accepts (--format xml and a bad
    --control were tracebacks)."""
    extra = ["--project", "p"] if command == "import" else []
    result = runner.invoke(app, [command, str(demo_file), *extra, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2
    assert _text(result) == message


def test_a_missing_text_column_names_the_file_once(data_dir, tmp_path):
    """The importer names the file; the CLI printed it again ("x.csv: x.csv: …")."""
    table = tmp_path / "x.csv"
    table.write_text("body,sentiment\nhello,positive\n", "utf-8")
    expected = (
        f"error: {table}: the CSV header has no 'text' column (body, sentiment); "
        "map one with --csv-map text=COLUMN (HTTP: csv_map)"
    )
    imported = _invoke("import", str(table), "--project", "p")
    assert (imported.exit_code, _text(imported)) == (1, expected)
    analysed = _invoke("analyze", str(table))
    assert analysed.exit_code == 1
    assert expected in _text(analysed) and _text(analysed).count(str(table)) == 1


def test_an_option_error_names_the_cli_option(demo_file):
    """`--holdout 1` was reported as "--holdout-fraction" (the MiningParams field)."""
    result = _invoke("analyze", str(demo_file), "--holdout", "1")
    assert result.exit_code == 1
    assert _text(result) == "error: --holdout: must be in [0, 1)"


def test_constant_ratings_leave_stderr_clean(tmp_path):
    """One sentiment for every rated record: scipy's ConstantInputWarning leaked to stderr."""
    rows = [
        json.dumps({"id": f"r{i}", "text": f"refund item {i % 5}", "sentiment": "negative",
                    "rating": 1 + i % 2})
        for i in range(30)
    ]  # fmt: skip
    data = _jsonl(tmp_path / "flat.jsonl", "\n".join(rows) + "\n")
    exe = Path(sys.executable).with_name("bizlogic")
    done = subprocess.run(
        [str(exe), "analyze", str(data), "--json", "--min-support", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    agreement = [
        p for p in json.loads(done.stdout)["patterns"] if p["pattern_type"] == "rating_agreement"
    ]
    assert agreement and agreement[0]["data"]["spearman_rho"] is None


# ---------------------------------------------------------------- stdout closed by the reader


def _read_a_little_then_close(args: list[str]) -> tuple[int, str]:
    """Like `… | head -c 10`: read 10 bytes, close the pipe, collect the exit code and stderr."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert len(process.stdout.read(10)) == 10
    process.stdout.close()
    stderr = process.stderr.read().decode("utf-8", "replace")
    return process.wait(timeout=300), stderr


def test_analyze_json_into_a_closed_pipe_ends_quietly(demo_file):
    exe = Path(sys.executable).with_name("bizlogic")
    code, stderr = _read_a_little_then_close([str(exe), "analyze", str(demo_file), "--json"])
    assert code == 141  # 128 + SIGPIPE, as `cat big | head` (cli.options.EXIT_PIPE_CLOSED)
    assert "error" not in stderr and "Broken pipe" not in stderr and "Traceback" not in stderr


def test_the_stdout_writer_of_every_dash_o_command_ends_quietly():
    """write_stdout is what `rules export -o -`, `rules list --json`, `analyze --json` and
    `detect-changes --json` write with; a streamed body (as `rules export` has) stops at once."""
    script = (
        "import typer\n"
        "from bizlogic.cli.options import write_stdout\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def main() -> None:\n"
        "    write_stdout(b'x' * 65536 for _ in range(1000))\n"
        "    raise SystemExit('not reached')\n"
        "app()\n"
    )
    code, stderr = _read_a_little_then_close([sys.executable, "-c", script])
    assert (code, stderr) == (141, "")


def test_import_draws_a_progress_bar_only_on_a_terminal(tmp_path):
    import pty

    from tests.servers import EXE, clean_env

    rows = [json.dumps({"id": f"r{i}", "text": f"review {i}"}) + "\n" for i in range(2_000)]
    source = _jsonl(tmp_path / "many.jsonl", *rows)
    env = clean_env(tmp_path / "data", COLUMNS="120")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [EXE, "import", str(source), "--project", "p"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
            timeout=120, check=False,
        )  # fmt: skip
        os.close(follower)
        drawn = b""
        while chunk := _read_some(leader):
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert done.stdout == b"p: 2000 imported, 0 updated, 0 unchanged, 0 rejected\n"
    assert b"importing" in drawn and b"\xe2\x94\x81" in drawn  # the bar's "━" on the terminal

    piped = subprocess.run(
        [EXE, "import", str(source), "--project", "q"], env=env, capture_output=True, timeout=120
    )
    assert piped.returncode == 0 and piped.stderr == b""  # no bar into a pipe or a file


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other side is closed and drained
        return b""
