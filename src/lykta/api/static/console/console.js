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

// Reveal on click (the reviewer's preference): a click, Enter or Space on a blurred item
// shows it and another hides it again; a revealed video keeps its clicks for its controls.
// On hover the stylesheet alone reveals, and without this script nothing is revealed.
function toggleReveal(item) {
  if (!document.body.classList.contains("reveal-click")) return;
  if (item.querySelector("video") && item.classList.contains("revealed")) return;
  item.classList.toggle("revealed");
}
document.addEventListener("click", (event) => {
  const item = event.target.closest(".media");
  if (item) toggleReveal(item);
});
document.addEventListener("keydown", (event) => {
  const item = event.target.closest && event.target.closest(".media");
  if (item && (event.key === "Enter" || event.key === " ") && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    toggleReveal(item);
  }
});
