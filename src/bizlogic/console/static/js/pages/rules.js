// Rules: sort, filter and page through a project's rules; read the records behind one;
// curate (toggle, confidence, delete); export, import and apply to another project.

import { api, download, upload } from "../api.js";
import { config } from "../config.js";
import { field, h, highlighted, number, percent, replace, scientific, when } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../session.js";
import { say, sayError, sayNext } from "../status.js";
import { projectTabs } from "./tabs.js";

const PAGE = 50;

export async function show(main, { args, params }) {
  const [projectId] = args;
  const state = {
    rule_type: params.get("rule_type") || "",
    algorithm: params.get("algorithm") || "",
    field: params.get("field") || "",
    q: params.get("q") || "",
    active_only: params.get("active_only") === "true",
    sort: params.get("sort") || "score",
    order: params.get("order") || "desc",
    offset: Number(params.get("offset") || 0),
  };
  const [page, audit] = await Promise.all([
    api("GET", `/rules/${encodeURIComponent(projectId)}`, {
      query: { ...state, active_only: state.active_only || undefined, limit: PAGE },
    }),
    api("GET", "/audit", { query: { project_id: projectId, limit: 15 } }),
  ]);
  const selected = new Set();
  const settings = await config();
  replace(
    main,
    h("h1", {}, t("Rules of {project}", { project: projectId })),
    projectTabs(projectId, "rules"),
    filters(projectId, state, settings),
    summary(page),
    page.rules.length ? table(projectId, page.rules, state, selected) : h("p", { class: "empty" }, t("No rule matches.")),
    pager(projectId, state, page.total),
    tools(projectId, selected),
    auditTrail(audit),
  );
}

// Who did what to this project, from the API's audit trail (GET /audit).
function auditTrail(audit) {
  const describe = (event) => {
    const d = event.details || {};
    if ("before" in d && "after" in d) return `${d.before} → ${d.after}`;
    return Object.entries(d)
      .filter(([, value]) => typeof value !== "object")
      .map(([key, value]) => `${key}: ${value}`)
      .join(", ");
  };
  return h(
    "section",
    { class: "card", "aria-labelledby": "audit-title" },
    h("h2", { id: "audit-title" }, t("Who changed what")),
    audit.events.length
      ? h(
          "table",
          { class: "grid audit", "aria-label": t("Who changed what") },
          h("thead", {}, h("tr", {}, [t("Time"), t("User"), t("Action"), t("Target"), t("Details")].map((x) => h("th", { scope: "col" }, x)))),
          h(
            "tbody",
            {},
            audit.events.map((e) => h("tr", {}, h("td", {}, when(e.created_at)), h("td", {}, `${e.user_id} (${e.role})`), h("td", {}, e.action), h("td", {}, e.target || ""), h("td", {}, describe(e)))),
          ),
        )
      : h("p", { class: "empty" }, t("No change recorded yet.")),
  );
}

function go(projectId, state, changes) {
  const next = { ...state, ...changes };
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(next)) {
    if (value !== "" && value !== false && value !== null && !(key === "offset" && !value)) query.set(key, String(value));
  }
  window.location.hash = `#/projects/${encodeURIComponent(projectId)}/rules?${query}`;
}

function filters(projectId, state, settings) {
  const ruleType = h(
    "select",
    { name: "rule_type" },
    h("option", { value: "" }, t("any")),
    settings.rule_types.map((v) => h("option", { value: v, selected: v === state.rule_type }, v)),
  );
  const algorithm = h(
    "select",
    { name: "algorithm" },
    h("option", { value: "" }, t("any")),
    settings.algorithms.map((v) => h("option", { value: v, selected: v === state.algorithm }, v)),
  );
  const fieldName = h("input", { name: "field", value: state.field, placeholder: "text" });
  const search = h("input", { type: "search", name: "q", value: state.q });
  const active = h("input", { type: "checkbox", name: "active_only", checked: state.active_only });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": t("Filter rules") },
    field(t("Type"), ruleType),
    field(t("Algorithm"), algorithm),
    field(t("Condition field"), fieldName),
    field(t("Search in conditions"), search),
    h("label", { class: "check" }, active, t("Active only")),
    h("button", { type: "submit" }, t("Filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(projectId, state, {
      rule_type: ruleType.value,
      algorithm: algorithm.value,
      field: fieldName.value.trim(),
      q: search.value.trim(),
      active_only: active.checked,
      offset: 0,
    });
  });
  return form;
}

function summary(page) {
  const from = page.total ? page.offset + 1 : 0;
  const to = page.offset + page.rules.length;
  return h("p", { class: "summary" }, t("Rules {from}–{to} of {total}", { from, to, total: page.total }));
}

