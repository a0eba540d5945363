"""The CDS Hooks endpoints: discovery (GET /cds-services) and the hook calls (POST /cds-services/{id}).

Order of checks on a call: the client's JWT (service.cds_hooks.client_jwt; API keys are not
accepted here) and the rate limit of that client, then the body (JSON, the CDS Hooks request
shape, the hook's context), then the FHIR resources. A call is answered with 200 and a coverage
answer for every order, assessed or not; only a request that is not a hook call at all is a 4xx.
Answered orders go through the API's own path (service.api.answer_and_audit: the served model,
warnings, one audit row per order with the canonical claim, never FHIR text).

CORS as CDS Hooks asks, so a browser-based client (the CDS Hooks sandbox) can call: any origin,
`Authorization` and `Content-Type` allowed, a preflight `OPTIONS` on both routes. No cookie is
read here, so no credentials are allowed.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, current_app, g, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from service.api import answer_and_audit, read_json_body
from service.audit import AuditUnavailable
from service.cds_hooks.client_jwt import DISCOVERY_PATH, JtiLedger, load_client_keys, verify_client_token
from service.cds_hooks.crd_response import card, system_action
from service.cds_hooks.discovery import APPOINTMENT_BOOK, COMMON_PREFETCH, ORDER_SELECT, SERVICES, HookService, service_path
from service.cds_hooks.fhir_client import FhirReader, FhirReadError, render_template, usable_server
from service.cds_hooks.fhir_resources import FhirParseError, ResourceIndex, parse_resource, resources_of
from service.cds_hooks.order_mapping import map_order, unreadable_order
from service.cds_hooks.schemas import CdsHookRequest
from service.claims import normalise_claims
from service.errors import APIError, field_error
from service.settings import hash_key

bp = Blueprint("cds_hooks", __name__)
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Expose-Headers": "X-Request-ID", "Access-Control-Max-Age": "600"}
# references an order may hold that we read from the FHIR server when the call did not give them
READABLE_TYPES = ("Patient", "Coverage", "Condition", "Location")


@bp.after_request
def _cors(response):
    response.headers.update(CORS_HEADERS)
    return response


def preflight():
    return Response(status=204)


@bp.get(DISCOVERY_PATH)
def discovery():
    return jsonify(services=[service.to_json() for service in SERVICES.values()])


def hook_call(service: HookService):
    _authenticate()
    call = _hook_request(read_json_body(), service.hook)
    orders = _orders(service.hook, call.context)
    notes: list[str] = []
    index = ResourceIndex()
    reader = _reader(call, notes)
    _prefetched(call, index, reader, notes)
    parsed, unreadable = [], {}
    for path, resource_json in orders:
        try:
            parsed.append((path, resource_json, parse_resource(resource_json)))
        except FhirParseError as error:  # still answered (not assessed), as CRD asks for every order
            parsed.append((path, resource_json, None))
            unreadable[path] = str(error)
    index.add_all(order for _, _, order in parsed if order is not None)
    _read_references([entry for entry in parsed if entry[2] is not None], call.context, index, reader, notes)
    mapped = [map_order(path, resource_json, order, index, call.context) if order is not None
              else unreadable_order(path, resource_json, unreadable[path]) for path, resource_json, order in parsed]
    for order in mapped:
        order.notes.extend(notes)
    answers = _answer(mapped)
    today, request_id = date.today(), g.request_id
    return jsonify(
        cards=[card(order, answers.get(position), request_id) for position, order in enumerate(mapped)],
        systemActions=[system_action(order, answers.get(position), request_id, today)
                       for position, order in enumerate(mapped)])


def _authenticate() -> None:
    """The client's JWT, then its rate limit (the API keys' buckets, under the issuer's key id)."""
    try:
        issuer = verify_client_token()
        g.key_id = "cds-" + hash_key(issuer)[:8]
        wait = current_app.extensions["rate_limiter"].admit(g.key_id)
    except SQLAlchemyError:  # the jti ledger and the buckets are in the audit store, which takes no answer either
        raise AuditUnavailable() from None
    if wait:
        raise APIError(429, "rate_limited", f"more than {current_app.config['RATE_LIMIT_PER_MINUTE']} calls per "
                                            f"minute from this CDS client; retry after {wait} s",
                       headers={"Retry-After": str(wait)})


def _hook_request(body, hook: str) -> CdsHookRequest:
    try:
        call = CdsHookRequest.model_validate(body)
    except ValidationError as error:
        raise APIError(422, "invalid_request", "the body is not a CDS Hooks request", [
            field_error(".".join(str(part) for part in item["loc"]) or "(body)",
                        "is required" if item["type"] == "missing" else
                        "has the wrong type or value: hook, hookInstance and fhirServer are strings, context and "
                        "prefetch objects, fhirAuthorization {access_token, token_type: Bearer, expires_in, scope, "
                        "subject}")
            for item in error.errors(include_input=False, include_url=False)]) from None
    if call.hook != hook:
        raise APIError(422, "invalid_request", "the hook does not match the service called",
                       [field_error("hook", f"must be {hook} for this service")])
    return call


