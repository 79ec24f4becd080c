"""The service's own access tokens: ES256 JWTs with iss, aud, sub, role, iat, exp (at most one
hour after iat) and jti. The `sub` is an id of the role's kind (principal.subject_fits): a token
whose subject does not fit its role is never issued and never accepted. The signing key lives in Secrets Manager as
{"keys": [{"kid": ..., "privateKeyPem": ...}, ...]}: the first key signs, all are published in the
JWKS so a key can be rotated without invalidating tokens already issued.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from integration_core.principal import Role, subject_fits, subject_rule

ALGORITHM = "ES256"
MAX_TTL_SECONDS = 3600
REQUIRED_CLAIMS = ["iss", "aud", "sub", "role", "iat", "exp", "jti"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired, forged or meant for someone else."""


@dataclass(frozen=True)
class Claims:
    sub: str
    role: Role
    jti: str
    exp: int


def generate_signing_key_secret() -> str:
    """A fresh key set (one P-256 key) in the secret's JSON form."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps({"keys": [{"kid": _kid(key.public_key()), "privateKeyPem": pem}]})


def _kid(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 thumbprint: stable for a key, different for every key."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class KeySet:
    signing_kid: str
    private_keys: dict[str, ec.EllipticCurvePrivateKey]

    @property
    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return {kid: key.public_key() for kid, key in self.private_keys.items()}

    def jwks(self) -> dict:
        keys = []
        for kid, public in self.public_keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}


@lru_cache(maxsize=4)
def load_key_set(secret_json: str) -> KeySet:
    """Parses the secret once per distinct value (the secret itself is cached by Parameters)."""
    entries = json.loads(secret_json)["keys"]
    if not entries:
        raise ValueError("the signing key secret holds no key")
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for entry in entries:
        key = serialization.load_pem_private_key(entry["privateKeyPem"].encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"signing key {entry['kid']} is not an EC key (ES256)")
        keys[entry["kid"]] = key
    return KeySet(signing_kid=entries[0]["kid"], private_keys=keys)


def issue_token(
    sub: str,
    role: str,
    secret_json: str,
    issuer: str,
    audience: str,
    ttl_seconds: int = MAX_TTL_SECONDS,
) -> str:
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"a token lives at most {MAX_TTL_SECONDS} seconds")
    if not subject_fits(role, sub):
        raise ValueError(f"a {role} token's sub is {subject_rule(role)}, not {sub!r}")
    key_set = load_key_set(secret_json)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "role": Role(role).value,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(
        claims,
        key_set.private_keys[key_set.signing_kid],
        algorithm=ALGORITHM,
        headers={"kid": key_set.signing_kid},
    )


def verify_token(token: str, key_set: KeySet, issuer: str, audience: str) -> Claims:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        public = key_set.public_keys.get(kid) if isinstance(kid, str) else None
        if public is None:
            raise InvalidToken("unknown signing key")
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(type(error).__name__) from None
    if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
        raise InvalidToken("token lifetime exceeds one hour")
    try:
        role = Role(claims["role"])
    except ValueError:
        raise InvalidToken("unknown role") from None
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise InvalidToken("empty subject")
    if not subject_fits(role, claims["sub"]):
        raise InvalidToken("subject does not fit its role")
    return Claims(sub=claims["sub"], role=role, jti=claims["jti"], exp=claims["exp"])


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise InvalidToken("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization is not a Bearer token")
    return token.strip()
