"""Integration tests of the built images: the real sandbox, as root, over the configured store."""

from __future__ import annotations

import os

import pytest

from core.images import ImageError, open_store
from core.languages import catalogue

# Built by .ci/run; their absence is a failure, never a skip.
CI_LANGUAGES = ("python", "c", "cpp", "javascript", "bash")


def built_languages() -> list[str]:
    """Languages whose whole stack is built (and current) in the configured store."""
    store = open_store()
    langs = catalogue()
    built = []
    for name in langs.names():
        try:
            store.layers_for(langs.get(name), langs)
        except ImageError:
            continue
        built.append(name)
    return built


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the image integration tests need root (run them with sudo or in CI)")
