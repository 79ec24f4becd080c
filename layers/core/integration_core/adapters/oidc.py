"""OpenID Connect id_token verification with PyJWT, shared by the Google and Microsoft sign-in
adapters: the signing key from the provider's JWKS (cached per URL; a `kid` not in the cache fetches
the set again, at most once per `REFETCH_SECONDS`, so rotated keys are picked up and unknown kids
cannot make us hammer the provider), RS256 only (`alg: none` and HS256-with-the-public-key are
refused before any key is used), then `iss`, `aud`, `azp`, `exp`, `iat` and the nonce."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from integration_core.ports.signin import IdTokenRefused

ALGORITHMS = ["RS256"]
REFETCH_SECONDS = 10.0
LEEWAY_SECONDS = 60
MAX_AGE_SECONDS = 600  # an id_token issued longer ago than this is not one of this exchange

JwksFetcher = Callable[[str], dict[str, Any]]


@dataclass
class _Cached:
    keys: dict[str, Any]
    fetched_at: float


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def _key_set(url: str, fetch: JwksFetcher) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in jwt.PyJWKSet.from_dict(fetch(url)).keys:
        if jwk.key_id:
            keys[jwk.key_id] = jwk.key
    return keys


def signing_key(url: str, kid: str, fetch: JwksFetcher, now: Callable[[], float] = time.monotonic) -> Any:
    with _lock:
        cached = _cache.get(url)
        if cached and kid in cached.keys:
            return cached.keys[kid]
        if cached is None or now() - cached.fetched_at >= REFETCH_SECONDS:
            cached = _Cached(_key_set(url, fetch), now())
            _cache[url] = cached
        if kid in cached.keys:
            return cached.keys[kid]
    raise IdTokenRefused("the id_token is signed with a key the provider does not publish")


def forget_keys() -> None:
    with _lock:
        _cache.clear()


def verify(
    id_token: str,
    *,
    jwks_url: str,
    fetch: JwksFetcher,
    client_id: str,
    issuer: str | Callable[[dict[str, Any]], str],
    nonce: str,
) -> dict[str, Any]:
    """The verified claims; IdTokenRefused naming what failed. `issuer` may depend on the
    (unverified) claims, e.g. Microsoft's common authority: `https://.../{tid}/v2.0`."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise IdTokenRefused("the id_token is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise IdTokenRefused(f"the id_token's algorithm {header.get('alg')!r} is not accepted (RS256 only)")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise IdTokenRefused("the id_token names no signing key")
    key = signing_key(jwks_url, kid, fetch)
    if callable(issuer):
        try:
            unverified = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise IdTokenRefused("the id_token is not a JWT") from None
        expected_issuer = issuer(unverified)
    else:
        expected_issuer = issuer
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=ALGORITHMS,
            audience=client_id,
            issuer=expected_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenRefused("the id_token has expired") from None
    except jwt.InvalidAudienceError:
        raise IdTokenRefused("the id_token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise IdTokenRefused("the id_token is from another issuer") from None
    except jwt.ImmatureSignatureError:
        raise IdTokenRefused("the id_token is not valid yet") from None
    except jwt.PyJWTError as error:
        raise IdTokenRefused(f"the id_token failed verification ({type(error).__name__})") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise IdTokenRefused("the id_token was issued to another party (azp)")
    if int(claims["iat"]) < time.time() - MAX_AGE_SECONDS - LEEWAY_SECONDS:
        raise IdTokenRefused("the id_token was issued too long ago")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise IdTokenRefused("the id_token's nonce is not this sign-in's")
    return claims
