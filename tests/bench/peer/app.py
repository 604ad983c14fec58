"""The peer: the accept service a team would write instead of Rabt, for benchmark P.

FastAPI on uvicorn, asyncpg and aio-pika. `POST /v1/requests` does the same accept work
as Rabt's, for `post.address.verify`:

1. the API key from `Authorization: Bearer <key>` is looked up by its SHA-256 digest
   (one query joining the key and its cooperative);
2. `Idempotency-Key` is required; the body must be JSON naming a service the cooperative
   may call, and its `input` is validated against the same JSON Schema as Rabt's
   (schemas/services/post.address.verify.input.json, with schemas/common.json) by the
   `jsonschema` package;
3. one transaction inserts the idempotency key and the request (a reused key replays
   the first answer, or 422 if the body differs);
4. after the commit, the task is published persistent and mandatory to a quorum queue,
   and the publisher confirm is awaited;
5. `202` with the request id and its `Location`.

What it does not do that Rabt does: no audit rows, no task rows, no outbox (it publishes
inline, so a crash between the commit and the publish loses the task), no trace context,
no problem+json in two languages. It is the lighter service, which is the point of the
comparison. Configuration comes from the environment: PEER_DATABASE_URL,
PEER_AMQP_URL, PEER_SCHEMAS (the schemas/ folder), PEER_POOL_SIZE (default 16 per
worker, as Rabt's `database.max_connections`).
"""

import hashlib
import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

import aio_pika
import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

QUEUE = "peer.tasks"
SERVICE = "post.address.verify"


def input_validator() -> Draft202012Validator:
    """The same schema Rabt validates with, its `$ref`s resolved from schemas/."""
    root = Path(os.environ["PEER_SCHEMAS"])
    common = json.loads((root / "common.json").read_text())
    schema = json.loads((root / "services" / f"{SERVICE}.input.json").read_text())
    registry = Registry().with_resources(
        [(common["$id"], Resource.from_contents(common))]
    )
    return Draft202012Validator(schema, registry=registry)


state = {}


@asynccontextmanager
async def lifespan(app: FastAPI):
    size = int(os.environ.get("PEER_POOL_SIZE", "16"))
    state["validator"] = input_validator()
    state["pool"] = await asyncpg.create_pool(
        os.environ["PEER_DATABASE_URL"], min_size=size, max_size=size
    )
    connection = await aio_pika.connect_robust(os.environ["PEER_AMQP_URL"])
    # Publisher confirms on: each publish waits for the broker's ack, as Rabt's relay.
    channel = await connection.channel(publisher_confirms=True)
    await channel.declare_queue(
        QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    state["channel"] = channel
    yield
    await connection.close()
    await state["pool"].close()


app = FastAPI(lifespan=lifespan)


def problem(status: int, title: str, errors=None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def accepted(request_id: str) -> JSONResponse:
    location = f"/v1/requests/{request_id}"
    return JSONResponse(
        {"id": request_id, "status": "ACCEPTED", "links": {"self": location}},
        status_code=202,
        headers={"Location": location},
    )


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.post("/v1/requests")
async def create(request: Request):
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer "):
        return problem(401, "send your API key as `Authorization: Bearer <key>`")
    key_hash = hashlib.sha256(authorization[7:].encode()).hexdigest()
    idempotency_key = request.headers.get("idempotency-key")
    if not idempotency_key or len(idempotency_key) > 255:
        return problem(400, "an Idempotency-Key header is required")
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        return problem(400, "the body is not JSON")
    if not isinstance(body, dict) or body.get("service") != SERVICE:
        return problem(422, "unknown service", [{"pointer": "/service"}])
    violations = [
        {"pointer": "/input/" + "/".join(str(p) for p in e.absolute_path), "detail": e.message}
        for e in state["validator"].iter_errors(body.get("input"))
    ]
    if violations:
        return problem(422, "the input is invalid", violations)

    request_id = "req_" + uuid.uuid4().hex
    body_hash = hashlib.sha256(raw).hexdigest()
    now = datetime.now(timezone.utc)
    async with state["pool"].acquire() as db:
        cooperative = await db.fetchrow(
            "SELECT c.id, c.services FROM api_keys k JOIN cooperatives c ON c.id = k.cooperative_id "
            "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND c.active",
            key_hash,
        )
        if cooperative is None:
            return problem(401, "the API key is unknown or revoked")
        if SERVICE not in cooperative["services"]:
            return problem(403, f"no access to `{SERVICE}`")
        async with db.transaction():
            claimed = await db.fetchval(
                "INSERT INTO idempotency_keys (cooperative_id, key, body_hash, request_id, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING request_id",
                cooperative["id"], idempotency_key, body_hash, request_id, now,
            )
            if claimed is None:
                first = await db.fetchrow(
                    "SELECT body_hash, request_id FROM idempotency_keys "
                    "WHERE cooperative_id = $1 AND key = $2",
                    cooperative["id"], idempotency_key,
                )
                if first["body_hash"] != body_hash:
                    return problem(422, "the Idempotency-Key was used with another body")
                return accepted(first["request_id"])
            await db.execute(
                "INSERT INTO requests (id, cooperative_id, service, input, status, created_at) "
                "VALUES ($1, $2, $3, $4::jsonb, 'ACCEPTED', $5)",
                request_id, cooperative["id"], SERVICE, json.dumps(body["input"]), now,
            )
    message = aio_pika.Message(
        json.dumps({"v": "1", "request": request_id, "service": SERVICE}).encode(),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=request_id,
        content_type="application/json",
    )
    # Awaits the publisher confirm (mandatory: an unroutable task is an error).
    await state["channel"].default_exchange.publish(message, routing_key=QUEUE, mandatory=True)
    return accepted(request_id)
