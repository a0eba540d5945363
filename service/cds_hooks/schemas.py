"""The CDS Hooks 2.0 request and answer shapes (pydantic v2): they validate a hook call and give
the OpenAPI document its components (service.openapi). The FHIR resources inside are checked by
fhir.resources (service.cds_hooks.fhir_resources), not here."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FhirAuthorization(BaseModel):
    """An OAuth 2.0 access token for `fhirServer`, used for this call's reads only, never kept."""

    model_config = ConfigDict(extra="allow", strict=True)
    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: str
    subject: str


class CdsHookRequest(BaseModel):
    """A hook call (CDS Hooks 2.0 "HTTP Request"): the hook, its context and prefetch."""

    model_config = ConfigDict(extra="allow", strict=True)
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = Field(None, description="base URL of the client's FHIR server (TLS; plain only on "
                                                     "loopback)")
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class CdsService(BaseModel):
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]
    usageRequirements: str


class CdsServices(BaseModel):
    """The discovery answer (GET /cds-services)."""

    services: list[CdsService]


class CdsHookResponse(BaseModel):
    """Cards for the clinician and system actions for the EHR (each a CRD coverage-information
    `update` of an order: the order with its ext-coverage-information extension)."""

    cards: list[dict[str, Any]]
    systemActions: list[dict[str, Any]]
