"""The console in a real browser: Debian's Chromium driven by Playwright against a live
`bizlogic serve` — sign in, upload a real Label Studio export and demo records, run an
analysis to completion, sort / filter / toggle rules, acknowledge an insight, every
chart drawn, the language switch, and a viewer who cannot edit.

Each step checks what the browser shows against the API's own answer. Any Content
Security Policy violation or script error fails the test. On failure the page is
saved as a screenshot under ``test-artifacts/console/``; with ``BL_UPDATE_DOCS=1``
the screenshots of docs/console.md are taken again.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import Server, bizlogic, clean_env, system_tool

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
LABEL_STUDIO = ROOT / "tests/fixtures/labelstudio/real-1.23.2/export_full.json"
ARTIFACTS = ROOT / "test-artifacts" / "console"
DOC_SHOTS = ROOT / "docs" / "console"
API = "/api/business-logic"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chromium() -> str:
    return system_tool("chromium", "chromium")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("console")
    env = clean_env(home / "data")
    records = home / "records.jsonl"
    made = bizlogic(env, "demo-data", str(records), "--records", "3000", "--seed", "11")
    assert made.returncode == 0, made.stderr
    server = Server(env, home / "serve.log")
    tokens = {}
    for role in ("system_admin", "business_expert", "viewer"):
        created = bizlogic(env, "token", "create", "--user", f"{role}-1", "--role", role)
        assert created.returncode == 0, created.stderr
        tokens[role] = created.stdout.strip().splitlines()[-1]
    try:
        yield {"url": server.url, "tokens": tokens, "records": records, "env": env}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


class Console:
    """One browser tab on the console, with what it logged."""

    def __init__(self, browser: Any, served: dict[str, Any], locale: str = "en-US") -> None:
        self.url = served["url"]
        self.context = browser.new_context(
            viewport={"width": 1366, "height": 900}, locale=locale, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def sign_in(self, token: str, shot: str | None = None) -> None:
        self.page.goto(f"{self.url}/console/#/signin")
        if shot:
            self.settled("#/signin")
            self.shot(shot)
        self.page.get_by_label(re.compile("Access token|访问令牌")).fill(token)
        self.page.get_by_role("button", name=re.compile("^(Sign in|登录)$")).click()
        self.settled("#/projects")

    def open(self, hash_: str) -> None:
        target = f"{self.url}/console/{hash_}"
        if self.page.url == target:
            self.page.reload()  # the same address: goto would not draw the page again
        else:
            self.page.goto(target)
        self.settled(hash_.split("?")[0])

    def settled(self, hash_: str | None = None) -> None:
        if hash_:
            self.page.wait_for_url(re.compile(re.escape(hash_)))
        self.page.locator("#main:not([aria-busy]) h1").wait_for()

    def shot(self, name: str, *, for_docs: bool = True) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if for_docs and os.environ.get("BL_UPDATE_DOCS") == "1":
            DOC_SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(DOC_SHOTS / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser, served, request) -> Iterator[Console]:
    tab = Console(browser, served)
    yield tab
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        tab.shot(f"failed-{request.node.name}", for_docs=False)
    problems = list(tab.problems)
    tab.close()
    assert not problems, problems


def api(served: dict[str, Any], role: str, method: str, path: str, **kwargs: Any) -> Any:
    headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {served['tokens'][role]}"}
    return httpx.request(method, f"{served['url']}{API}{path}", headers=headers, **kwargs)


def upload(console: Console, project: str, file: Path, control: str = "") -> str:
    page = console.page
    form = page.locator("form", has=page.get_by_role("heading", name="Upload an export"))
    form.get_by_label("Project").fill(project)
    form.get_by_label("File", exact=True).set_input_files(str(file))
    if control:
        form.locator("summary").click()
        form.get_by_label("Label Studio controls").fill(control)
    form.get_by_role("button", name="Upload").click()
    counts = form.locator("dl.counts")
    counts.wait_for()
    return counts.inner_text()


def test_upload_analyse_and_curate(console, served):
    """The analyst's path: upload, analyse to completion, then work on the rules."""
    console.sign_in(served["tokens"]["business_expert"], shot="signin")
    page = console.page
    summary = upload(console, "ls-real", LABEL_STUDIO, control="topic=label")
    stored = api(served, "business_expert", "GET", "/stats/ls-real").json()
    assert stored["records"]["total"] == 31  # the real export's annotations (expected.json)
    assert re.search(r"Imported\s+31", summary), summary
    assert re.search(r"Rejected\s+0", summary), summary
    assert re.search(r"Format\s+labelstudio-json", summary), summary

    # a file with one bad row: the rejects are listed with their line and reason
    bad = served["records"].with_name("two-rows.jsonl")
    bad.write_text('{"id": "ok-1", "text": "fine"}\n{"id": "bad-1"}\n', encoding="utf-8")
    summary = upload(console, "ls-real", bad)
    assert re.search(r"Imported\s+1", summary) and re.search(r"Rejected\s+1", summary)
    rejects = page.get_by_role("table", name="Rejected rows").locator("tbody tr")
    assert rejects.count() == 1
    assert rejects.first.inner_text().split("\t") == ["2", "text", "missing", '{"id": "bad-1"}']

    summary = upload(console, "demo", served["records"])
    assert re.search(r"Imported\s+3000", summary), summary
    progress = page.get_by_label("Upload progress").nth(0)
    assert float(progress.get_attribute("value") or 0) == 1.0

    form = page.locator("form", has=page.get_by_role("heading", name="Analyse a project"))
    form.get_by_label("Project").fill("demo")
    form.get_by_role("button", name="Start analysis").click()
    page.get_by_text(re.compile(r"Analysis completed: \d+ rules")).wait_for(timeout=120_000)
    [job] = api(served, "business_expert", "GET", "/jobs", params={"project_id": "demo"}).json()[
        "jobs"
    ]
    assert job["status"] == "completed"
    console.open("#/projects")
    row = page.locator("tr[data-project='demo']")
    rules = api(served, "business_expert", "GET", "/rules/demo", params={"limit": 1000}).json()
    assert f"{rules['total']} ({rules['total']})" in row.inner_text()
    console.shot("projects")

    # sort by confidence, lowest first: the first row is the API's lowest confidence
    console.open("#/projects/demo/rules")
    page.get_by_role("button", name=re.compile("^Confidence")).click()  # desc
    console.settled("sort=confidence")
    page.get_by_role("button", name=re.compile("^Confidence")).click()  # asc
    console.settled("order=asc")
    lowest = min(r["confidence"] for r in rules["rules"])
    first = page.locator("tbody tr[data-rule] td.confidence").first.inner_text()
    assert first == f"{100 * lowest:.1f}%"
    header = page.locator("th[aria-sort='ascending']")
    assert "Confidence" in header.inner_text()

    # filter by a word of the conditions: only rules whose pattern holds it
    keyword = next(
        c["value"]
        for r in rules["rules"]
        for c in r["conditions"]
        if c["field"] == "text" and c["value"].isascii()
    )
    page.get_by_label("Search in conditions").fill(keyword)
    page.get_by_role("button", name="Filter").click()
    console.settled(f"q={keyword}")
    shown = page.locator("tbody tr[data-rule] td.pattern button").all_inner_texts()
    expected = [r["pattern"] for r in rules["rules"] if keyword.lower() in r["pattern"].lower()]
    assert shown and sorted(shown) == sorted(expected)

    # the records behind the first rule, the keyword marked in each
    page.locator("tbody tr[data-rule] td.pattern button").first.click()
    marks = page.locator("tr.detail:not([hidden]) mark")
    marks.first.wait_for()
    assert {m.lower() for m in marks.all_inner_texts()} == {keyword.lower()}

    # switch the first rule off; after a reload it is still off, as the API says
    rule_id = page.locator("tbody tr[data-rule]").first.get_attribute("data-rule")
    box = page.get_by_label(f"Rule {rule_id} active", exact=True)
    assert box.is_checked()
    box.uncheck()
    page.get_by_text(f"Rule {rule_id} switched off").wait_for()
    page.reload()
    console.settled()
    assert not page.get_by_label(f"Rule {rule_id} active", exact=True).is_checked()
    stored_rule = next(
        r
        for r in api(served, "business_expert", "GET", "/rules/demo", params={"limit": 1000})
        .json()["rules"]
        if str(r["id"]) == rule_id
    )
    assert stored_rule["is_active"] is False and stored_rule["curated_by"] == "business_expert-1"
    # export the rules as JSON: the file holds every rule of the project
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Export", exact=True).click()
    exported = json.loads(Path(downloaded.value.path()).read_text(encoding="utf-8"))
    assert downloaded.value.suggested_filename == "bizlogic-demo.json"
    assert len(exported["rules"]) == rules["total"]
    # import that file into another project, then apply two rules by copying them
    console.open("#/projects/imported/rules")
    exported_file = served["records"].with_name("bizlogic-demo.json")
    exported_file.write_text(json.dumps(exported), encoding="utf-8")
    form = page.locator("form", has=page.get_by_role("heading", name="Import rules"))
    form.get_by_label("File made by an export").set_input_files(str(exported_file))
    form.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text(f"Imported {rules['total']}, replaced 0, skipped 0").wait_for()
    imported = api(served, "business_expert", "GET", "/rules/imported").json()
    assert imported["total"] == rules["total"]
    console.open("#/projects/demo/rules")
    picked = page.locator("tbody tr[data-rule]").nth(1).get_attribute("data-rule")
    page.get_by_label(f"Select rule {rule_id}", exact=True).check()
    page.get_by_label(f"Select rule {picked}", exact=True).check()
    form = page.locator("form", has=page.get_by_role("heading", name=re.compile("^Apply")))
    form.get_by_label("Target project").fill("applied")
    form.get_by_label("Mode").select_option("copy")
    form.get_by_role("button", name="Apply", exact=True).click()
    page.get_by_text("2 rules applied to applied").wait_for()
    target = api(served, "business_expert", "GET", "/rules/applied").json()
    source = {r["id"]: r for r in rules["rules"]}
    assert sorted(r["pattern"] for r in target["rules"]) == sorted(
        source[int(i)]["pattern"] for i in (rule_id, picked)
    )

    console.open("#/projects/demo/rules")
    trail = page.get_by_role("table", name="Who changed what").locator(
        "tbody tr", has_text="rule.toggle"
    )
    assert trail.inner_text().split("\t")[1:4] == [
        "business_expert-1 (business_expert)",
        "rule.toggle",
        rule_id,
    ]
    assert trail.inner_text().endswith("true → false")
    console.shot("rules")


