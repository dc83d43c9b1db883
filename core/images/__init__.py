"""Images: a read-only base layer, one read-only layer per language, stacked by overlayfs.

    store = open_store()                         # the store for the configured distro
    layers = store.layers_for(language, catalogue())   # [base, ...deps, language] host dirs
    Builder(store, catalogue(), load_base("debian")).build(["python"])

Modules: recipes (what goes in, recipe hashes), builder (build and publish), store (layout,
manifest, lock), manifest, digest, namespace (overlay + chroot in a private mount namespace),
debian (mmdebstrap, apt-get), alpine (minirootfs download and checks, apk). docs/images.md
explains layers, whiteouts and how to add a language.
"""

from __future__ import annotations

from core.config import Settings, get_settings
from core.images.errors import (
    BuildFailed,
    ChecksumMismatch,
    ImageError,
    ImageMissing,
    UnsafeArchive,
)
from core.images.manifest import LayerRecord, Manifest
from core.images.recipes import BASE, DISTROS, BaseRecipe, Distro, load_base
from core.images.store import ImageStale, ImageStore


def base_recipe(distro: Distro | None = None, settings: Settings | None = None) -> BaseRecipe:
    """rootfs/base/base.toml for `distro`, with the settings applied (JAULA_APT_SOURCES)."""
    settings = settings or get_settings()
    return load_base(distro or settings.image_distro, apt_sources=settings.apt_sources)


def open_store(distro: Distro | None = None, settings: Settings | None = None) -> ImageStore:
    """The store at the `images_path` setting for `distro` (default: `image_distro`)."""
    settings = settings or get_settings()
    return ImageStore(settings.images_path, distro or settings.image_distro)


__all__ = [
    "BASE",
    "DISTROS",
    "BuildFailed",
    "ChecksumMismatch",
    "Distro",
    "ImageError",
    "ImageMissing",
    "ImageStale",
    "ImageStore",
    "LayerRecord",
    "Manifest",
    "UnsafeArchive",
    "base_recipe",
    "load_base",
    "open_store",
]