function sortHeader(projectId, state, key, label) {
  const current = state.sort === key;
  const next = current && state.order === "desc" ? "asc" : "desc";
  const sortState = current ? (state.order === "desc" ? "descending" : "ascending") : "none";
  return h(
    "th",
    { scope: "col", "aria-sort": sortState, class: "num" },
    h("button", { type: "button", class: "link", onClick: () => go(projectId, state, { sort: key, order: next, offset: 0 }) }, label, current ? (state.order === "desc" ? " ▼" : " ▲") : ""),
  );
}

function table(projectId, rules, state, selected) {
  const manage = can("bl.manage_rules");
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("Select"))),
    h("th", { scope: "col" }, t("Rule")),
    h("th", { scope: "col" }, t("Algorithm")),
    sortHeader(projectId, state, "score", t("Score")),
    sortHeader(projectId, state, "confidence", t("Confidence")),
    sortHeader(projectId, state, "lift", t("Lift")),
    sortHeader(projectId, state, "support", t("Support")),
    h("th", { scope: "col", class: "num" }, t("q-value")),
    h("th", { scope: "col", class: "num" }, t("Hold-out")),
    h("th", { scope: "col" }, t("Active")),
    manage ? h("th", { scope: "col" }, t("Actions")) : null,
  );
  const body = h("tbody", {});
  for (const rule of rules) body.append(...ruleRows(rule, manage, selected));
  return h("table", { class: "grid rules", "aria-label": t("Rules") }, h("thead", {}, head), body);
}

function ruleRows(rule, manage, selected) {
  const detail = h("tr", { class: "detail", hidden: true }, h("td", { colspan: manage ? 11 : 10 }));
  const expand = h("button", { type: "button", class: "link", "aria-expanded": "false" }, rule.pattern);
  expand.addEventListener("click", () => toggleExamples(rule, expand, detail));
  const pick = h("input", { type: "checkbox", "aria-label": t("Select rule {id}", { id: rule.id }) });
  pick.addEventListener("change", () => (pick.checked ? selected.add(rule.id) : selected.delete(rule.id)));
  const active = h("input", { type: "checkbox", checked: rule.is_active, disabled: !manage, "aria-label": t("Rule {id} active", { id: rule.id }) });
  active.addEventListener("change", async () => {
    active.disabled = true;
    try {
      const updated = await api("POST", `/rules/${rule.id}/toggle`, { body: { is_active: active.checked } });
      active.checked = updated.is_active;
      say(updated.is_active ? t("Rule {id} switched on", { id: rule.id }) : t("Rule {id} switched off", { id: rule.id }), "ok");
    } catch (error) {
      active.checked = !active.checked;
      sayError(error);
    } finally {
      active.disabled = false;
    }
  });
  const curated = rule.curated_by ? h("small", { class: "curated" }, t("curated by {user}, {when}", { user: rule.curated_by, when: when(rule.curated_at) })) : null;
  const row = h(
    "tr",
    { dataset: { rule: rule.id } },
    h("td", {}, pick),
    h("td", { class: "pattern" }, expand, curated),
    h("td", {}, rule.algorithm),
    h("td", { class: "num" }, number(rule.score, 3)),
    h("td", { class: "num confidence" }, percent(rule.confidence, 1)),
    h("td", { class: "num" }, rule.lift === null ? "∞" : number(rule.lift, 2)),
    h("td", { class: "num" }, `${number(rule.support_count, 0)} (${percent(rule.support, 1)})`),
    h("td", { class: "num" }, scientific(rule.q_value)),
    h("td", { class: "num" }, percent(rule.holdout_confidence, 1)),
    h("td", {}, active),
    manage ? h("td", { class: "actions" }, editConfidence(rule), deleteButton(rule)) : null,
  );
  return [row, detail];
}

async function toggleExamples(rule, button, detail) {
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  detail.hidden = open;
  if (open || detail.dataset.loaded) return;
  const cell = detail.firstChild;
  replace(cell, t("Loading…"));
  try {
    const found = await api("GET", `/rules/${rule.id}/examples`);
    detail.dataset.loaded = "1";
    replace(
      cell,
      found.examples.length
        ? h(
            "ul",
            { class: "examples" },
            found.examples.map((record) =>
              h(
                "li",
                {},
                h("p", { class: "text" }, highlighted(record.text, found.keywords)),
                h("small", {}, [record.id, record.sentiment, record.label, record.annotator].filter(Boolean).join(" · ")),
              ),
            ),
          )
        : h("p", {}, t("The records behind this rule are no longer stored.")),
    );
  } catch (error) {
    replace(cell, "");
    sayError(error);
  }
}

