"""Health, the OpenAPI document, Swagger UI and the JWKS."""

import json

import boto3
import jwt

from integration_core import tokens
from scripts.build_openapi import API_PREFIX, OUTPUT, build_document, render, template_routes
from tests.support.lambdas import api_event, invoke, sample_event


def test_health_is_200_with_every_check_when_dependencies_answer(aws):
    answer = invoke("health", sample_event("health/get_health.json"))
    assert answer.status == 200
    assert answer.body["status"] == "ok"
    assert {c["name"] for c in answer.body["checks"]} >= {
        "dynamodb:table",
        "secretsmanager:signing-key",
        "secretsmanager:cursor-key",
    }
    assert all(c["ok"] for c in answer.body["checks"])


def test_health_is_503_naming_what_failed(aws):
    boto3.client("dynamodb").delete_table(TableName="app-table")
    answer = invoke("health", sample_event("health/get_health.json"))
    assert answer.status == 503
    failed = [c for c in answer.body["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["dynamodb:table"]
    assert failed[0]["error"] == "ResourceNotFoundException"
    assert int(answer.headers["Retry-After"]) > 0  # when to ask again, as every 503 of the API says


def test_jwks_publishes_the_key_that_verifies_issued_tokens(aws, token_for):
    answer = invoke("api_docs", api_event("GET", "/.well-known/jwks.json"))
    assert answer.status == 200
    (jwk,) = answer.body["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in jwk  # never the private part
    token = token_for("teacher", "tch_maria0001")
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="school-integration-api")
    assert claims["sub"] == "tch_maria0001"
    assert jwk["kid"] == jwt.get_unverified_header(token)["kid"]


def test_openapi_document_and_swagger_ui_are_served(aws):
    document = invoke("api_docs", sample_event("api_docs/get_openapi.json"))
    assert document.status == 200
    assert document.body["openapi"].startswith("3.1")
    page = invoke("api_docs", api_event("GET", "/docs"))
    assert page.status == 200
    assert "SwaggerUIBundle" in page.body and f"{API_PREFIX}/openapi.json" in page.body


def test_every_template_route_is_in_the_openapi_document_and_back():
    document = build_document()
    documented = {
        (method.upper(), API_PREFIX + path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == set(template_routes())


def test_protected_routes_are_documented_with_bearer_auth_and_public_ones_without():
    document = build_document()
    for (method, path), route in template_routes().items():
        operation = document["paths"][path.removeprefix(API_PREFIX)][method.lower()]
        assert operation["security"] == ([] if route["public"] else [{"bearerAuth": []}]), (method, path)


def test_the_openapi_document_is_valid_openapi_with_no_dangling_reference():
    from openapi_spec_validator import validate

    validate(json.loads(OUTPUT.read_text()))  # raises, naming what is wrong
    validate(build_document())


def test_the_committed_openapi_document_is_current():
    assert json.loads(OUTPUT.read_text()) == json.loads(render(build_document())), "run `make openapi`"


def test_issued_token_claims_match_the_configuration(aws):
    token = tokens.issue_token(
        "svc_crm00001", "service", aws["signing_secret"], "https://integration.school.example", "school-integration-api"
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 3600
    assert set(claims) == {"iss", "aud", "sub", "role", "iat", "exp", "jti"}
