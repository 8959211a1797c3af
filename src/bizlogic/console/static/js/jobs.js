// A job watched until it ends: progress, stage, cancel — by polling its status route.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { say, sayError } from "./status.js";

const POLL_MS = 1000;
const ENDED = new Set(["completed", "failed", "cancelled"]);

export async function watchJob(jobId, area) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": t("Analysis progress") });
  const label = h("span", { class: "stage" }, t("queued"));
  const cancel = h("button", { type: "button", class: "secondary" }, t("Cancel"));
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api("DELETE", `/jobs/${jobId}`);
    } catch (error) {
      sayError(error);
    }
  });
  replace(area, h("p", {}, t("Job"), " ", h("code", {}, jobId)), h("div", { class: "row" }, bar, label, cancel));
  for (;;) {
    const job = await api("GET", `/jobs/${jobId}`);
    bar.value = job.progress || 0;
    replace(label, `${jobStatus(job.status)} · ${job.stage || ""} · ${Math.round(100 * (job.progress || 0))}%`);
    if (ENDED.has(job.status)) {
      cancel.remove();
      if (job.status === "completed") {
        const r = job.results || {};
        say(t("Analysis completed: {rules} rules, {patterns} patterns, {insights} insights", { rules: r.rules, patterns: r.patterns, insights: r.insights }), "ok");
        area.append(h("p", {}, h("a", { href: `#/projects/${encodeURIComponent(job.project_id)}/rules` }, t("See the rules"))));
      } else {
        say(`${jobStatus(job.status)}: ${job.error || ""}`, job.status === "failed" ? "error" : "info");
      }
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function jobStatus(status) {
  const names = {
    queued: t("queued"),
    running: t("running"),
    completed: t("completed"),
    failed: t("failed"),
    cancelled: t("cancelled"),
  };
  return names[status] || status;
}
