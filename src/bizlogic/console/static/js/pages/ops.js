// Operations (system administrators): health, recent jobs, maintenance runs, recovery
// history with pause / resume, and links to Prometheus and Grafana when configured.

import { api } from "../api.js";
import { h, number, replace, when } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../session.js";
import { say, sayError, sayNext } from "../status.js";
import { jobStatus } from "../jobs.js";

export async function show(main) {
  if (!can("bl.admin_system")) {
    replace(main, h("h1", {}, t("Operations")), h("p", {}, t("Only system administrators see this page.")));
    return;
  }
  const [health, jobs, runs, recovery, links] = await Promise.all([
    fetch("/api/business-logic/health").then((r) => r.json()),
    api("GET", "/jobs", { query: { limit: 20 } }),
    api("GET", "/maintenance/runs", { query: { limit: 10 } }),
    api("GET", "/recovery/history", { query: { hours: 168 } }),
    api("GET", "/console/links"),
  ]);
  replace(
    main,
    h("h1", {}, t("Operations")),
    healthCard(health, links),
    jobsTable(jobs.jobs),
    runsTable(runs.runs || runs),
    recoveryCard(recovery),
  );
}

function healthCard(health, links) {
  const checks = Object.entries(health.checks || {});
  return h(
    "section",
    { class: "card", "aria-labelledby": "health-title" },
    h("h2", { id: "health-title" }, t("Health: {status}", { status: health.status })),
    h(
      "dl",
      { class: "counts" },
      checks.map(([name, check]) => [
        h("dt", {}, name),
        h("dd", { class: check.status === "up" ? "ok" : "bad" }, [check.status, check.dialect || check.backend || "", check.latency_ms !== undefined ? `${number(check.latency_ms, 1)} ms` : "", check.pending !== undefined ? t("{n} pending", { n: check.pending }) : ""].filter(Boolean).join(" · ")),
      ]),
    ),
    h(
      "p",
      { class: "links" },
      links.prometheus ? h("a", { href: links.prometheus, rel: "noopener noreferrer", target: "_blank" }, "Prometheus") : null,
      links.grafana ? h("a", { href: links.grafana, rel: "noopener noreferrer", target: "_blank" }, "Grafana") : null,
      !links.prometheus && !links.grafana ? t("Set BL_PROMETHEUS_URL and BL_GRAFANA_URL to link the dashboards here.") : null,
    ),
  );
}

function table(label, head, rows) {
  return h(
    "table",
    { class: "grid", "aria-label": label },
    h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows),
  );
}

function jobsTable(jobs) {
  return h(
    "section",
    { "aria-labelledby": "jobs-title" },
    h("h2", { id: "jobs-title" }, t("Recent analyses")),
    jobs.length
      ? table(
          t("Recent analyses"),
          [t("Job"), t("Project"), t("Status"), t("Requested by"), t("Created"), t("Duration")],
          jobs.map((j) =>
            h(
              "tr",
              {},
              h("td", {}, h("code", {}, j.job_id.slice(0, 8))),
              h("td", {}, j.project_id),
              h("td", {}, jobStatus(j.status), j.error ? h("small", { class: "error" }, ` ${j.error}`) : null),
              h("td", {}, j.requested_by || ""),
              h("td", {}, when(j.created_at)),
              h("td", { class: "num" }, j.started_at && j.finished_at ? `${number((new Date(j.finished_at) - new Date(j.started_at)) / 1000, 1)} s` : "—"),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("No analysis yet.")),
  );
}

function runsTable(runs) {
  return h(
    "section",
    { "aria-labelledby": "runs-title" },
    h("h2", { id: "runs-title" }, t("Maintenance runs")),
    runs.length
      ? table(
          t("Maintenance runs"),
          [t("Started"), t("Status"), t("Steps"), t("Error")],
          runs.map((r) =>
            h(
              "tr",
              {},
              h("td", {}, when(r.started_at)),
              h("td", {}, r.status),
              h("td", {}, Object.keys(r.steps || r.results || {}).join(", ")),
              h("td", {}, r.error || ""),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("No maintenance run recorded: schedule `bizlogic maintain` (the shipped timer runs it daily).")),
  );
}

function recoveryCard(recovery) {
  const paused = recovery.paused;
  const reason = h("input", { name: "reason", placeholder: t("why (shown in the history)") });
  const button = h("button", { type: "button", class: paused ? "" : "danger" }, paused ? t("Resume recovery") : t("Pause recovery"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (paused) await api("POST", "/recovery/resume");
      else await api("POST", "/recovery/pause", { body: { reason: reason.value || undefined } });
      sayNext(paused ? t("Recovery resumed") : t("Recovery paused"), "ok");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      button.disabled = false;
      sayError(error);
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "recovery-title" },
    h("h2", { id: "recovery-title" }, t("Auto-recovery")),
    h("p", { class: paused ? "bad" : "ok" }, paused ? t("Paused since {since}: {reason}", { since: when(paused.since), reason: [paused.reason, paused.by].filter(Boolean).join(" · ") }) : t("Active: failures are acted on (in the configured mode).")),
    h("div", { class: "row" }, paused ? null : reason, button),
    recovery.events.length
      ? table(
          t("Recovery history"),
          [t("Time"), t("Trigger"), t("Failure"), t("Host"), t("Action"), t("Outcome"), t("Dry run")],
          recovery.events.slice(0, 50).map((e) =>
            h(
              "tr",
              {},
              h("td", {}, when(e.created_at)),
              h("td", {}, e.trigger),
              h("td", {}, e.failure_type || ""),
              h("td", {}, e.host || ""),
              h("td", {}, e.action || "—"),
              h("td", {}, e.outcome),
              h("td", {}, e.dry_run ? t("yes") : ""),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("No recovery event in the last 7 days.")),
  );
}
