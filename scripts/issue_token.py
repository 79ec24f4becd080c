"""Prints an access token signed with the key in the signing-key secret (Secrets Manager, or the
local stack's moto when AWS_ENDPOINT_URL points at it).

    python scripts/issue_token.py --role admin --sub adm_office [--ttl 3600]

(`make token ROLE=admin SUB=1` does the same against the running local stack.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

import boto3

from integration_core import tokens


def main() -> int:
    parser = argparse.ArgumentParser(description="Print an access token")
    parser.add_argument("--role", required=True, choices=[r.value for r in tokens.Role])
    parser.add_argument("--sub", required=True, help="an id of the role's kind: stu_..., tch_..., adm_..., svc_...")
    parser.add_argument("--ttl", type=int, default=tokens.MAX_TTL_SECONDS)
    parser.add_argument("--secret-id", default=os.environ.get("SIGNING_KEY_SECRET_NAME"))
    parser.add_argument("--issuer", default=os.environ.get("TOKEN_ISSUER", "https://integration.school.example"))
    parser.add_argument("--audience", default=os.environ.get("TOKEN_AUDIENCE", "school-integration-api"))
    args = parser.parse_args()
    if not args.secret_id:
        parser.error("--secret-id (or SIGNING_KEY_SECRET_NAME) is required")
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=args.secret_id)["SecretString"]
    try:
        token = tokens.issue_token(args.sub, args.role, secret, args.issuer, args.audience, args.ttl)
    except ValueError as error:
        parser.error(str(error))
    sys.stdout.write(token + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
