// The resumable uploader of the video add and change pages (video/uploads/forms.py renders its
// element). Uppy's Dashboard shows progress, speed, time left, pause/resume and cancel; the
// backend plugin sends the file. An upload interrupted by a dropped network or a closed page
// resumes where the server says it stopped when the same file is chosen again (tus-js-client keeps
// the upload's URL in localStorage; with MEDIA_STORAGE=s3 Django finds the open multipart upload). When the server has checked the assembled file, its id goes
// into the hidden `upload` input and the form may be saved; a refusal shows the server's sentence.
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import AwsS3 from "@uppy/aws-s3";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";
import "./uploader.css";

// Django's answer as JSON, or an error carrying its sentence (serverSentence reads it).
async function postJson(url, body, csrfToken) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    const error = new Error(text);
    error.originalResponse = { getBody: () => text };
    throw error;
  }
  return JSON.parse(text);
}

// One entry per way of sending the file (video/uploads/forms.py names it).
const BACKENDS = {
  // MEDIA_STORAGE=s3: the parts go straight to the bucket with URLs Django signs. Before the
  // upload starts, Django names the multipart upload: the staff member's open one for the same
  // file name and size when there is one, so choosing the file again after a reload resumes it
  // (the plugin lists the parts already there and sends only the rest).
  s3(uppy, config, csrfToken) {
    // Django plans the parts (video/uploads/bucket.py part_bytes) and signs each URL for its
    // exact length, so the plugin must cut the file the same way: the size comes with `start`.
    const partBytes = new Map();
    uppy.addPreProcessor(async (fileIDs) => {
      for (const id of fileIDs) {
        const file = uppy.getFile(id);
        try {
          const upload = await postJson(config.endpoint, { filename: file.name, size: file.size }, csrfToken);
          partBytes.set(file.size, upload.partBytes);
          uppy.setFileState(id, { s3Multipart: { key: upload.key, uploadId: upload.uploadId } });
        } catch (error) {
          uppy.emit("upload-error", file, error); // a refusal (too large, empty) in the server's words
          throw error;
        }
      }
    });
    uppy.use(AwsS3, {
      shouldUseMultipart: true,
      getChunkSize: ({ size }) => partBytes.get(size),
      signRequest: (request) => postJson(`${config.endpoint}sign`, request, csrfToken),
    });
    // The parts are assembled in the bucket; Django now runs the checks of a plain upload.
    return async (file, response) => {
      const result = await postJson(`${config.endpoint}check`, { key: response.body.key }, csrfToken);
      return result.upload;
    };
  },

  tus(uppy, config, csrfToken) {
    uppy.use(Tus, {
      endpoint: config.endpoint,
      headers: { "X-CSRFToken": csrfToken },
      // 423 (another request still writing) and network errors are retried after these delays.
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
    });
    // The server checked the file when its last byte arrived; the upload's URL names it.
    return (file, response) => uploadId(response.uploadURL);
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
  const accepted = BACKENDS[element.dataset.backend](
    uppy,
    element.dataset,
    form.querySelector("[name=csrfmiddlewaretoken]").value,
  );
  const refuse = (error) => {
    input.value = "";
    element.dataset.state = "refused";
    say(serverSentence(error), true);
    allowSaving(!required);
  };

  uppy.on("file-added", () => {
    input.value = "";
    element.dataset.state = "uploading";
    say("", false);
    allowSaving(false);
  });
  uppy.on("upload-success", async (file, response) => {
    element.dataset.state = "checking";
    say("The upload is complete; checking the file…", false);
    try {
      input.value = await accepted(file, response);
    } catch (error) {
      refuse(error);
      return;
    }
    element.dataset.state = "accepted";
    say("The upload is complete and the file was accepted; save the video to keep it.", false);
    allowSaving(true);
  });
  uppy.on("upload-error", (file, error) => {
    // A request cut short by Cancel may still end in an error; the file is gone by then.
    if (file && !uppy.getFile(file.id)) return;
    refuse(error);
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
