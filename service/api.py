"""The /v1 API and the MLflow scoring endpoint; every route needs an API key.

Order of checks on every request: API key and rate limit (service.auth), then the body (size and
JSON: service.request_body; schema, domain tables), then the model. Answers are written to the
audit store and committed before the response leaves (service.answer_audit).
"""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify
from flask import request as flask_request
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from features.catalog import load_catalog
from features.diagnosis import ICD10CM_RELEASE, search_diagnoses
from service.answer_audit import record_answers
from service.audit import AuditUnavailable, compact_json, database_error_reason
from service.auth import require_api_key
from service.claims import UNKNOWN_FIELD, claim_from_frame_row, claim_warnings, normalise_claims
from service.errors import APIError, error_body, field_error
from service.metrics import metrics_of
from service.request_body import read_json_body
from service.schemas import InvocationsRequest
from scoring.model_identity import AUDIT_IDENTITY_KEYS

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)
bp.before_request(require_api_key)

INVALID_CLAIM_MESSAGE = "the claim is not valid: errors lists every field at fault and what it allows"


@bp.get("/v1/treatments")
def treatments():
    return jsonify(treatments=load_catalog().to_records())


# GET /v1/diagnoses: the query's bounds (a look-up, not a dump of the release)
DIAGNOSIS_QUERY_MAX_LENGTH = 100
DIAGNOSIS_LIMIT_DEFAULT, DIAGNOSIS_LIMIT_MAX = 20, 50


@bp.get("/v1/diagnoses")
def diagnoses():
    """ICD-10-CM codes by code prefix (`G43.7`) or by the words of their description (`bell's palsy`)."""
    query = flask_request.args.get("q", "").strip()
    errors = []
    if not query or len(query) > DIAGNOSIS_QUERY_MAX_LENGTH:
        errors.append(field_error("q", f"is required: 1 to {DIAGNOSIS_QUERY_MAX_LENGTH} characters, a code prefix "
                                       "such as 'G43.7' or words of the description such as 'migraine'"))
    limit = flask_request.args.get("limit", str(DIAGNOSIS_LIMIT_DEFAULT)).strip()
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= DIAGNOSIS_LIMIT_MAX):
        errors.append(field_error("limit", f"must be an integer from 1 to {DIAGNOSIS_LIMIT_MAX} "
                                           f"(default {DIAGNOSIS_LIMIT_DEFAULT})"))
    if errors:
        raise APIError(422, "invalid_request", "the look-up is not valid: errors names each parameter at fault",
                       errors)
    found = search_diagnoses(query, int(limit))
    g.log_counts = {"diagnoses": len(found)}
    return jsonify(release=ICD10CM_RELEASE, diagnoses=found)


@bp.get("/v1/model")
def model_info():
    extension = current_app.extensions["coverage_model"]
    info = extension.info()
    if not info["ready"]:
        failed = [field_error("model", f"the last load failed at {info['last_load_failed_at']}: "
                                       f"{info['last_load_error']}")] if info.get("last_load_error") else []
        raise APIError(503, "model_unavailable", "no model is loaded yet; retry later" +
                       ("; errors says why the last load failed" if failed else ""), failed,
                       headers={"Retry-After": "5"})
    return jsonify(info)


# POST /v1/predict?explain=: whether answers carry the exact factors (TreeSHAP), the costliest part
# of an answer (KServe's :explain and Vertex AI's explain are the same split). On by default for now.
EXPLAIN_DEFAULT = True
EXPLAIN_VALUES = {"true": True, "false": False}


@bp.post("/v1/predict")
def predict():
    explain = explain_option()
    body = read_json_body()
    if isinstance(body, dict) and "claims" in body:
        return _predict_batch(body, explain)
    result = normalise_claims([body])[0]
    g.log_counts = {"claims": 1, "rejected": int(not result.ok)}
    if not result.ok:
        raise APIError(422, "invalid_claim", INVALID_CLAIM_MESSAGE, result.errors)
    return json_response(answered_and_audited([result.claim], explain)[1][0])


