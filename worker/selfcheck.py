"""The sandbox self-check a worker runs at start-up and reports in its heartbeat (/healthz).

It runs a real program the way jobs run: the `echo` program of a language whose image is built
(an interpreted one if possible, it is quicker), through core.execution and the sandbox, and
checks that its stdin came back on stdout. That proves the host can create containers, that an
image is usable, and that outputs flow back; the details of a failure name the step.
"""

from __future__ import annotations

from core import execution
from core.images import ImageError, open_store
from core.languages import Language
from core.limits import RunLimits
from worker.execute import Context

PROBE = b"jaula self-check\n"


def sandbox_self_check(ctx: Context) -> tuple[bool, str]:
    """(ok, one line of detail)."""
    try:
        language = _built_language(ctx)
        if language is None:
            return False, "no language image is built on this host; run `jaula images build`"
        files = {language.source_file: language.echo().encode()}
        done = execution.execute(
            language,
            files,
            stdin=PROBE,
            limits=RunLimits.defaults(language.limits),
            store=open_store(settings=ctx.settings),
            settings=ctx.settings,
        )
    except Exception as exc:  # any failure is the check's answer, reported rather than raised
        return False, f"{type(exc).__name__}: {exc}"
    result = done.result
    if str(result.verdict) != "ok" or result.stdout != PROBE:
        detail = result.message or repr(result.stdout)
        return False, f"{language.name} echo gave {result.verdict}: {detail}"
    return True, f"{language.name} echo ran in {result.wall_time_ms} ms"


def _built_language(ctx: Context) -> Language | None:
    store = open_store(settings=ctx.settings)
    by_cost = sorted(ctx.languages.languages.values(), key=lambda lang: (lang.compiled, lang.name))
    for language in by_cost:
        try:
            store.layers_for(language, ctx.languages)
        except ImageError:
            continue
        return language
    return None
