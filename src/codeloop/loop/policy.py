"""How the loop steers a model towards right answers: each lever was measured on the dev split of
the typical-questions suite (README, "Right answers") and is on by default only where it helped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerPolicy:
    # A question that needs computing gets a program: the model's reply starts with a ```python
    # fence (backends that can continue a reply only), so it cannot answer from memory instead.
    compute_first: bool = True
    # A number in the final text that contradicts what the code printed (a digit dropped or
    # changed in restating it) is replaced by the printed one as the text streams.
    ground_numbers: bool = True
    # A string literal the program computes with that is a near miss of a string the user quoted
    # (a long word misspelled in copying) is put back as the user wrote it before the program runs.
    restore_quotes: bool = True
    # Programs written for a question's first block, each run, the answer most of them print
    # chosen (1: no vote). Needs a backend that writes several continuations at once.
    votes: int = 1
    vote_temperature: float = 0.7  # for every program but the first, which follows the request
