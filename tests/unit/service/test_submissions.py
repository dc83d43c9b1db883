"""Validation of submissions: every refusal names the field and says what to change."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.errors import ApiError
from api.schemas import RunCreate
from api.submissions import to_run_request
from core.config import Settings
from core.jobs import RunRequest
from core.languages import Catalogue, catalogue

PYTHON = """
name = "python"
display_name = "Python 3"
aliases = ["py", "python3"]
extensions = [".py"]
source_file = "main.py"
packages = ["python3"]
run = ["python3", "main.py"]
version = ["python3", "--version"]
hello = "hello.py"
echo = "echo.py"
[limits]
cpu_time_s = 2.0
wall_time_s = 5.0
memory_mb = 256
pids = 64
"""

CPP = """
name = "cpp"
display_name = "C++"
aliases = ["c++"]
extensions = [".cpp"]
source_file = "main.cpp"
packages = ["g++"]
compile = ["g++", "{options}", "-o", "main", "main.cpp"]
run = ["./main"]
version = ["g++", "--version"]
compiler_options_allowed = ["-O0", "-O2"]
hello = "hello.cpp"
echo = "echo.cpp"
[limits]
cpu_time_s = 30.0
"""


@pytest.fixture(scope="module")
def languages(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    root: Path = tmp_path_factory.mktemp("rootfs")
    for name, toml in {"python": PYTHON, "cpp": CPP}.items():
        (root / name).mkdir()
        (root / name / "language.toml").write_text(toml)
    return catalogue(root)


SETTINGS = Settings(
    max_source_bytes=100,
    max_stdin_bytes=10,
    max_files=3,
    max_args=2,
    max_arg_bytes=8,
    max_cpu_time_limit_s=10,
)


def submit(languages: Catalogue, **fields: object) -> RunRequest:
    body = RunCreate.model_validate({"language": "python", "source": "print(1)", **fields})
    return to_run_request(body, settings=SETTINGS, languages=languages)


def refusal(languages: Catalogue, **fields: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        submit(languages, **fields)
    return caught.value


def test_a_plain_submission_gets_the_language_defaults(languages: Catalogue) -> None:
    request = submit(languages, language="PY", stdin="x")
    assert request.language == "python"
    assert request.files == {"main.py": b"print(1)"}
    assert request.main_file == "main.py"
    assert request.stdin == b"x"
    assert (request.limits.cpu_time_limit_s, request.limits.memory_limit_mb) == (2.0, 256)


def test_requested_limits_replace_the_defaults(languages: Catalogue) -> None:
    request = submit(languages, limits={"cpu_time_limit_s": 1.5, "pids_limit": 8})
    assert (request.limits.cpu_time_limit_s, request.limits.pids_limit) == (1.5, 8)
    assert request.limits.wall_time_limit_s == 5.0


def test_a_default_above_the_cap_is_lowered_to_the_cap(languages: Catalogue) -> None:
    request = submit(languages, language="cpp", source="int main(){}")
    assert request.limits.cpu_time_limit_s == 10


def test_an_unknown_language_lists_the_known_ones(languages: Catalogue) -> None:
    error = refusal(languages, language="cobol")
    assert error.status_code == 422
    assert error.detail == "language: unknown language 'cobol'; known: cpp, python"


def test_a_limit_over_the_cap_names_the_cap(languages: Catalogue) -> None:
    error = refusal(languages, limits={"cpu_time_limit_s": 11})
    assert error.status_code == 422
    assert "limits.cpu_time_limit_s" in error.detail
    assert "maximum of 10" in error.detail and "ask for at most 10" in error.detail


def test_network_is_refused_unless_the_operator_allows_it(languages: Catalogue) -> None:
    error = refusal(languages, limits={"network": True})
    assert error.detail.startswith("limits.network: this server does not allow network access")


def test_sizes_over_the_caps_are_413(languages: Catalogue) -> None:
    assert refusal(languages, source="x" * 101).status_code == 413
    assert refusal(languages, stdin="y" * 11).status_code == 413
    files = [{"name": "a.py", "content": "x" * 60}, {"name": "b.py", "content": "x" * 60}]
    error = refusal(languages, source=None, files=files)
    assert error.status_code == 413 and "files (all contents together)" in error.detail


def test_counts_over_the_caps_are_422(languages: Catalogue) -> None:
    files = [{"name": f"{i}.py", "content": ""} for i in range(4)]
    assert "4 files" in refusal(languages, source=None, files=files).detail
    assert "3 arguments" in refusal(languages, args=["a", "b", "c"]).detail
    assert refusal(languages, args=["123456789"]).detail.startswith("args[0]: is longer than 8")


def test_base64_content_is_decoded_and_bad_base64_refused(languages: Catalogue) -> None:
    raw = b"\x00\xffbinary"
    request = submit(
        languages,
        encoding="base64",
        source=base64.b64encode(b"print(2)").decode(),
        stdin=base64.b64encode(raw).decode(),
    )
    assert (request.files["main.py"], request.stdin) == (b"print(2)", raw)
    assert request.encoding == "base64"
    assert refusal(languages, encoding="base64", source="not base64!").detail == (
        "source: is not valid base64 (encoding is base64)"
    )


def test_text_that_is_not_unicode_must_be_sent_as_base64(languages: Catalogue) -> None:
    error = refusal(languages, stdin="\ud800")
    assert error.detail == ("stdin: is not valid Unicode text; send it base64-encoded with encoding=base64")


def test_arguments_must_be_unicode_text(languages: Catalogue) -> None:
    # Stored, a lone surrogate made every later read of the run (and of a batch holding it) fail.
    error = refusal(languages, args=["ok", "\ud800"])
    assert (error.status_code, error.detail) == (
        422,
        "args[1]: is not valid Unicode text (a lone surrogate); fix it",
    )


def test_a_huge_integer_limit_is_refused_with_its_digits_counted(languages: Catalogue) -> None:
    error = refusal(languages, limits={"memory_limit_mb": 10**400})
    assert error.status_code == 422
    assert error.detail.startswith("limits.memory_limit_mb: 1000000000... (401 digits) is over")


def test_base64_too_large_for_the_cap_is_refused_before_decoding(languages: Catalogue) -> None:
    source = base64.b64encode(b"print(1)").decode()
    error = refusal(languages, encoding="base64", source=source, stdin="A" * 400)  # 300 bytes; cap 10
    assert (error.status_code, error.detail) == (
        413,
        "stdin is at least 298 bytes, over this server's maximum of 10 bytes; make it smaller",
    )


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["a", "a/b.py"], "files[0].name: 'a' is also another file's directory; rename one"),
        (["x/y/z.py", "x/y"], "files[1].name: 'x/y' is also another file's directory; rename one"),
        (["d/" + "é" * 128 + ".py"], "files[0].name: has a directory or file name over 255 bytes"),
    ],
)
def test_file_names_the_box_cannot_hold_are_refused(
    languages: Catalogue, names: list[str], problem: str
) -> None:
    files = [{"name": name, "content": ""} for name in names]
    error = refusal(languages, source=None, files=files)
    assert error.status_code == 422 and error.detail.startswith(problem), error.detail


def test_multi_file_main_defaults_to_the_language_file_name(languages: Catalogue) -> None:
    files = [{"name": "lib/util.py", "content": "X=1"}, {"name": "main.py", "content": "..."}]
    request = submit(languages, source=None, files=files)
    assert request.main_file == "main.py"
    assert request.files == {"lib/util.py": b"X=1", "main.py": b"..."}


def test_multi_file_main_file_must_be_one_of_the_files(languages: Catalogue) -> None:
    files = [{"name": "app.py", "content": ""}, {"name": "util.py", "content": ""}]
    assert submit(languages, source=None, files=files).main_file == "app.py"
    assert submit(languages, source=None, files=files, main_file="util.py").main_file == "util.py"
    error = refusal(languages, source=None, files=files, main_file="other.py")
    assert error.detail == "main_file: 'other.py' is not one of the files (app.py, util.py)"


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.py", "a/../../up.py", "a\\b.py", "."])
def test_file_names_stay_inside_the_working_directory(languages: Catalogue, name: str) -> None:
    error = refusal(languages, source=None, files=[{"name": name, "content": ""}])
    assert error.status_code == 422 and error.detail.startswith("files[0].name:")


def test_duplicate_file_names_are_refused(languages: Catalogue) -> None:
    files = [{"name": "a.py", "content": ""}, {"name": "./a.py", "content": ""}]
    assert "appears twice" in refusal(languages, source=None, files=files).detail


def test_compiler_options_come_from_the_language_allowlist(languages: Catalogue) -> None:
    cpp = {"language": "cpp", "source": "int main(){}"}
    assert submit(languages, **cpp, compiler_options=["-O2"]).compiler_options == ["-O2"]
    error = refusal(languages, **cpp, compiler_options=["-fplugin=evil.so"])
    assert error.detail == (
        "compiler_options[0]: '-fplugin=evil.so' is not allowed for cpp; allowed: -O0, -O2"
    )
    assert "takes no compiler options" in refusal(languages, compiler_options=["-O"]).detail


def test_batch_messages_name_the_submission(languages: Catalogue) -> None:
    body = RunCreate.model_validate({"language": "cobol", "source": ""})
    with pytest.raises(ApiError) as caught:
        to_run_request(body, settings=SETTINGS, languages=languages, where="submissions[3].")
    assert caught.value.detail.startswith("submissions[3].language: unknown language")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"language": "python"}, "exactly one of `source`"),
        ({"language": "python", "source": "", "files": []}, "exactly one of `source`"),
        ({"language": "python", "files": []}, "`files` is empty"),
        ({"language": "python", "source": "", "main_file": "a.py"}, "`main_file` goes with"),
        ({"language": "python", "source": "", "limits": {"cpu_time_limit_s": 0}}, "greater"),
        ({"language": "python", "source": "", "limits": {"memory_limit_mb": 1}}, "greater"),
        ({"language": "python", "source": "", "colour": "red"}, "Extra inputs"),
        ({"language": "python", "source": "", "encoding": "latin-1"}, "utf-8"),
    ],
)
def test_schema_refusals(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        RunCreate.model_validate(fields)
