"""FHIR R4 resources of a hook call, read with fhir.resources' R4B models.

CRD and US Core are FHIR R4 (4.0.1). fhir.resources 8 carries R5 (its default) and R4B (4.3.0),
no longer R4; R4B changed none of the resources read here (Patient, Coverage, ServiceRequest,
MedicationRequest, Appointment, Condition, Location, PractitionerRole, DocumentReference, Bundle)
from R4, so an R4 resource parses as R4B unchanged. The last release with R4 models (6.x) needs
pydantic 1, which this project left.

`ResourceIndex` holds every resource of a call (context and prefetch, and what was fetched) by
`Type/id`, so references resolve wherever the resource came from. A resource that does not parse
is left out, and the answer says which one, by its place in the request, never by its content.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


class FhirParseError(ValueError):
    """A JSON object is not a FHIR R4 resource; the message names the first fields at fault."""


def parse_resource(data) -> object:
    """The fhir.resources model of a resource's JSON; FhirParseError naming fields (never values)."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise FhirParseError("is not a FHIR resource (no resourceType)")
    try:
        model = get_fhir_model_class(data["resourceType"])
    except (KeyError, ValueError, ImportError, AttributeError):
        raise FhirParseError("names a resourceType FHIR R4 does not define") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = sorted({".".join(str(part) for part in item["loc"]) or "(resource)"
                         for item in error.errors(include_input=False, include_url=False)})
        raise FhirParseError(f"is not a valid FHIR R4 {data['resourceType']}: {', '.join(fields[:5])}") from None


def resources_of(model) -> list:
    """A Bundle's entry resources, or the one resource itself."""
    if model is None:
        return []
    if model.get_resource_type() == "Bundle":
        return [entry.resource for entry in model.entry or () if entry.resource is not None]
    return [model]


@dataclass
class ResourceIndex:
    by_reference: dict = field(default_factory=dict)

    def add(self, resource) -> None:
        if resource is not None and getattr(resource, "id", None):
            self.by_reference[f"{resource.get_resource_type()}/{resource.id}"] = resource

    def add_all(self, resources) -> None:
        for resource in resources:
            self.add(resource)

    def resolve(self, reference: str | None, container=None):
        """The resource a reference names: `#id` among the container's contained resources, or
        `Type/id` (the last two segments of an absolute URL too); None when it is not held."""
        if not reference:
            return None
        if reference.startswith("#") and container is not None:
            return next((item for item in getattr(container, "contained", None) or ()
                         if getattr(item, "id", None) == reference[1:]), None)
        parts = reference.rstrip("/").split("/")
        return self.by_reference.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    def of_type(self, resource_type: str) -> list:
        return [resource for resource in self.by_reference.values() if resource.get_resource_type() == resource_type]
