"""Run messages: what core.queue writes is what Celery's own producer would, in the same order."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.config import Settings
from core.queue import QUEUE, RUN_TASK, broker_client, make_celery, send_runs
from tests.integration.service.conftest import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    server = RedisServer(tmp_path)  # its own, so that no other test's messages are in the queue
    server.start()
    client = broker_client(server.url)
    yield client
    client.close()
    server.stop()


def oldest_first(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(message) for message in reversed(client.lrange(QUEUE, 0, -1))]


def test_a_run_message_is_the_one_celery_would_send(client: redis.Redis) -> None:
    run_id = uuid.uuid4()
    url = client.get_connection_kwargs()
    app = make_celery(Settings(broker_url=f"redis://{url['host']}:{url['port']}/0"), name="test")
    app.send_task(RUN_TASK, args=[str(run_id)])
    app.close()
    send_runs(client, [run_id])
    celerys, ours = oldest_first(client)

    assert ours.keys() == celerys.keys()
    assert ours["headers"].keys() == celerys["headers"].keys()
    # reply_to names where Celery's results would go; with no result backend nothing reads it.
    assert ours["properties"].keys() == celerys["properties"].keys() - {"reply_to"}
    assert base64.b64decode(ours["body"]) == base64.b64decode(celerys["body"])
    same = ("content-encoding", "content-type")
    assert {key: ours[key] for key in same} == {key: celerys[key] for key in same}
    per_message = {"id", "root_id", "origin"}  # a fresh task id; the sending process
    assert {k: v for k, v in ours["headers"].items() if k not in per_message} == {
        k: v for k, v in celerys["headers"].items() if k not in per_message
    }
    assert ours["headers"]["root_id"] == ours["headers"]["id"] == ours["properties"]["correlation_id"]
    per_message = {"correlation_id", "delivery_tag", "reply_to"}
    assert {k: v for k, v in ours["properties"].items() if k not in per_message} == {
        k: v for k, v in celerys["properties"].items() if k not in per_message
    }


def test_runs_are_delivered_in_the_order_they_were_sent(client: redis.Redis) -> None:
    run_ids = [uuid.uuid4() for _ in range(5)]
    send_runs(client, run_ids)
    sent = [json.loads(base64.b64decode(message["body"]))[0][0] for message in oldest_first(client)]
    assert sent == [str(run_id) for run_id in run_ids]
    tags = {message["properties"]["delivery_tag"] for message in oldest_first(client)}
    assert len(tags) == len(run_ids)  # kombu keys unacknowledged messages by their tag


def test_sending_nothing_sends_nothing(client: redis.Redis) -> None:
    send_runs(client, [])
    assert client.llen(QUEUE) == 0
