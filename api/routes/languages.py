"""Languages: what can be run here, how, and within which default limits."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas import LanguagePublic, LanguagesPublic, LimitsPublic
from core.config import Settings
from core.images import open_store
from core.languages import Language
from core.limits import RunLimits

router = APIRouter(prefix="/languages", tags=["languages"])


@router.get("")
async def list_languages(services: ServicesDep) -> LanguagesPublic:
    """List the languages, with their toolchain versions and default limits."""
    versions = await run_in_threadpool(image_versions, services.settings)
    languages = services.languages.languages.values()
    return LanguagesPublic(
        languages=[_public(language, versions.get(language.name)) for language in languages]
    )


def image_versions(settings: Settings) -> dict[str, str]:
    """Toolchain version per built language image, from the image store's manifest."""
    try:
        manifest = open_store(settings=settings).manifest()
    except (OSError, ValueError):
        return {}  # an unreadable manifest means no version is known, not a failed listing
    return {name: record.version for name, record in manifest.layers.items()}


def _public(language: Language, version: str | None) -> LanguagePublic:
    limits = RunLimits.defaults(language.limits)
    return LanguagePublic(
        name=language.name,
        display_name=language.display_name,
        aliases=list(language.aliases),
        extensions=list(language.extensions),
        version=version,
        source_file=language.source_file,
        hello_world=language.hello(),
        compile_command=list(language.compile_argv) if language.compile_argv else None,
        run_command=list(language.run_argv),
        compiler_options_allowed=list(language.compiler_options_allowed),
        default_limits=LimitsPublic(
            cpu_time_limit_s=limits.cpu_time_limit_s,
            wall_time_limit_s=limits.wall_time_limit_s,
            memory_limit_mb=limits.memory_limit_mb,
            pids_limit=limits.pids_limit,
            output_limit_kb=limits.output_limit_kb,
            file_size_limit_kb=limits.file_size_limit_kb,
            network=limits.network,
        ),
    )
