"""Outbound HTTP for every app: the client, auth, documents and OpenAPI reading.

Module map: `client` (requests: auth, redirects, size and time caps, parsing), `transport`
(connections only to addresses the outbound policy allows, see apps.core.outbound),
`documents` (JSON/YAML documents by URI: http(s) or files inside XFLOW_RESOURCE_DIR),
`openapi` (OpenAPI 3 / Swagger 2 documents: cache, operations), `auth` (basic, bearer,
oauth2 with a token cache), `errors` (CallError and its codes).

Import from the submodules; this package imports nothing so apps.core.outbound can use
`errors` without a cycle.
"""
