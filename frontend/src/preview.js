// The preview player on a playable video's change page: hls.js plays the master playlist that the
// staff session may read (admin/video/video/<id>/preview/master.m3u8); its rung playlists carry
// segment URLs signed for this staff member (the viewer API's, or presigned URLs of the store
// with MEDIA_STORAGE=s3). A menu picks a rung or automatic switching.
import Hls from "hls.js";

// What the browser tests read: fatal player errors and loaded fragments.
window.vfPreview = { errors: [], fragments: 0 };

function start() {
  const video = document.getElementById("vf-preview-video");
  if (!video) return;
  const menu = document.getElementById("vf-preview-rung");
  const problem = document.querySelector(".vf-preview-error");
  const report = (text) => {
    window.vfPreview.errors.push(text);
    problem.textContent = `The player stopped: ${text}`;
    problem.hidden = false;
  };
  if (!Hls.isSupported()) {
    report("this browser cannot play HLS with Media Source Extensions.");
    return;
  }
  const hls = new Hls();
  hls.on(Hls.Events.MANIFEST_PARSED, (event, data) => {
    data.levels.forEach((level, index) => {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = `${level.height}p (${Math.round(level.bitrate / 1000)} kbit/s)`;
      menu.append(option);
    });
  });
  hls.on(Hls.Events.FRAG_LOADED, () => { window.vfPreview.fragments += 1; });
  // Fatal errors only: hls.js recovers from the others itself.
  hls.on(Hls.Events.ERROR, (event, data) => { if (data.fatal) report(data.details); });
  menu.addEventListener("change", () => { hls.currentLevel = Number(menu.value); });
  hls.loadSource(video.dataset.master);
  hls.attachMedia(video);
}

document.addEventListener("DOMContentLoaded", start);