def explain_option() -> bool:
    """The `explain` query parameter: true or false, in any case; absent, EXPLAIN_DEFAULT."""
    given = flask_request.args.get("explain")
    if given is None:
        return EXPLAIN_DEFAULT
    explain = EXPLAIN_VALUES.get(given.strip().lower())
    if explain is None:
        raise APIError(422, "invalid_request", "the explain parameter is not valid",
                       [field_error("explain", "must be true (the answers carry the exact factors) or false (they "
                                               f"leave them out; faster); default {str(EXPLAIN_DEFAULT).lower()}")])
    return explain


def _predict_batch(body: dict, explain: bool):
    limit = current_app.config["MAX_BATCH_CLAIMS"]
    if set(body) != {"claims"}:
        raise APIError(422, "invalid_request", "a batch is an object with the one field 'claims'",
                       [field_error(UNKNOWN_FIELD, "a batch allows only the field 'claims'")])
    claims = body["claims"]
    if not isinstance(claims, list) or not claims:
        raise APIError(422, "invalid_request", "claims must be a non-empty list",
                       [field_error("claims", f"must be a list of 1 to {limit} claim objects")])
    if len(claims) > limit:
        raise APIError(422, "batch_too_large", f"at most {limit} claims per request",
                       [field_error("claims", f"must hold at most {limit} claims; split the batch")])
    not_objects = [index for index, claim in enumerate(claims) if not isinstance(claim, dict)]
    if not_objects:
        raise APIError(422, "invalid_request", "every entry of claims must be a claim object",
                       [field_error(f"claims[{index}]", "must be a JSON object of the contract's visit fields")
                        for index in not_objects])
    results = normalise_claims(claims)
    accepted = [result for result in results if result.ok]
    g.log_counts = {"claims": len(results), "rejected": len(results) - len(accepted)}
    texts = answered_and_audited([result.claim for result in accepted], explain)[1] if accepted else []
    answers = dict(zip((result.index for result in accepted), texts))
    # Each answer is the JSON text the audit store kept, spliced in rather than written out again.
    entries = [f'{{"index":{result.index},"answer":{answers[result.index]}}}' if result.ok else
               compact_json({"index": result.index, **({"claim_id": result.claim_id} if result.claim_id else {}),
                             "error": error_body("invalid_claim", INVALID_CLAIM_MESSAGE, result.errors)})
               for result in results]
    head = compact_json({"request_id": g.request_id, "answered": len(accepted),
                         "rejected": len(results) - len(accepted)})
    return json_response(f'{head[:-1]},"results":[{",".join(entries)}]}}')


def json_response(text: str) -> Response:
    """A JSON text as the response jsonify would make of it (the same bytes: compact, a final newline)."""
    return current_app.response_class(f"{text}\n", mimetype=current_app.json.mimetype)


@bp.post("/invocations")
def invocations():
    """MLflow's scoring protocol, so this service can stand in for `mlflow models serve`.

    The answer is what the logged model's `predict` returns, one row of batch-scoring columns per
    claim (service.schemas.ScoredClaim), with this service's decision thresholds. Unlike
    /v1/predict the frame is all or nothing, as in MLflow: any bad row rejects the request.
    """
    body = read_json_body()
    _refuse_frames_over_the_limit(body)  # before any row is validated: a row's errors cost far more than its bytes
    try:
        frame = InvocationsRequest.model_validate(body)
    except ValidationError as exc:
        raise APIError(422, "invalid_request", "the body must follow the MLflow scoring protocol",
                       _protocol_errors(exc)) from None
    prefix, rows = _frame_rows(frame)
    results = normalise_claims([claim_from_frame_row(row) for row in rows])
    errors = [field_error(f"{prefix}[{result.index}]" + (f".{error['field']}" if error["field"] else ""),
                          error["message"])
              for result in results for error in result.errors]
    g.log_counts = {"claims": len(results), "rejected": sum(not result.ok for result in results)}
    if errors:
        raise APIError(422, "invalid_claim", "rows are not valid claims: errors lists every field at fault", errors)
    claims = [result.claim for result in results]
    rows, model = current_app.extensions["coverage_model"].score(claims)
    record_served(claims, rows, {key: model.get(key) for key in AUDIT_IDENTITY_KEYS}, model.get("rules_version"))
    return jsonify(predictions=rows)


