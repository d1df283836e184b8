// Keyboard shortcuts on a case page: a letter picks a decision and moves to the note;
// Ctrl+Enter (or Cmd+Enter) records it. Nothing is sent without the reviewer's Enter.
"use strict";
document.addEventListener("keydown", (event) => {
  const form = document.getElementById("decide");
  if (!form) return;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    if (form.reportValidity()) form.requestSubmit();
    return;
  }
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const choice = form.querySelector(`input[data-key="${CSS.escape(event.key)}"]`);
  if (choice) {
    event.preventDefault();
    choice.checked = true;
    form.querySelector("textarea").focus();
  }
});
