"""Pseudonymisation: subscriber identifiers replaced by a keyed HMAC-SHA256 at ingestion.

The pseudonym of a value is the hex HMAC-SHA256, under the operator's key, of the value
normalised (whitespace and '-' removed, one leading '+' dropped), so the same number maps to the
same pseudonym in every file and every run under one key. The key comes from the environment
(`FLOWKIT_PSEUDONYMISATION_KEY`) or a key file readable only by its owner, and is never written
to the FlowDB: without it, pseudonyms cannot be linked back to numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowkit.auth.tokens import write_private_file
from flowkit.ingest.errors import IngestError

KEY_VARIABLE = "FLOWKIT_PSEUDONYMISATION_KEY"
KEY_BYTES = 32
_IGNORED = re.compile(r"[\s\-]")


def normalise(value: str) -> str:
    """The form of an identifier that is hashed: '+255 712-345' and '255712345' are one number."""
    value = _IGNORED.sub("", value)
    return value[1:] if value.startswith("+") else value


class Pseudonymiser:
    """Keyed pseudonyms of identifiers: one value at a time, or a whole Arrow column.

    Pseudonyms already computed are remembered (up to `remembered` values), so a subscriber
    seen in many batches, or as caller and callee, is hashed once.
    """

    def __init__(self, key: bytes, *, remembered: int = 4_000_000):
        if len(key) < 16:
            raise IngestError("the pseudonymisation key is too short (at least 16 bytes)")
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self._remembered = remembered
        self._values = pa.array([], pa.string())  # normalised values already hashed
        self._pseudonyms = pa.array([], pa.string())

    def __repr__(self) -> str:
        return "Pseudonymiser(<key hidden>)"

    def pseudonym(self, value: str) -> str:
        return self._hash(normalise(value))

    def _hash(self, normalised: str) -> str:
        digest = self._hmac.copy()
        digest.update(normalised.encode())
        return digest.hexdigest()

    def column(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonyms of a string column, NULLs kept."""
        return self.columns([values])[0]

    def columns(self, columns: list[pa.Array | pa.ChunkedArray]) -> list[pa.Array]:
        """Pseudonyms of string columns sharing one number space (msisdn and msisdn_counterpart):
        each distinct value is hashed once, and only if it was not hashed before."""
        normalised = [_normalised(c) for c in columns]
        distinct = pc.unique(pa.concat_arrays(normalised)).drop_null()
        known = pc.index_in(distinct, value_set=self._values)
        missing = pc.is_null(known).to_numpy(zero_copy_only=False)
        new = distinct.filter(missing)
        hashed = pa.array([self._hash(v) for v in new.to_pylist()], pa.string())
        where = pc.fill_null(known, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        where[missing] = len(self._pseudonyms) + np.arange(len(new))
        pseudonyms = pc.take(pa.concat_arrays([self._pseudonyms, hashed]), pa.array(where))
        if len(self._values) + len(new) > self._remembered:
            self._values, self._pseudonyms = distinct, pseudonyms
        else:
            self._values = pa.concat_arrays([self._values, new])
            self._pseudonyms = pa.concat_arrays([self._pseudonyms, hashed])
        return [pc.take(pseudonyms, pc.index_in(c, value_set=distinct)) for c in normalised]


def _normalised(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = pc.cast(values, pa.string())
    values = pc.replace_substring_regex(values, _IGNORED.pattern, "")
    return pc.replace_substring_regex(values, r"^\+", "")


def new_key() -> str:
    """A fresh key, as the hex text kept in a key file or the environment."""
    return secrets.token_hex(KEY_BYTES)


def write_key_file(path: str | Path) -> Path:
    """Write a new key to `path` (mode 0600); an existing file is never overwritten."""
    path = Path(path)
    if path.exists():
        raise IngestError(
            "a key file is already there; keys are never overwritten (pseudonyms depend on them)", file=path
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, (new_key() + "\n").encode())
    return path


def load_key(key_file: str | Path | None = None, environ=os.environ) -> Pseudonymiser:
    """The operator's key, from `key_file` if given, else from the environment; refuses without one."""
    if key_file is not None:
        path = Path(key_file)
        try:
            mode = path.stat().st_mode
            text = path.read_text().strip()
        except OSError as error:
            raise IngestError(f"cannot read the key file: {error.strerror}", file=path) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IngestError(
                f"the key file must be readable by its owner only (chmod 600; it is {mode & 0o777:o})", file=path
            )
        return Pseudonymiser(_decode(text, f"key file {path.name}"))
    text = environ.get(KEY_VARIABLE, "").strip()
    if not text:
        raise IngestError(
            f"no pseudonymisation key: set {KEY_VARIABLE} or give --key-file (make one with `flowkit keygen FILE`)"
        )
    return Pseudonymiser(_decode(text, KEY_VARIABLE))


def _decode(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise IngestError(f"the key in {where} is not hex text (as `flowkit keygen` writes)") from None


__all__ = ["KEY_VARIABLE", "Pseudonymiser", "load_key", "new_key", "normalise", "write_key_file"]
