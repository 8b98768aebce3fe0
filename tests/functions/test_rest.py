"""REST functions: OpenAPI operationId and inline forms against a real local HTTP service."""

from __future__ import annotations

import json
import socket

import yaml

from apps.core.http import openapi
from apps.workflows.engine.activities import functions

from .conftest import openapi_document


def rest(operation, **extra):
    return {"name": "petService", "operation": operation, **extra}


def test_operation_id_fills_path_query_header_and_cookie_parameters(call, base_url, state):
    # Given a 0.8 function naming an operationId of an OpenAPI 3 document served over HTTP
    function = rest(f"{base_url}/openapi.json#getPet")

    # When it is called with arguments named like the operation's parameters
    result = call(
        function, {"petId": 7, "fields": ["name", "age"], "X-Tenant": "acme", "session": "s 1"}
    )

    # Then the request reached the server URL resolved from `servers` (with its variable default)
    assert result["method"] == "GET"
    assert result["path"] == "/api/pets/7"
    assert result["query"] == {"fields": ["name", "age"]}
    assert result["headers"]["x-tenant"] == "acme"
    assert result["headers"]["cookie"] == "session=s%201"
    assert result["body"] is None


def test_remaining_arguments_become_the_json_body_when_the_operation_takes_one(call, base_url):
    # Given an operation with a query parameter and a (referenced) requestBody
    function = rest(f"{base_url}/openapi.json#createPet")

    # When called with the parameter plus other arguments
    result = call(function, {"dryRun": True, "name": "Rex", "tags": ["dog"]})

    # Then the parameter goes in the query and the rest is the JSON body
    assert result["method"] == "POST"
    assert result["query"] == {"dryRun": ["true"]}
    assert result["headers"]["content-type"] == "application/json"
    assert result["body"] == {"name": "Rex", "tags": ["dog"]}


def test_an_argument_named_body_is_sent_whole(call, base_url):
    # Given an operation whose requestBody is required
    function = rest(f"{base_url}/openapi.json#updatePet")

    # When the body is given as the `body` argument
    result = call(function, {"petId": "a/b", "body": [1, 2, 3]})

    # Then it is the request body as it is, and the path parameter is encoded
    assert result["method"] == "PUT"
    assert result["path"] == "/api/pets/a%2Fb"
    assert result["body"] == [1, 2, 3]


def test_missing_required_arguments_are_named(call_error, base_url, state):
    # Given getPet, which needs petId (path) and X-Tenant (header)
    function = rest(f"{base_url}/openapi.json#getPet")

    # When called without them
    detail = call_error(function, {"fields": ["name"]})

    # Then the call fails before any request, naming what is missing
    assert detail["code"] == "InvalidArguments"
    assert "petId (path)" in detail["message"] and "X-Tenant (header)" in detail["message"]
    assert state.requests == []


def test_openapi_document_is_loaded_once_and_cached(call, base_url, state):
    # Given a function on an OpenAPI document served over HTTP
    function = rest(f"{base_url}/openapi.json#status")

    # When it is called twice
    call(function, {"code": 200})
    call(function, {"code": 204})

    # Then the document was fetched once and both calls went through
    assert state.document_fetches == 1
    assert [r["path"] for r in state.requests] == ["/api/status/200", "/api/status/204"]


def test_openapi_document_is_loaded_again_when_its_cache_expires(
    call, base_url, state, monkeypatch
):
    # Given a cache lifetime of zero
    monkeypatch.setattr(openapi, "DOCUMENT_TTL", 0)

    # When the function is called twice
    call(rest(f"{base_url}/openapi.json#status"), {"code": 200})
    call(rest(f"{base_url}/openapi.json#status"), {"code": 200})

    # Then the document was fetched each time
    assert state.document_fetches == 2


