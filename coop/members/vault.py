"""The identity vault: personal fields encrypted at rest, one data key per member.

- The master key (KEK, 32 random bytes) lives in the file COOP_DATA_KEY_FILE, created with mode
  0600 by `coop init`, and never in the database or its backups.
- Each member has her own data key (DEK, AES-256), stored only wrapped: AES-GCM under the KEK
  with the member number as associated data.
- Each field is AES-GCM under the DEK, nonce 12 random bytes, associated data
  `coop/v1|member_identity|<field>|<member number>`: a ciphertext moved to another member or
  another field does not decrypt.
- A phone number can be looked up through a blind index: HMAC-SHA256 of its digits under a key
  derived from the KEK (HKDF), which reveals only equality, never the number.
- Erasure destroys the wrapped DEK: every field of that member becomes unreadable for good
  (crypto-shredding), while the ledger, which never held personal data, still verifies.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from coop.errors import CoopError, require

KEY_BYTES = 32
NONCE_BYTES = 12
FIELDS = ("known_as", "legal_name", "phone", "nominee")


class VaultUnavailable(CoopError):
    code = "vault_unavailable"
    kind = "unavailable"
    title = "The identity vault's key is not available"


class IdentityErased(CoopError):
    code = "identity_erased"
    kind = "not_found"
    title = "This member's identity has been erased"


def create_key_file(path: Path) -> bool:
    """Create the master key file (mode 0600) if it is missing. Returns True if created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
    return True


DERIVED_KEYS_MAX = 64


@dataclass(frozen=True)
class Vault:
    master_key: bytes
    _keys: dict[bytes, bytes] = field(default_factory=dict, compare=False, repr=False)
    """Keys derived for a purpose, kept once derived (a handful of fixed purposes)."""

    @classmethod
    def from_file(cls, path: Path) -> Vault:
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise VaultUnavailable(f"cannot read the data key file {path}") from exc
        if len(key) != KEY_BYTES:
            raise VaultUnavailable(f"the data key file {path} does not hold a 32-byte key")
        return cls(key)

    def new_wrapped_key(self, member_code: str) -> bytes:
        return self._seal(self.master_key, secrets.token_bytes(KEY_BYTES), _aad("dek", member_code))

    def encrypt(self, wrapped_key: bytes, member_code: str, field: str, value: str) -> bytes:
        require(field in FIELDS, f"{field} is an identity field")
        key = self._unwrap(wrapped_key, member_code)
        return self._seal(key, value.encode(), _aad(f"member_identity|{field}", member_code))

    def decrypt(self, wrapped_key: bytes | None, member_code: str, field: str,
                sealed: bytes) -> str:
        if wrapped_key is None:
            raise IdentityErased(f"the identity of {member_code} has been erased")
        key = self._unwrap(wrapped_key, member_code)
        return self._open(key, sealed, _aad(f"member_identity|{field}", member_code)).decode()

    def phone_index(self, phone: str) -> str:
        """Keyed hash of the number's last ten digits, so "+91 98450 12345", "098450 12345"
        and "9845012345" are the same phone (a country code or trunk 0 is often left out)."""
        digits = re.sub(r"\D", "", phone)[-10:]
        mac = hmac.HMAC(self._derived(b"coop/v1/phone-index"), hashes.SHA256())
        mac.update(digits.encode())
        return mac.finalize().hex()

    def keyed_digest(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 of `value` under a key derived from the master key for `purpose`:
        equal values give equal digests, and without the key file nothing can be guessed
        back from it (a plain hash of a phone number can be, by trying every number)."""
        mac = hmac.HMAC(self._derived(f"coop/v1/{purpose}".encode()), hashes.SHA256())
        mac.update(value.encode())
        return mac.finalize().hex()

    def _derived(self, info: bytes) -> bytes:
        key = self._keys.get(info)
        if key is None:
            key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                       info=info).derive(self.master_key)
            if len(self._keys) < DERIVED_KEYS_MAX:
                self._keys[info] = key
        return key

    def _unwrap(self, wrapped_key: bytes, member_code: str) -> bytes:
        return self._open(self.master_key, wrapped_key, _aad("dek", member_code))

    @staticmethod
    def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)

    @staticmethod
    def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise VaultUnavailable("a sealed value does not open with this key") from exc


def _aad(purpose: str, member_code: str) -> bytes:
    return f"coop/v1|{purpose}|{member_code}".encode()
