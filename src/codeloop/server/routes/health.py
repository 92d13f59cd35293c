"""Liveness: answers as long as the server's event loop does."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/healthz", response_description="The server is up; no API key is needed.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
