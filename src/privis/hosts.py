"""Network addresses as users type them: ``HOST:PORT`` with IPv6 in brackets, and whether one leaves the machine.

Every privis listener (the MJPEG live view, /metrics, the HTTP services) parses and
judges its address here, so ``[::1]:8080`` and the warning for ``0.0.0.0`` mean the same
everywhere.
"""

from __future__ import annotations

import ipaddress
import logging

from privis.errors import PrivisError

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach.

    >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("[::1]")
    (True, True, False, True)
    """
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_host_port(text: str, *, option: str = "address", default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``:PORT`` as (host, port); the host without brackets.

    >>> parse_host_port("[::1]:8080"), parse_host_port(":9000"), parse_host_port("0.0.0.0:80")
    (('::1', 8080), ('127.0.0.1', 9000), ('0.0.0.0', 80))
    """
    host, _, port = text.strip().rpartition(":")
    if host.startswith("["):
        if not host.endswith("]"):
            host = ""  # unbalanced bracket: reported below
        host = host[1:-1]
    elif ":" in host:  # a bare IPv6 address: the port cannot be told apart from the address
        raise PrivisError(f"{option} takes an IPv6 address in brackets, e.g. [{host}]:{port}; got {text!r}")
    if not port.isdigit() or not 0 <= int(port) < 65536 or (text.strip().startswith("[") and not host):
        raise PrivisError(f"{option} must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got {text!r}")
    return host or default_host, int(port)


def url_host(host: str) -> str:
    """`host` as it goes in a URL: IPv6 addresses in brackets.

    >>> url_host("::1"), url_host("127.0.0.1")
    ('[::1]', '127.0.0.1')
    """
    return f"[{host}]" if ":" in host else host


def warn_if_exposed(host: str, what: str) -> bool:
    """Log a warning when `host` is reachable from other machines; True when it is."""
    if is_loopback(host):
        return False
    everywhere = host in ("", "0.0.0.0", "::")
    log.warning(
        "%s listens on %s over plain HTTP with no login: anyone who can reach this machine can use it. "
        "Bind 127.0.0.1 and put an authenticating TLS proxy in front to share it.",  # fmt: skip
        what,
        "every network interface" if everywhere else host,
    )
    return True