def _orders(hook: str, context: dict) -> list[tuple[str, dict]]:
    """(place in the request, JSON) of each order to answer: the draft orders (order-select: the
    selected ones) or the appointments."""
    name = "appointments" if hook == APPOINTMENT_BOOK else "draftOrders"
    bundle = context.get(name)
    entries = bundle.get("entry") if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle" else None
    if not isinstance(entries, list) or not entries:
        raise APIError(422, "invalid_request", f"the {hook} context needs its {name}",
                       [field_error(f"context.{name}", "must be a FHIR Bundle with at least one entry")])
    orders = [(f"context.{name}.entry[{position}].resource", entry.get("resource") if isinstance(entry, dict) else None)
              for position, entry in enumerate(entries)]
    not_resources = [path for path, resource in orders
                     if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str)]
    if not_resources:
        raise APIError(422, "invalid_request", f"every entry of {name} must hold a FHIR resource",
                       [field_error(path, "must be a FHIR resource (a JSON object with a resourceType)")
                        for path in not_resources])
    if hook == ORDER_SELECT:
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(item, str) for item in selections):
            raise APIError(422, "invalid_request", "the order-select context needs its selections",
                           [field_error("context.selections", "must be a list of 'Type/id' references to draft orders")])
        orders = [(path, resource) for path, resource in orders if isinstance(resource, dict)
                  and f"{resource.get('resourceType')}/{resource.get('id')}" in selections]
    return orders


def _reader(call: CdsHookRequest, notes: list[str]) -> FhirReader | None:
    if call.fhirServer is None or call.fhirAuthorization is None:
        return None
    if not usable_server(call.fhirServer):
        notes.append("FHIR server: not read, as it is not https (plain http is read only on loopback)")
        return None
    return FhirReader(call.fhirServer, call.fhirAuthorization.access_token,
                      current_app.config["CDS_FHIR_TIMEOUT_SECONDS"])


def _prefetched(call: CdsHookRequest, index: ResourceIndex, reader: FhirReader | None, notes: list[str]) -> None:
    """Each prefetch key's resources into the index: as given, else read from the FHIR server."""
    given = call.prefetch or {}
    for key, template in COMMON_PREFETCH.items():
        data = given.get(key)
        if data is None and reader is not None and (query := render_template(template, call.context)) is not None:
            try:
                data = reader.read(query)
            except FhirReadError as error:
                notes.append(f"prefetch {key}: {error}")
                continue
        if data is None:
            continue
        try:
            index.add_all(resources_of(parse_resource(data)))
        except FhirParseError as error:
            notes.append(f"prefetch {key}: {error}; left out")


def _read_references(parsed, context: dict, index: ResourceIndex, reader: FhirReader | None,
                     notes: list[str]) -> None:
    """Read what the orders name and the call did not give (the patient, coverages, conditions, locations)."""
    if reader is None:
        return
    patient_id = context.get("patientId")
    wanted = [f"Patient/{patient_id}"] if isinstance(patient_id, str) and patient_id else []
    for _, _, order in parsed:
        references = [*(getattr(order, "reasonReference", None) or ()), *(getattr(order, "insurance", None) or ()),
                      *(getattr(order, "locationReference", None) or ()),
                      *(participant.actor for participant in getattr(order, "participant", None) or ()
                        if participant.actor is not None)]
        wanted += [reference.reference for reference in references if reference.reference]
    for reference in dict.fromkeys(wanted):
        parts = reference.split("/")
        if len(parts) != 2 or parts[0] not in READABLE_TYPES or index.resolve(reference) is not None:
            continue
        try:
            index.add(parse_resource(reader.read(reference)))
        except FhirReadError as error:
            notes.append(f"{parts[0]} named by the order: {error}")
        except FhirParseError as error:
            notes.append(f"{parts[0]} named by the order: {error}; left out")


def _answer(mapped) -> dict[int, dict]:
    """Answers by order position, for the orders with a claim the contract accepts."""
    positions = [position for position, order in enumerate(mapped) if order.claim is not None]
    results = normalise_claims([mapped[position].claim for position in positions])
    for position, result in zip(positions, results):
        if not result.ok:  # the contract refused what was read: said, field by field, in the contract's words
            mapped[position].missing.extend(f"{error['field']}: {error['message']}" for error in result.errors)
    accepted = [(position, result.claim) for position, result in zip(positions, results) if result.ok]
    for position, claim in accepted:
        mapped[position].treatment = claim["treatment"]
    g.log_counts = {"claims": len(mapped), "rejected": len(mapped) - len(accepted)}
    if not accepted:
        return {}
    answers = answer_and_audit([claim for _, claim in accepted])
    return {position: answer for (position, _), answer in zip(accepted, answers)}


# One fixed route per service, no path variable: no part of a URL is a value a request chooses
# (tests/service/test_security.py); an unknown service id is the app's plain 404.
bp.add_url_rule(DISCOVERY_PATH, "preflight_discovery", preflight, methods=["OPTIONS"])
for _service in SERVICES.values():
    bp.add_url_rule(service_path(_service.id), f"hook_{_service.hook}", lambda service=_service: hook_call(service),
                    methods=["POST"])
    bp.add_url_rule(service_path(_service.id), f"preflight_{_service.hook}", preflight, methods=["OPTIONS"])


def init_app(app: Flask) -> None:
    app.extensions["cds_client_keys"] = load_client_keys(app.config["CDS_JWKS_FILE"])
    app.extensions["cds_jti_ledger"] = JtiLedger(app.extensions["audit_store"].engine)
    app.register_blueprint(bp)
