"""The class's TLS certificate: checked with openssl(1), then copied where only root reads it.

`up --tls-cert FILE --tls-key FILE` gives the proxy a certificate (with its chain) and its
private key: login forms, passwords and cookies then cross the network encrypted, and
JupyterHub marks its cookies Secure. A class with a domain needs a certificate for the domain
and every name under it (`DOMAIN` and `*.DOMAIN`: each learner's server has a name of its own
there, JupyterHub's `subdomain_host`). Checked before anything uses it: both files parse
(`openssl x509`, `openssl pkey`), the key is the certificate's (their public keys are equal),
the certificate has not expired (`-checkend`), and it names the domain (`-checkhost`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .layout import ClassroomError, ClassroomLayout


def _openssl(arguments: list[str]) -> subprocess.CompletedProcess:
    if shutil.which("openssl") is None:
        raise ClassroomError("TLS needs openssl: `apt-get install openssl`, then retry.")
    return subprocess.run(
        ["openssl", *arguments], capture_output=True, text=True, timeout=60, check=False
    )


def certificate_problems(cert: Path, key: Path, domain: str) -> list[str]:
    """Return what is wrong with a certificate and key for a class on `domain` ("" for a
    class with no domain); [] when they will do."""
    for path in (cert, key):
        if not path.is_file():
            return [f"{path} is not a file"]
    certificate = _openssl(["x509", "-in", str(cert), "-noout", "-pubkey"])
    if certificate.returncode != 0:
        return [f"{cert} is not a PEM certificate"]
    private = _openssl(["pkey", "-in", str(key), "-pubout"])
    if private.returncode != 0:
        return [f"{key} is not an unencrypted PEM private key"]
    problems = []
    if certificate.stdout.strip() != private.stdout.strip():
        problems.append(f"{key} is not the key of {cert}")
    if _openssl(["x509", "-in", str(cert), "-noout", "-checkend", "0"]).returncode != 0:
        problems.append(f"{cert} has expired")
    for name in (domain, f"learner01.{domain}") if domain else ():
        checked = _openssl(["x509", "-in", str(cert), "-noout", "-checkhost", name])
        if "does match" not in checked.stdout:
            problems.append(f"{cert} is not valid for {name} (it needs {domain} and *.{domain})")
    return problems


def install_certificate(layout: ClassroomLayout, cert: Path, key: Path, domain: str) -> None:
    """Check a certificate and key for `domain` and copy them into the layout's root-only TLS
    folder (the key mode 0600). Raises ClassroomError saying what is wrong."""
    problems = certificate_problems(cert, key, domain)
    if problems:
        raise ClassroomError(
            "The TLS certificate will not do:\n  "
            + "\n  ".join(problems)
            + "\nGive --tls-cert the certificate (with its chain) and --tls-key its key."
        )
    layout.tls.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(layout.tls, 0o700)
    for source, target in ((cert, layout.tls_cert), (key, layout.tls_key)):
        partial = target.with_suffix(".partial")
        partial.touch(mode=0o600)
        os.chmod(partial, 0o600)
        partial.write_bytes(source.read_bytes())
        partial.replace(target)


def has_certificate(layout: ClassroomLayout) -> bool:
    """Tell whether the class has a copy of a certificate and key."""
    return layout.tls_cert.is_file() and layout.tls_key.is_file()
