"""jaula's sandbox: run one program in one fresh container made from Linux primitives.

    result = sandbox.run(Spec(argv=["python3", "main.py"], layers=[base, python],
                              files={"main.py": b"print(1)"}, limits=Limits(cpu_time_s=1)))

Standard library only; it knows nothing about the service around it. Main API:

    run(spec) -> Result          run in a shared launcher (thread-safe; one launcher per thread)
    Sandbox(LauncherConfig())    a launcher of your own (context manager): .run(spec), .close()
    Spec, Limits, Bind           the input;  Result, Verdict  the output
    SandboxError and subclasses  a failure of the sandbox itself, never of the program

How it works: launcher.py (theory of operation), docs/sandbox.md.
"""

from typing import TYPE_CHECKING, Any

from sandbox.errors import HostError, LauncherDied, SandboxError, SetupError, SpecError
from sandbox.launcher import LauncherConfig
from sandbox.result import Result, Verdict
from sandbox.spec import BOX, DEFAULT_ENV, Bind, Limits, Spec

if TYPE_CHECKING:
    from sandbox.client import Sandbox, run


def __getattr__(name: str) -> Any:
    # The client side (threads, subprocess) is imported on first use only: the launcher process
    # imports this package too, and everything it imports is copied into every container it forks.
    if name in ("Sandbox", "run"):
        from sandbox import client

        return getattr(client, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")


__all__ = [
    "BOX",
    "DEFAULT_ENV",
    "Bind",
    "HostError",
    "LauncherConfig",
    "LauncherDied",
    "Limits",
    "Result",
    "SandboxError",
    "Sandbox",
    "SetupError",
    "Spec",
    "SpecError",
    "Verdict",
    "run",
]