def test_yaml_document_from_a_file_uri_and_a_relative_path(
    call, base_url, state, tmp_path, settings
):
    # Given the document as YAML in the resource directory, with an absolute server URL
    (tmp_path / "pets.yaml").write_text(yaml.safe_dump(openapi_document(base_url + "/api")))
    settings.XFLOW_RESOURCE_DIR = str(tmp_path)

    # When it is named by file:// URI, by the spec's relative file:// form, and by a path
    call(rest(f"file://{tmp_path}/pets.yaml#status"), {"code": 200})
    call(rest("file://pets.yaml#status"), {"code": 201})
    call(rest("pets.yaml#status"), {"code": 202})

    # Then each resolves the operation and calls the service
    paths = [r["path"] for r in state.requests]
    assert paths == ["/api/status/200", "/api/status/201", "/api/status/202"]


def test_yaml_document_over_http(call, base_url):
    # Given a YAML document served with a YAML content type
    # When an operation of it is called
    result = call(rest(f"{base_url}/openapi.yaml#getPet"), {"petId": 1, "X-Tenant": "t"})

    # Then the operation was found and called
    assert result["path"] == "/api/pets/1"


def test_swagger2_document_uses_host_base_path_and_body_parameter(call, base_url):
    # Given a Swagger 2 operation with a path, a csv query and an `in: body` parameter
    function = rest(f"{base_url}/swagger.json#renamePet")

    # When called with the body under the body parameter's name
    result = call(function, {"petId": 3, "tags": ["a", "b"], "pet": {"name": "Rex"}})

    # Then host/basePath build the URL, the array is comma-joined, the body is JSON
    assert result["path"] == "/api/pets/3"
    assert result["query"] == {"tags": ["a,b"]}
    assert result["body"] == {"name": "Rex"}


def test_inline_operation_with_path_header_and_constant_headers(call, base_url):
    # Given xflow's inline form: server URL, templated path, a header parameter, fixed headers
    function = rest(
        {
            "url": base_url + "/api",
            "path": "/pets/{petId}",
            "method": "put",
            "parameters": [{"name": "X-Tenant", "in": "header"}],
            "headers": {"Accept-Language": "fr"},
        }
    )

    # When called
    result = call(function, {"petId": 9, "X-Tenant": "acme", "name": "Rex"})

    # Then the undeclared {petId} is a path parameter and the rest is the JSON body
    assert result["method"] == "PUT"
    assert result["path"] == "/api/pets/9"
    assert result["headers"]["x-tenant"] == "acme"
    assert result["headers"]["accept-language"] == "fr"
    assert result["body"] == {"name": "Rex"}


def test_inline_get_sends_other_arguments_as_query(call, base_url):
    # Given an inline GET in the OpenAPI path-item shape
    function = rest({"url": base_url, "path": "/api/pets", "get": {"parameters": []}})

    # When called with arguments that are not declared
    result = call(function, {"limit": 5, "tag": ["a", "b"]})

    # Then they go in the query string
    assert result["method"] == "GET"
    assert result["query"] == {"limit": ["5"], "tag": ["a", "b"]}


def test_server_url_can_be_overridden_by_function_metadata(
    call, base_url, state, tmp_path, settings
):
    # Given a document whose server is unreachable, and a function overriding it
    settings.XFLOW_RESOURCE_DIR = str(tmp_path)
    (tmp_path / "pets.json").write_text(json.dumps(openapi_document("https://prod.invalid")))
    function = rest(
        f"file://{tmp_path}/pets.json#status", metadata={"serverUrl": base_url + "/api"}
    )

    # When called
    call(function, {"code": 200})

    # Then the metadata server was used
    assert [r["path"] for r in state.requests] == ["/api/status/200"]


def test_non_2xx_fails_with_the_status_as_code_and_the_body(call_error, base_url):
    # Given an operation answering 404
    # When it is called
    detail = call_error(rest(f"{base_url}/openapi.json#status"), {"code": 404})

    # Then the error code is the status and the parsed body travels with it
    assert detail["code"] == "404"
    assert "404 Not Found" in detail["message"]
    assert detail["body"] == {"error": "as you asked"}


def test_server_error_code(call_error, base_url):
    detail = call_error(rest(f"{base_url}/openapi.json#status"), {"code": 503})

    assert detail["code"] == "503"


def test_slow_service_fails_with_timeout(call_error, base_url):
    # Given a service that answers after 2 s
    # When called with a 0.3 s timeout
    detail = call_error(rest({"url": base_url, "path": "/api/slow"}), timeout=0.3)

    # Then it fails with code Timeout: had it waited for the service, the answer would have come
    assert detail["code"] == "Timeout"


