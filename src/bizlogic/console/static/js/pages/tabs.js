// The tabs of a project's pages.

import { h } from "../dom.js";
import { t } from "../i18n.js";

export function projectTabs(projectId, current) {
  const base = `#/projects/${encodeURIComponent(projectId)}`;
  const tabs = [
    ["rules", t("Rules")],
    ["insights", t("Insights and patterns")],
    ["charts", t("Charts")],
  ];
  return h(
    "nav",
    { class: "tabs", "aria-label": t("Project pages") },
    h("a", { href: "#/projects" }, t("All projects")),
    tabs.map(([key, label]) => h("a", { href: `${base}/${key}`, "aria-current": key === current ? "page" : null }, label)),
  );
}
