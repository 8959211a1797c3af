// Insights as cards (impact, recommendations, acknowledge) and the patterns behind
// them: annotator behaviour and temporal trends drawn as charts.

import { api } from "../api.js";
import { draw, empty, figure } from "../charts.js";
import { h, number, percent, replace, when } from "../dom.js";
import { lang, t } from "../i18n.js";
import { can } from "../session.js";
import { say, sayError } from "../status.js";
import { projectTabs } from "./tabs.js";

export async function show(main, { args, params }) {
  const [projectId] = args;
  const open = params.get("open") === "true";
  const [insights, patterns] = await Promise.all([
    api("GET", `/insights/${encodeURIComponent(projectId)}`, { query: { limit: 200, lang, unacknowledged_only: open || undefined } }),
    api("GET", `/patterns/${encodeURIComponent(projectId)}`, { query: { limit: 1000 } }),
  ]);
  const behaviour = figure("chart-annotators", t("Annotators: records and median time per record"), t("Bars: records per annotator; line: median seconds spent on a record. Outliers are named in the insights."));
  const bias = figure("chart-bias", t("Annotators: share of each sentiment compared with the others"), t("Percentage points above (or below) the other annotators' share of the same sentiment."));
  const agreement = figure("chart-agreement", t("Annotators: agreement with the others on the same tasks"), t("Share of an annotator's sentiment judgements that match the majority of the others on the same task, against the other annotators' share; the line is the mean Cohen's kappa of the annotator's pairs."));
  const trends = figure("chart-trends", t("Trends and change points"), t("Each trend from its start to its end value; change points as the share before and after the date."));
  const filter = h(
    "label",
    { class: "check" },
    h("input", {
      type: "checkbox",
      checked: open,
      onChange: (event) => {
        window.location.hash = `#/projects/${encodeURIComponent(projectId)}/insights${event.target.checked ? "?open=true" : ""}`;
      },
    }),
    t("Open insights only"),
  );
  replace(
    main,
    h("h1", {}, t("Insights and patterns of {project}", { project: projectId })),
    projectTabs(projectId, "insights"),
    h("section", { "aria-labelledby": "insights-title" }, h("h2", { id: "insights-title" }, t("Insights ({n})", { n: insights.total })), filter, h("div", { class: "cards" }, insights.insights.map(card))),
    h("section", { class: "figures", "aria-label": t("Patterns") }, behaviour.node, bias.node, agreement.node, trends.node),
  );
  const byType = (type) => patterns.patterns.filter((p) => p.pattern_type === type);
  await Promise.all([drawAnnotators(behaviour.area, byType("annotator_profile")), drawBias(bias.area, byType("annotator_profile")), drawAgreement(agreement.area, byType("annotator_profile")), drawTrends(trends.area, patterns.patterns)]);
}

function card(insight) {
  const status = h("p", { class: "ack" }, insight.acknowledged ? t("Acknowledged by {user}, {when}", { user: insight.acknowledged_by, when: when(insight.acknowledged_at) }) : "");
  const button = !insight.acknowledged && can("bl.analyze_data") ? h("button", { type: "button" }, t("Acknowledge")) : null;
  if (button) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const done = await api("POST", `/insights/${insight.id}/acknowledge`);
        replace(status, t("Acknowledged by {user}, {when}", { user: done.acknowledged_by, when: when(done.acknowledged_at) }));
        button.remove();
        say(t("Insight acknowledged"), "ok");
      } catch (error) {
        button.disabled = false;
        sayError(error);
      }
    });
  }
  return h(
    "article",
    { class: `card insight ${insight.acknowledged ? "done" : ""}`, dataset: { insight: insight.id } },
    h("h3", {}, insight.title),
    h("p", { class: "meta" }, insight.insight_type, " · ", t("impact"), " ", h("meter", { min: 0, max: 1, value: insight.impact_score, "aria-label": t("impact") }), " ", number(insight.impact_score, 2)),
    h("p", {}, insight.description),
    insight.recommendations.length ? h("ul", { class: "recommendations" }, insight.recommendations.map((r) => h("li", {}, r))) : null,
    status,
    button,
  );
}

