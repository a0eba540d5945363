// The denial worklist on the page: asks GET /v1/worklist (the session stands in for the API key;
// a GET needs no CSRF token) and shows the signed-in key's own denied claims in the order the
// service ranks them, each with its step, fix, expected recovery, deadline and letter draft.
// Nothing of a claim goes into a URL. Its own script, beside page.js, so the two stay small.
"use strict";

(function () {
  const load = document.getElementById("worklist-load");
  if (!load) return;
  const $ = (id) => document.getElementById(id);
  const status = $("worklist-status");
  const words = (key) => String(key).replace(/_/g, " ");
  const money = (amount) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(amount || 0);
  const PARTY = { CO: "provider (CO)", PR: "patient (PR)", OA: "provider (OA)", PI: "provider (PI)" };

  function cell(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function letterCell(row) {
    const td = cell("td");
    if (!row.letter) { td.textContent = "—"; return td; }
    if (!row.letter.startsWith("#")) { td.textContent = row.letter; return td; } // why no letter is offered
    const details = cell("details");
    // the draft scrolls (page.css .letter): focusable, so a keyboard can scroll it too
    details.append(cell("summary", "Letter draft"), cell("pre", row.letter, {
      class: "letter", tabindex: "0", "aria-label": `Letter draft for claim ${row.claim_id}` }));
    td.append(details);
    return td;
  }

  function stepCell(row) {
    const td = cell("td");
    td.append(cell("strong", words(row.step)));
    td.append(cell("p", row.instruction, { class: "small" }));
    if (row.fix) td.append(cell("p", `Fix: ${row.fix}`, { class: "small" }));
    return td;
  }

  function show(body) {
    const rows = $("worklist-rows");
    rows.replaceChildren();
    for (const row of body.rows) {
      const tr = cell("tr", undefined, { "data-claim-id": row.claim_id, "data-expected-recovery": row.expected_recovery });
      tr.append(cell("td", String(row.rank)), cell("th", row.claim_id, { scope: "row" }),
        cell("td", `${row.carc}: ${row.description}`), cell("td", PARTY[row.group_code] || row.group_code),
        stepCell(row),
        cell("td", money(row.expected_recovery) + (row.resubmission_probability === null ? "" :
          ` (${(row.resubmission_probability * 100).toFixed(1)}% of ${money(row.amount_at_stake)})`)),
        cell("td", row.next_deadline || "—"), letterCell(row));
      rows.append(tr);
    }
    $("worklist-result").hidden = body.rows.length === 0;
    status.textContent = body.rows.length === 0
      ? "No denied claims of this key are recorded yet."
      : `${body.denied_claims} denied claims, expected recovery ${money(body.expected_recovery)}.`;
  }

  function explain(response, body) {
    if (response.status === 401) return "Your sign-in has ended. Reload the page and sign in again.";
    if (response.status === 429) return `Too many requests just now. Please wait ${response.headers.get("Retry-After") || "a few"} seconds and try again.`;
    if (response.status === 503) return "The service is still loading its model. Please try again in a few seconds.";
    if (response.status === 422 && body && body.code === "worklist_too_large")
      return "Too many denied claims to list here at once: ask the billing office for the worklist file (medspa-coverage outcomes worklist).";
    return "The worklist could not be shown. Please try again.";
  }

  load.addEventListener("click", async () => {
    load.disabled = true;
    status.textContent = "Reading the denials and scoring each fix…";
    try {
      const response = await fetch("/v1/worklist", { credentials: "same-origin", headers: { Accept: "application/json" } });
      let body = null;
      try { body = await response.json(); } catch (error) { body = null; }
      if (response.ok) show(body); else { $("worklist-result").hidden = true; status.textContent = explain(response, body); }
    } catch (error) {
      status.textContent = "The service did not answer. Check the connection and try again.";
    } finally {
      load.disabled = false;
    }
  });
})();
