"""A shared Files API store's quota across real processes: several servers storing at once on one directory
(as Serve replicas do) take exactly the room there is, never more."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from codeloop.errors import QuotaExceeded
from codeloop.files.store import FileStore
from codeloop.owners import key_owner

FILE_BYTES = 100
ROOM = 10  # files of FILE_BYTES the store may hold
SERVERS = 4
TRIES = 10  # each server's, at once: together, more than the room
ROUNDS = 3  # a race lost by chance in one round is unlikely lost in all
OWNER = key_owner("alice")


def store(root: Path) -> FileStore:
    return FileStore(
        root,
        max_file_bytes=FILE_BYTES,
        max_total_bytes=ROOM * FILE_BYTES,
        ttl_s=600,
        max_key_bytes=ROOM * FILE_BYTES,
        shared=True,
    )


def one_server(root: Path, start: Barrier, accepted: multiprocessing.Queue) -> None:
    files = store(root)
    start.wait()
    stored = 0
    for _ in range(TRIES):
        try:
            files.put(OWNER, b"x" * FILE_BYTES, "text/plain")
            stored += 1
        except QuotaExceeded:
            pass
    accepted.put(stored)


def test_servers_storing_at_once_take_exactly_the_quota(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        root = tmp_path / str(round_)
        start = context.Barrier(SERVERS)
        accepted: multiprocessing.Queue = context.Queue()
        servers = [context.Process(target=one_server, args=(root, start, accepted)) for _ in range(SERVERS)]
        for server in servers:
            server.start()
        for server in servers:
            server.join(timeout=120)
            assert server.exitcode == 0
        assert sum(accepted.get(timeout=5) for _ in servers) == ROOM
        assert len(list(root.glob("*.json"))) == ROOM
        assert store(root).used_bytes == ROOM * FILE_BYTES
