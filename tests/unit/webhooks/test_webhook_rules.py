"""Webhook rules without AWS: signatures against the Standard Webhooks test vectors, the SSRF
table (one test per trick), the retry schedule and Retry-After, and the sender against real
receivers on loopback: the connect-time check that defeats DNS rebinding (on every new connection),
Host and TLS SNI kept while connecting to the vetted address, the total timeout, concurrency."""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook as StandardWebhook

from integration_core.adapters.webhook_http import WebhookSender
from integration_core.domain import signatures
from integration_core.domain.deliveries import ErrorClass, next_delay
from integration_core.domain.ssrf import UnsafeUrl, vet_url
from integration_core.timeutil import parse_retry_after
from tests.support.receiver import Answer, Receiver

VECTORS = [
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
    (
        "whsec_plJ3nmyCDGBKInavdOK15jsl",
        "msg_loFOjxBNrRLzqYUf",
        1731705121,
        b'{"event_type":"ping","data":{"success":true}}',
        "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
    ),
]


# ---------------------------------------------------------------- signatures
@pytest.mark.parametrize(("secret", "msg_id", "timestamp", "body", "expected"), VECTORS)
def test_signatures_match_the_spec_test_vectors(secret, msg_id, timestamp, body, expected):
    assert signatures.sign(secret, msg_id, timestamp, body) == expected
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": expected}
    assert signatures.verify([secret], headers, body, now=timestamp).valid


def test_the_standardwebhooks_package_accepts_our_headers_and_we_accept_its():
    secret = signatures.new_secret()
    body = b'{"eventType":"grade_updated"}'
    now = int(datetime.now(UTC).timestamp())
    headers = signatures.signature_headers([secret], "dlv_abc", now, body)
    StandardWebhook(secret).verify(body, headers)
    theirs = StandardWebhook(secret).sign("msg_1", datetime.fromtimestamp(now, UTC), body.decode())
    ours = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": theirs}
    assert signatures.verify([secret], ours, body, now).scheme == "standard-webhooks"


def test_the_legacy_header_is_a_plain_hmac_of_the_body():
    secret, body = signatures.new_secret(), b'{"a":1}'
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signatures.legacy_sign(secret, body) == expected
    assert signatures.verify([secret], {"X-Webhook-Signature": expected}, body, 0).valid


def test_during_rotation_both_secrets_sign_the_standard_header_and_the_newest_alone_the_legacy_one():
    old, new = signatures.new_secret(), signatures.new_secret()
    headers = signatures.signature_headers([new, old], "dlv_1", 1000, b"{}")
    assert len(headers["webhook-signature"].split()) == 2
    assert signatures.verify([old], headers, b"{}", 1000).valid and signatures.verify([new], headers, b"{}", 1000).valid
    # The original's header stays one value, so a receiver comparing it whole keeps working.
    assert headers["X-Webhook-Signature"] == signatures.legacy_sign(new, b"{}")
    legacy_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    assert signatures.verify([new], legacy_only, b"{}", 1000).valid
    assert not signatures.verify([old], legacy_only, b"{}", 1000).valid


@pytest.mark.parametrize(("timestamp_offset", "reason"), [(-301, "timestamp_too_old"), (301, "timestamp_in_future")])
def test_a_timestamp_outside_five_minutes_is_refused(timestamp_offset, reason):
    secret, body, now = signatures.new_secret(), b"{}", 10_000
    headers = signatures.signature_headers([secret], "m", now + timestamp_offset, body)
    assert signatures.verify([secret], headers, body, now).reason == reason


def test_a_tampered_body_is_a_bad_signature():
    secret = signatures.new_secret()
    headers = signatures.signature_headers([secret], "m", 5, b'{"amount":"1"}')
    assert signatures.verify([secret], headers, b'{"amount":"9"}', 5).reason == "bad_signature"


