"""Creates or rotates the ES256 key that signs access tokens, in the deployed secret.

    python scripts/signing_key.py --secret-id <SigningKeySecretArn output>            # first key
    python scripts/signing_key.py --secret-id <arn> --rotate                          # new key signs,
                                                                                      # old one still verifies
    python scripts/signing_key.py --secret-id <arn> --retire                          # drop all but the newest

Rotation keeps the previous key in the JWKS, so tokens it signed stay valid until they expire
(at most one hour); retire it after that.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

import boto3
from botocore.exceptions import ClientError

from integration_core import tokens


def _current(client, secret_id: str) -> list[dict]:
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    try:
        return json.loads(value).get("keys", [])
    except (ValueError, AttributeError):
        return []  # the placeholder CloudFormation created


def main() -> int:
    parser = argparse.ArgumentParser(description="Create or rotate the token signing key")
    parser.add_argument("--secret-id", required=True)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--rotate", action="store_true", help="add a new signing key, keep the old ones")
    action.add_argument("--retire", action="store_true", help="keep only the newest key")
    args = parser.parse_args()
    client = boto3.client("secretsmanager")
    keys = _current(client, args.secret_id)
    if args.retire:
        keys = keys[:1]
    elif args.rotate or not keys:
        keys = json.loads(tokens.generate_signing_key_secret())["keys"] + keys
    else:
        sys.stdout.write("the secret already holds a key; use --rotate to add a new one\n")
        return 0
    client.put_secret_value(SecretId=args.secret_id, SecretString=json.dumps({"keys": keys}))
    sys.stdout.write(f"signing key {keys[0]['kid']} is active; {len(keys)} key(s) published\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