async function drawAnnotators(area, profiles) {
  if (!profiles.length) return empty(area);
  const rows = profiles.map((p) => p.data).sort((a, b) => a.annotator.localeCompare(b.annotator));
  await draw(area, {
    tooltip: { trigger: "axis" },
    legend: { data: [t("records"), t("median seconds per record")] },
    xAxis: { type: "category", data: rows.map((r) => r.annotator) },
    yAxis: [{ type: "value", name: t("records") }, { type: "value", name: t("seconds") }],
    series: [
      { name: t("records"), type: "bar", data: rows.map((r) => r.records) },
      { name: t("median seconds per record"), type: "line", yAxisIndex: 1, data: rows.map((r) => r.median_lead_time) },
    ],
  });
}

async function drawBias(area, profiles) {
  const rows = profiles.map((p) => p.data).filter((d) => d.columns && d.columns.sentiment && d.columns.sentiment.distribution);
  if (!rows.length) return empty(area, t("No sentiment per annotator in this project."));
  rows.sort((a, b) => a.annotator.localeCompare(b.annotator));
  const values = [...new Set(rows.flatMap((r) => Object.keys(r.columns.sentiment.distribution.shares)))].sort();
  await draw(area, {
    tooltip: { trigger: "axis", valueFormatter: (v) => `${Number(v).toFixed(1)} pp` },
    legend: { data: values },
    xAxis: { type: "category", data: rows.map((r) => r.annotator) },
    yAxis: { type: "value", name: t("percentage points") },
    series: values.map((value) => ({
      name: value,
      type: "bar",
      data: rows.map((r) => {
        const d = r.columns.sentiment.distribution;
        return Number((100 * ((d.shares[value] || 0) - (d.rest_shares[value] || 0))).toFixed(2));
      }),
    })),
  });
}

async function drawAgreement(area, profiles) {
  const rows = profiles
    .map((p) => p.data)
    .filter((d) => d.columns && d.columns.sentiment && d.columns.sentiment.agreement)
    .sort((a, b) => a.annotator.localeCompare(b.annotator));
  if (!rows.length) return empty(area, t("No task was judged by several annotators."));
  const share = (value) => (value === null || value === undefined ? null : Number((100 * value).toFixed(1)));
  await draw(area, {
    tooltip: { trigger: "axis" },
    legend: { data: [t("agrees with the others"), t("the others' agreement"), t("mean kappa")] },
    xAxis: { type: "category", data: rows.map((r) => r.annotator) },
    yAxis: [{ type: "value", name: "%", max: 100 }, { type: "value", name: "κ", min: -1, max: 1 }],
    series: [
      { name: t("agrees with the others"), type: "bar", data: rows.map((r) => share(r.columns.sentiment.agreement.rate)) },
      { name: t("the others' agreement"), type: "bar", data: rows.map((r) => share(r.columns.sentiment.agreement.rest_rate)) },
      { name: t("mean kappa"), type: "line", yAxisIndex: 1, data: rows.map((r) => r.columns.sentiment.agreement.mean_pair_kappa ?? null) },
    ],
  });
}

async function drawTrends(area, patterns) {
  const trends = patterns.filter((p) => ["sentiment_trend", "rating_trend", "volume_trend"].includes(p.pattern_type));
  const changes = patterns.filter((p) => p.pattern_type === "change_point");
  if (!trends.length && !changes.length) return empty(area, t("No trend or change point was found."));
  const series = trends
    .filter((p) => p.data.series === "sentiment_share")
    .map((p) => ({ name: `${p.data.sentiment} ${t("share")}`, type: "line", data: [[p.data.start, 100 * p.data.start_value], [p.data.end, 100 * p.data.end_value]] }));
  for (const p of changes) {
    const d = p.data;
    series.push({
      name: `${d.sentiment} ${t("change point")} ${d.date}`,
      type: "line",
      step: "end",
      lineStyle: { type: "dashed" },
      data: [[d.segment_before[0], 100 * d.share_before], [d.date, 100 * d.share_after], [d.segment_after[1], 100 * d.share_after]],
    });
  }
  const others = trends.filter((p) => p.data.series !== "sentiment_share");
  await draw(area, {
    tooltip: { trigger: "axis", valueFormatter: (v) => `${Number(v).toFixed(1)}%` },
    legend: { type: "scroll" },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", name: "%" },
    series,
  });
  if (others.length) {
    area.after(h("ul", { class: "trend-notes" }, others.map((p) => h("li", {}, p.description, " (", percent(p.data.change, 0), ")"))));
  }
}
