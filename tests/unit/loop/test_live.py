"""LiveOutput: hostile bytes in, valid text out, in order, coalesced, nothing held back at the end."""

from __future__ import annotations

import asyncio
import itertools

from codeloop.loop.live import LiveOutput


async def collect(live: LiveOutput) -> list[str]:
    return [piece async for piece in live.pieces()]


def test_output_after_a_quiet_spell_goes_out_once_settled() -> None:
    async def scenario() -> tuple[str, str]:
        live = LiveOutput(interval_s=10.0, settle_s=0.05)
        pieces = live.pieces()
        live.feed(b"0")
        await asyncio.sleep(0.01)
        live.feed(b"\n")  # print() writes the newline on its own: it belongs with its line
        first = await asyncio.wait_for(anext(pieces), 1)
        live.feed(b"1\n")  # within the interval: held until it passes, or the block ends
        await asyncio.sleep(0.05)
        live.close()
        return first, await asyncio.wait_for(anext(pieces), 1)

    assert asyncio.run(scenario()) == ("0\n", "1\n")


def test_pieces_come_at_most_once_an_interval() -> None:
    async def scenario() -> list[tuple[float, str]]:
        live = LiveOutput(interval_s=0.2)
        arrived: list[tuple[float, str]] = []

        async def read() -> None:
            async for piece in live.pieces():
                arrived.append((asyncio.get_running_loop().time(), piece))

        reader = asyncio.create_task(read())
        for i in range(30):
            live.feed(f"{i}\n".encode())
            await asyncio.sleep(0.02)
        live.close()
        await reader
        return arrived

    arrived = asyncio.run(scenario())
    assert "".join(piece for _, piece in arrived) == "".join(f"{i}\n" for i in range(30))
    assert 2 <= len(arrived) <= 6, "0.6 s of prints every 20 ms, in pieces at most every 200 ms"
    # The last piece goes out when the block ends, however soon after the one before.
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrived[:-1])]
    assert all(gap >= 0.19 for gap in gaps)


def test_a_flood_of_tiny_writes_becomes_a_few_pieces() -> None:
    async def scenario() -> list[str]:
        live = LiveOutput(piece_chars=1000, settle_s=0)
        pieces = asyncio.create_task(collect(live))
        for _ in range(100_000):
            live.feed(b"x")
        live.close()
        return await pieces

    pieces = asyncio.run(scenario())
    assert "".join(pieces) == "x" * 100_000
    assert len(pieces) <= 101, "one at once, then one per 1000 characters"


def test_a_character_split_between_reads_arrives_whole() -> None:
    async def scenario() -> list[str]:
        live = LiveOutput(interval_s=0, settle_s=0)
        pieces = asyncio.create_task(collect(live))
        snowman = "☃".encode()
        live.feed(b"a" + snowman[:1])
        live.feed(snowman[1:2])
        live.feed(snowman[2:] + b"b")
        live.close()
        return await pieces

    pieces = asyncio.run(scenario())
    assert pieces == ["a", "☃b"]


def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    async def scenario() -> list[str]:
        live = LiveOutput(interval_s=0, settle_s=0)
        pieces = asyncio.create_task(collect(live))
        live.feed(b"\xff\xfe ok \xed\xa0\x80\n")  # not UTF-8, then an encoded lone surrogate
        live.feed("é".encode()[:1])  # the block ends mid-character
        live.close()
        return await pieces

    text = "".join(asyncio.run(scenario()))
    text.encode("utf-8")  # strict: no lone surrogates got through
    assert text == "\ufffd\ufffd ok \ufffd\ufffd\ufffd\n\ufffd"


def test_nothing_is_sent_after_close() -> None:
    async def scenario() -> list[str]:
        live = LiveOutput(interval_s=0, settle_s=0)
        pieces = asyncio.create_task(collect(live))
        live.feed(b"kept\n")
        live.close()
        live.feed(b"late\n")
        live.close()
        return await pieces

    assert asyncio.run(scenario()) == ["kept\n"]