def test_acknowledge_an_insight_and_every_chart_drawn(console, served):
    console.sign_in(served["tokens"]["business_expert"])
    page = console.page
    console.open("#/projects/demo/insights")
    first = page.locator("article.insight").first
    insight_id = first.get_attribute("data-insight")
    first.get_by_role("button", name="Acknowledge").click()
    first.get_by_text("Acknowledged by business_expert-1").wait_for()
    page.reload()
    console.settled()
    again = page.locator(f"article.insight[data-insight='{insight_id}']")
    assert "Acknowledged by business_expert-1" in again.inner_text()
    assert again.get_by_role("button", name="Acknowledge").count() == 0
    stored = api(served, "business_expert", "GET", "/insights/demo", params={"limit": 200})
    [insight] = [i for i in stored.json()["insights"] if str(i["id"]) == insight_id]
    assert insight["acknowledged"] is True
    for chart in ("chart-annotators", "chart-bias", "chart-agreement", "chart-trends"):
        assert_drawn(page, chart)
    console.shot("insights")

    console.open("#/projects/demo/charts")
    for chart in ("chart-network", "chart-matrix", "chart-timeline", "chart-dashboard"):
        assert_drawn(page, chart)
    console.shot("charts")


def assert_drawn(page: Any, chart_id: str) -> None:
    """ECharts drew an SVG with real marks (paths, not just an empty frame)."""
    area = page.locator(f"#{chart_id}[data-drawn='true']")
    area.wait_for()
    paths = area.locator("svg path").count()
    assert paths >= 5, f"{chart_id}: {paths} paths"