# ---------------------------------------------------------------- SSRF, one test per trick
SSRF = {
    "plain_http": ("http://example.com/hook", "scheme_not_https"),
    "other_scheme": ("gopher://example.com/", "scheme_not_https"),
    "credentials": ("https://user:secret@example.com/hook", "credentials_in_url"),
    "loopback_ipv4": ("https://127.0.0.1/hook", "loopback"),
    "loopback_ipv6": ("https://[::1]/hook", "loopback"),
    "localhost_name": ("https://localhost/hook", "loopback"),
    "private_10": ("https://10.1.2.3/hook", "private"),
    "private_192_168": ("https://192.168.1.1/hook", "private"),
    "private_172_16": ("https://172.16.0.1/hook", "private"),
    "unique_local_ipv6": ("https://[fd00::1]/hook", "private"),
    "metadata_service": ("https://169.254.169.254/latest/meta-data/", "link_local"),
    "link_local_ipv6": ("https://[fe80::1]/hook", "link_local"),
    "cgnat": ("https://100.64.0.1/hook", "cgnat"),
    "multicast": ("https://224.0.0.251/hook", "multicast"),
    "reserved_240": ("https://240.0.0.1/hook", "reserved"),
    "unspecified": ("https://0.0.0.0/hook", "reserved"),
    "ipv4_mapped": ("https://[::ffff:127.0.0.1]/hook", "ipv4_mapped"),
    "ipv4_mapped_metadata": ("https://[::ffff:a9fe:a9fe]/hook", "ipv4_mapped"),
    "decimal": ("https://2130706433/hook", "numeric_host_encoding"),
    "octal": ("https://0177.0.0.1/hook", "numeric_host_encoding"),
    "hex": ("https://0x7f000001/hook", "numeric_host_encoding"),
    "hex_dotted": ("https://0x7f.0.0.1/hook", "numeric_host_encoding"),
    "short_form": ("https://127.1/hook", "numeric_host_encoding"),
    "nat64": ("https://[64:ff9b::a9fe:a9fe]/hook", "reserved"),
    "six_to_four": ("https://[2002:7f00:1::]/hook", "reserved"),
}


@pytest.mark.parametrize(("url", "reason"), SSRF.values(), ids=SSRF.keys())
def test_ssrf_trick_is_refused(url, reason):
    with pytest.raises(UnsafeUrl) as refused:
        vet_url(url)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "https://93.184.216.34:8443/x", "https://[2606:4700::1111]/"]
)
def test_public_https_urls_pass(url):
    assert vet_url(url).scheme == "https"


def test_only_the_explicit_setting_allows_loopback_and_only_loopback():
    assert vet_url("http://127.0.0.1:9000/x", allow_loopback=True).port == 9000
    with pytest.raises(UnsafeUrl):
        vet_url("http://10.0.0.1/x", allow_loopback=True)
    with pytest.raises(UnsafeUrl):
        vet_url("http://example.com/x", allow_loopback=True)


def _send(sender: WebhookSender, url: str):
    try:
        return sender.post(url, b"{}", {})
    finally:
        sender.close()


def test_dns_rebinding_is_caught_at_connect_time():
    """The name passed registration; at delivery it resolves inward: refused, nothing connected."""

    def rebinding(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    sender = WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=False, resolver=rebinding)
    outcome = _send(sender, "https://hooks.example.com/x")
    assert outcome.error_class is ErrorClass.SSRF and outcome.address is None


def test_a_name_with_one_inward_address_among_public_ones_is_refused():
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    sender = WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=False, resolver=mixed)
    assert _send(sender, "https://hooks.example.com/x").error_class is ErrorClass.SSRF


def test_the_connection_goes_to_the_vetted_address_with_the_original_host_header():
    with Receiver() as receiver:

        def pinned(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        sender = WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=True, resolver=pinned)
        outcome = _send(sender, f"http://receiver.localhost:{receiver.port}/hook")
        assert outcome.success and outcome.address == "127.0.0.1"
        assert receiver.at("/hook")[0].headers["Host"] == f"receiver.localhost:{receiver.port}"


def test_unresolvable_names_and_refused_connections_are_classified():
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert (
        _send(
            WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=False, resolver=nowhere),
            "https://nowhere.example/x",
        ).error_class
        is ErrorClass.DNS
    )
    closed = _send(WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=True), "http://127.0.0.1:9/x")
    assert closed.error_class is ErrorClass.CONNECTION


def test_a_lookup_that_takes_the_whole_connect_timeout_is_a_timeout():
    def slow(host: str, port: int) -> list[str]:
        time.sleep(0.6)
        return ["127.0.0.1"]

    sender = WebhookSender(connect_timeout=0.5, total_timeout=5, allow_loopback=True, resolver=slow)
    outcome = _send(sender, "http://slow.localhost:9/x")
    assert outcome.error_class is ErrorClass.TIMEOUT and 600 <= outcome.latency_ms < 1500


