// What the patient will owe, on each answer of the page (the answer's patient_cost), and the Good
// Faith Estimate a self-pay or not-covered visit is owed (POST /v1/estimates). Its own script so the
// answer's main script (page.js) only tells it, by a "coverage:answer" event, which claim was
// answered with what. No claim data goes into a URL: the estimate's HTML is a blob: download.
"use strict";

(function () {
  const section = document.getElementById("patient-cost-section");
  if (!section) return;
  const $ = (id) => document.getElementById(id);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const money = (amount) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(amount);
  let answered = null; // {claim, result} of the answer shown

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }
  function facts(list, rows) {
    list.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", term), el("dd", value)]));
  }

  function showCost(claim, result) {
    const cost = result.patient_cost;
    answered = { claim, result };
    section.hidden = !cost;
    if (!cost) return;
    $("patient-cost-words").textContent = cost.description;
    const approved = cost.if_approved, denied = cost.if_denied, expected = cost.expected;
    $("patient-cost-rows").replaceChildren(...[
      ["The plan", approved.plan_pays, 0, expected.plan_pays],
      ["The patient", approved.patient_pays, denied.patient_pays, expected.patient_pays],
      ["The provider writes off", approved.provider_writes_off, denied.provider_writes_off, expected.provider_writes_off],
    ].map(([who, ...amounts]) => {
      const row = el("tr");
      row.append(el("th", who, { scope: "row" }), ...amounts.map((amount) => el("td", money(amount))));
      return row;
    }));
    // the patient's share if approved, part by part (only the parts that are not zero)
    facts($("patient-cost-parts"), [
      ["Allowed amount", money(cost.allowed_amount)],
      ...[["deductible", "Deductible"], ["coinsurance", "Coinsurance"], ["copay", "Copay"],
          ["above_benefit_limit", "Above what is left of the benefit limit"],
          ["balance_billing", "Balance billing (out of network)"]]
        .filter(([key]) => approved[key] > 0).map(([key, words]) => [words, money(approved[key])]),
      ["If denied", denied.group_code === "PR" ? "the patient pays (group code PR)" :
        "the provider writes it off (group code CO)"],
    ]);
    $("patient-cost-assumptions-section").hidden = !cost.assumptions.length;
    $("patient-cost-assumptions").replaceChildren(...cost.assumptions.map((item) => el("li", item.description)));
    // An estimate is offered on every answer: a not-covered visit gets one as it is, any other once the
    // front desk says the patient pays it themselves (the service refuses it otherwise).
    const notCovered = result.coverage_information.covered === "not-covered";
    $("estimate-offer").hidden = false;
    $("self-pay-field").hidden = notCovered;
    $("self-pay").checked = false;
    $("estimate-error").hidden = true;
    $("estimate").hidden = true;
  }

  async function makeEstimate() {
    if (!answered) return;
    const button = $("make-estimate");
    const error = $("estimate-error");
    error.hidden = true;
    button.disabled = true;
    try {
      const response = await fetch("/v1/estimates", {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ claim: answered.claim, self_pay: $("self-pay").checked }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw body;
      showEstimate(body);
    } catch (body) {
      const reasons = (body && body.errors || []).map((item) => item.message);
      error.textContent = reasons.length ? `No estimate: ${reasons.join("; ")}.` :
        "The service could not make the estimate. Please try again.";
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function showEstimate(estimate) {
    const item = estimate.items[0];
    facts($("estimate-facts"), [
      ["Service", `${estimate.service.description} (${item.procedure_code})`],
      ["Diagnosis codes", item.diagnosis_codes.join(", ") || "none given"],
      ["Date of service", estimate.service_date],
      ["Total expected charges", money(estimate.total_expected_charge)],
      ["A bill may be disputed from", money(estimate.dispute_threshold)],
      ["The clinic fills in", estimate.placeholders.join(", ")],
    ]);
    $("estimate-disclaimers").replaceChildren(...estimate.disclaimers.map((text) => el("li", text)));
    const link = $("estimate-download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([estimate.html], { type: "text/html" })); // no claim data in a URL
    $("estimate").hidden = false;
    $("estimate").focus();
  }

  document.addEventListener("coverage:answer", (event) => showCost(event.detail.claim, event.detail.result));
  $("make-estimate").addEventListener("click", makeEstimate);
  // the page's print stylesheet prints the estimate alone while this class is on the body
  $("estimate-print").addEventListener("click", () => {
    document.body.classList.add("printing-estimate");
    window.print();
  });
  window.addEventListener("afterprint", () => document.body.classList.remove("printing-estimate"));
})();