def test_language_follows_the_browser_and_switches(browser, served):
    tab = Console(browser, served, locale="zh-CN")
    try:
        page = tab.page
        tab.page.goto(f"{served['url']}/console/")
        page.get_by_label("访问令牌").fill(served["tokens"]["system_admin"])
        page.get_by_role("button", name="登录").click()
        tab.settled("#/projects")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator("#main h1").inner_text() == "项目"
        tab.open("#/projects/demo/rules")
        assert page.locator("#main h1").inner_text() == "demo 的规则"
        tab.shot("rules-zh")
        # insights in the page's language: the API's Chinese text of the same insight
        tab.open("#/projects/demo/insights")
        first = page.locator("article.insight").first
        insight_id = first.get_attribute("data-insight")
        chinese = api(
            served, "system_admin", "GET", "/insights/demo", params={"lang": "zh", "limit": 200}
        ).json()["insights"]
        [expected] = [i for i in chinese if str(i["id"]) == insight_id]
        assert first.locator("h3").inner_text() == expected["title"]
        assert re.search(r"[\u4e00-\u9fff]", expected["description"])
        tab.shot("insights-zh")
        page.get_by_label("语言").select_option("en")
        tab.settled()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("#main h1").inner_text() == "Insights and patterns of demo"
        tab.open("#/projects")  # the pick is remembered over the browser's language
        assert page.locator("#main h1").inner_text() == "Projects"
        assert not tab.problems, tab.problems
    finally:
        tab.close()


