"""The one configuration: defaults, overridden by CODELOOP_* environment variables, then by CLI flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from codeloop.loop.engine import LoopLimits
from codeloop.sandbox.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODELOOP_", frozen=True, extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0 picks a free one).")
    model: str = Field("scripted", description="The default model; `scripted` is always served too.")
    gemini_aliases: bool = Field(
        True, description="Answer requests for gemini-* model names with the default model."
    )
    exec_timeout: float = Field(30.0, gt=0, description="Wall-clock limit per code block, in seconds.")
    output_limit: int = Field(1 << 20, gt=0, description="Bytes of output kept per code block.")
    max_code_blocks: int = Field(10, ge=0, description="Code blocks one request may run.")
    max_request_bytes: int = Field(20 << 20, gt=0, description="Largest request body accepted, in bytes.")
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")

    @property
    def served_models(self) -> list[str]:
        return list(dict.fromkeys([self.model, "scripted"]))

    @property
    def model_aliases(self) -> dict[str, str]:
        return {"gemini-*": self.model} if self.gemini_aliases else {}

    @property
    def sandbox_limits(self) -> Limits:
        return Limits(timeout_s=self.exec_timeout, output_bytes=self.output_limit)

    @property
    def loop_limits(self) -> LoopLimits:
        return LoopLimits(max_code_blocks=self.max_code_blocks, timeout_s=self.exec_timeout)
