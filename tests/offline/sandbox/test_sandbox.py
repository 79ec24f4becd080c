"""The provider sandbox frame, through its demo PayPal emulator."""

from __future__ import annotations

from offline.sandbox.providers.paypal import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET


def _paypal_token(http, sandbox: str) -> str:
    response = http.post(
        f"{sandbox}/paypal/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
    )
    assert response.status_code == 200
    return response.json()["access_token"]


ORDER = {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD", "value": "10.00"}}]}


def test_a_request_violating_the_specification_gets_paypals_error_and_is_logged(fixture_stack, http):
    sandbox = fixture_stack.sandbox_url
    token = _paypal_token(http, sandbox)
    bad = {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD"}}]}
    response = http.post(f"{sandbox}/paypal/v2/checkout/orders", json=bad, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    error = response.json()
    assert error["name"] == "INVALID_REQUEST" and error["debug_id"]
    assert error["details"][0]["issue"] == "MISSING_REQUIRED_PARAMETER"
    assert error["details"][0]["field"] == "/purchase_units/0/amount"
    violations = http.get(f"{sandbox}/_sandbox/violations?provider=paypal").json()
    assert violations and violations[-1]["path"] == "/v2/checkout/orders"
    assert "contract violation: paypal POST /v2/checkout/orders" in fixture_stack.console()


def test_valid_requests_keep_state_and_controls_act_as_a_person(fixture_stack, http):
    sandbox = fixture_stack.sandbox_url
    headers = {"Authorization": f"Bearer {_paypal_token(http, sandbox)}"}
    created = http.post(f"{sandbox}/paypal/v2/checkout/orders", json=ORDER, headers=headers)
    assert created.status_code == 201
    order_id = created.json()["id"]
    assert http.post(f"{sandbox}/_sandbox/paypal/orders/{order_id}/approve").status_code == 200
    fetched = http.get(f"{sandbox}/paypal/v2/checkout/orders/{order_id}", headers=headers).json()
    assert fetched["status"] == "APPROVED"
    assert http.get(f"{sandbox}/paypal/v2/checkout/orders/{order_id}").status_code == 401
    logged = http.get(f"{sandbox}/_sandbox/requests?provider=paypal").json()
    assert logged[-2]["headers"]["authorization"] == "<redacted>"  # the last one had no token


def test_fault_injection_fails_the_next_calls_then_recovers(fixture_stack, http):
    sandbox = fixture_stack.sandbox_url
    headers = {"Authorization": f"Bearer {_paypal_token(http, sandbox)}"}
    assert (
        http.post(
            f"{sandbox}/_sandbox/faults", json={"provider": "paypal", "status": 503, "count": 2, "retryAfter": 1}
        ).status_code
        == 201
    )
    for _ in range(2):
        failed = http.post(f"{sandbox}/paypal/v2/checkout/orders", json=ORDER, headers=headers)
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "1"
        assert "debug_id" in failed.json()
    assert http.post(f"{sandbox}/paypal/v2/checkout/orders", json=ORDER, headers=headers).status_code == 201
    http.post(f"{sandbox}/_sandbox/latency", json={"provider": "paypal", "ms": 300})
    slow = http.get(f"{sandbox}/paypal/v2/checkout/orders/NOPE", headers=headers)
    assert slow.elapsed.total_seconds() >= 0.3 and slow.status_code == 404
    http.post(f"{sandbox}/_sandbox/reset?provider=paypal")
    quick = http.get(f"{sandbox}/paypal/v2/checkout/orders/NOPE", headers=headers)
    assert quick.status_code == 401  # reset forgot the token too


def test_signed_callbacks_reach_the_function_urls(fixture_stack):
    from offline.sandbox.callbacks import Callbacks, hmac_sha256_hex

    callbacks = Callbacks(fixture_stack.state["functionUrls"])
    result = callbacks.send(
        "zoom",
        "EchoFunction",
        {"event": "meeting.started"},
        sign=lambda body: {"x-zm-signature": "v0=" + hmac_sha256_hex("secret", body)},
    )
    assert result.status == 200
    assert result.request_headers["x-zm-signature"].startswith("v0=")
