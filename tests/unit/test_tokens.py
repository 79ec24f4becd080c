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
        tokens.issue_token("1", "admin", secret, ISS, AUD, ttl_seconds=3601)


def _forge(secret: str, **claims) -> str:
    key_set = tokens.load_key_set(secret)
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "sub": "1", "role": "admin", "iat": now, "exp": now + 600, "jti": "x"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key_set.private_keys[key_set.signing_kid], "ES256", headers={"kid": key_set.signing_kid})


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 60},  # expired
        {"aud": "another-api"},  # wrong audience
        {"iss": "https://evil.example"},  # wrong issuer
        {"role": "superuser"},  # unknown role
        {"jti": None},  # missing claim
        {"iat": int(time.time()) - 10, "exp": int(time.time()) + 7200},  # lives longer than an hour
    ],
)
def test_tokens_with_bad_claims_are_refused(secret, claims):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(_forge(secret, **claims), tokens.load_key_set(secret), ISS, AUD)


def test_token_signed_by_another_key_is_refused(secret):
    other = tokens.generate_signing_key_secret()
    token = tokens.issue_token("1", "admin", other, ISS, AUD)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_token(token, tokens.load_key_set(secret), ISS, AUD)


def test_tampered_payload_and_alg_none_are_refused(secret):
    token = tokens.issue_token("stu_1", "student", secret, ISS, AUD)
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
    old_token = tokens.issue_token("1", "admin", secret, ISS, AUD)
    new_token = tokens.issue_token("1", "admin", rotated, ISS, AUD)
    key_set = tokens.load_key_set(rotated)
    assert tokens.verify_token(old_token, key_set, ISS, AUD).sub == "1"
    assert tokens.verify_token(new_token, key_set, ISS, AUD).sub == "1"
    assert len(key_set.jwks()["keys"]) == 2


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_authorization_header_must_be_a_bearer_token(header):
    with pytest.raises(tokens.InvalidToken):
        tokens.bearer_token(header)
