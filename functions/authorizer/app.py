"""The Lambda authorizer of the HTTP API (REQUEST, payload 2.0, simple responses).

A valid access token passes its subject and role on to the function; anything else raises
"Unauthorized", which API Gateway answers with 401 (a missing header never gets here: API Gateway
answers 401 itself). Results are cached by API Gateway on the Authorization header.
"""

from __future__ import annotations

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import tokens
from integration_core.adapters.secrets import secret_text
from integration_core.config import settings
from integration_core.observability import lambda_handler, logger


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    config = settings()
    try:
        token = tokens.bearer_token(headers.get("authorization"))
        key_set = tokens.load_key_set(secret_text(config.signing_key_secret_name))
        claims = tokens.verify_token(token, key_set, config.token_issuer, config.token_audience)
    except tokens.InvalidToken as error:
        # The reason is logged for operators; the caller only learns "Unauthorized".
        logger.info("token refused", extra={"reason": str(error), "route": event.get("routeKey")})
        raise Exception("Unauthorized") from None
    logger.append_keys(sub=claims.sub, role=claims.role.value)
    return {
        "isAuthorized": True,
        "context": {"sub": claims.sub, "role": claims.role.value, "jti": claims.jti},
    }