def test_operations_page_for_administrators(console, served):
    console.sign_in(served["tokens"]["system_admin"])
    page = console.page
    page.get_by_role("link", name="Operations").click()
    console.settled("#/ops")
    assert "Health: healthy" in page.locator("#health-title").inner_text()
    jobs = api(served, "system_admin", "GET", "/jobs").json()["jobs"]
    table = page.get_by_role("table", name="Recent analyses")
    assert table.locator("tbody tr").count() == len(jobs)
    page.get_by_placeholder("why (shown in the history)").fill("browser test")
    page.get_by_role("button", name="Pause recovery").click()
    page.get_by_role("button", name="Resume recovery").wait_for()
    history = api(served, "system_admin", "GET", "/recovery/history").json()
    assert history["paused"] is not None and history["paused"]["reason"] == "browser test"
    console.shot("operations")
    page.get_by_role("button", name="Resume recovery").click()
    page.get_by_role("button", name="Pause recovery").wait_for()
    assert api(served, "system_admin", "GET", "/recovery/history").json()["paused"] is None


def test_a_viewer_sees_no_edit_and_the_api_still_refuses(console, served):
    console.sign_in(served["tokens"]["viewer"])
    page = console.page
    assert page.get_by_role("heading", name="Upload an export").count() == 0
    assert page.get_by_role("heading", name="Analyse a project").count() == 0
    assert page.get_by_role("link", name="Operations").is_hidden()
    console.open("#/projects/demo/rules")
    assert page.get_by_role("button", name="Delete").count() == 0
    assert page.get_by_role("heading", name="Import rules").count() == 0
    boxes = page.locator("tbody input[type=checkbox][aria-label$='active']")
    assert boxes.count() > 0
    assert all(boxes.nth(i).is_disabled() for i in range(boxes.count()))
    console.open("#/projects/demo/insights")
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    console.open("#/ops")
    assert "Only system administrators" in page.locator("#main").inner_text()
    rule_id = api(served, "viewer", "GET", "/rules/demo").json()["rules"][0]["id"]
    refused = api(served, "viewer", "POST", f"/rules/{rule_id}/toggle")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"


