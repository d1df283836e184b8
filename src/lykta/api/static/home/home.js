// The home page's photo check: sends the photo to POST /api/v1/lookup with the token typed
// into the form as the bearer token, and shows the answer. The token stays in this page's
// memory for the one request; it is never stored.
"use strict";

(function () {
  const form = document.getElementById("check-form");
  const result = document.getElementById("result");

  function show(className, text) {
    result.className = className;
    result.replaceChildren();
    const line = document.createElement("p");
    line.textContent = text;
    result.appendChild(line);
  }

  function table(matches) {
    const columns = ["bank", "external_id", "kind", "distance", "transform"];
    const element = document.createElement("table");
    const head = element.createTHead().insertRow();
    for (const column of columns) {
      const cell = document.createElement("th");
      cell.textContent = column;
      head.appendChild(cell);
    }
    const body = element.createTBody();
    for (const match of matches) {
      const row = body.insertRow();
      for (const column of columns) {
        row.insertCell().textContent = match[column] === null ? "" : String(match[column]);
      }
    }
    return element;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const token = form.elements.token.value.trim();
    const body = new FormData();
    body.append("file", form.elements.file.files[0]);
    show("pending", "Checking…");
    let answer;
    try {
      answer = await fetch(form.dataset.lookup, {
        method: "POST",
        headers: { Authorization: "Bearer " + token },
        body: body,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      show("error", "The server could not be reached: " + error.message);
      return;
    }
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      show("error", "Error " + answer.status + ": " + (data.detail || answer.statusText));
      return;
    }
    if (data.matches.length) {
      show("match", data.matches.length + " match(es)" + (data.capped ? " (capped)" : "") + ":");
      result.appendChild(table(data.matches));
    } else if (data.suppressed_by.length) {
      show("no-match", "No match: a negative bank suppressed the matches:");
      result.appendChild(table(data.suppressed_by));
    } else {
      show("no-match", "No match.");
    }
  });
})();
