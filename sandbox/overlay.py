"""The union filesystem of a container: read-only image layers under one writable, ephemeral one.

overlayfs stacks directories: the lower layers (the image: a base, a language, perhaps a compiled
program) are only ever read; every write lands in the upper directory, a copy of the file made on
first write ("copy up"); a deleted lower file is hidden by a whiteout in the upper one. The upper
and work directories live on the container's tmpfs, so all a run writes vanishes with it, and the
same layers serve every run at once.
"""

from __future__ import annotations

from collections.abc import Sequence

# overlayfs separates layers with ':' and options with ','; '\\' escapes. Layer paths with any of
# them are refused rather than escaped: image stores never need them.
FORBIDDEN_IN_LAYER_PATHS = ":,\\"


def options(layers: Sequence[str], upper: str, work: str) -> str:
    """mount(2) data for an overlay of `layers` (base first, as in Spec.layers)."""
    # overlayfs lists lower layers top first.
    return f"lowerdir={':'.join(reversed(layers))},upperdir={upper},workdir={work}"


def unusable_layer_path(path: str) -> bool:
    return any(c in path for c in FORBIDDEN_IN_LAYER_PATHS)
