"""Counting letters and words, and string transforms: what a model reading tokens, not letters, misses."""

from __future__ import annotations

import random

from codeloop.eval.suites.generated import WORDS
from codeloop.eval.suites.typical.family import Draft, Family, ask, ordinal

# The parts of a plain sentence: no hyphens, digits or contractions, so its words are not in doubt.
_SUBJECTS = (
    "The old fisherman",
    "My grandmother",
    "A tired student",
    "The little girl",
    "Our new teacher",
    "The quiet librarian",
    "A young farmer",
    "The busy baker",
    "Every morning the postman",
    "The tall stranger",
)
_VERBS = ("carried", "painted", "found", "sold", "borrowed", "cleaned", "dropped", "repaired", "hid")
_OBJECTS = (
    "a heavy wooden box",
    "three green apples",
    "the broken bicycle",
    "an old umbrella",
    "two bright lanterns",
    "a basket of strawberries",
    "the kitchen window",
    "a jar of honey",
    "his favourite blue scarf",
)
_PLACES = (
    "near the river",
    "before breakfast",
    "in the garden",
    "after the long storm",
    "at the market on Sunday",
    "behind the school",
    "during the summer holidays",
    "on the way to the village",
)
_VOWELS = "aeiou"


def sentence(rng: random.Random) -> str:
    parts = (rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_PLACES))
    return " ".join(parts) + "."


def _repeated_letter(rng: random.Random, text: str) -> str:
    """A letter the text has only in lower case, at least twice when it has such a letter."""
    lower = [c for c in sorted(set(text)) if c.isalpha() and c.upper() not in text]
    twice = [c for c in lower if text.count(c) >= 2]
    return rng.choice(twice or lower)


# Counting letters and words.


def _letters_in_word(rng: random.Random, coded: bool) -> Draft:
    word = rng.choice(WORDS)
    letter = _repeated_letter(rng, word)
    question = ask(
        coded,
        f"How many {letter}'s are in {word}?",
        f'Write a program to count how many times the letter "{letter}" appears in "{word}".',
    )
    return Draft(question, str(word.count(letter)))


def _letters_in_sentence(rng: random.Random, coded: bool) -> Draft:
    text = sentence(rng)
    letter = _repeated_letter(rng, text)
    question = ask(
        coded,
        f'How many times does the letter "{letter}" appear in this sentence? "{text}"',
        f'Use code to count the letter "{letter}" in this sentence: "{text}"',
    )
    return Draft(question, str(text.count(letter)))


def _vowels(rng: random.Random, coded: bool) -> Draft:
    text = sentence(rng)
    question = ask(
        coded,
        f'How many vowels (a, e, i, o, u, capitals too, but not y) are in "{text}"?',
        f"Count the vowels in this sentence with code (a, e, i, o and u, upper or lower case; y is not "
        f'one): "{text}"',
    )
    return Draft(question, str(sum(text.lower().count(vowel) for vowel in _VOWELS)))


def _words(rng: random.Random, coded: bool) -> Draft:
    text = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))
    question = ask(
        coded,
        f'How many words are in this text? "{text}"',
        f'Write a Python program that counts the words in: "{text}"',
    )
    return Draft(question, str(len(text.split())))


LETTERS = Family(
    "letters",
    (_letters_in_word, _letters_in_sentence, _vowels, _words),
    fixed=(Draft("How many r's are in strawberry?", str("strawberry".count("r"))),),
)


# String transforms: answered as a string, found quoted or as a whole word in the reply.


def _reverse(rng: random.Random, coded: bool) -> Draft:
    word = rng.choice([word for word in WORDS if word != word[::-1]])
    question = ask(
        coded,
        f"What is {word} spelled backwards?",
        f'Use code to reverse the string "{word}".',
    )
    return Draft(question, word[::-1], "text")


def _sort_letters(rng: random.Random, coded: bool) -> Draft:
    word = rng.choice(WORDS)
    question = ask(
        coded,
        f'If you sort the letters of "{word}" alphabetically, what string do you get?',
        f'Write a program that sorts the letters of "{word}" in alphabetical order and prints the result.',
    )
    return Draft(question, "".join(sorted(word)), "text")


def _replace(rng: random.Random, coded: bool) -> Draft:
    text = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
    old = _repeated_letter(rng, text)
    new = rng.choice([c for c in "xzqjkvw" if c not in text])
    question = ask(
        coded,
        f'Replace every "{old}" in "{text}" with "{new}". What do you get?',
        f'With code, replace each "{old}" in "{text}" by "{new}" and give me the new string.',
    )
    return Draft(question, text.replace(old, new), "text")


def _uppercase(rng: random.Random, coded: bool) -> Draft:
    text = " ".join(rng.sample(WORDS, rng.randint(2, 4)))
    question = ask(
        coded,
        f'Write "{text}" in all capital letters.',
        f'Use Python to convert "{text}" to uppercase.',
    )
    return Draft(question, text.upper(), "text")


def _character_at(rng: random.Random, coded: bool) -> Draft:
    word = rng.choice([word for word in WORDS if len(word) >= 7])
    position = rng.randint(3, len(word))
    question = ask(
        coded,
        f'What is the {ordinal(position)} letter of "{word}"? Put the letter in quotes.',
        f'Use code to find the character at position {position} of "{word}", counting from 1. Give it '
        "in quotes.",
    )
    return Draft(question, word[position - 1], "text")


def _without_vowels(rng: random.Random, coded: bool) -> Draft:
    word = rng.choice([word for word in WORDS if len(word) >= 6])
    question = ask(
        coded,
        f'What is left of "{word}" once you remove all its vowels (a, e, i, o, u)?',
        f'Write a program that deletes the vowels a, e, i, o and u from "{word}". What remains?',
    )
    return Draft(question, "".join(c for c in word if c not in _VOWELS), "text")


STRINGS = Family("strings", (_reverse, _sort_letters, _replace, _uppercase, _character_at, _without_vowels))
