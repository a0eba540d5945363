"""The OpenAPI 3.1 document, generated from the pydantic schemas that validate requests.

Served at GET /openapi.json with a plain HTML rendering at GET /docs (no JavaScript, no CDN),
both only when DOCS_ENABLED. The committed copy, service/openapi.json, is regenerated with
`python -m service.openapi > service/openapi.json`; a test fails when it differs from the app's.
"""
from __future__ import annotations

import html
import json

from flask import Blueprint, Flask, Response, current_app
from pydantic.json_schema import models_json_schema

from features.contract import CONTRACT_VERSION
from service import schemas
from service.cds_hooks import schemas as cds_schemas
from service.cds_hooks.discovery import SERVICES, service_path
from service.api import DIAGNOSIS_LIMIT_DEFAULT, DIAGNOSIS_LIMIT_MAX, DIAGNOSIS_QUERY_MAX_LENGTH, EXPLAIN_DEFAULT
from service.file_jobs import JOB_ID, limits_text
from service.upload_admission import UNFINISHED_JOBS_PER_KEY
from service.files import FORMAT_MEDIA_TYPES
from service.settings import default_settings

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
COMPONENT_MODELS = (
    schemas.ClaimRequest, schemas.BatchRequest, schemas.InvocationsRequest, schemas.ErrorBody,
    schemas.ClaimAnswer, schemas.BatchAnswer, schemas.InvocationsResponse, schemas.TreatmentList,
    schemas.ModelInfo, schemas.HealthStatus, schemas.DiagnosisList, schemas.FileJob, schemas.FileJobList,
    schemas.DenialRequest, schemas.DenialPlaybook, schemas.LetterRequest, schemas.LetterDraft,
    schemas.EstimateRequest, schemas.GoodFaithEstimate, schemas.Worklist,
    cds_schemas.CdsHookRequest, cds_schemas.CdsServices, cds_schemas.CdsHookResponse,
)
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}]
CDS_SECURITY = [{"cdsClientJwt": []}]  # CDS Hooks 2.0: the client's signed JWT; API keys are not taken there