def test_security_headers_and_no_inline_script(served):
    page = httpx.get(f"{served['url']}/console/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "an inline <script>"
    assert " style=" not in page.text and "<style" not in page.text
    asset = httpx.get(
        f"{served['url']}/console/static/vendor/echarts.min.js",
        headers={"Accept-Encoding": "gzip"},
    )
    assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
    assert "content-security-policy" in asset.headers


def test_a_one_time_sign_in_link_works_once(browser, served):
    made = bizlogic(
        served["env"],
        *("token", "create", "--user", "link-user", "--role", "viewer"),
        *("--open", "--url", served["url"]),
    )
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{served['url']}/console/#signin=")
    assert "one-time sign-in link for user 'link-user', role viewer" in made.stderr
    first = Console(browser, served)
    second = Console(browser, served)
    try:
        first.page.goto(link)
        first.settled("#/projects")
        assert "#signin" not in first.page.url  # the code is gone from the address bar
        assert first.page.locator("#who").inner_text().startswith("link-user")
        assert not first.problems, first.problems
        second.page.goto(link)  # the same link again: refused, said on the sign-in page
        second.settled("#/signin")
        second.page.get_by_text("sign-in link unknown, already used or expired").wait_for()
        assert [p for p in second.problems if "401" not in p] == []
    finally:
        first.close()
        second.close()
    expired = httpx.post(f"{served['url']}{API}/signin", json={"code": "x" * 43})
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "UNAUTHORIZED"
    bad = httpx.post(f"{served['url']}{API}/signin", json={"code": "short"})
    assert bad.status_code == 422


def test_edit_delete_and_cancel(console, served, tmp_path):
    """Set a rule's confidence, delete a rule, and cancel a running analysis."""
    console.sign_in(served["tokens"]["business_expert"])
    page = console.page
    console.open("#/projects/demo/rules")
    before = api(served, "business_expert", "GET", "/rules/demo", params={"limit": 1000}).json()
    row = page.locator("tbody tr[data-rule]").nth(2)
    rule_id = row.get_attribute("data-rule")
    row.get_by_label(f"Confidence of rule {rule_id}", exact=True).fill("0.55")
    row.get_by_role("button", name="Save").click()
    page.get_by_text(f"Confidence of rule {rule_id} set to 55.0%").wait_for()
    stored = api(served, "business_expert", "GET", "/rules/demo", params={"limit": 1000}).json()
    [edited] = [r for r in stored["rules"] if str(r["id"]) == rule_id]
    assert edited["confidence"] == 0.55 and edited["curated_by"] == "business_expert-1"

    victim = page.locator("tbody tr[data-rule]").nth(3).get_attribute("data-rule")
    page.once("dialog", lambda dialog: dialog.accept())  # "Delete rule …?"
    page.locator(f"tr[data-rule='{victim}']").get_by_role("button", name="Delete").click()
    page.get_by_text(f"Rule {victim} deleted").wait_for()
    page.locator(f"tr[data-rule='{victim}']").wait_for(state="detached")  # drawn again
    after = api(served, "business_expert", "GET", "/rules/demo", params={"limit": 1000}).json()
    assert after["total"] == before["total"] - 1
    assert victim not in {str(r["id"]) for r in after["rules"]}

    # a project big enough that its analysis runs for a while, cancelled from the page
    big = tmp_path / "big.jsonl"
    made = bizlogic(served["env"], "demo-data", str(big), "--records", "60000", "--seed", "3")
    assert made.returncode == 0, made.stderr
    sent = api(
        served, "business_expert", "POST", "/projects/big/records",
        content=big.read_bytes(), headers={"Content-Type": "application/x-ndjson"}, timeout=300,
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    console.open("#/projects")
    form = page.locator("form", has=page.get_by_role("heading", name="Analyse a project"))
    form.get_by_label("Project").fill("big")
    form.get_by_role("button", name="Start analysis").click()
    form.get_by_role("button", name="Cancel").click()
    page.get_by_text(re.compile(r"^cancelled")).first.wait_for(timeout=120_000)
    jobs = api(served, "business_expert", "GET", "/jobs", params={"project_id": "big"}).json()
    assert [job["status"] for job in jobs["jobs"]] == ["cancelled"]
    assert api(served, "business_expert", "GET", "/rules/big").json()["total"] == 0
