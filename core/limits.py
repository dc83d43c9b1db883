"""Limits in the public contract's units, their defaults per language, and the operator's caps.

A request names some limits; the language fills in the rest; each is then checked against the
operator's maximum (a request over a cap is refused with a message naming the cap, never silently
lowered). `to_sandbox()` converts to the sandbox's byte-based `Limits`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import sandbox
from core.config import Settings
from core.languages import LimitDefaults

KIB = 1024
MIB = 1024 * 1024


def number_text(value: int | float) -> str:
    """A limit as a client wrote it (`:g` would convert a huge integer to float, and overflow)."""
    if isinstance(value, float):
        return f"{value:g}"
    try:
        text = str(value)
    except ValueError:  # more digits than Python converts to text
        return "a number of thousands of digits"
    return text if len(text) <= 20 else f"{text[:10]}... ({len(text)} digits)"


class LimitTooHigh(ValueError):
    def __init__(self, name: str, value: float, cap: float) -> None:
        self.name = name
        self.value = value
        self.cap = cap
        super().__init__(f"{name}={number_text(value)} is over this server's maximum of {number_text(cap)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLimits:
    cpu_time_limit_s: float = 2.0
    wall_time_limit_s: float = 5.0
    memory_limit_mb: int = 256
    pids_limit: int = 64
    output_limit_kb: int = 64
    file_size_limit_kb: int = 16384
    network: bool = False

    @classmethod
    def defaults(cls, lang: LimitDefaults) -> RunLimits:
        return cls(
            cpu_time_limit_s=lang.cpu_time_s,
            wall_time_limit_s=lang.wall_time_s,
            memory_limit_mb=lang.memory_mb,
            pids_limit=lang.pids,
        )

    def merged(self, overrides: dict[str, float | int | bool | None]) -> RunLimits:
        """These limits with the request's non-None values put over them."""
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None and k in known}
        return replace(self, **changes)

    def check_caps(self, settings: Settings) -> None:
        """Raise LimitTooHigh for the first limit over the operator's maximum."""
        caps: dict[str, float] = {
            "cpu_time_limit_s": settings.max_cpu_time_limit_s,
            "wall_time_limit_s": settings.max_wall_time_limit_s,
            "memory_limit_mb": settings.max_memory_limit_mb,
            "pids_limit": settings.max_pids_limit,
            "output_limit_kb": settings.max_output_limit_kb,
            "file_size_limit_kb": settings.max_file_size_limit_kb,
        }
        for name, cap in caps.items():
            value = getattr(self, name)
            if value > cap:
                raise LimitTooHigh(name, value, cap)
        if self.network and not settings.allow_network:
            raise LimitTooHigh("network", 1, 0)

    def to_sandbox(self) -> sandbox.Limits:
        return sandbox.Limits(
            cpu_time_s=self.cpu_time_limit_s,
            wall_time_s=self.wall_time_limit_s,
            memory_bytes=self.memory_limit_mb * MIB,
            pids=self.pids_limit,
            output_bytes=self.output_limit_kb * KIB,
            file_size_bytes=self.file_size_limit_kb * KIB,
        )
