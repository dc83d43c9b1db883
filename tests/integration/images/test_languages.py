"""Every built language, through core.execution and the real sandbox: hello, echo, compile error.

Parametrized over the languages built in the configured store (`jaula images build`). The CI set
is asserted separately, so an empty store fails instead of passing with nothing run.
"""

from __future__ import annotations

import pytest

import sandbox
from core.execution import CompileFailure, execute, prepare, run, submission_files
from core.images import open_store
from core.languages import catalogue
from tests.integration.images.conftest import CI_LANGUAGES, built_languages

pytestmark = [pytest.mark.root, pytest.mark.images]

LANGS = catalogue()
BUILT = built_languages()
# Several lines, UTF-8, tabs, a long stretch, and no newline at the end: an echo program must
# copy bytes, not lines.
ECHO_INPUT = (
    b"first line\nsecond line: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d\n\ttabs\tand  spaces  \n"
    + b"".join(b"%05d 0123456789abcdefghijklmnopqrstuvwxyz\n" % i for i in range(300))
    + b"last line without a newline"
)


@pytest.mark.parametrize("name", CI_LANGUAGES)
def test_ci_languages_are_built(name: str) -> None:
    layers = open_store().layers_for(LANGS.get(name), LANGS)  # raises ImageMissing if not
    assert all(layer.is_dir() for layer in layers)


@pytest.mark.parametrize("name", BUILT)
def test_hello_world(name: str) -> None:
    lang = LANGS.get(name)
    execution = execute(lang, submission_files(lang, lang.hello().encode()))
    result = execution.result
    assert result.verdict is sandbox.Verdict.OK, (result, execution.compile_output)
    assert result.stdout == b"Hello, World!\n", result.stderr


@pytest.mark.parametrize("name", BUILT)
def test_echo_copies_stdin_exactly_compiled_once(name: str) -> None:
    lang = LANGS.get(name)
    with prepare(lang, submission_files(lang, lang.echo().encode())) as program:
        assert not isinstance(program, CompileFailure), program.compile_output
        for stdin in (ECHO_INPUT, b"", None):
            result = run(program, stdin=stdin)
            assert result.verdict is sandbox.Verdict.OK, result
            assert result.stdout == (stdin or b""), result.stderr


@pytest.mark.parametrize("name", [n for n in BUILT if LANGS.get(n).compiled])
def test_compile_error_carries_the_compilers_message(name: str) -> None:
    lang = LANGS.get(name)
    source = lang.compile_error()
    assert source is not None
    execution = execute(lang, submission_files(lang, source.encode()))
    assert execution.result.verdict is sandbox.Verdict.COMPILE_ERROR
    assert execution.compile_output is not None
    assert "undefined_name" in execution.compile_output
    assert execution.result.stdout == b""


def test_a_compiled_program_cannot_change_its_artefact() -> None:
    """The artefact is a read-only lower layer: a run's writes to /box vanish with the run."""
    lang = LANGS.get("bash") if "c" not in BUILT else LANGS.get("c")
    if lang.name != "c":
        pytest.skip("needs the c image")
    wipe = b'#include <stdio.h>\nint main(void){ return remove("main") ? 1 : 0; }\n'
    with prepare(lang, submission_files(lang, wipe)) as program:
        assert not isinstance(program, CompileFailure)
        first = run(program)
        second = run(program)  # the binary deleted by the first run is still there
        assert first.verdict is sandbox.Verdict.OK and second.verdict is sandbox.Verdict.OK
