// Projects: what each holds, an upload of an export, and analyses started and watched.

import { api, upload } from "../api.js";
import { config } from "../config.js";
import { field, h, number, replace, when } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../session.js";
import { say, sayError } from "../status.js";
import { jobStatus, watchJob } from "../jobs.js";

export async function show(main) {
  const settings = await config();
  const listing = h("div", { class: "listing" });
  const known = await refresh(listing);
  const again = () => refresh(listing);
  replace(
    main,
    h("h1", {}, t("Projects")),
    listing,
    can("bl.import_data") ? uploadPanel(known, settings, again) : null,
    can("bl.analyze_data") ? analyzePanel(known, settings, again) : null,
  );
}

// The table drawn again after an upload or an analysis; returns the project ids.
async function refresh(area) {
  const listing = await api("GET", "/projects", { query: { limit: 1000 } });
  replace(area, projectTable(listing));
  return listing.projects.map((p) => p.project_id);
}

function projectTable(listing) {
  if (!listing.projects.length) {
    return h("p", { class: "empty" }, t("No project yet: upload an export below to create one."));
  }
  const head = [t("Project"), t("Records"), t("Rules (active)"), t("Patterns"), t("Insights (open)"), t("Last analysis"), t("Open")];
  return h(
    "table",
    { class: "grid", "aria-label": t("Projects") },
    h("thead", {}, h("tr", {}, head.map((label) => h("th", { scope: "col" }, label)))),
    h(
      "tbody",
      {},
      listing.projects.map((p) =>
        h(
          "tr",
          { dataset: { project: p.project_id } },
          h("th", { scope: "row" }, p.project_id),
          h("td", { class: "num" }, number(p.records, 0)),
          h("td", { class: "num" }, `${number(p.rules, 0)} (${number(p.active_rules, 0)})`),
          h("td", { class: "num" }, number(p.patterns, 0)),
          h("td", { class: "num" }, `${number(p.insights, 0)} (${number(p.open_insights, 0)})`),
          h("td", {}, p.last_analysis ? `${jobStatus(p.last_analysis.status)} · ${when(p.last_analysis.finished_at || p.last_analysis.created_at)}` : "—"),
          h(
            "td",
            { class: "links" },
            h("a", { href: `#/projects/${encodeURIComponent(p.project_id)}/rules` }, t("Rules")),
            h("a", { href: `#/projects/${encodeURIComponent(p.project_id)}/insights` }, t("Insights")),
            h("a", { href: `#/projects/${encodeURIComponent(p.project_id)}/charts` }, t("Charts")),
          ),
        ),
      ),
    ),
  );
}


function projectInput(known, name) {
  const listId = `${name}-known`;
  return [
    h("input", { name, required: true, list: listId, pattern: "[A-Za-z0-9._\\-]{1,128}", autocomplete: "off" }),
    h("datalist", { id: listId }, known.map((id) => h("option", { value: id }))),
  ];
}

function lines(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

function uploadPanel(known, settings, onDone) {
  const [project, projectList] = projectInput(known, "upload-project");
  const file = h("input", { type: "file", name: "file", required: true });
  const format = h("select", { name: "format" }, settings.formats.map((f) => h("option", { value: f }, f)));
  const control = h("textarea", { name: "control", rows: 2, placeholder: "topic=label" });
  const csvMap = h("textarea", { name: "csv_map", rows: 2, placeholder: "text=review" });
  const textKey = h("input", { name: "text_key", placeholder: "text" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": t("Upload progress") });
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, t("Upload"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, t("Upload an export")),
    h("div", { class: "row" }, field(t("Project"), project), projectList, field(t("File"), file), field(t("Format"), format)),
    h(
      "details",
      {},
      h("summary", {}, t("Column and control mapping")),
      h(
        "div",
        { class: "row" },
        field(t("Label Studio controls"), control, t("One per line: NAME=sentiment, label or ignore")),
        field(t("CSV columns"), csvMap, t("One per line: FIELD=COLUMN")),
        field(t("Text key"), textKey),
      ),
    ),
    h("div", { class: "row" }, button, progress),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    replace(outcome);
    try {
      const result = await upload(`/projects/${encodeURIComponent(project.value)}/records`, file.files[0], {
        query: { format: format.value, control: lines(control.value), csv_map: lines(csvMap.value), text_key: textKey.value },
        onProgress: (share) => {
          progress.value = share;
        },
      });
      progress.value = 1;
      replace(outcome, importSummary(result));
      say(t("{n} records imported into {project}", { n: result.imported, project: result.project_id }), "ok");
      await onDone();
    } catch (error) {
      sayError(error);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function importSummary(result) {
  const counts = [
    [t("Format"), result.format],
    [t("Received"), result.received],
    [t("Imported"), result.imported],
    [t("Updated"), result.updated],
    [t("Unchanged"), result.unchanged],
    [t("Rejected"), result.rejected],
  ];
  return [
    h("dl", { class: "counts" }, counts.map(([label, value]) => [h("dt", {}, label), h("dd", {}, String(value))])),
    (result.notes || []).length ? h("ul", { class: "notes" }, result.notes.map((note) => h("li", {}, note))) : null,
    (result.errors || []).length
      ? h(
          "table",
          { class: "grid rejects", "aria-label": t("Rejected rows") },
          h("thead", {}, h("tr", {}, [t("Where"), t("Field"), t("Reason"), t("Excerpt")].map((l) => h("th", { scope: "col" }, l)))),
          h(
            "tbody",
            {},
            result.errors.map((e) => h("tr", {}, h("td", {}, e.location), h("td", {}, e.field || ""), h("td", {}, e.reason), h("td", { class: "excerpt" }, e.excerpt || ""))),
          ),
        )
      : null,
  ];
}

function analyzePanel(known, settings, onDone) {
  const [project, projectList] = projectInput(known, "analyze-project");
  const algorithms = settings.algorithms.map((name) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "analysis_types", value: name, checked: true }), name),
  );
  const minConfidence = h("input", { type: "number", name: "min_confidence", min: 0, max: 1, step: 0.05, value: 0.7 });
  const maxRules = h("input", { type: "number", name: "max_rules", min: 1, step: 1, value: 500 });
  const holdout = h("input", { type: "number", name: "holdout_fraction", min: 0, max: 0.9, step: 0.05, value: 0.3 });
  const language = h("select", { name: "lang" }, h("option", { value: "en" }, "English"), h("option", { value: "zh" }, "中文"));
  const start = h("button", { type: "submit" }, t("Start analysis"));
  const watcher = h("div", { class: "job", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "analyze-title" },
    h("h2", { id: "analyze-title" }, t("Analyse a project")),
    h("div", { class: "row" }, field(t("Project"), project), projectList, field(t("Minimum confidence"), minConfidence), field(t("Maximum rules"), maxRules), field(t("Hold-out share"), holdout), field(t("Insight language"), language)),
    h("fieldset", {}, h("legend", {}, t("Algorithms")), algorithms),
    start,
    watcher,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll('input[name="analysis_types"]:checked')].map((box) => box.value);
    start.disabled = true;
    try {
      const job = await api("POST", "/analyze", {
        body: {
          project_id: project.value,
          analysis_types: chosen,
          min_confidence: Number(minConfidence.value),
          max_rules: Number(maxRules.value),
          holdout_fraction: Number(holdout.value),
          lang: language.value,
        },
      });
      await watchJob(job.job_id, watcher);
      await onDone();
    } catch (error) {
      sayError(error);
    } finally {
      start.disabled = false;
    }
  });
  return form;
}
