"""Fetching a file a partner's data points at (a product image URL), safely.

A URL in a landed file is untrusted input: fetched naively it could read the cloud's
metadata service or an internal admin page (server-side request forgery), hang a worker,
or fill its memory. So: http(s) only, every redirect checked like the first URL, each
host resolved once and connected to by that address (a second DNS answer cannot swap in
a private one), private, loopback, link-local and reserved addresses refused unless
allow-listed, a deadline over the whole exchange, and the body capped while it is read.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = (301, 302, 303, 307, 308)
READ_SIZE = 64 << 10
USER_AGENT = "import_pipeline-images/1"


@dataclass(frozen=True)
class FetchPolicy:
    """Bounds of one fetch. `allowed_networks`: CIDRs (e.g. `10.1.2.0/24`, `127.0.0.1/32`)
    whose private addresses may be fetched all the same (an internal image server; tests)."""

    timeout_seconds: float = 10.0
    max_bytes: int = 20 << 20
    max_redirects: int = 3
    content_type_prefix: str = "image/"
    allowed_networks: tuple[str, ...] = ()

    def networks(self) -> list[IpNetwork]:
        return [ipaddress.ip_network(n.strip(), strict=False) for n in self.allowed_networks]


class FetchError(Exception):
    """The URL was not fetched; the message says why in words a data engineer can act on."""


class FetchRefused(FetchError):
    """The URL, an address it resolves to, a redirect or the answer is not allowed."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """The URL the body came from (after redirects)."""
    content_type: str
    body: bytes


def fetch(url: str, policy: FetchPolicy) -> Fetched:
    """The body at `url`, following at most `policy.max_redirects` checked redirects.
    Raises `FetchRefused` for what the policy forbids and `FetchError` for what failed."""
    deadline = time.monotonic() + policy.timeout_seconds
    networks = policy.networks()
    for _ in range(policy.max_redirects + 1):
        answer = _get(url, policy, networks, deadline)
        if isinstance(answer, Fetched):
            return answer
        url = answer
    raise FetchRefused(f"more than {policy.max_redirects} redirects")


def _get(url: str, policy: FetchPolicy, networks: list[IpNetwork], deadline: float):
    """One request: the fetched body, or the URL a redirect points to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parts.scheme or '?'}://")
    if not parts.hostname:
        raise FetchRefused("the URL names no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _allowed_address(parts.hostname, port, networks)
    connection_type = _PinnedHttps if parts.scheme == "https" else _PinnedHttp
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    conn = None
    try:
        conn = connection_type(parts.hostname, port, address, _remaining(deadline))
        conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        response = conn.getresponse()
        if response.status in REDIRECTS:
            location = response.getheader("Location")
            if not location:
                raise FetchError(f"HTTP {response.status} without a Location")
            return urljoin(url, location)
        if response.status != 200:
            raise FetchError(f"HTTP {response.status} {response.reason}".strip())
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if not content_type.startswith(policy.content_type_prefix):
            raise FetchRefused(f"the answer is {content_type or 'untyped'}, not an image")
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise FetchRefused(f"the body is {int(length):,} bytes, over {policy.max_bytes:,}")
        return Fetched(url, content_type, _capped_body(conn, response, policy, deadline))
    except TimeoutError as exc:
        raise FetchError(f"no answer within {policy.timeout_seconds:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"the request failed ({type(exc).__name__}: {exc})") from exc
    finally:
        if conn is not None:
            conn.close()


def _capped_body(
    conn: http.client.HTTPConnection,
    response: http.client.HTTPResponse,
    policy: FetchPolicy,
    deadline: float,
) -> bytes:
    """The body, read in pieces: refused as soon as it passes the cap, failed at the
    deadline (a server trickling bytes never holds a worker longer than the timeout)."""
    parts, size = [], 0
    while chunk := response.read1(READ_SIZE):
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchRefused(f"the body is over {policy.max_bytes:,} bytes")
        parts.append(chunk)
        if conn.sock is not None:
            conn.sock.settimeout(_remaining(deadline))
    return b"".join(parts)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _allowed_address(host: str, port: int, networks: list[IpNetwork]) -> str:
    """The first address of `host`, if every address it resolves to may be fetched: a
    name that resolves to both a public and a private address is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"the host {host!r} does not resolve ({exc.strerror})") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if _internal(address) and not any(address in n for n in networks):
            raise FetchRefused(
                f"{host} resolves to {address}, a private or reserved address (allow-list "
                "its network to fetch from it)"
            )
    return str(addresses[0])


def _internal(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


class _PinnedHttp(http.client.HTTPConnection):
    """Connects to the address checked for `host`, not to a fresh DNS answer."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHttps(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
