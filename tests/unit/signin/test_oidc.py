"""id_token verification (adapters/oidc) with real RS256 keys: the JWKS is cached, a new kid fetches
it again (rotation), an unknown kid does not hammer the provider, and every forgery is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integration_core.adapters import oidc
from integration_core.ports.signin import IdTokenRefused

ISSUER = "https://accounts.google.com"
CLIENT = "client-1.apps.googleusercontent.com"
JWKS = "https://keys.example/certs"


def _key(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture
def keys():
    oidc.forget_keys()
    ring = {"k1": _key("k1")}
    fetches = []

    def fetch(url):
        fetches.append(url)
        return {"keys": [jwk for _, jwk in ring.values()]}

    yield ring, fetch, fetches
    oidc.forget_keys()


def _claims(**overrides):
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": CLIENT,
        "azp": CLIENT,
        "sub": "1234",
        "iat": now,
        "exp": now + 600,
        "nonce": "n-1",
        "email": "ana@example.com",
        "email_verified": True,
        **overrides,
    }


def _sign(ring, kid="k1", **overrides):
    return jwt.encode(_claims(**overrides), ring[kid][0], algorithm="RS256", headers={"kid": kid})


def _verify(token, fetch, nonce="n-1"):
    return oidc.verify(token, jwks_url=JWKS, fetch=fetch, client_id=CLIENT, issuer=ISSUER, nonce=nonce)


def test_an_honest_token_verifies_and_the_keys_are_fetched_once(keys):
    ring, fetch, fetches = keys
    for _ in range(3):
        assert _verify(_sign(ring), fetch)["sub"] == "1234"
    assert fetches == [JWKS]


def test_a_rotated_key_is_picked_up_by_its_kid(keys, monkeypatch):
    ring, fetch, fetches = keys
    _verify(_sign(ring), fetch)
    ring["k2"] = _key("k2")
    monkeypatch.setattr(oidc, "REFETCH_SECONDS", 0.0)
    assert _verify(_sign(ring, "k2"), fetch)["sub"] == "1234"
    assert len(fetches) == 2


def test_unknown_kids_do_not_refetch_within_the_interval(keys):
    ring, fetch, fetches = keys
    _verify(_sign(ring), fetch)
    stranger, _ = _key("k9")
    token = jwt.encode(_claims(), stranger, algorithm="RS256", headers={"kid": "k9"})
    for _ in range(5):
        with pytest.raises(IdTokenRefused, match="does not publish"):
            _verify(token, fetch)
    assert len(fetches) == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://accounts.google.com.evil.example"}, "another issuer"),
        ({"exp": -3600, "iat": -4000}, "expired"),  # exp and iat: seconds from the test's now
        ({"azp": "another-client"}, "another party"),
        ({"aud": [CLIENT, "another"], "azp": None}, "another party"),
        ({"nonce": "replayed"}, "nonce"),
        ({"iat": -7200, "exp": 600}, "too long ago"),
    ],
    ids=["audience", "issuer", "expired", "azp", "multi-audience-without-azp", "nonce", "old-iat"],
)
def test_a_claim_of_another_sign_in_is_refused(keys, overrides, reason):
    ring, fetch, _ = keys
    # Times are made now, not when the module is collected: a long run would age them.
    now = int(time.time())
    overrides = {k: now + v if k in ("exp", "iat") else v for k, v in overrides.items()}
    claims = {k: v for k, v in _claims(**overrides).items() if v is not None}
    token = jwt.encode(claims, ring["k1"][0], algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(IdTokenRefused, match=reason):
        _verify(token, fetch)


def test_alg_none_is_refused_before_any_key_is_looked_up(keys):
    _, fetch, fetches = keys
    token = jwt.encode(_claims(), None, algorithm="none")
    with pytest.raises(IdTokenRefused, match="algorithm"):
        _verify(token, fetch)
    assert fetches == []


def test_hs256_keyed_with_the_public_key_is_refused(keys):
    ring, fetch, _ = keys
    pem = (
        ring["k1"][0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    signing_input = header + b"." + body
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(IdTokenRefused, match="algorithm"):
        _verify((signing_input + b"." + signature).decode(), fetch)


def test_an_issuer_may_depend_on_the_tokens_tenant(keys):
    ring, fetch, _ = keys
    token = _sign(ring, iss="https://login.microsoftonline.com/t-1/v2.0", tid="t-1")
    verified = oidc.verify(
        token,
        jwks_url=JWKS,
        fetch=fetch,
        client_id=CLIENT,
        nonce="n-1",
        issuer=lambda claims: "https://login.microsoftonline.com/{tenantid}/v2.0".replace("{tenantid}", claims["tid"]),
    )
    assert verified["tid"] == "t-1"
