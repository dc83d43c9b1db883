"""client._error_from: an error the launcher reports becomes the right SandboxError subclass."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import HostError, SandboxError, SetupError, SpecError
from sandbox.client import _error_from


def test_setup_error_keeps_step_errno_path_and_detail() -> None:
    error = _error_from(
        {"type": "SetupError", "step": "mount overlay", "errno": 2, "path": "/img", "detail": "x"}
    )
    assert isinstance(error, SetupError)
    assert (error.step, error.errno, error.path, error.detail) == ("mount overlay", 2, "/img", "x")
    assert "ENOENT" in str(error) and "/img" in str(error)


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        ({"type": "SpecError", "message": "argv must be ..."}, SpecError, "argv must be ..."),
        ({"type": "HostError", "message": "not root"}, HostError, "not root"),
        ({"type": "SandboxError", "message": "unknown op"}, SandboxError, "unknown op"),
        ({"type": "SomethingNew", "message": "what"}, SandboxError, "what"),
        ({}, SandboxError, "sandbox error"),
    ],
)
def test_other_errors(data: dict[str, Any], kind: type[SandboxError], message: str) -> None:
    error = _error_from(data)
    assert type(error) is kind
    assert str(error) == message


def test_a_setup_error_with_missing_fields_still_names_its_step() -> None:
    error = _error_from({"type": "SetupError", "step": "run"})
    assert isinstance(error, SetupError)
    assert (error.step, error.errno, error.path) == ("run", 0, None)
