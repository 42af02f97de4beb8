"""A deployment's data directory: the FlowDB file, the token signing keys, FlowAuth's store and secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flowkit.auth.tokens import ensure_key_pair, write_private_file

DEFAULT_SERVER_NAME = "flowkit-demo"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def flowdb_path(self) -> Path:
        return self.root / "flowdb.duckdb"

    @property
    def export_dir(self) -> Path:
        """Where `flowkit demo --via-export` writes the demo country as an operator's export."""
        return self.root / "export"

    @property
    def pseudonymisation_key(self) -> Path:
        """The key file `flowkit demo --via-export` makes and ingests with (mode 0600)."""
        return self.root / "pseudonymisation.key"

    @property
    def quarantine_dir(self) -> Path:
        """Where `flowkit ingest` puts rows that fail its checks, by default."""
        return self.root / "quarantine"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    def key_pair(self) -> tuple[str, str]:
        """(private, public) PEM keys, made on first use; the private key file is mode 0600."""
        return ensure_key_pair(self.keys_dir)

    def secret(self, name: str, make: Callable[[], str]) -> str:
        """The secret kept in file `name`, made by `make` (and written mode 0600) on first use."""
        path = self.root / name
        if not path.exists():
            self.write_secret(name, make())
        return path.read_text().strip()

    def write_secret(self, name: str, text: str) -> Path:
        """Write `text` to a file in the data dir that only its owner can read."""
        path = self.root / name
        write_private_file(path, (text + "\n").encode())
        return path
