"""The store's manifest: one JSON file per distro recording every published layer.

    {"format": 1, "distro": "debian", "layers": {"base": {...}, "python": {...}}}

A record says where the layer lives (a directory name under `layers/`, unique per build, so a
new build never overwrites a directory that a running container may be using), what it holds
(version string, digest, size) and how it was made (recipe hash, parents, build time). The file
is replaced atomically (write a temporary file, fsync, rename): a reader sees the old manifest or
the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerRecord:
    name: str
    """'base' or a language name."""
    directory: str
    """Directory name under the store's layers/ (name plus a build id)."""
    parents: tuple[str, ...]
    """Layers this one is stacked on, lowest first ('base' first; empty for the base)."""
    parent_digests: tuple[str, ...]
    """Their digests when this layer was built: a rebuilt parent makes this layer stale."""
    version: str
    """First line of the toolchain's `version` command (the distro release for the base)."""
    size_bytes: int
    build_time_s: float
    digest: str
    built_at: str
    """ISO 8601, UTC."""
    recipe_hash: str
    packages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["parents"] = list(self.parents)
        data["parent_digests"] = list(self.parent_digests)
        data["packages"] = list(self.packages)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerRecord:
        fields = dict(data)
        fields["parents"] = tuple(fields.get("parents", ()))
        fields["parent_digests"] = tuple(fields.get("parent_digests", ()))
        fields["packages"] = tuple(fields.get("packages", ()))
        return cls(**fields)


@dataclass(slots=True)
class Manifest:
    distro: str
    layers: dict[str, LayerRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, distro: str) -> Manifest:
        """The manifest at path, or an empty one when nothing was built yet."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(distro)
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown manifest format {data.get('format')!r}")
        layers = {name: LayerRecord.from_json(rec) for name, rec in data["layers"].items()}
        return cls(data.get("distro", distro), layers)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "distro": self.distro,
            "layers": {name: self.layers[name].to_json() for name in sorted(self.layers)},
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest.", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
