"""generationConfig.stopSequences: cut the text at the first stop sequence, even one split across chunks."""

from __future__ import annotations


class StopScanner:
    """Passes text through, holding back only what could be the start of a stop sequence."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(stop for stop in stops if stop)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text that is safe to emit; after a stop sequence, nothing more."""
        if self.stopped or not self._stops:
            return "" if self.stopped else text
        text = self._held + text
        cut = min((i for i in (text.find(stop) for stop in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = max((self._overlap(text, stop) for stop in self._stops), default=0)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held

    @staticmethod
    def _overlap(text: str, stop: str) -> int:
        """The longest tail of text that is a proper prefix of stop."""
        for size in range(min(len(text), len(stop) - 1), 0, -1):
            if stop.startswith(text[-size:]):
                return size
        return 0