bp = Blueprint("docs", __name__)


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _errors(*statuses: int) -> dict:
    texts = {
        400: ("the body is not valid JSON, names a key twice in one object, or ends before its Content-Length",
              None),
        401: ("no valid API key", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
        403: ("signed in by the page's session without its CSRF token (X-CSRFToken)", None),
        413: ("the body is larger than MAX_CONTENT_LENGTH (with or without a Content-Length)", None),
        415: ("the body is not declared as application/json", None),
        422: ("the request is not valid (or the batch is larger than MAX_BATCH_CLAIMS): errors names every "
              "field and what it allows", None),
        429: ("rate limit of this API key reached, or too many requests with a missing or wrong key from this "
              "client address (FAILED_KEY_LIMIT)",
              {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}),
        500: ("internal error (says nothing about internals; X-Request-ID identifies it in the log)", None),
        503: ("no model is loaded yet, or this worker is draining",
              {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}),
    }
    return {str(status): _json(_ref("ErrorBody"), *texts[status]) for status in statuses}


def _error(description: str, headers: dict | None = None) -> dict:
    return _json(_ref("ErrorBody"), description, headers)


def _file_paths(limits: str) -> dict:
    """The /v1/files operations (service/files.py)."""
    job_id = {"name": "job_id", "in": "path", "required": True, "description": "the job's id, as POST /v1/files gave it",
              "schema": {"type": "string", "pattern": f"^{JOB_ID.pattern}$"}}
    not_found = {"404": _error("no such job for this API key (never made, deleted, expired, or another key's)")}
    not_done = {"409": _error("the job is not done: still queued or running, or failed (the message says why)"),
                "410": _error("the file was downloaded once already, and deleted then")}
    file_content = {media_type: {"schema": {"type": "string", "contentMediaType": media_type}}
                    for media_type in FORMAT_MEDIA_TYPES.values()}
    return {
        "/v1/files": {"get": {
            "operationId": "listFileJobs",
            "summary": "This API key's file jobs, newest first (those not deleted or expired)",
            "security": SECURITY,
            "responses": {"200": _json(_ref("FileJobList"), "the jobs"), **_errors(401, 429, 500)},
        }, "post": {
            "operationId": "uploadFile",
            "summary": f"Score a claims file (CSV or Parquet, the claims contract's columns; {limits}) in the "
                       "background: the body is the file itself, with its media type. 202 once it is stored and "
                       "read through; then follow GET /v1/files/{job_id}",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "202": _json(_ref("FileJob"), "the job, queued", {"Location": {
                    "description": "the job's URL", "schema": {"type": "string"}}}),
                **_errors(400, 401, 403),
                "413": _error(f"the file is over the limits: {limits}"),
                "415": _error("the body is not declared text/csv or application/vnd.apache.parquet"),
                "422": _error("the file cannot be scored as a whole: empty, not readable as the declared type, or "
                              "lacking a required column (bad rows only go to the rejected rows)"),
                "429": _error(f"rate limit of this API key reached, or it has {UNFINISHED_JOBS_PER_KEY} files queued "
                              "or being scored already", {"Retry-After": {"description": "seconds to wait",
                                                                         "schema": {"type": "integer"}}}),
                **_errors(500, 503)},
        }},
        "/v1/files/{job_id}": {
            "get": {"operationId": "fileJob",
                    "summary": "A scored file's job: status, progress, summary (answered, rejected by reason, "
                               "decision mix), download links",
                    "security": SECURITY, "parameters": [job_id],
                    "responses": {"200": _json(_ref("FileJob"), "the job"), **not_found, **_errors(401, 429, 500)}},
            "delete": {"operationId": "deleteFileJob",
                       "summary": "Stop scoring and delete the job and its files now",
                       "security": SECURITY, "parameters": [job_id],
                       "responses": {"204": {"description": "deleted"}, **not_found, **_errors(401, 403, 429, 500)}},
        },
        "/v1/files/{job_id}/scored": {"get": {
            "operationId": "scoredFile",
            "summary": "The scored file, in the upload's format: the contract's columns of each valid row, then "
                       "the scores; downloadable once, then deleted",
            "security": SECURITY, "parameters": [job_id],
            "responses": {"200": {"description": "the scored file", "content": file_content},
                          **not_found, **not_done, **_errors(401, 429, 500)},
        }},
        "/v1/files/{job_id}/rejected": {"get": {
            "operationId": "rejectedRows",
            "summary": "The rejected rows, CSV (row_number, claim_id, field, reason); downloadable once, then deleted",
            "security": SECURITY, "parameters": [job_id],
            "responses": {"200": {"description": "the rejected rows",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **not_found, **not_done, **_errors(401, 429, 500)},
        }},
    }


def _cds_paths() -> dict:
    """The CDS Hooks routes (service/cds_hooks/routes.py), with their CORS preflights."""
    preflight = {"summary": "CORS preflight, so a browser-based CDS client can call", "security": [],
                 "responses": {"204": {"description": "allowed: any origin, Authorization and Content-Type headers"}}}
    return {
        "/cds-services": {
            "get": {"operationId": "cdsDiscovery",
                    "summary": "CDS Hooks discovery: the Da Vinci CRD services (order-sign, order-select, "
                               "appointment-book) and their prefetch templates",
                    "security": [],
                    "responses": {"200": _json(_ref("CdsServices"), "the services"), **_errors(500)}},
            "options": {"operationId": "cdsDiscoveryPreflight", **preflight},
        },
        **{service_path(service.id): {
            "post": {"operationId": f"cdsHookCall_{service.hook.replace('-', '_')}",
                     "summary": f"The {service.hook} hook: {service.description}. The orders of the context, with "
                                "the prefetch (or read from fhirServer), answered as CRD profiles it: a "
                                "coverage-information system action for every order and a card with the decision "
                                "and probability",
                     "security": CDS_SECURITY,
                     "requestBody": _json_body(_ref("CdsHookRequest")),
                     "responses": {
                         "200": _json(_ref("CdsHookResponse"), "cards and system actions, one of each per order"),
                         "400": _error("the body is not valid JSON, names a key twice, or ends before its "
                                       "Content-Length"),
                         "401": _error("no JWT, or one that fails a check (the message names which): signature, "
                                       "issuer, key, jku, aud, exp, iat, a jti used before",
                                       {"WWW-Authenticate": {"schema": {"type": "string"}}}),
                         **_errors(413, 415),
                         "422": _error("not a CDS Hooks request for this hook: errors names each field"),
                         "429": _error("too many calls from this CDS client",
                                       {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}),
                         **_errors(500, 503)}},
            "options": {"operationId": f"cdsHookPreflight_{service.hook.replace('-', '_')}", **preflight},
        } for service in SERVICES.values()},
    }


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def build_document(max_batch_claims: int | None = None) -> dict:
    """The OpenAPI document; MAX_BATCH_CLAIMS is the one setting it shows."""
    if max_batch_claims is None:
        max_batch_claims = default_settings()["MAX_BATCH_CLAIMS"]
    _, definitions = models_json_schema([(model, "validation") for model in COMPONENT_MODELS], ref_template=REF)
    components = definitions["$defs"]
    components["BatchRequest"]["properties"]["claims"]["maxItems"] = max_batch_claims
    components["FrameClaim"] = schemas.frame_claim_schema(components["ClaimRequest"])
    records = components["InvocationsRequest"]["properties"]["dataframe_records"]
    records["items"], records["maxItems"] = _ref("FrameClaim"), max_batch_claims
    components["DataframeSplit"]["properties"]["data"]["maxItems"] = max_batch_claims
    components = dict(sorted(components.items()))

    api_errors = (400, 401, 403, 413, 415, 422, 429, 500, 503)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "medspa-coverage",
            "version": API_VERSION,
            "description": ("Will insurance pay for this med-spa visit? Hard cosmetic-exclusion rules plus a "
                            f"calibrated approval model. Claims follow the claims contract {CONTRACT_VERSION}. "
                            "Errors are JSON ({code, message, errors[{field, message}]}) and never repeat the "
                            "values sent. Since contract v1.1 expected_payment is the plan's expected payment from "
                            "its allowed amount after the patient's cost sharing (it was probability x billed "
                            "amount); patient_cost says what the patient will owe, approved or denied."),
        },
        "paths": {
            "/v1/predict": {"post": {
                "operationId": "predict",
                "summary": "Answer one claim, or a batch {claims: [...]} where each claim is answered or rejected "
                           "on its own",
                "security": SECURITY,
                "parameters": [
                    {"name": "explain", "in": "query", "required": False,
                     "description": "true: every answer carries its exact factors (TreeSHAP), the costliest part "
                                    "of an answer; false: answers leave `factors` out (the explanation's scores "
                                    "stay), as KServe's :explain and Vertex AI's explain keep explanations a "
                                    "separate, costlier call",
                     "schema": {"type": "boolean", "default": EXPLAIN_DEFAULT}},
                ],
                "requestBody": _json_body({"oneOf": [_ref("ClaimRequest"), _ref("BatchRequest")]}),
                "responses": {"200": _json({"oneOf": [_ref("ClaimAnswer"), _ref("BatchAnswer")]},
                                           "the answer (one claim) or one result per claim (batch)"),
                              **_errors(*api_errors)},
            }},
            "/invocations": {"post": {
                "operationId": "invocations",
                "summary": "MLflow scoring protocol (dataframe_records or dataframe_split); all rows or none",
                "security": SECURITY,
                "requestBody": _json_body(_ref("InvocationsRequest")),
                "responses": {"200": _json(_ref("InvocationsResponse"), "one prediction per row"),
                              **_errors(*api_errors)},
            }},
            "/v1/model": {"get": {
                "operationId": "model",
                "summary": "The served model: version, training date, test metrics, rules version",
                "security": SECURITY,
                "responses": {"200": _json(_ref("ModelInfo"), "the served model"), **_errors(401, 429, 500, 503)},
            }},
            "/v1/treatments": {"get": {
                "operationId": "treatments",
                "summary": "The treatment catalog: keys, procedure codes, descriptions, covered diagnoses",
                "security": SECURITY,
                "responses": {"200": _json(_ref("TreatmentList"), "the catalog"), **_errors(401, 429, 500)},
            }},
            "/v1/diagnoses": {"get": {
                "operationId": "diagnoses",
                "summary": "ICD-10-CM look-up by code prefix or by words of the description, with the billable "
                           "flag",
                "security": SECURITY,
                "parameters": [
                    {"name": "q", "in": "query", "required": True,
                     "description": "a code prefix ('G43.7', dot optional) or words that must all appear in the "
                                    "description ('bell's palsy')",
                     "schema": {"type": "string", "minLength": 1, "maxLength": DIAGNOSIS_QUERY_MAX_LENGTH,
                                "pattern": r"\S"}},
                    {"name": "limit", "in": "query", "required": False, "description": "most codes to list",
                     "schema": {"type": "integer", "minimum": 1, "maximum": DIAGNOSIS_LIMIT_MAX,
                                "default": DIAGNOSIS_LIMIT_DEFAULT}},
                ],
                "responses": {"200": _json(_ref("DiagnosisList"), "the codes found (none is an empty list)"),
                              **_errors(401, 422, 429, 500)},
            }},
            "/v1/denials": {"post": {
                "operationId": "denials",
                "summary": "The playbook for a denied claim line (the claim as billed, the CARC and group code that "
                           "came back): who is liable, the next step from a sourced table, the fixed claim scored "
                           "again with its expected recovery, and the general deadlines",
                "security": SECURITY,
                "requestBody": _json_body(_ref("DenialRequest")),
                "responses": {"200": _json(_ref("DenialPlaybook"), "the playbook's answer"),
                              **_errors(*api_errors)},
            }},
            "/v1/letters": {"post": {
                "operationId": "letters",
                "summary": "A draft letter of medical necessity (Markdown and printable HTML) for a claim on a covered "
                           "pathway: diagnoses with descriptions, the policy's criteria to confirm, the policy "
                           "citations; patient identity left as placeholders. 422 letter_not_offered for a claim a "
                           "hard rule excludes or with no covered diagnosis",
                "security": SECURITY,
                "requestBody": _json_body(_ref("LetterRequest")),
                "responses": {"200": _json(_ref("LetterDraft"), "the draft"), **_errors(*api_errors)},
            }},
            "/v1/estimates": {"post": {
                "operationId": "estimates",
                "summary": "A Good Faith Estimate (45 CFR 149.610; JSON and printable HTML) for a self-pay visit "
                           "(self_pay: true) or one a hard rule excludes; the patient's name and date of birth are "
                           "blanks. 422 estimate_not_offered for a visit the plan may cover, without self_pay",
                "security": SECURITY,
                "requestBody": _json_body(_ref("EstimateRequest")),
                "responses": {"200": _json(_ref("GoodFaithEstimate"), "the estimate"), **_errors(*api_errors)},
            }},
            "/v1/worklist": {"get": {
                "operationId": "worklist",
                "summary": "The denial worklist of this key's own served claims (the outcomes loop's denials through the "
                           "playbook, by expected recovery, with letter drafts); at most max_claims denied claims",
                "security": SECURITY,
                "parameters": [{"name": "since", "in": "query", "required": False,
                                "description": "only claims served at or after this ISO 8601 date or time (UTC)",
                                "schema": {"type": "string", "maxLength": 40}}],
                "responses": {"200": _json(_ref("Worklist"), "the rows"), **_errors(401, 422, 429, 500, 503)},
            }},
            **_file_paths(limits_text(default_settings())),
            **_cds_paths(),
            "/healthz/live": {"get": {
                "operationId": "live",
                "summary": "The process answers",
                "security": [],
                "responses": {"200": _json(_ref("HealthStatus"), "live")},
            }},
            "/healthz/ready": {"get": {
                "operationId": "ready",
                "summary": "A model is loaded and warmed up and the worker is not draining",
                "security": [],
                "responses": {"200": _json(_ref("HealthStatus"), "ready"), **_errors(503)},
            }},
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "cdsClientJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": "CDS Hooks 2.0: a JWT the CDS client signed (RS384 or ES384) with "
                                                "iss, aud (this endpoint), exp, iat and a jti never used before"},
            },
        },
        "security": SECURITY,
    }