def _refuse_frames_over_the_limit(body) -> None:
    """422 when the frame holds more rows than MAX_BATCH_CLAIMS, whatever the rows are."""
    if not isinstance(body, dict):
        return
    split = body.get("dataframe_split")
    for prefix, rows in (("dataframe_records", body.get("dataframe_records")),
                         ("dataframe_split.data", split.get("data") if isinstance(split, dict) else None)):
        _refuse_rows_over_the_limit(prefix, rows)


def _refuse_rows_over_the_limit(prefix: str, rows) -> None:
    limit = current_app.config["MAX_BATCH_CLAIMS"]
    if isinstance(rows, list) and len(rows) > limit:
        raise APIError(422, "batch_too_large", f"at most {limit} rows per request",
                       [field_error(prefix, f"must hold at most {limit} rows; split the frame")])


def _frame_rows(frame: InvocationsRequest) -> tuple[str, list]:
    if (frame.dataframe_records is None) == (frame.dataframe_split is None):
        raise APIError(422, "invalid_request", "send exactly one of dataframe_records or dataframe_split",
                       [field_error("dataframe_records", "exactly one of dataframe_records or dataframe_split "
                                                         "is required")])
    if frame.dataframe_records is not None:
        return "dataframe_records", frame.dataframe_records
    split = frame.dataframe_split
    errors = []
    if len(set(split.columns)) != len(split.columns):
        errors.append(field_error("dataframe_split.columns", "must name each field once"))
    errors += [field_error(f"dataframe_split.data[{position}]", f"must hold {len(split.columns)} values, "
                                                                "one per column")
               for position, row in enumerate(split.data) if len(row) != len(split.columns)]
    if errors:
        raise APIError(422, "invalid_request", "dataframe_split is not a frame", errors)
    return "dataframe_split.data", [dict(zip(split.columns, row)) for row in split.data]


def _protocol_errors(exc: ValidationError) -> list[dict]:
    errors = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        if error["type"] == "extra_forbidden":
            errors.append(field_error(".".join(loc[:-1] + [UNKNOWN_FIELD]),
                                      "not a field of the MLflow scoring protocol: dataframe_records or "
                                      "dataframe_split (columns, data, index), and params"))
        elif error["type"] == "missing":
            errors.append(field_error(".".join(loc), "is required"))
        else:
            errors.append(field_error(".".join(loc) or "(body)",
                                      "has the wrong type: dataframe_records is a list of objects; dataframe_split "
                                      "is {columns: [names], data: [[values]]}"))
    return errors


def answer_and_audit(claims: list[dict], explain: bool = EXPLAIN_DEFAULT) -> list[dict]:
    """Answer canonical claims, add request id and warnings, commit the audit rows; return answers."""
    return answered_and_audited(claims, explain)[0]


def answered_and_audited(claims: list[dict], explain: bool = EXPLAIN_DEFAULT) -> tuple[list[dict], list[str]]:
    """answer_and_audit's answers and each as the JSON text the audit store kept (service.audit.compact_json)."""
    answers, model = current_app.extensions["coverage_model"].answered(claims, explain=explain)
    request_id = g.request_id
    for claim, answer in zip(claims, answers):
        answer["request_id"] = request_id
        warnings = claim_warnings(claim)
        if warnings:
            answer["warnings"] = [*answer.get("warnings", []), *warnings]
    texts = [compact_json(answer) for answer in answers]
    record_served(claims, answers, model, answer_texts=texts)
    return answers, texts


def record_served(claims: list[dict], answers: list[dict], model: dict | None = None,
                  rules_version: str | None = None, answer_texts: list[str] | None = None) -> None:
    """Commit the request's audit rows (service.answer_audit); a store that cannot be written is a
    503 and nothing is answered."""
    try:
        record_answers(current_app, request_id=g.request_id, key_id=g.key_id,
                       latency_ms=(time.perf_counter() - g.started) * 1000, claims=claims, answers=answers,
                       model=model, rules_version=rules_version, answer_texts=answer_texts)
    except SQLAlchemyError as error:  # the log names the cause, never the rows
        log.error("audit write failed; nothing answered", extra={"detail": database_error_reason(error)})
        raise AuditUnavailable() from None
    metrics_of(current_app).count_answered(answers)
    g.log_counts["answered"] = len(answers)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
