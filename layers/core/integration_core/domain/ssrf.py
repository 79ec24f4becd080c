"""Which webhook URLs and addresses may be called (SSRF protection). Pure rules: the URL's shape
here, every address its host resolves to vetted here too; the HTTP adapter then connects to exactly
the vetted address, so a DNS answer that changes between the check and the connection (rebinding)
cannot reach an internal service.

Refused: anything but https; credentials in the URL; hosts that are not ASCII (full-width or other
non-ASCII digits and letters, which resolvers and HTTP clients normalise, so that 127.0.0.1 spelled
in full-width digits would reach loopback; an international name is taken in its xn-- form); hosts
spelling an IPv4 address in decimal, octal, hex or short form; and addresses that are loopback,
private, link-local (169.254.169.254 included), CGNAT, multicast, reserved, unspecified,
IPv4-mapped/compatible, 6to4, Teredo, NAT64 or otherwise not globally routable. Loopback (and
plain http to it) is allowed only when the deployment says so explicitly: the local stack sets
WEBHOOKS_ALLOW_LOOPBACK=true."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CANONICAL_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)


class UnsafeUrl(ValueError):
    """The URL or an address it resolves to must not be called; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # lowercased, without brackets or a trailing dot
    port: int
    literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # when the host is an IP literal


def _spells_ip_oddly(host: str) -> bool:
    """2130706433, 0x7f000001, 0177.0.0.1, 127.1, 0x7f.1: numbers that resolvers read as IPv4."""
    labels = host.split(".")
    if not all(_NUMERIC_LABEL.match(label) for label in labels):
        return False
    return not (len(labels) == 4 and all(_CANONICAL_OCTET.match(label) and int(label) <= 255 for label in labels))


def vet_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool = False) -> None:
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            raise UnsafeUrl("ipv4_mapped", f"{ip} is an IPv4-mapped address")
        if ip.sixtofour is not None or ip.teredo is not None or ip in _NAT64 or ip in _NAT64_LOCAL:
            raise UnsafeUrl("reserved", f"{ip} embeds an IPv4 address (6to4, Teredo or NAT64)")
        if ip.packed[:12] == bytes(12) and int(ip) > 1:
            raise UnsafeUrl("ipv4_mapped", f"{ip} is an IPv4-compatible address")
    if ip.is_loopback:
        if allow_loopback:
            return
        raise UnsafeUrl("loopback", f"{ip} is a loopback address")
    if ip.is_unspecified:
        raise UnsafeUrl("reserved", f"{ip} is the unspecified address")
    if ip.is_link_local:
        raise UnsafeUrl("link_local", f"{ip} is link-local (instance metadata lives there)")
    if ip.is_multicast:
        raise UnsafeUrl("multicast", f"{ip} is a multicast address")
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        raise UnsafeUrl("cgnat", f"{ip} is carrier-grade NAT space")
    if ip.is_reserved:
        raise UnsafeUrl("reserved", f"{ip} is a reserved address")
    if ip.is_private:
        raise UnsafeUrl("private", f"{ip} is a private address")
    if not ip.is_global:
        raise UnsafeUrl("reserved", f"{ip} is reserved or not publicly routable")


def vet_url(url: str, allow_loopback: bool = False) -> Target:
    """The URL's own shape; the addresses its host resolves to are vetted at every connection."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("invalid_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        raise UnsafeUrl("invalid_url", "the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("invalid_url", "the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("scheme_not_https", "the URL must use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("credentials_in_url", "the URL must not contain credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("invalid_url", "the URL has no host")
    if not host.isascii():
        raise UnsafeUrl(
            "invalid_url", "the host must be ASCII: write an international name in its xn-- form, digits as 0-9"
        )
    literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if ":" in host:
        try:
            literal = ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise UnsafeUrl("invalid_url", "the host is not a valid IPv6 address") from None
        if "%" in host:
            raise UnsafeUrl("link_local", "zoned IPv6 addresses are link-local")
    elif _spells_ip_oddly(host):
        raise UnsafeUrl("numeric_host_encoding", "the host spells an IP address in decimal, octal or hex")
    elif all(label.isdigit() for label in host.split(".")):
        literal = ipaddress.IPv4Address(host)
    elif not _HOSTNAME.match(host):
        raise UnsafeUrl("invalid_url", "the host is not a valid DNS name")
    if literal is not None:
        vet_address(literal, allow_loopback)
    loopback_name = host == "localhost" or host.endswith(".localhost")
    if scheme == "http" and not (allow_loopback and (loopback_name or (literal is not None and literal.is_loopback))):
        raise UnsafeUrl("scheme_not_https", "the URL must use https")
    if loopback_name and not allow_loopback:
        raise UnsafeUrl("loopback", "localhost is a loopback name")
    default_port = 443 if scheme == "https" else 80
    return Target(url=url, scheme=scheme, host=host, port=port or default_port, literal=literal)
