// The resumable uploader of the video add and change pages (video/uploads/forms.py renders its
// element). Uppy's Dashboard shows progress, speed, time left, pause/resume and cancel; the
// backend plugin sends the file. An upload interrupted by a dropped network or a closed page
// resumes where the server says it stopped when the same file is chosen again (tus-js-client keeps
// the upload's URL in localStorage). When the server has checked the assembled file, its id goes
// into the hidden `upload` input and the form may be saved; a refusal shows the server's sentence.
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";
import "./uploader.css";

// One entry per way of sending the file; a browser-to-bucket backend would add its plugin here.
const BACKENDS = {
  tus(uppy, config, csrfToken) {
    uppy.use(Tus, {
      endpoint: config.endpoint,
      headers: { "X-CSRFToken": csrfToken },
      // 423 (another request still writing) and network errors are retried after these delays.
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
    });
  },
};

const FALLBACK_SENTENCE = "The upload failed; check the connection and choose the file again.";

function serverSentence(error) {
  let cause = error;
  while (cause && !cause.originalResponse) cause = cause.cause;
  const body = cause && cause.originalResponse && cause.originalResponse.getBody();
  return (body && body.trim()) || FALLBACK_SENTENCE;
}

function uploadId(uploadUrl) {
  return new URL(uploadUrl, window.location.href).pathname.replace(/\/$/, "").split("/").pop();
}

function mount(element) {
  const form = element.closest("form");
  const input = document.getElementById(element.dataset.input);
  const message = element.closest(".vf-upload").querySelector(".vf-upload-message");
  const required = element.dataset.required === "true";
  const saveButtons = form.querySelectorAll(".submit-row input[type=submit]");
  const allowSaving = (allowed) => saveButtons.forEach((button) => { button.disabled = !allowed; });
  const say = (text, refused) => {
    message.textContent = text;
    message.classList.toggle("errornote", refused);
    message.hidden = !text;
  };
  // The plain field is the fallback without JavaScript; with the uploader it is not sent.
  const plainRow = form.querySelector(".form-row.field-source");
  if (plainRow) {
    plainRow.hidden = true;
    plainRow.querySelectorAll("input[type=file]").forEach((field) => { field.disabled = true; });
  }
  allowSaving(!required);

  const uppy = new Uppy({
    autoProceed: true,
    restrictions: { maxNumberOfFiles: 1, maxFileSize: Number(element.dataset.maxBytes) },
  });
  uppy.use(Dashboard, {
    target: element,
    inline: true,
    height: 320,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
  });
  BACKENDS[element.dataset.backend](uppy, element.dataset, form.querySelector("[name=csrfmiddlewaretoken]").value);

  uppy.on("file-added", () => {
    input.value = "";
    element.dataset.state = "uploading";
    say("", false);
    allowSaving(false);
  });
  uppy.on("upload-success", (file, response) => {
    input.value = uploadId(response.uploadURL);
    element.dataset.state = "accepted";
    say("The upload is complete and the file was accepted; save the video to keep it.", false);
    allowSaving(true);
  });
  uppy.on("upload-error", (file, error) => {
    input.value = "";
    element.dataset.state = "refused";
    say(serverSentence(error), true);
    allowSaving(!required);
  });
  uppy.on("file-removed", () => {
    input.value = "";
    element.dataset.state = "";
    allowSaving(!required);
  });
  window.vfUploader = uppy;
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".vf-uploader").forEach(mount);
});