function editConfidence(rule) {
  const input = h("input", { type: "number", min: 0, max: 1, step: 0.01, value: rule.confidence.toFixed(2), class: "short", "aria-label": t("Confidence of rule {id}", { id: rule.id }) });
  const save = h("button", { type: "button", class: "secondary" }, t("Save"));
  save.addEventListener("click", async () => {
    try {
      const updated = await api("PUT", `/rules/${rule.id}/confidence`, { body: { confidence: Number(input.value) } });
      input.value = updated.confidence.toFixed(2);
      say(t("Confidence of rule {id} set to {value}", { id: rule.id, value: percent(updated.confidence, 1) }), "ok");
    } catch (error) {
      sayError(error);
    }
  });
  return h("span", { class: "inline" }, input, save);
}

function deleteButton(rule) {
  const button = h("button", { type: "button", class: "danger" }, t("Delete"));
  button.addEventListener("click", async () => {
    if (!window.confirm(t("Delete rule {id}? {pattern}", { id: rule.id, pattern: rule.pattern }))) return;
    try {
      await api("DELETE", `/rules/${rule.id}`);
      sayNext(t("Rule {id} deleted", { id: rule.id }), "ok");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      sayError(error);
    }
  });
  return button;
}

function pager(projectId, state, total) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const current = Math.floor(state.offset / PAGE) + 1;
  const previous = h("button", { type: "button", disabled: current <= 1 }, t("Previous"));
  const next = h("button", { type: "button", disabled: current >= pages }, t("Next"));
  previous.addEventListener("click", () => go(projectId, state, { offset: Math.max(0, state.offset - PAGE) }));
  next.addEventListener("click", () => go(projectId, state, { offset: state.offset + PAGE }));
  return h("nav", { class: "pager", "aria-label": t("Pages") }, previous, h("span", {}, t("Page {n} of {pages}", { n: current, pages })), next);
}

function tools(projectId, selected) {
  const parts = [];
  if (can("bl.export_data")) {
    const format = h("select", { name: "export-format" }, ["json", "csv", "yaml"].map((f) => h("option", { value: f }, f)));
    const button = h("button", { type: "button" }, t("Export"));
    button.addEventListener("click", async () => {
      try {
        const saved = await download("/export", { project_id: projectId, format: format.value, include: ["rules"] });
        say(t("Exported {name} ({size} bytes)", { name: saved.name, size: saved.size }), "ok");
      } catch (error) {
        sayError(error);
      }
    });
    parts.push(h("section", { class: "card", "aria-labelledby": "export-title" }, h("h2", { id: "export-title" }, t("Export rules")), h("div", { class: "row" }, field(t("Format"), format), button)));
  }
  if (can("bl.extract_rules")) {
    parts.push(importForm(projectId), applyForm(projectId, selected));
  }
  return parts;
}

function importForm(projectId) {
  const file = h("input", { type: "file", name: "rules-file", required: true, accept: ".json,.yaml,.yml" });
  const conflict = h("select", { name: "conflict" }, h("option", { value: "skip" }, t("keep existing rules")), h("option", { value: "override" }, t("replace existing rules")));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "import-title" },
    h("h2", { id: "import-title" }, t("Import rules")),
    h("div", { class: "row" }, field(t("File made by an export"), file), field(t("When a rule exists"), conflict), h("button", { type: "submit" }, t("Import"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const yaml = /\.ya?ml$/i.test(chosen.name);
    try {
      const result = await upload("/rules/import", chosen, {
        query: { project_id: projectId, conflict: conflict.value, format: yaml ? "yaml" : "json" },
        contentType: yaml ? "application/yaml" : "application/json",
      });
      sayNext(t("Imported {imported}, replaced {replaced}, skipped {skipped}", result), "ok");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      sayError(error);
    }
  });
  return form;
}

function applyForm(projectId, selected) {
  const target = h("input", { name: "target", required: true, pattern: "[A-Za-z0-9._\\-]{1,128}" });
  const mode = h("select", { name: "mode" }, h("option", { value: "adapt" }, t("adapt: measure again on the target's records")), h("option", { value: "copy" }, t("copy unchanged")));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "apply-title" },
    h("h2", { id: "apply-title" }, t("Apply the selected rules to another project")),
    h("div", { class: "row" }, field(t("Target project"), target), field(t("Mode"), mode), h("button", { type: "submit" }, t("Apply"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!selected.size) {
      say(t("Select rules first (the boxes in the first column)."), "error");
      return;
    }
    try {
      const result = await api("POST", "/apply", { body: { rule_ids: [...selected], target_project_id: target.value, mode: mode.value } });
      say(t("{n} rules applied to {project}", { n: (result.applied || []).length, project: target.value }), "ok");
    } catch (error) {
      sayError(error);
    }
  });
  return form;
}
