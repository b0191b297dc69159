"""The catalogue of versioned wire contracts kept in this repository.

Layout: ``schemas/avro/<contract-name>/v<N>.avsc``. ``v0`` is provisional: it is
listed, but stays outside the compatibility check and the release lock, so it may
change freely while a contract is drafted. ``v1`` and later are released: each
contract's released versions must be FULL_TRANSITIVE compatible with one another,
and each released file's Parsing Canonical Form fingerprint is pinned in
``schemas/avro/released.json``, so a released contract cannot be edited in place;
changing it means adding the next version.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastavro.schema import SchemaParseException, parse_schema, to_parsing_canonical_form

from schemas.compatibility import compatibility_problems
from schemas.errors import SchemaError

__all__ = [
    "DEFAULT_ROOT",
    "LOCK_FILE",
    "ContractVersion",
    "canonical_fingerprint",
    "contract_problems",
    "load_contracts",
    "lock_problems",
    "released_lock",
    "write_lock",
]

#: Where the repository's contracts live.
DEFAULT_ROOT: Final[Path] = Path(__file__).resolve().parent / "avro"
#: Name of the release lock inside the contracts root.
LOCK_FILE: Final[str] = "released.json"
_VERSION_FILE: Final[re.Pattern[str]] = re.compile(r"v(0|[1-9][0-9]*)\.avsc")


@dataclass(frozen=True)
class ContractVersion:
    """One version of one contract: ``<root>/<name>/v<version>.avsc``."""

    name: str
    version: int
    path: Path
    schema_text: str

    @property
    def provisional(self) -> bool:
        """``v0`` is a draft: outside the compatibility check and the release lock."""
        return self.version == 0

    @property
    def lock_key(self) -> str:
        """The key of this file in ``released.json``: its path relative to the root."""
        return f"{self.name}/v{self.version}.avsc"


def load_contracts(root: Path = DEFAULT_ROOT) -> dict[str, list[ContractVersion]]:
    """Every contract under ``root``, by name, each with its versions sorted ascending."""
    contracts: dict[str, list[ContractVersion]] = {}
    if not root.is_dir():
        return contracts
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        versions = []
        for path in directory.iterdir():
            match = _VERSION_FILE.fullmatch(path.name)
            if match is not None and path.is_file():
                text = path.read_text(encoding="utf-8")
                versions.append(ContractVersion(directory.name, int(match.group(1)), path, text))
        if versions:
            contracts[directory.name] = sorted(versions, key=lambda v: v.version)
    return contracts


def canonical_fingerprint(schema_text: str) -> str:
    """SHA-256 (hex) of the schema's Avro Parsing Canonical Form.

    Docs, aliases, defaults, logical types and other attributes outside the canonical
    form do not change the fingerprint; names are made full and whitespace removed.
    """
    try:
        canonical = to_parsing_canonical_form(json.loads(schema_text))
    except (ValueError, TypeError, KeyError, AttributeError, SchemaParseException) as error:
        raise SchemaError(f"not a valid Avro schema: {error}") from error
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def released_lock(root: Path = DEFAULT_ROOT) -> dict[str, str]:
    """The release lock: released file (relative to ``root``) → canonical fingerprint."""
    lock_path = root / LOCK_FILE
    if not lock_path.exists():
        return {}
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise SchemaError(f"{lock_path} must be a JSON object mapping file names to fingerprints")
    return dict(data)


def _released(root: Path) -> list[ContractVersion]:
    return [v for versions in load_contracts(root).values() for v in versions if not v.provisional]


def lock_problems(root: Path = DEFAULT_ROOT) -> list[str]:
    """Differences between the released contract files and ``released.json``."""
    lock = released_lock(root)
    problems: list[str] = []
    released = _released(root)
    for contract in released:
        key = contract.lock_key
        if key not in lock:
            problems.append(f"{key} is not in {LOCK_FILE}: run `tracebus schemas release`")
            continue
        try:
            fingerprint = canonical_fingerprint(contract.schema_text)
        except SchemaError as error:
            problems.append(f"{key}: cannot fingerprint released contract: {error}")
            continue
        if fingerprint != lock[key]:
            problems.append(f"released contract {key} changed without a new version")
    present = {contract.lock_key for contract in released}
    provisional = {v.lock_key for versions in load_contracts(root).values() for v in versions if v.provisional}
    for key in sorted(lock):
        if key in provisional:
            problems.append(f"{key} is provisional (v0) and must not be in {LOCK_FILE}")
        elif key not in present:
            problems.append(f"{key} is in {LOCK_FILE} but the file no longer exists")
    return problems


def _layout_problems(root: Path) -> list[str]:
    problems: list[str] = []
    for path in sorted(root.rglob("*.avsc")):
        relative = path.relative_to(root).as_posix()
        if len(path.relative_to(root).parts) != 2 or _VERSION_FILE.fullmatch(path.name) is None:
            problems.append(f"{relative} is not laid out as <contract-name>/v<N>.avsc and is ignored")
    return problems


def contract_problems(root: Path = DEFAULT_ROOT) -> list[str]:
    """Problems with the contracts themselves.

    Every file must be a valid Avro schema, and the released versions (``v1``+) of each
    contract must be FULL_TRANSITIVE compatible: each version is checked in both
    directions against every earlier released version.
    """
    problems = _layout_problems(root) if root.is_dir() else []
    for name, versions in load_contracts(root).items():
        valid: list[ContractVersion] = []
        for contract in versions:
            try:
                parse_schema(json.loads(contract.schema_text))
            except (ValueError, TypeError, KeyError, AttributeError, SchemaParseException) as error:
                problems.append(f"{contract.lock_key}: not a valid Avro schema: {error}")
                continue
            valid.append(contract)
        released = [contract for contract in valid if not contract.provisional]
        for index, contract in enumerate(released[1:], start=1):
            earlier = [c.schema_text for c in released[:index]]
            for problem in compatibility_problems(contract.schema_text, earlier, "FULL_TRANSITIVE"):
                problems.append(f"{name}/v{contract.version}.avsc against {_label(released, problem)}")
    return problems


def _label(released: list[ContractVersion], problem: str) -> str:
    """Rewrite the "version <i>" (1-based position) heading of a compatibility problem as ``v<N>``."""
    match = re.match(r"version (\d+), (\w+) \(([^)]*)\): ", problem)
    if match is None:
        return problem
    file_version = f"v{released[int(match.group(1)) - 1].version}"
    direction = match.group(3).replace(f"version {match.group(1)}", file_version)
    return f"{file_version}, {match.group(2)} ({direction}): {problem[match.end() :]}"


def write_lock(root: Path = DEFAULT_ROOT) -> None:
    """Add every released file missing from ``released.json``; existing entries stay untouched."""
    lock = released_lock(root)
    added = {
        contract.lock_key: canonical_fingerprint(contract.schema_text)
        for contract in _released(root)
        if contract.lock_key not in lock
    }
    if not added:
        return
    lock.update(added)
    text = json.dumps(dict(sorted(lock.items())), indent=2) + "\n"
    (root / LOCK_FILE).write_text(text, encoding="utf-8")