def test_a_kept_alive_connection_is_reused_and_every_new_one_is_vetted_again():
    """Two deliveries share one connection (one lookup); once the receiver closes it, the next
    delivery resolves again, and a name now pointing at the metadata service is refused unsent."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups: list[str] = []

    def rebinding_later(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    with Receiver() as receiver:
        receiver.script("/hook", Answer(200), Answer(200, headers={"Connection": "close"}))
        sender = WebhookSender(connect_timeout=1, total_timeout=2, allow_loopback=True, resolver=rebinding_later)
        url = f"http://hooks.localhost:{receiver.port}/hook"
        try:
            assert sender.post(url, b"{}", {}).success and sender.post(url, b"{}", {}).success
            third = sender.post(url, b"{}", {})
        finally:
            sender.close()
        first, second = receiver.at("/hook")
        assert first.peer_port == second.peer_port and lookups == ["hooks.localhost", "hooks.localhost"]
        assert third.error_class is ErrorClass.SSRF and third.address is None
        assert len(receiver.at("/hook")) == 2


def test_the_total_timeout_bounds_a_receiver_that_trickles_its_answer():
    """One byte every 0.2 s keeps each read short: the attempt still ends at the total timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            _read_request(connection)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                if stop.wait(0.2):
                    return
                connection.sendall(bytes([byte]))

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    sender = WebhookSender(connect_timeout=1, total_timeout=1.5, allow_loopback=True)
    try:
        started = time.monotonic()
        outcome = sender.post(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", b"{}", {})
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        sender.close()
        listener.close()
    assert outcome.error_class is ErrorClass.TIMEOUT and outcome.status_code is None
    assert 1.4 <= elapsed < 2.5, elapsed


def test_a_batch_to_slow_receivers_has_every_request_in_flight_at_once_and_answers_in_order():
    """A few threads start a batch; while requests wait, more join, up to one per request."""
    count = 25
    release = threading.Event()
    with Receiver() as receiver:
        for n in range(count):
            receiver.script(f"/hook/{n}", Answer(200 + n, hold=release))
        sender = WebhookSender(connect_timeout=1, total_timeout=5, allow_loopback=True, concurrency=count)
        requests = [(receiver.url(f"/hook/{n}"), b"{}", {"webhook-id": f"msg_{n}"}) for n in range(count)]
        outcomes: list = []
        posting = threading.Thread(target=lambda: outcomes.extend(sender.post_many(requests)))
        posting.start()
        try:
            # Every request is at a receiver while none has been answered yet.
            deadline = time.monotonic() + 5
            while len(receiver.received) < count and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(receiver.received) == count
        finally:
            release.set()
            posting.join(10)
            sender.close()
    assert [o.status_code for o in outcomes] == [200 + n for n in range(count)]


# ---------------------------------------------------------------- TLS to the vetted address
def _read_request(connection: socket.socket) -> bytes:
    """A whole request (headers, then Content-Length bytes of body): answering and closing with part
    of it unread would reset the connection under the sender's feet."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def _tls_receiver(tmp_path: Path, name: str) -> Iterator[tuple[int, ssl.SSLContext, list[str]]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate is for `name` (signed by a CA of its own):
    its port, a client context trusting that CA, and the SNI names its handshakes asked for."""
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str] = []
    server_context.sni_callback = lambda _sock, server_name, _ctx: names.append(server_name)
    client_context = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with server_context.wrap_socket(raw, server_side=True) as connection:
                    _read_request(connection)
                    connection.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            except (ssl.SSLError, OSError):
                continue

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], client_context, names
    finally:
        listener.close()


def test_https_connects_to_the_vetted_address_with_the_host_name_for_sni_and_the_certificate(tmp_path):
    def pinned(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with _tls_receiver(tmp_path, "hooks.example.test") as (port, trusted, names):
        sender = WebhookSender(connect_timeout=1, total_timeout=3, allow_loopback=True, resolver=pinned, verify=trusted)
        try:
            delivered = sender.post(f"https://hooks.example.test:{port}/hook", b"{}", {})
            impostor = sender.post(f"https://other.example.test:{port}/hook", b"{}", {})
        finally:
            sender.close()
    assert (delivered.status_code, delivered.address) == (204, "127.0.0.1")
    assert names == ["hooks.example.test", "other.example.test"]
    # The same address presenting a certificate for another name: refused as a TLS failure.
    assert impostor.error_class is ErrorClass.TLS and impostor.status_code is None


def test_by_default_a_certificate_from_a_root_outside_mozillas_bundle_is_refused(tmp_path):
    with _tls_receiver(tmp_path, "hooks.example.test") as (port, _trusted, _names):
        loopback = lambda host, port: ["127.0.0.1"]  # noqa: E731
        sender = WebhookSender(connect_timeout=1, total_timeout=3, allow_loopback=True, resolver=loopback)
        try:
            refused = sender.post(f"https://hooks.example.test:{port}/hook", b"{}", {})
        finally:
            sender.close()
    assert refused.error_class is ErrorClass.TLS and refused.status_code is None


# ---------------------------------------------------------------- retry schedule
SCHEDULE = (0, 5, 30, 300, 900)


def test_the_default_schedule_gives_five_attempts_then_stops():
    assert [next_delay(SCHEDULE, n, None, 900) for n in range(1, 6)] == [5, 30, 300, 900, None]


def test_retry_after_wins_when_longer_and_is_capped():
    assert next_delay(SCHEDULE, 1, 60, 900) == 60
    assert next_delay(SCHEDULE, 2, 10, 900) == 30
    assert next_delay(SCHEDULE, 1, 86_400, 900) == 900


def test_retry_after_as_seconds_or_http_date():
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", now) == 60
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