def test_connection_refused_fails_with_connection_error(call_error, allow_outbound):
    # Given a port nobody listens on (and the policy allowing it)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    allow_outbound(f"127.0.0.1:{port}")

    # When a function targets it
    detail = call_error(rest({"url": f"http://127.0.0.1:{port}", "path": "/x"}))

    # Then the error says the connection failed
    assert detail["code"] == "ConnectionError"
    assert f"127.0.0.1:{port}" in detail["message"]


def test_invalid_openapi_documents_fail_with_openapi_error(
    call_error, base_url, tmp_path, settings
):
    # Given a document that is not JSON, one that is not OpenAPI, and one that does not exist
    settings.XFLOW_RESOURCE_DIR = str(tmp_path)
    (tmp_path / "bad.yaml").write_text("paths: [unclosed")

    # When operations of them are called
    broken = call_error(rest(f"{base_url}/broken.json#op"))
    not_openapi = call_error(rest(f"{base_url}/not-openapi.json#op"))
    bad_yaml = call_error(rest(f"file://{tmp_path}/bad.yaml#op"))
    absent = call_error(rest(f"file://{tmp_path}/absent.json#op"))

    # Then each fails with OpenAPIError and a message saying what is wrong
    assert {d["code"] for d in (broken, not_openapi, bad_yaml, absent)} == {"OpenAPIError"}
    assert "not valid JSON" in broken["message"]
    assert "not an OpenAPI 3 or Swagger 2 document" in not_openapi["message"]
    assert "line 1" in bad_yaml["message"]
    assert "Could not read" in absent["message"]


def test_unknown_operation_id_names_the_known_ones(call_error, base_url):
    # Given a function naming an operationId the document does not have
    # When it is called
    detail = call_error(rest(f"{base_url}/openapi.json#getPets"))

    # Then the message lists the operations that exist
    assert detail["code"] == "OpenAPIError"
    assert "'getPets'" in detail["message"]
    assert "getPet, " in detail["message"] and "createPet" in detail["message"]


def test_operation_without_operation_id_is_rejected(call_error):
    detail = call_error(rest("https://example.com/openapi.json"))

    assert detail["code"] == "InvalidFunction"


def test_text_response_is_returned_as_text(call, base_url):
    assert call(rest({"url": base_url, "path": "/api/text"})) == "hello, text"


def test_response_larger_than_the_limit_fails(call_error, base_url, settings):
    # Given a 1 KiB response limit and a 64 KiB answer
    settings.XFLOW_OUTBOUND_MAX_RESPONSE_BYTES = 1024

    # When called
    detail = call_error(rest({"url": base_url, "path": "/api/big"}))

    # Then the call fails clearly instead of loading it
    assert detail["code"] == "ResponseTooLarge"
    assert "1 KiB" in detail["message"]


def test_redirect_on_the_same_scheme_is_followed(call, base_url):
    result = call(rest({"url": base_url, "path": "/api/redirect"}))

    assert result["path"] == "/api/pets/7"


def test_redirect_to_another_scheme_is_refused(call_error, base_url):
    # Given a service redirecting http to https
    # When called
    detail = call_error(rest({"url": base_url, "path": "/api/redirect-https"}))

    # Then the redirect is not followed silently
    assert detail["code"] == "RedirectRefused"
    assert "https://127.0.0.1" in detail["message"]


def test_unsupported_function_type_fails_clearly(call_error):
    detail = call_error({"name": "f", "type": "asyncapi", "operation": "file://a.yaml#op"})

    assert detail["code"] == "UnsupportedFunctionType"
    assert "asyncapi" in detail["message"]


def test_result_too_large_for_a_workflow_step_fails_clearly(call_error, base_url, monkeypatch):
    # Given a result limit below the size of the answer
    monkeypatch.setattr(functions, "MAX_RESULT_BYTES", 1000)

    # When called
    detail = call_error(rest({"url": base_url, "path": "/api/big"}))

    # Then the error says the result is too large rather than Temporal failing later
    assert detail["code"] == "ResultTooLarge"
