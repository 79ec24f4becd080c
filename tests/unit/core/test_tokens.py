"""Access tokens: what verifies and what is refused."""

import json
import time

import jwt
import pytest

from integration_core import tokens

ISS, AUD = "https://integration.school.example", "school-integration-api"


@pytest.fixture(scope="module")
def secret() -> str:
    return tokens.generate_signing_key_secret()


def test_issued_token_verifies_and_carries_subject_and_role(secret):
    token = tokens.issue_token("stu_ana00001", "student", secret, ISS, AUD)
    claims = tokens.verify_token(token, tokens.load_key_set(secret), ISS, AUD)
    assert (claims.sub, claims.role) == ("stu_ana00001", tokens.Role.STUDENT)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == tokens.load_key_set(secret).signing_kid


def test_tokens_live_at_most_one_hour(secret):
    with pytest.raises(ValueError):
        tokens.issue_token("adm_office", "admin", secret, ISS, AUD, ttl_seconds=3601)


def _forge(secret: str, **claims) -> str:
    key_set = tokens.load_key_set(secret)
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "sub": "adm_office", "role": "admin", "iat": now, "exp": now + 600, "jti": "x"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key_set.private_keys[key_set.signing_kid], "ES256", headers={"kid": key_set.signing_kid})


def test_the_forged_token_of_the_refusal_tests_verifies_as_it_stands(secret):
    # So that each refusal below is for the claim it changes, not for a flaw of the baseline.
    assert tokens.verify_token(_forge(secret), tokens.load_key_set(secret), ISS, AUD).sub == "adm_office"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 60},  # expired
        {"aud": "another-api"},  # wrong audience
        {"iss": "https://evil.example"},  # wrong issuer
        {"role": "superuser"},  # unknown role
        {"jti": None},  # missing claim
        {"iat": int(time.time()) - 10, "exp": int(time.time()) + 7200},  # lives longer than an hour
        # The subject must be an id of the role's kind (stu_, tch_, adm_, svc_).
        {"sub": "1"},
        {"sub": "e2e-admin"},
        {"sub": "svc_accounting"},  # a service's id in an admin token
        {"role": "student", "sub": "svc_accounting"},
        {"role": "teacher", "sub": "stu_ana00001"},
        {"role": "student", "sub": "stu_ANA00001"},
        {"role": "student", "sub": "stu_ana"},
        {"role": "service", "sub": "svc_crm0001\n"},  # "$" would match before a final newline
    ],
)
def test_tokens_with_bad_claims_are_refused(secret, claims):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(_forge(secret, **claims), tokens.load_key_set(secret), ISS, AUD)


def test_token_signed_by_another_key_is_refused(secret):
    other = tokens.generate_signing_key_secret()
    token = tokens.issue_token("adm_office", "admin", other, ISS, AUD)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, tokens.load_key_set(secret), ISS, AUD)


def test_tampered_payload_and_alg_none_are_refused(secret):
    token = tokens.issue_token("stu_ana00001", "student", secret, ISS, AUD)
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["role"] = "admin"
    forged = ".".join([header, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature])
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(forged, tokens.load_key_set(secret), ISS, AUD)
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(unsigned, tokens.load_key_set(secret), ISS, AUD)


def test_rotated_key_set_verifies_old_and_new_tokens(secret):
    new = json.loads(tokens.generate_signing_key_secret())["keys"]
    rotated = json.dumps({"keys": new + json.loads(secret)["keys"]})
    old_token = tokens.issue_token("adm_office", "admin", secret, ISS, AUD)
    new_token = tokens.issue_token("adm_office", "admin", rotated, ISS, AUD)
    key_set = tokens.load_key_set(rotated)
    assert tokens.verify_token(old_token, key_set, ISS, AUD).sub == "adm_office"
    assert tokens.verify_token(new_token, key_set, ISS, AUD).sub == "adm_office"
    assert len(key_set.jwks()["keys"]) == 2


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_authorization_header_must_be_a_bearer_token(header):
    with pytest.raises(tokens.InvalidToken):
        tokens.bearer_token(header)


@pytest.mark.parametrize(
    ("role", "sub"),
    [("student", "svc_accounting"), ("teacher", "stu_ana00001"), ("admin", "1"), ("service", "svc-crm")],
)
def test_a_token_whose_subject_does_not_fit_its_role_is_never_issued(secret, role, sub):
    with pytest.raises(ValueError, match="sub"):
        tokens.issue_token(sub, role, secret, ISS, AUD)


@pytest.mark.parametrize(
    ("role", "sub"),
    [("student", "stu_ana00001"), ("teacher", "tch_james0001"), ("admin", "adm_office"), ("service", "svc_local")],
)
def test_each_role_takes_ids_of_its_own_kind(secret, role, sub):
    claims = tokens.verify_token(tokens.issue_token(sub, role, secret, ISS, AUD), tokens.load_key_set(secret), ISS, AUD)
    assert (claims.role.value, claims.sub) == (role, sub)
