// The four views the API computes (POST /visualization), drawn.

import { api } from "../api.js";
import { draw, empty, figure } from "../charts.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { projectTabs } from "./tabs.js";

export async function show(main, { args }) {
  const [projectId] = args;
  const view = (type) => api("POST", "/visualization", { body: { project_id: projectId, visualization_type: type } });
  const [network, matrix, timeline, dashboard] = await Promise.all(["rule_network", "correlation_matrix", "pattern_timeline", "insight_dashboard"].map(view));
  const figures = {
    network: figure("chart-network", t("Rule network"), t("Conditions and what they lead to; a line is a rule, thicker for higher confidence.")),
    matrix: figure("chart-matrix", t("Keyword × class lift"), t("How many times more likely the class is when the keyword appears (single-keyword rules)."))
    ,
    timeline: figure("chart-timeline", t("Pattern timeline"), t("Trends, change points and anomalies in date order; the height is the strength.")),
    dashboard: figure("chart-dashboard", t("Insights by type and impact"), t("Open and acknowledged insights by type; the impact histogram of all.")),
  };
  replace(main, h("h1", {}, t("Charts of {project}", { project: projectId })), projectTabs(projectId, "charts"), h("div", { class: "figures" }, Object.values(figures).map((f) => f.node)));
  await Promise.all([drawNetwork(figures.network.area, network), drawMatrix(figures.matrix.area, matrix), drawTimeline(figures.timeline.area, timeline), drawDashboard(figures.dashboard.area, dashboard)]);
}

async function drawNetwork(area, data) {
  if (!data.nodes.length) return empty(area);
  const kinds = [...new Set(data.nodes.map((n) => n.kind))];
  await draw(area, {
    tooltip: {},
    legend: { data: kinds, top: 0 },
    series: [
      {
        type: "graph",
        top: 40,
        layout: "force",
        roam: true,
        draggable: true,
        force: { repulsion: 160, edgeLength: 90 },
        categories: kinds.map((name) => ({ name })),
        label: { show: true, position: "right", fontSize: 11 },
        data: data.nodes.map((n) => ({ id: n.id, name: n.label, category: kinds.indexOf(n.kind), symbolSize: 8 + 4 * Math.sqrt(n.degree), value: n.degree })),
        edges: data.edges.map((e) => ({ source: e.source, target: e.target, value: e.confidence, lineStyle: { width: 1 + 4 * e.confidence, opacity: 0.6 } })),
      },
    ],
  });
}

async function drawMatrix(area, data) {
  if (!data.rows.length) return empty(area);
  area.style.height = `${Math.max(380, 160 + 22 * data.rows.length)}px`;
  const cells = [];
  let top = 1;
  data.lift.forEach((row, y) =>
    row.forEach((value, x) => {
      if (value !== null) {
        cells.push([x, y, Number(value.toFixed(2))]);
        top = Math.max(top, value);
      }
    }),
  );
  await draw(area, {
    tooltip: { position: "top" },
    grid: { left: 120, bottom: 110 },
    xAxis: { type: "category", data: data.columns, axisLabel: { rotate: 40, interval: 0 } },
    yAxis: { type: "category", data: data.rows, axisLabel: { interval: 0 } },
    visualMap: { min: 1, max: Math.ceil(top), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
    series: [{ type: "heatmap", data: cells, label: { show: true, fontSize: 10 } }],
  });
}

async function drawTimeline(area, data) {
  if (!data.events.length) return empty(area, t("No trend, change point or anomaly was found."));
  const types = [...new Set(data.events.map((e) => e.type))];
  await draw(area, {
    tooltip: { formatter: (p) => p.data.description },
    legend: { data: types },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", name: t("strength"), max: 1 },
    series: types.map((type) => ({
      name: type,
      type: "scatter",
      symbolSize: 12,
      data: data.events.filter((e) => e.type === type).map((e) => ({ value: [e.date, Number(e.strength.toFixed(3))], description: e.description })),
    })),
  });
}

async function drawDashboard(area, data) {
  if (!data.total) return empty(area);
  const types = Object.keys(data.by_type);
  const bins = data.impact_histogram.bins;
  await draw(area, {
    tooltip: {},
    grid: [{ left: "7%", width: "38%" }, { left: "57%", width: "38%" }],
    xAxis: [
      { type: "category", data: types, gridIndex: 0, axisLabel: { rotate: 20 } },
      { type: "category", data: bins.slice(0, -1).map((b, i) => `${b}–${bins[i + 1]}`), gridIndex: 1, name: t("impact") },
    ],
    yAxis: [{ type: "value", gridIndex: 0, name: t("insights") }, { type: "value", gridIndex: 1 }],
    series: [
      { name: t("insights"), type: "bar", data: types.map((k) => data.by_type[k]), xAxisIndex: 0, yAxisIndex: 0 },
      { name: t("impact"), type: "bar", data: data.impact_histogram.counts, xAxisIndex: 1, yAxisIndex: 1 },
    ],
  });
}
