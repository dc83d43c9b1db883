"""Per-token rate limits, kept in Redis so that every API process shares one count.

The algorithm is GCRA (the generic cell rate algorithm, a leaky bucket stored as one timestamp):
each token has a "theoretical arrival time" (TAT) that every admitted run pushes `interval` into
the future; a request is refused while that would put TAT more than `burst` intervals ahead of
now, and the refusal says exactly when it would be admitted (Retry-After). One key per token, one
atomic script call per request, Redis' own clock (so API hosts' clocks do not matter).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1]: the token's key. ARGV: interval_us, tolerance_us (burst * interval), cost.
# Returns 0 when admitted, else the microseconds to wait before the same request would be.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local wait = new_tat - tolerance - now
if wait > 0 then return wait end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return 0
"""


@dataclass(frozen=True, slots=True)
class Refused:
    retry_after_s: int


class RateLimiter:
    def __init__(self, client: aioredis.Redis, *, per_minute: int, burst: int) -> None:
        self.client = client
        self.per_minute = per_minute
        self.burst = max(burst, 1)
        self._script = client.register_script(_GCRA)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def charge(self, token: str, cost: int = 1) -> Refused | None:
        """Admit `cost` runs for this token now, or say when to retry."""
        if not self.enabled:
            return None
        interval_us = 60_000_000 // self.per_minute
        # A single request may always cost up to its own size, however small the burst.
        tolerance_us = interval_us * max(self.burst, cost)
        key = "jaula:rate:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        try:
            wait_us = int(await self._script(keys=[key], args=[interval_us, tolerance_us, cost]))
        except RedisError as exc:
            # Fail open: without Redis nothing can be queued anyway, and the API stays readable.
            log.warning("rate limiter unavailable, admitting the request: %s", exc)
            return None
        return Refused(max(1, math.ceil(wait_us / 1_000_000))) if wait_us > 0 else None
