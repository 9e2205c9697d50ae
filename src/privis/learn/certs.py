"""TLS certificates for a federation on machines privis runs itself: a private CA, and a
server certificate for the SuperLink signed by it.

The CA's certificate is what every SuperNode and the operator's own tools trust; its key
never leaves the folder it was made in (files 0600). Nothing is fetched from anywhere.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from privis.errors import PrivisError


@dataclass(frozen=True)
class Certificates:
    """The files of a federation's TLS: the CA certificate (to trust) and the server's
    certificate and key (for the SuperLink)."""

    ca: Path
    cert: Path
    key: Path


def ensure_certificates(folder: str | os.PathLike[str], hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                        days: int = 365) -> Certificates:  # fmt: skip
    """The certificates in `folder`, made there first when absent: a CA and a server
    certificate valid for `hosts` (IP addresses and names).

    >>> import tempfile
    >>> c = ensure_certificates(tempfile.mkdtemp())
    >>> c.ca.name, c.cert.name, oct(c.key.stat().st_mode & 0o777)
    ('ca.crt', 'server.pem', '0o600')
    """
    folder = Path(folder)
    found = Certificates(folder / "ca.crt", folder / "server.pem", folder / "server.key")
    if found.ca.exists() and found.cert.exists() and found.key.exists():
        return found
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "privis federation CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    pkcs8, clear = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    _write(folder / "ca.key", ca_key.private_bytes(pem, pkcs8, clear), secret=True)
    _write(found.ca, ca.public_bytes(pem))
    _write(found.key, key.private_bytes(pem, pkcs8, clear), secret=True)
    _write(found.cert, cert.public_bytes(pem))
    return found


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise PrivisError(f"{path}: cannot write it ({exc.strerror})") from None
