"""CDS Hooks 2.0 endpoints speaking HL7 Da Vinci Coverage Requirements Discovery (CRD STU 2).

An EHR calls them while an order is signed (or selected) or an appointment booked; the answer
is the served model's, through the same path as POST /v1/predict. Modules: `routes` (the
blueprint), `discovery` (the services and their prefetch), `client_jwt` (the client's signed
token and replay ledger), `fhir_client` (reads from the EHR's FHIR server), `fhir_resources`
(R4 resources parsed and indexed), `order_mapping` (an order as a request claim),
`coverage_types` (plan and place codes), `crd_response` (cards and system actions),
`policy_links` (links to the policies cited), `schemas` (the request and answer shapes).
"""
