"""The Kubernetes classroom's logins: a generated password per learner and for the instructor,
handed out on a printed sheet as on one server (accounts.new_password, accounts.write_sheet).

`stagelab classroom passwords --learners N --url URL --out DIR` writes two files:

- DIR/passwords.yaml: values for the chart, given to helm after config.yaml (`-f config.yaml
  -f passwords.yaml`). It holds each name's scrypt hash under `custom.passwordHashes` and no
  password: the chart keeps the values in the hub's Secret, and the hub's authenticator
  (config.yaml: hub.extraConfig.stagelab-passwords) admits exactly those names, each with its
  own password. Nobody chooses a password at a first login, so nobody can claim a name
  (`instructor` included) by arriving first.
- DIR/credentials.txt (mode 0600): the sheet of names and passwords to cut up and hand out.

The hash is hashlib.scrypt (RFC 7914) with Python's documented parameters n=2**14, r=8, p=1
and a 16-byte random salt, written `scrypt$N$R$P$SALT_HEX$KEY_HEX`; the hub's side
(config.yaml) checks a password against it with the same standard library call.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import yaml

from ..accounts import new_password, sheet_text
from ..layout import INSTRUCTOR, learner_names

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
KEY_BYTES = 32
# Where the hashes go in the chart's values (the hub's extraConfig reads them with get_config).
HASHES_KEY = ("custom", "passwordHashes")
VALUES_FILE = "passwords.yaml"
SHEET_FILE = "credentials.txt"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """Return `password`'s scrypt hash as `scrypt$N$R$P$SALT_HEX$KEY_HEX` (a new random salt
    of 16 bytes unless `salt` is given)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def roster(learners: int) -> list[str]:
    """Return the names that may log in: learner01..learnerNN, then the instructor.

    Raises ClassroomError for a count outside 1..99 (layout.learner_names).
    """
    return [*learner_names(learners), INSTRUCTOR]


def passwords_values(passwords: dict[str, str]) -> dict:
    """Return the chart values holding each name's hash (a new salt each), no password."""
    outer, inner = HASHES_KEY
    return {outer: {inner: {name: password_hash(password) for name, password in passwords.items()}}}


def write_passwords(folder: Path, learners: int, hub_url: str) -> tuple[Path, Path]:
    """Make a password for each name of roster(learners); write `folder`/passwords.yaml (the
    hashes, for helm) and `folder`/credentials.txt (the sheet, 0600); return both paths.

    Files already there are replaced: every name gets a new password, and the hub takes the
    new hashes at its next `helm upgrade`.
    """
    passwords = {name: new_password() for name in roster(learners)}
    folder.mkdir(parents=True, exist_ok=True)
    values = folder / VALUES_FILE
    sheet = folder / SHEET_FILE
    for path, text in [
        (values, _values_text(passwords)),
        (sheet, sheet_text(hub_url, passwords)),
    ]:
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
        path.write_text(text)
    return values, sheet


def _values_text(passwords: dict[str, str]) -> str:
    return (
        "# stagelab classroom passwords: each name's scrypt hash (no password). Give it to helm\n"
        "# after config.yaml: helm upgrade --install ... -f config.yaml -f passwords.yaml\n"
        + yaml.safe_dump(passwords_values(passwords), sort_keys=False)
    )
