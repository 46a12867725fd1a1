// flowvault dashboard: small enhancements; every page works without this file.
"use strict";

// Filter a list as you type: <input data-filter="#list"> hides items whose data-name
// does not contain the text.
document.querySelectorAll("input[data-filter]").forEach((input) => {
  const list = document.querySelector(input.dataset.filter);
  if (!list) return;
  const items = list.querySelectorAll("[data-name]");
  const status = document.getElementById(input.getAttribute("aria-controls") + "-status");
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    items.forEach((item) => {
      const match = item.dataset.name.includes(q);
      item.hidden = !match;
      if (match) shown += 1;
    });
    if (status) status.textContent = shown + (shown === 1 ? " app" : " apps");
  });
});

// Buttons that ask first: <button data-confirm="…">.
document.querySelectorAll("[data-confirm]").forEach((button) => {
  button.addEventListener("click", (event) => {
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  });
});

// The flow editor's "+": the wizard in a dialog, for the action's app. When it ends, the new
// connection is added to the select and chosen; the editor's unsaved edits stay as they were.
const dialog = document.getElementById("connection-dialog");
if (dialog) {
  const frame = dialog.querySelector("iframe");
  let target = null;
  document.querySelectorAll("[data-new-connection]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      target = document.getElementById(link.dataset.target);
      frame.src = "/vault/new/" + encodeURIComponent(link.dataset.newConnection) + "?embed=1";
      dialog.showModal();
    });
  });
  dialog.querySelectorAll("[data-close-dialog]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  dialog.addEventListener("close", () => {
    frame.src = "about:blank";
    if (target) target.focus();
  });
  window.addEventListener("message", (event) => {
    if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
    const c = event.data && event.data.flowvaultConnection;
    if (!c || !target) return;
    const option = document.createElement("option");
    option.value = c.id;
    option.textContent = c.ready ? c.name : c.name + " — missing credentials";
    target.appendChild(option);
    target.value = c.id;
    target.dispatchEvent(new Event("change", { bubbles: true }));
    dialog.close();
  });
}

// Inside that dialog: the wizard's last page tells the editor what was created.
const created = document.getElementById("created-connection");
if (created && window.parent !== window) {
  window.parent.postMessage({
    flowvaultConnection: {
      id: created.dataset.id,
      name: created.dataset.name,
      app: created.dataset.app,
      ready: created.dataset.ready === "true",
    },
  }, window.location.origin);
}
