// The front desk's page: builds a claim from the form, asks POST /v1/predict (the session stands in
// for the API key; the CSRF token goes in a header), and shows the answer; scores a claims file
// through /v1/files. No claim data ever goes into a URL: the diagnosis look-up sends only the words
// typed into the search box, and a file's URLs carry only its job id.
"use strict";

(function () {
  const form = document.getElementById("visit-form");
  if (!form) return;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const thresholds = { approved: Number(form.dataset.approved), denied: Number(form.dataset.denied) };
  const banner = document.getElementById("banner");
  const answer = document.getElementById("answer");
  const chosen = document.getElementById("diagnosis-chosen");
  const $ = (id) => document.getElementById(id);
  let catalog = [];
  let diagnoses = []; // [{code, description, billable}]

  // decision -> its words, from the server (service/page.py DECISION_LABELS), in the order to list them
  const DECISION_LABELS = Object.fromEntries(JSON.parse(form.dataset.decisions));
  const COVERED = { covered: "Covered", "not-covered": "Not covered", conditional: "Covered if the conditions are met" };
  const PA = {
    "auth-needed": "Prior authorization is needed", "no-auth": "No prior authorization needed",
    satisfied: "Prior authorization obtained", performpa: "Ask the plan for prior authorization now",
    conditional: "Prior authorization may be needed",
  };
  const DOCS = {
    clinical: "Clinical notes", admin: "Administrative paperwork (authorization, referral, letter)",
    both: "Clinical notes and administrative paperwork", conditional: "Depends on the case",
  };
  const INFO = {
    performer: "who performs it", location: "where it is done", timeframe: "when and how often",
    contract: "the plan's contract", "detail-code": "a more specific code", "option-code": "the option chosen",
    other: "other details",
  };
  // recommendation -> the form change that follows it
  const APPLY = {
    obtain_prior_authorization: { prior_authorization: true },
    obtain_referral: { referral: true },
    attach_medical_necessity_letter: { medical_necessity_letter: true },
    document_conservative_therapy: { conservative_therapy_documented: true },
    use_in_network_provider: { in_network: true },
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }
  const percent = (p) => `${(p * 100).toFixed(1)}%`;
  const words = (key) => String(key).replace(/_/g, " ");
  const money = (amount) => (amount === null || amount === undefined ? "no limit" :
    new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(amount));

  // -- talking to the API ------------------------------------------------------------------------
  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.body ? { "Content-Type": "application/json" } : {}) };
    if ((options.method || "GET") !== "GET") headers["X-CSRFToken"] = csrfToken;
    let response;
    try {
      response = await fetch(path, { credentials: "same-origin", ...options, headers });
    } catch (error) {
      throw { status: 0, body: { message: "The service did not answer. Check the connection and try again." } };
    }
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    if (!response.ok) throw { status: response.status, body: body || {}, retryAfter: response.headers.get("Retry-After") };
    return body;
  }

  function showBanner(message) {
    banner.textContent = message;
    banner.hidden = false;
  }
  function clearErrors() {
    banner.hidden = true;
    banner.textContent = "";
    for (const node of form.querySelectorAll(".field-error")) { node.hidden = true; node.textContent = ""; }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  // An API error next to its fields, or as a banner; never the raw JSON.
  function showError(error) {
    const status = error.status;
    if (status === 401) {
      showBanner("Your sign-in has ended. Reload the page and sign in again.");
    } else if (status === 403) {
      showBanner("This page is out of date. Reload it and ask again.");
    } else if (status === 429) {
      showBanner(`Too many requests just now. Please wait ${error.retryAfter || "a few"} seconds and ask again.`);
    } else if (status === 503) {
      showBanner("The service is still loading its model. Please ask again in a few seconds.");
    } else if (status === 422 && error.body.errors) {
      const unplaced = [];
      let first = null;
      for (const item of error.body.errors) {
        const name = String(item.field || "").replace(/\[\d+\]$/, "").split(".")[0];
        const slot = $(`${name}-error`);
        if (!slot) { unplaced.push(`${words(item.field || "the visit")}: ${item.message}`); continue; }
        slot.textContent = `${slot.textContent ? slot.textContent + " " : ""}${fieldLabel(name)} ${item.message}.`;
        slot.hidden = false;
        const input = $(name) || $("diagnosis-search");
        if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
      }
      if (unplaced.length || !first) showBanner(`Please correct the visit: ${unplaced.join("; ") || error.body.message}.`);
      else showBanner("Please correct the fields marked below.");
      if (first) first.focus();
    } else {
      showBanner(error.body && error.body.message ? `The service could not answer: ${error.body.message}.` :
        "The service could not answer. Please try again.");
    }
  }
  function fieldLabel(name) {
    const label = document.querySelector(`label[for="${name}"]`);
    return label ? label.firstChild.textContent.trim() + ":" : words(name) + ":";
  }

  // -- the treatment picker ----------------------------------------------------------------------
  async function loadCatalog() {
    const select = $("treatment");
    const initial = select.dataset.initial;
    try {
      catalog = (await api("/v1/treatments")).treatments;
    } catch (error) { showError(error); return; }
    select.replaceChildren(...catalog.map((row) => el("option", { value: row.treatment,
      text: `${row.description} (${row.procedure_codes.join(", ")})` })));
    select.value = initial;
    fillProcedureCodes($("procedure_code").dataset.initial);
  }
  function fillProcedureCodes(preferred) {
    const row = catalog.find((item) => item.treatment === $("treatment").value);
    const select = $("procedure_code");
    const options = [el("option", { value: "", text: "from the treatment" })];
    for (const code of row ? row.procedure_codes : []) options.push(el("option", { value: code, text: code }));
    select.replaceChildren(...options);
    select.value = row && row.procedure_codes.includes(preferred) ? preferred : "";
  }
  $("treatment").addEventListener("change", () => fillProcedureCodes(""));

  // -- diagnoses ---------------------------------------------------------------------------------
  function renderChosen() {
    chosen.replaceChildren(...diagnoses.map((item, index) => el("li", { class: "chip" },
      el("span", { text: `${item.code}${item.description ? " · " + item.description : ""}${item.billable === false ? " (header code: not billable)" : ""}` }),
      removeButton(item, index))));
    if (!diagnoses.length) chosen.append(el("li", { class: "muted", text: "None yet: search above and add one." }));
  }
  function removeButton(item, index) {
    const button = el("button", { type: "button", class: "link", "aria-label": `Remove ${item.code}`, text: "Remove" });
    button.addEventListener("click", () => { diagnoses.splice(index, 1); renderChosen(); $("diagnosis-search").focus(); });
    return button;
  }
  async function searchDiagnoses() {
    const query = $("diagnosis-search").value.trim();
    const list = $("diagnosis-results");
    const status = $("diagnosis-results-status");
    const noMatch = $("diagnosis-no-match");
    noMatch.hidden = true;
    if (!query) { list.replaceChildren(); status.textContent = "Type a code or words to search."; return; }
    let found;
    try {
      // the search words only, never the visit: the look-up is a GET the browser does not keep
      found = (await api(`/v1/diagnoses?${new URLSearchParams({ q: query, limit: "15" })}`)).diagnoses;
    } catch (error) { showError(error); return; }
    list.replaceChildren(...found.map((item) => {
      // the accessible name starts with the visible text (WCAG 2.5.3) and says what a press does
      const button = el("button", { type: "button", class: "result" },
        el("span", { class: "code", text: item.code }), " ",
        el("span", { text: item.description }), " ",
        el("span", { class: item.billable ? "tag tag-ok" : "tag tag-warn", text: item.billable ? "billable" : "header code, not billable" }),
        el("span", { class: "visually-hidden", text: ": add to the claim" }));
      button.addEventListener("click", () => {
        if (!diagnoses.some((known) => known.code === item.code)) diagnoses.push(item);
        renderChosen();
        status.textContent = `${item.code} added.`;
        $("diagnosis-search").focus();
      });
      return el("li", {}, button);
    }));
    status.textContent = found.length ? `${found.length} diagnoses found.` : "No diagnosis found. Try other words.";
    // visible too: an empty list alone looks like a search still running (ICD-10-CM words are medical:
    // "wrinkles" finds nothing, and a cosmetic concern is not a diagnosis)
    noMatch.textContent = found.length ? "" : `No ICD-10-CM diagnosis matches “${query}”. The codes use medical words ` +
      "(“migraine”, “hyperhidrosis”, “dermatochalasis”): try other words or a code such as G43.7.";
    noMatch.hidden = found.length > 0;
  }
  $("diagnosis-search-button").addEventListener("click", searchDiagnoses);
  $("diagnosis-search").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); searchDiagnoses(); }
  });

  // -- the claim ---------------------------------------------------------------------------------
  function claimFromForm() {
    const claim = {};
    for (const input of form.querySelectorAll("[data-kind]")) {
      const value = input.value.trim();
      if (input.dataset.kind === "boolean") claim[input.name] = input.checked;
      else if (value === "") continue; // optional: the contract's default (required ones: the API says so)
      else if (input.dataset.kind === "number") claim[input.name] = input.validity.badInput ? value : Number(value);
      else claim[input.name] = value;
    }
    claim.diagnosis_codes = diagnoses.map((item) => item.code);
    return claim;
  }

  let answeredClaim = null; // the claim of the answer shown: a letter is drafted for it
  async function ask() {
    clearErrors();
    answer.setAttribute("aria-busy", "true");
    $("ask").disabled = true;
    try {
      const claim = claimFromForm();
      const result = await api("/v1/predict", { method: "POST", body: JSON.stringify(claim) });
      answeredClaim = claim;
      showAnswer(result);
      // the patient-cost panel (cost.js) follows each answer with its claim
      document.dispatchEvent(new CustomEvent("coverage:answer", { detail: { claim, result } }));
    } catch (error) {
      // the answer on screen was for another visit: never leave it beside the form that failed
      clearAnswer(error.status === 422 ? "No answer: correct the fields marked in the form and ask again." :
        "No answer: the service could not answer this visit (see the message above).");
      showError(error);
    } finally {
      answer.setAttribute("aria-busy", "false");
      $("ask").disabled = false;
    }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); ask(); });

  // -- the answer --------------------------------------------------------------------------------
  function clearAnswer(message) {
    $("answer-body").hidden = true;
    $("answer-empty").textContent = message;
    $("answer-empty").hidden = false;
    delete answer.dataset.decision;
    delete answer.dataset.probability;
    answeredClaim = null;
  }
  function showAnswer(result) {
    $("applied").hidden = true;
    $("answer-empty").hidden = true;
    $("answer-body").hidden = false;
    const badge = $("decision");
    badge.textContent = DECISION_LABELS[result.decision] || words(result.decision);
    badge.className = `decision-badge decision-${result.decision}`;
    answer.dataset.decision = result.decision;
    answer.dataset.probability = String(result.approval_probability);
    $("probability-text").textContent = `Chance of being paid: ${percent(result.approval_probability)}`;
    $("gauge-fill").style.width = percent(result.approval_probability);
    $("gauge-fill").className = `gauge-fill decision-${result.decision}`;
    $("gauge-mark-denied").style.left = percent(thresholds.denied);
    $("gauge-mark-approved").style.left = percent(thresholds.approved);
    $("gauge-legend").textContent = `Below ${percent(thresholds.denied)}: likely denied. ` +
      `From ${percent(thresholds.approved)}: likely paid. In between: uncertain.`;

    section("rules", result.excluded_by, ruleItem);
    section("learned", result.rules_learned_from_history, ruleItem);
    section("recommendations", result.recommendations, (item) => recommendationItem(item, result.recommendations));
    $("summary").textContent = result.summary;
    showWhy(result.reasons);
    section("reasons", result.likely_denial_reasons, (item) =>
      el("li", {}, el("strong", { text: `${percent(item.probability)} ` }), `${item.description} (reason code ${item.carc})`));
    section("warnings", result.warnings || [], (item) => el("li", { text: item.message || words(item.code || "") }));
    // A letter is offered where the answer asks for documents or its likely denial is medical
    // necessity (CARC 50 or 252), never for a claim any rule fires on, whether it excludes the claim
    // or the payer's history overrules it (service/letters.py refuses both, naming the rule).
    const ruleFired = result.excluded_by.length > 0 || (result.rules_learned_from_history || []).length > 0;
    $("letter-section").hidden = ruleFired || !(
      ["clinical", "both"].includes(result.coverage_information.doc_needed) ||
      result.likely_denial_reasons.some((item) => ["50", "252"].includes(item.carc)) ||
      result.recommendations.some((item) => item.action === "attach_medical_necessity_letter"));
    $("letter").hidden = true;
    $("letter-download").hidden = true;

    const coverage = result.coverage_information;
    facts($("coverage"), [
      ["Coverage", COVERED[coverage.covered] || coverage.covered],
      ["Prior authorization", coverage.pa_needed ? PA[coverage.pa_needed] || coverage.pa_needed
        : "not applicable: no authorization makes an excluded service covered"],
      ["Documents", coverage.doc_needed ? DOCS[coverage.doc_needed] || coverage.doc_needed : "none stated"],
      ["The plan will want to know", coverage.info_needed.length ? coverage.info_needed.map((key) => INFO[key] || key).join(", ") : "nothing more"],
      ["The payer's history", coverage.sources.payer_history || "nothing beyond the plan's rules"],
      ["If denied", result.liability.description],
    ]);
    const payment = result.expected_payment;
    facts($("payment"), [
      ["Expected payment", money(payment.amount)],
      ["The plan pays if approved", money(payment.payable_if_approved)],
      ["Billed", money(payment.billed_amount)],
      ["Benefit left", money(payment.benefit_remaining)],
    ]);
    $("model-version").textContent = `Model ${result.model.name} version ${result.model.version}` +
      `${result.model.alias ? " (" + result.model.alias + ")" : ""}; rules ${result.rules_version}; request ${result.request_id}.`;
  }

  async function draftLetter() {
    clearErrors();
    $("draft-letter").disabled = true;
    try {
      const letter = await api("/v1/letters", { method: "POST", body: JSON.stringify({ claim: answeredClaim }) });
      $("letter").textContent = letter.markdown;
      $("letter").hidden = false;
      const link = $("letter-download");
      if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([letter.html], { type: "text/html" })); // no claim data in a URL
      link.hidden = false;
    } catch (error) {
      showError(error);
    } finally {
      $("draft-letter").disabled = false;
    }
  }
  $("draft-letter").addEventListener("click", draftLetter);

  function section(name, items, render) {
    $(`${name}-section`).hidden = !items.length;
    $(name).replaceChildren(...items.map(render));
  }
  function facts(list, rows) {
    list.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
  }
  function ruleItem(rule) {
    const history = rule.history || {};
    const record = history.claims ? ` In the payer's history: ${history.paid} of ${history.claims} such claims paid.` : "";
    return el("li", {}, el("strong", { text: rule.reason }), ` (reason code ${rule.carc}). `,
      el("span", { class: "muted", text: `Source: ${rule.source}.${record}` }));
  }
  // -- why: the reasons for a person, as a table and a waterfall ---------------------------------
  // The table is what a screen reader reads; the chart (SHAP's waterfall: each reason a bar from the
  // chance before it to the chance after it) repeats it for the eye and is hidden from assistive tech.
  const points = (value) => `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(1)}`;
  const tenthsSum = (a, b) => Math.round((a + b) * 10) / 10;
  let whySteps = null;
  // the chart's row labels: short, so they fit its left column at 390 px (the table says it in full)
  const CHART_LABELS = {
    prior_authorization: "authorization", referral: "referral", medical_necessity_letter: "letter",
    conservative_therapy_documented: "first-line therapy", in_network: "network", treatment: "treatment",
    procedure_code: "procedure code", plan_type: "plan", benefit_scope: "benefit scope", facility_type: "facility",
    place_of_service: "place of service", diagnosis_codes: "diagnosis", visit_number: "visit number",
    weeks_since_last_treatment: "weeks since last", benefit_remaining: "benefit left", billed_amount: "amount",
    patient_age: "age", service_date: "date", floor: "floor", rule: "rule",
  };
  function waterfallSteps(reasons) {
    const steps = [{ label: "start", text: `Starting chance: ${reasons.start}`, from: 0, to: reasons.start_percent, kind: "total" }];
    let at = reasons.start_percent;
    const rows = reasons.items.map((item) => ({ label: CHART_LABELS[item.input] || words(item.input), text: item.text, points: item.points }));
    if (reasons.everything_else_points || reasons.everything_else_inputs.length) {
      rows.push({ label: "everything else", points: reasons.everything_else_points,
        text: `Everything else (${reasons.everything_else_inputs.length} more inputs, each small)` });
    }
    for (const row of rows) {
      const to = tenthsSum(at, row.points);
      steps.push({ ...row, from: at, to, kind: row.points >= 0 ? "raises" : "lowers" });
      at = to;
    }
    steps.push({ label: "this claim", text: "This claim's chance", from: 0, to: reasons.end_percent, kind: "total" });
    return steps;
  }
  function showWhy(reasons) {
    whySteps = waterfallSteps(reasons);
    $("why-section").hidden = false;
    $("why-start").textContent = `From the chance of ${reasons.start} (${reasons.start_percent.toFixed(1)}%), each reason ` +
      `adds or takes away percentage points; together they give this claim's ${reasons.end_percent.toFixed(1)}%.`;
    $("why-table").tBodies[0].replaceChildren(...whySteps.map((step) => el("tr", { class: `why-${step.kind}` },
      el("th", { scope: "row", text: step.text }),
      el("td", { class: "number", text: step.kind === "total" ? "" : points(step.points) }),
      el("td", { class: "number", text: `${step.to.toFixed(1)}%` }))));
    drawWaterfall();
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function drawWaterfall() {
    const box = $("why-chart");
    if (!whySteps || $("why-section").hidden) return;
    // drawn at the box's own width (a viewBox of that many units), so its text keeps the page's size
    const width = Math.max(260, Math.round(box.clientWidth || 520));
    const row = 24, top = 8, bottom = 22;
    const labelWidth = Math.min(150, Math.round(width * 0.36));
    const valueRoom = 46;
    const x = (percent) => labelWidth + (Math.min(Math.max(percent, 0), 100) / 100) * (width - labelWidth - valueRoom);
    const height = top + whySteps.length * row + bottom;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "waterfall-svg", "aria-hidden": "true", focusable: "false" });
    for (const tick of [0, 25, 50, 75, 100]) {
      chart.append(svg("line", { x1: x(tick), x2: x(tick), y1: top, y2: height - bottom + 4, class: "wf-grid" }));
      chart.append(svg("text", { x: x(tick), y: height - 6, "text-anchor": "middle", class: "wf-tick" }, `${tick}%`));
    }
    whySteps.forEach((step, index) => {
      const y = top + index * row;
      const left = x(Math.min(step.from, step.to)), right = x(Math.max(step.from, step.to));
      chart.append(svg("text", { x: labelWidth - 6, y: y + row * 0.68, "text-anchor": "end", class: "wf-label" }, step.label));
      chart.append(svg("rect", { x: left, y: y + 4, width: Math.max(2, right - left), height: row - 8, rx: 2, class: `wf-bar wf-${step.kind}` }));
      chart.append(svg("text", { x: right + 4, y: y + row * 0.68, class: "wf-value" },
        step.kind === "total" ? `${step.to.toFixed(1)}%` : points(step.points)));
      if (index + 1 < whySteps.length) {  // the connector to the next bar's start, as in SHAP's plot
        chart.append(svg("line", { x1: x(step.to), x2: x(step.to), y1: y + row - 4, y2: y + row + 4, class: "wf-link" }));
      }
    });
    box.replaceChildren(chart);
  }
  // redrawn whenever its box changes width (before the next paint), so its text stays the page's size
  let chartWidth = 0;
  new ResizeObserver((entries) => {
    const width = Math.round(entries[0].contentRect.width);
    // drawn in the next frame, not in the observer's callback: the chart's new height would be
    // another resize in the same delivery, which the browser reports as a loop error
    if (width && width !== chartWidth) { chartWidth = width; requestAnimationFrame(drawWaterfall); }
  }).observe($("why-chart"));

  function changesFor(item, all) {
    if (APPLY[item.action]) return APPLY[item.action];
    if (item.action === "see_physician_office" && item.facility_type) {
      return { facility_type: item.facility_type, place_of_service: "" };
    }
    if (item.action === "bill_specific_diagnosis_code" && item.diagnosis_codes) {
      return { diagnosis_codes: item.diagnosis_codes };
    }
    if (item.action === "wait_for_repeat_interval" && item.date) {
      // the same visit on the earliest covered date: the weeks since the last session grow by the wait
      const visit = $("service_date").value || new Date().toISOString().slice(0, 10);
      const waited = (Date.parse(item.date) - Date.parse(visit)) / (7 * 24 * 3600 * 1000);
      const weeks = Number($("weeks_since_last_treatment").value || 0);
      return { service_date: item.date, weeks_since_last_treatment: String(Math.round((weeks + waited) * 100) / 100) };
    }
    if (item.action === "all_of_the_above") {
      const merged = {};
      // the scored steps only: "all of these" never includes a looked-up one (a date, a condition)
      for (const other of all) {
        if (other !== item && other.probability_after !== null) Object.assign(merged, changesFor(other, all) || {});
      }
      return Object.keys(merged).length ? merged : null;
    }
    return null;
  }
  function recommendationItem(item, all) {
    const children = [el("span", { text: item.description })];
    if (item.probability_after !== null && item.probability_after !== undefined) {
      children.push(el("span", { class: "after", text: ` Chance after: ${percent(item.probability_after)} (+${percent(item.gain)}).` }));
    }
    const sources = [...new Set([item.source, ...(item.documents || []).map((doc) => doc.source)].filter(Boolean))];
    if (sources.length) children.push(el("span", { class: "muted", text: ` Source: ${sources.join("; ")}.` }));
    const changes = changesFor(item, all);
    if (changes) {
      const button = el("button", { type: "button", class: "apply" }, "Apply and ask again",
        el("span", { class: "visually-hidden", text: `: ${item.description}` }));
      button.addEventListener("click", () => applyChanges(changes, item));
      children.push(" ", button);
    }
    return el("li", {}, ...children);
  }
  function applyChanges(changes, item) {
    const before = Number(answer.dataset.probability);
    for (const [name, value] of Object.entries(changes)) {
      if (name === "diagnosis_codes") {
        const described = Object.fromEntries((item.billable_codes || []).map((code) => [code.code, code]));
        diagnoses = value.map((code) => described[code] || diagnoses.find((known) => known.code === code) || { code });
        renderChosen();
        continue;
      }
      const input = $(name);
      if (!input) continue;
      if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = value;
    }
    ask().then(() => {
      // what changed, beside the new answer: the step taken and the chance before and after it
      if (answer.dataset.probability !== undefined) {
        $("applied").textContent = `Applied: ${item.description.split(": ")[0]}. The chance went from ` +
          `${percent(before)} to ${percent(Number(answer.dataset.probability))}.`;
        $("applied").hidden = false;
      }
      $("answer-title").focus();
    });
  }

  // -- scoring a file ----------------------------------------------------------------------------
  // The file goes as the body of POST /v1/files with its media type (XMLHttpRequest, for the upload's
  // progress); the job is then read every second until it is done. Only the job id is ever in a URL.
  const FILE_TYPES = { csv: "text/csv", parquet: "application/vnd.apache.parquet" };
  const POLL_MS = 1000;
  const fileForm = $("file-form");
  const fileInput = $("claims-file");
  const fileStatus = $("file-status");
  const fileProgress = $("file-progress");
  let fileJob = null; // the job being followed: {job_id, ...}

  function fileError(message) {
    const slot = $("claims-file-error");
    slot.textContent = message;
    slot.hidden = false;
    fileInput.setAttribute("aria-invalid", "true");
    fileStatus.textContent = "The file was not scored.";
    fileProgress.hidden = true;
    fileInput.focus();
  }
  function clearFileError() {
    $("claims-file-error").hidden = true;
    $("claims-file-error").textContent = "";
    fileInput.removeAttribute("aria-invalid");
  }
  function errorWords(status, body, retryAfter) {
    if (status === 401) return "Your sign-in has ended. Reload the page and sign in again.";
    if (status === 403) return "This page is out of date. Reload it and try again.";
    if (status === 429) return `${body.message || "Too many requests just now"}. Please wait ${retryAfter || "a few"} seconds and try again.`;
    if (status === 0) return "The service did not answer. Check the connection and try again.";
    const details = (body.errors || []).map((item) => item.message).join("; ");
    return body.message ? `${body.message}${details ? ": " + details : ""}.` : "The service could not take the file. Please try again.";
  }

  function uploadFile(file, mediaType) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/v1/files");
      request.setRequestHeader("Content-Type", mediaType);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", csrfToken);
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        fileProgress.value = Math.round((event.loaded / event.total) * 100);
        fileStatus.textContent = `Uploading: ${fileProgress.value}%`;
      });
      request.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (error) { body = {}; }
        if (request.status === 202) resolve(body);
        else reject({ status: request.status, body, retryAfter: request.getResponseHeader("Retry-After") });
      });
      request.addEventListener("error", () => reject({ status: 0, body: {} }));
      request.send(file);
    });
  }

  async function scoreFile() {
    clearFileError();
    const file = fileInput.files[0];
    if (!file) { fileError("Choose a claims file first."); return; }
    const ending = file.name.toLowerCase().split(".").pop();
    if (!FILE_TYPES[ending]) { fileError("Choose a .csv or .parquet file: the service reads claims files in those two formats."); return; }
    $("score-file").disabled = true;
    $("file-summary").hidden = true;
    fileProgress.hidden = false;
    fileProgress.value = 0;
    fileStatus.textContent = "Uploading: 0%";
    try {
      fileJob = await uploadFile(file, FILE_TYPES[ending]);
      showJob(fileJob);
      while (fileJob.status === "queued" || fileJob.status === "running") {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        fileJob = await api(`/v1/files/${fileJob.job_id}`);
        showJob(fileJob);
      }
    } catch (error) {
      fileError(errorWords(error.status, error.body || {}, error.retryAfter));
    } finally {
      $("score-file").disabled = false;
    }
  }
  fileForm.addEventListener("submit", (event) => { event.preventDefault(); scoreFile(); });

  function showJob(job) {
    const rows = job.rows_total.toLocaleString("en-US");
    if (job.status === "queued") {
      fileStatus.textContent = `Uploaded: ${rows} rows. Waiting to be scored.`;
      fileProgress.value = 0;
    } else if (job.status === "running") {
      fileProgress.value = Math.round(job.progress * 100);
      fileStatus.textContent = `Scoring: ${fileProgress.value}% (${job.rows_read.toLocaleString("en-US")} of ${rows} rows).`;
    } else if (job.status === "failed") {
      fileError(`The file could not be scored: ${job.error.message}.`);
    } else {
      fileProgress.value = 100;
      fileStatus.textContent = `Done: ${job.summary.answered.toLocaleString("en-US")} rows answered, ` +
        `${job.summary.rejected.toLocaleString("en-US")} rejected. The summary and downloads are below.`;
      showSummary(job);
    }
  }

  function showSummary(job) {
    const summary = job.summary;
    facts($("file-counts"), [
      ["Rows in the file", job.rows_total.toLocaleString("en-US")],
      ["Answered", summary.answered.toLocaleString("en-US")],
      ["Rejected", summary.rejected.toLocaleString("en-US")],
    ]);
    facts($("file-decisions"), Object.keys(DECISION_LABELS).map((decision) =>
      [DECISION_LABELS[decision], (summary.decisions[decision] || 0).toLocaleString("en-US")]));
    section("file-reasons", summary.rejected_by_reason, (item) =>
      el("li", {}, el("strong", { text: `${item.rows.toLocaleString("en-US")} × ${words(item.field)}` }), `: ${item.reason}`));
    downloadLink("scored", job.downloads.scored, "the scored file");
    downloadLink("rejected", summary.rejected ? job.downloads.rejected : null, "the rejected rows (CSV)");
    $("file-summary").hidden = false;
  }
  function downloadLink(name, href, what) {
    const item = $(`download-${name}-item`);
    item.hidden = !href;
    if (!href) return;
    const link = el("a", { id: `download-${name}`, href, download: "" }, `Download ${what}`);
    link.addEventListener("click", () => {
      // one download each: the service deletes the file once it has sent it
      setTimeout(() => item.replaceChildren(el("span", { text: `Downloaded ${what}; the service has deleted its copy.` })), 0);
    });
    item.replaceChildren(link);
  }

  $("print").addEventListener("click", () => window.print());
  $("answer-title").setAttribute("tabindex", "-1");
  diagnoses = (chosen.dataset.initial || "").split(";").filter(Boolean).map((code) => ({ code }));
  renderChosen();
  loadCatalog();
}());
