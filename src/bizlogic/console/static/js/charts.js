// Apache ECharts (shipped in the package, loaded on the first page that draws) and the
// charts the console draws with it. Charts render to SVG: crisp, and checkable in tests.

import { h } from "./dom.js";
import { t } from "./i18n.js";

let loading = null;

export function echartsReady() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `${document.querySelector('meta[name="bl-static"]').content}/vendor/echarts.min.js`;
      script.addEventListener("load", () => resolve(window.echarts));
      script.addEventListener("error", () => reject(new Error("echarts did not load")));
      document.head.append(script);
    });
  }
  return loading;
}

const charts = new Set();
window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
window.addEventListener("hashchange", () => {
  charts.forEach((chart) => chart.dispose());
  charts.clear();
});

// A titled figure with a chart area; the caption says in words what the chart shows.
export function figure(id, title, caption) {
  const area = h("div", { class: "chart", id, role: "img", "aria-label": title });
  return { node: h("figure", { class: "card" }, h("h2", {}, title), area, caption ? h("figcaption", {}, caption) : null), area };
}

export async function draw(area, option) {
  const echarts = await echartsReady();
  const chart = echarts.init(area, null, { renderer: "svg" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  charts.add(chart);
  area.dataset.drawn = "true";
  return chart;
}

export function empty(area, message) {
  area.classList.add("empty");
  area.append(h("p", {}, message || t("Nothing to draw yet: run an analysis first.")));
  area.dataset.drawn = "empty";
}