def document_text(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@bp.get("/openapi.json")
def openapi_json():
    return Response(current_app.extensions["openapi_text"], mimetype="application/json")


@bp.get("/docs")
def docs():
    return Response(current_app.extensions["docs_html"], mimetype="text/html")


def _type_of(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(_type_of(part) for part in schema[combinator])
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    return str(schema.get("type", "any")) + (f" ({schema['format']})" if "format" in schema else "")


def _content_of(part: dict) -> str:
    """A body's type in words: the JSON schema's, or the media types of a file."""
    content = part.get("content", {})
    if "application/json" in content:
        return _type_of(content["application/json"]["schema"])
    return " or ".join(content) or "none"


def render_docs(document: dict) -> str:
    """A readable HTML page of the operations and schemas (static; no scripts)."""
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(document['info']['title'])} API"
             "</title><style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top;"
             "text-align:left}code{background:#f4f4f4}</style></head><body>",
             f"<h1>{e(document['info']['title'])} {e(document['info']['version'])}</h1>",
             f"<p>{e(document['info']['description'])}</p><p>Machine-readable: <a href='/openapi.json'>"
             "/openapi.json</a></p><h2>Operations</h2>"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security", SECURITY)
            auth = "the CDS client's JWT" if security == CDS_SECURITY else "API key" if security else "no key"
            parts.append(f"<h3><code>{e(method.upper())} {e(path)}</code></h3><p>{e(operation['summary'])} "
                         f"({auth})</p>")
            if "requestBody" in operation:
                parts.append(f"<p>Body: {e(_content_of(operation['requestBody']))}</p>")
            rows = "".join(f"<tr><td>{e(status)}</td><td>{e(response['description'])}</td><td>"
                           f"{e(_content_of(response))}</td></tr>"
                           for status, response in operation["responses"].items())
            parts.append(f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{rows}</table>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", ()))
        parts.append(f"<h3 id='{e(name)}'>{e(name)}</h3><p>{e(schema.get('description', ''))}</p>")
        rows = "".join(f"<tr><td><code>{e(field)}</code></td><td>{e(_type_of(prop))}</td>"
                       f"<td>{'yes' if field in required else 'no'}</td><td>{e(prop.get('description', ''))}</td></tr>"
                       for field, prop in schema.get("properties", {}).items())
        parts.append(f"<table><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr>{rows}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def init_app(app: Flask) -> None:
    if not app.config["DOCS_ENABLED"]:
        return
    document = build_document(app.config["MAX_BATCH_CLAIMS"])
    app.extensions["openapi_text"] = document_text(document)
    app.extensions["docs_html"] = render_docs(document)
    app.register_blueprint(bp)


if __name__ == "__main__":
    import sys

    sys.stdout.write(document_text(build_document()))
