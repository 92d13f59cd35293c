"""The one configuration: defaults, overridden by CODELOOP_* environment variables, then by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from codeloop.backends.registry import BackendOptions
from codeloop.loop.limits import LoopLimits
from codeloop.loop.policy import AnswerPolicy
from codeloop.sandbox.limits import DEFAULT_PRELOAD, Limits, SandboxConfig
from codeloop.server.limits import RequestLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODELOOP_", frozen=True, extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0 picks a free one).")
    model: str = Field(
        "qwen2.5-coder-1.5b",
        description="The default model: qwen2.5-coder-1.5b (alias embedded), qwen2.5-coder-0.5b, "
        "scripted, or openai:NAME for a model on --upstream-url. All are served; this one also "
        "answers gemini-* names.",
    )
    gemini_aliases: bool = Field(
        True, description="Answer requests for gemini-* model names with the default model."
    )
    upstream_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible server for openai:NAME, e.g. http://127.0.0.1:8000/v1.",
    )
    upstream_api_key: str | None = Field(
        None, description="API key for the upstream server, if it needs one."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "codeloop", description="Where joined model files are kept."
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedded model (default: all cores)."
    )
    slots: int = Field(
        4,
        ge=1,
        le=64,
        description="Requests the embedded model decodes together; more wait. Each slot keeps one "
        "conversation's KV cache between its turns.",
    )
    exec_timeout: float = Field(30.0, gt=0, description="Wall-clock limit per code block, in seconds.")
    output_limit: int = Field(1 << 20, gt=0, description="Bytes of output kept per code block.")
    max_code_blocks: int = Field(10, ge=0, description="Code blocks one request may run.")
    compute_first: bool = Field(
        True,
        description="Start the reply to a question that needs computing as a program (embedded models), "
        "so the model computes instead of answering from memory.",
    )
    ground_numbers: bool = Field(
        True,
        description="Replace a number in the final answer that is a near miss of one the code printed "
        "(a digit dropped or changed) by the printed one.",
    )
    restore_quotes: bool = Field(
        True,
        description="Before a program runs, put back a string the user quoted that the program "
        "copied with a typo (a near miss, ignoring case), in the case the program wrote it in.",
    )
    votes: int = Field(
        1,
        ge=1,
        le=16,
        description="Programs written at once for a question's first block, each run in its own "
        "interpreter, the answer most of them print kept; 1: no vote. Needs a backend that writes "
        "several continuations at once.",
    )
    result_style: str = Field(
        "tool",
        pattern="^(tool|output)$",
        description="How embedded models see code results: as tool messages (tool) or as ```output "
        "blocks in their own reply (output).",
    )
    max_request_bytes: int = Field(20 << 20, gt=0, description="Largest request body accepted, in bytes.")
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "codeloop",
        description="Where the Files API keeps uploaded files (files/ and uploads/ under it).",
    )
    shared_data_dir: bool = Field(
        False,
        description="--data-dir is shared with other servers (a network filesystem mounted at the same "
        "path on each, as under Ray Serve): each Files API call reads what the others stored and removed.",
    )
    max_file_bytes: int = Field(
        100 << 20,
        gt=0,
        description="Largest file the Files API stores, in bytes; uploads are capped by it, not by "
        "max_request_bytes.",
    )
    max_files_bytes: int = Field(
        2 << 30, gt=0, description="Bytes all stored files and unfinished uploads may take together."
    )
    max_files_bytes_per_key: int = Field(
        1 << 30,
        gt=0,
        description="Bytes one API key's stored files and unfinished uploads may take together (without "
        "API keys only max_files_bytes applies).",
    )
    files_ttl_s: float = Field(
        48 * 3600.0, gt=0, description="Seconds a stored file is kept before it expires (Gemini: 48 h)."
    )
    upload_idle_timeout: float = Field(
        3600.0,
        gt=0,
        description="Seconds an unfinished resumable upload is kept after its last request; then its bytes "
        "are dropped.",
    )
    max_uploads_per_key: int = Field(
        8,
        ge=0,
        description="Unfinished resumable uploads one API key may have open (without API keys, no cap).",
    )
    inline_file_bytes: int = Field(
        4 << 20,
        ge=0,
        description="Files code writes come back inline up to this size; bigger ones (but images) as "
        "fileData links to the Files API.",
    )
    inline_response_bytes: int = Field(
        16 << 20,
        ge=0,
        description="File bytes one response carries inline, images included, first come first served; "
        "past it files come back as fileData links to the Files API.",
    )
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    insecure_no_sandbox: bool = Field(
        False,
        description="Run code in plain processes, without isolation: only where every user is trusted.",
    )
    exec_memory_mib: int = Field(
        1024, gt=0, description="Memory per session, in MiB, beyond the preloaded stack."
    )
    exec_disk_mib: int = Field(
        256, gt=0, description="Size of a session's working dir and of its /tmp, in MiB."
    )
    exec_pids: int = Field(128, gt=0, description="Processes and threads per session.")
    max_sessions: int = Field(
        64, gt=0, description="Live interpreters; past it the least recently used idle one is reset."
    )
    sessions_memory_mib: int | None = Field(
        None,
        gt=0,
        description="Memory all live sessions may use together, in MiB; past it idle ones are reset, least "
        "recently used first (default: half of this machine's memory, read at start).",
    )
    session_idle_timeout: float = Field(
        600.0, gt=0, description="Seconds after which an idle interpreter is reset, its state dropped."
    )
    max_kept_sessions: int = Field(
        16, ge=0, description="Sessions kept across requests (x-codeloop-session: new); idle ones expire."
    )
    max_kept_sessions_per_key: int = Field(
        4,
        ge=0,
        description="Kept sessions one API key may hold (without API keys only max_kept_sessions applies).",
    )
    max_interactions: int = Field(
        1024,
        ge=1,
        description="Interactions stored (the Interactions API, store=true); idle ones expire after "
        "--session-idle-timeout, and a full store drops the creator's least recently used.",
    )
    max_interactions_per_key: int = Field(
        128,
        ge=1,
        description="Interactions one API key may store (without API keys only max_interactions applies).",
    )
    preload: str = Field(
        ",".join(DEFAULT_PRELOAD), description="Comma-separated modules every session starts with imported."
    )
    zygotes: int = Field(1, gt=0, description="Preloaded processes that fork the sessions.")
    ray: str | None = Field(
        None,
        description="Run the sandboxes on a Ray cluster (auto, or HOST:PORT of its head): on every node "
        "with the codeloop_sandbox resource, as many sessions as it has; unset: on this machine.",
    )
    ray_lease_s: float = Field(
        30.0,
        gt=0,
        description="With --ray: a server renews its lease with the sandbox nodes every third of this; a "
        "node closes the (unkept) sessions of a server that stopped renewing for this long.",
    )
    spare_sessions: int = Field(
        1, ge=0, description="Interpreters kept started ahead of demand, so a session opens at once."
    )

    # Access and observability (server/auth.py, limits.py, telemetry.py, logs.py).
    api_keys: SecretStr | None = Field(
        None,
        description="Comma-separated API keys; with any key set (here or in --api-keys-file) every route "
        "but /healthz needs one (x-goog-api-key, ?key= or Authorization: Bearer).",
    )
    api_keys_file: Path | None = Field(
        None, description="File of API keys, one per line; blank lines and # comments are ignored."
    )
    allow_unauthenticated: bool = Field(
        False,
        description="Listen on a non-loopback --host without API keys: anyone who reaches the port can run "
        "code on this machine.",
    )
    max_concurrent_per_key: int = Field(
        4,
        ge=0,
        description="Requests in flight per API key (per client address without keys); past it, 429 at "
        "once. 0: no limit.",
    )
    max_header_bytes: int = Field(
        RequestLimits.max_header_bytes,
        gt=0,
        description="Largest request line and header section, in bytes; past it, 431 and the connection "
        "is closed.",
    )
    max_headers: int = Field(
        RequestLimits.max_headers,
        gt=0,
        description="Most header fields a request may have; past it, 431 and the connection is closed.",
    )
    header_timeout_s: float = Field(
        RequestLimits.header_timeout_s,
        gt=0,
        description="Seconds a request's line and headers may take to arrive; past it, 408 and the "
        "connection is closed (a connection that sends nothing is closed).",
    )
    body_timeout_s: float = Field(
        RequestLimits.body_timeout_s,
        gt=0,
        description="Seconds a request's body may take to arrive whole after its headers; past it, 408 and "
        "the connection is closed.",
    )
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="Log lines as key=value text or JSON, with request ids."
    )

    @property
    def model_aliases(self) -> dict[str, str]:
        return {"gemini-*": self.model} if self.gemini_aliases else {}

    @property
    def backend_options(self) -> BackendOptions:
        return BackendOptions(
            cache_dir=self.cache_dir,
            threads=self.threads,
            slots=self.slots,
            upstream_url=self.upstream_url,
            upstream_api_key=self.upstream_api_key,
            results="output" if self.result_style == "output" else "tool",
        )

    @property
    def sandbox_limits(self) -> Limits:
        return Limits(
            timeout_s=self.exec_timeout,
            output_bytes=self.output_limit,
            memory_mib=self.exec_memory_mib,
            pids=self.exec_pids,
            disk_mib=self.exec_disk_mib,
            file_mib=self.exec_disk_mib,
        )

    @property
    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(
            preload=tuple(name.strip() for name in self.preload.split(",") if name.strip()),
            zygotes=self.zygotes,
            spare_sessions=self.spare_sessions,
            max_sessions=self.max_sessions,
            idle_timeout_s=self.session_idle_timeout,
            sessions_memory_mib=self.sessions_memory_mib,
            insecure_no_sandbox=self.insecure_no_sandbox,
        )

    @property
    def request_limits(self) -> RequestLimits:
        return RequestLimits(
            max_header_bytes=self.max_header_bytes,
            max_headers=self.max_headers,
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
        )

    @property
    def answer_policy(self) -> AnswerPolicy:
        return AnswerPolicy(
            compute_first=self.compute_first,
            ground_numbers=self.ground_numbers,
            restore_quotes=self.restore_quotes,
            votes=self.votes,
        )

    @property
    def loop_limits(self) -> LoopLimits:
        return LoopLimits(max_code_blocks=self.max_code_blocks, timeout_s=self.exec_timeout)
