"""From a stored run to its public JSON: outputs as text when they are text, else base64."""

from __future__ import annotations

import base64
from dataclasses import asdict

from api.schemas import Encoding, FilePublic, LimitsPublic, RunPublic
from core.jobs import RunRecord


def encode_output(data: bytes | None, encoding: str) -> tuple[str | None, Encoding | None]:
    """Bytes -> (JSON string, how it is encoded). Lossless: bytes that are not valid UTF-8 are
    sent as base64 even when the client asked for text, and the returned encoding says so."""
    if data is None:
        return None, None
    return encode_bytes(data, encoding)


def encode_bytes(data: bytes, encoding: str) -> tuple[str, Encoding]:
    if encoding == "utf-8":
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "base64"


def files_of(run: RunRecord, encoding: str) -> list[FilePublic]:
    """The submitted files (stored base64-encoded), as text when they are text."""
    files = []
    for name, stored in run.files.items():
        content, content_encoding = encode_bytes(base64.b64decode(stored), encoding)
        files.append(FilePublic(name=name, content=content, encoding=content_encoding))
    return files


def to_public(run: RunRecord, encoding: str | None = None) -> RunPublic:
    """The run as the API shows it; `encoding` overrides the one the run was submitted with."""
    encoding = encoding or run.encoding
    text = encoding == "utf-8"
    stdout, stdout_encoding = encode_output(_cut(run.stdout, text and bool(run.stdout_truncated)), encoding)
    stderr, stderr_encoding = encode_output(_cut(run.stderr, text and bool(run.stderr_truncated)), encoding)
    compile_output, compile_output_encoding = encode_output(run.compile_output, encoding)
    stdin, stdin_encoding = encode_output(run.stdin, encoding)
    return RunPublic.model_validate(
        {
            "id": run.id,
            "status": run.status,
            "language": run.language,
            "limits": LimitsPublic(**asdict(run.limits)),
            "files": files_of(run, encoding),
            "main_file": run.main_file,
            "stdin": stdin,
            "stdin_encoding": stdin_encoding,
            "args": run.args,
            "compiler_options": run.compiler_options,
            "verdict": run.verdict,
            "exit_code": run.exit_code,
            "signal": run.signal,
            "cpu_time_ms": run.cpu_time_ms,
            "wall_time_ms": run.wall_time_ms,
            "memory_peak_bytes": run.memory_peak_bytes,
            "stdout": stdout,
            "stdout_encoding": stdout_encoding,
            "stdout_truncated": run.stdout_truncated,
            "stderr": stderr,
            "stderr_encoding": stderr_encoding,
            "stderr_truncated": run.stderr_truncated,
            "compile_output": compile_output,
            "compile_output_encoding": compile_output_encoding,
            "message": run.message,
            "queued_at": run.queued_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
        }
    )


def _cut(data: bytes | None, truncated: bool) -> bytes | None:
    """Output cut at the cap may end in the middle of a UTF-8 character: drop that part, so
    that text stays text (and is not sent as base64 for its last byte or three). Asked for in
    base64, outputs keep every byte."""
    if not truncated or not data:
        return data
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the last character starts here
            return data[:-back] if _utf8_length(byte) > back else data
    return data


def _utf8_length(lead: int) -> int:
    """Bytes of the UTF-8 character that starts with this byte (1 for anything else)."""
    for length, prefix, bits in ((2, 0b110, 5), (3, 0b1110, 4), (4, 0b11110, 3)):
        if lead >> bits == prefix:
            return length
    return 1
