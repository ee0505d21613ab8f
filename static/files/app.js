// hubdesk: small enhancements; every page works without this file.
"use strict";
document.addEventListener("click", (ev) => {
  const confirmBtn = ev.target.closest("[data-confirm]");
  if (confirmBtn && !window.confirm(confirmBtn.dataset.confirm)) {
    ev.preventDefault();
    return;
  }
  // Copy buttons copy the value of the field they name; the field stays
  // selectable for browsers without clipboard access.
  const copyBtn = ev.target.closest("[data-copy]");
  if (copyBtn) {
    const field = document.getElementById(copyBtn.dataset.copy);
    if (!field) return;
    field.select();
    const done = () => {
      copyBtn.textContent = "Copied";
      setTimeout(() => { copyBtn.textContent = "Copy"; }, 1500);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, () => document.execCommand("copy") && done());
    } else if (document.execCommand("copy")) {
      done();
    }
  }
});
