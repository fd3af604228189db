// Live transcoding status on the video list and change pages: polls the staff-only JSON endpoint
// (admin/video/video/status/?id=…) with the page's session and updates status, a progress bar
// and the failure reason in place, while any shown video is pending or processing.
import "./status.css";

const POLL_MS = 1000;
const ACTIVE = new Set(["pending", "processing"]);

// What the browser tests read: every progress value shown, in order.
window.vfStatus = { progress: [] };

function progressBar(cell) {
  let bar = cell.querySelector("progress.vf-progress");
  if (!bar) {
    cell.textContent = "";
    bar = document.createElement("progress");
    bar.className = "vf-progress";
    bar.max = 100;
    const label = document.createElement("span");
    label.className = "vf-progress-label";
    cell.append(bar, label);
  }
  return bar;
}

function showProgress(cell, percent) {
  const bar = progressBar(cell);
  bar.value = percent;
  window.vfStatus.progress.push(percent);
  cell.querySelector(".vf-progress-label").textContent = ` ${percent}%`;
}

function showStatus(cell, video) {
  cell.dataset.status = video.status;
  cell.textContent = video.status_label;
  if (video.error) {
    const reason = document.createElement("div");
    reason.className = "vf-failure";
    reason.textContent = video.error.split("\n")[0];
    reason.title = video.error;
    cell.append(reason);
  }
}

// Cells to update, per video id: the change list's rows, or the change page's read-only fields.
function listTargets() {
  const targets = new Map();
  document.querySelectorAll("#result_list tbody tr").forEach((row) => {
    const checkbox = row.querySelector("input.action-select");
    if (!checkbox) return;
    targets.set(checkbox.value, {
      status: row.querySelector("td.field-status"),
      progress: row.querySelector("td.field-progress_display"),
    });
  });
  return targets;
}

function changeTargets(id) {
  const cell = (name) => document.querySelector(`.form-row.field-${name} .readonly`);
  return new Map([[id, { status: cell("status"), progress: cell("progress"), error: cell("error_display"), page: true }]]);
}

function update(targets, videos) {
  let active = false;
  for (const video of videos) {
    const target = targets.get(String(video.id));
    if (!target) continue;
    active = active || ACTIVE.has(video.status);
    const wasActive = target.status && ACTIVE.has(target.status.dataset.status || "");
    if (target.status) showStatus(target.status, video);
    if (target.progress) showProgress(target.progress, video.progress);
    if (target.error) target.error.textContent = video.error || "-";
    if (target.page && wasActive && video.playable) readyNotice();
  }
  return active;
}

function readyNotice() {
  if (document.getElementById("vf-ready")) return;
  const notice = document.createElement("p");
  notice.id = "vf-ready";
  notice.className = "vf-ready";
  const link = document.createElement("a");
  link.href = window.location.href;
  link.textContent = "The video is ready: reload the page to preview it.";
  notice.append(link);
  document.querySelector("#content-main")?.prepend(notice);
}

async function poll(config, targets) {
  const ids = [...targets.keys()];
  if (!ids.length) return;
  const url = `${config.statusUrl}?${ids.map((id) => `id=${encodeURIComponent(id)}`).join("&")}`;
  let active = true;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) active = update(targets, (await response.json()).videos);
  } catch (error) {
    // A network blip: try again at the next tick.
  }
  if (active) window.setTimeout(() => poll(config, targets), POLL_MS);
}

function start() {
  const config = document.getElementById("vf-status");
  if (!config) return;
  const targets = config.dataset.videoIds ? changeTargets(config.dataset.videoIds) : listTargets();
  for (const target of targets.values()) {
    if (target.status) target.status.dataset.status = (target.status.textContent || "").trim().toLowerCase();
  }
  poll(config.dataset, targets);
}

document.addEventListener("DOMContentLoaded", start);
