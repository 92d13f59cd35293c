"""Exact big-number arithmetic, and primes and number theory: where a float or a guess is off."""

from __future__ import annotations

import math
import random
from functools import cache
from itertools import compress

from codeloop.eval.suites.typical.family import Draft, Family, ask, ordinal

PRIME_LIMIT = 200_000  # above the 2000th prime (17389) and every "primes below N" asked


@cache
def primes() -> tuple[int, ...]:
    """The primes below PRIME_LIMIT, by the sieve of Eratosthenes."""
    sieve = bytearray([1]) * PRIME_LIMIT
    sieve[:2] = b"\0\0"
    for n in range(2, math.isqrt(PRIME_LIMIT) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, PRIME_LIMIT, n)))
    return tuple(compress(range(PRIME_LIMIT), sieve))


def fibonacci(n: int) -> int:
    """F(n) with F(1) = F(2) = 1."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def smallest_factor(n: int) -> int:
    return next((p for p in range(2, math.isqrt(n) + 1) if n % p == 0), n)


# Exact big-number arithmetic.


def _power(rng: random.Random, coded: bool) -> Draft:
    base = rng.choice((2, 2, 3, 7, 11, 13, 17, 19, 23, 99))
    # 20 to 60 digits: past a float's 16, short enough to paste.
    exponent = rng.randint(max(10, int(20 / math.log10(base))), int(60 / math.log10(base)))
    question = ask(
        coded,
        f"What is {base}^{exponent}? I need every digit.",
        f"Compute {base}**{exponent} exactly, all the digits.",
    )
    return Draft(question, str(base**exponent))


def _factorial(rng: random.Random, coded: bool) -> Draft:
    n = rng.randint(18, 40)
    question = ask(
        coded, f"What is {n}!, written out in full?", f"Use code to calculate {n} factorial exactly."
    )
    return Draft(question, str(math.factorial(n)))


def _product(rng: random.Random, coded: bool) -> Draft:
    digits = rng.randint(4, 12)
    other = rng.randint(max(8, 18 - digits), 14)  # a product of 17 digits or more: past a float's
    a = rng.randint(10 ** (digits - 1), 10**digits - 1)
    b = rng.randint(10 ** (other - 1), 10**other - 1)
    question = ask(
        coded,
        f"What's {a:,} times {b:,}? Give the exact result.",
        f"Calculate {a} * {b} exactly.",
    )
    return Draft(question, str(a * b))


def _big_sum(rng: random.Random, coded: bool) -> Draft:
    terms = [rng.randint(10**15, 10**20) for _ in range(rng.randint(4, 7))]
    listed = "\n".join(str(term) for term in terms)
    question = ask(
        coded,
        f"Add these numbers up exactly:\n{listed}",
        f"Write a program to add these numbers exactly:\n{listed}",
    )
    return Draft(question, str(sum(terms)))


BIGNUM = Family(
    "bignum",
    (_power, _factorial, _product, _big_sum),
    fixed=(Draft("What is 17 factorial?", str(math.factorial(17))),),
)


# Primes and number theory.

_FIRST_50 = sum(primes()[:50])

# The seed's question, in the ways people put it.
FIRST_50_PRIMES = (
    Draft("What is the sum of the first 50 prime numbers?", str(_FIRST_50)),
    Draft("Sum the first 50 primes.", str(_FIRST_50)),
    Draft("What do the first fifty prime numbers add up to?", str(_FIRST_50)),
    Draft(
        "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
        "and make sure you get all 50.",
        str(_FIRST_50),
    ),
    Draft("Calculate the sum of the first 50 primes.", str(_FIRST_50)),
)


def _prime_sum(rng: random.Random, coded: bool) -> Draft:
    n = rng.randint(20, 300)
    question = ask(
        coded,
        f"What is the sum of the first {n} prime numbers?",
        f"Write a program that sums the first {n} primes. What is the total?",
    )
    return Draft(question, str(sum(primes()[:n])))


def _nth_prime(rng: random.Random, coded: bool) -> Draft:
    n = rng.randint(100, 2000)
    question = ask(
        coded, f"What is the {ordinal(n)} prime number?", f"Use code to find the {ordinal(n)} prime."
    )
    return Draft(question, str(primes()[n - 1]))


def _gcd_lcm(rng: random.Random, coded: bool) -> Draft:
    common = rng.randint(2, 60)
    numbers = [common * rng.randint(2, 400) for _ in range(rng.choice((2, 3)))]
    listed = ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"
    if rng.random() < 0.5:
        question = ask(
            coded,
            f"What is the greatest common divisor of {listed}?",
            f"Compute the GCD of {listed}.",
        )
        return Draft(question, str(math.gcd(*numbers)))
    question = ask(
        coded,
        f"What's the least common multiple of {listed}?",
        f"Calculate the LCM of {listed}.",
    )
    return Draft(question, str(math.lcm(*numbers)))


def _prime_count(rng: random.Random, coded: bool) -> Draft:
    limit = rng.randint(10, 1000) * 100
    question = ask(
        coded,
        f"How many prime numbers are there below {limit:,}?",
        f"Write a program to count the primes less than {limit}.",
    )
    return Draft(question, str(sum(p < limit for p in primes())))


def _digit_sum(rng: random.Random, coded: bool) -> Draft:
    if rng.random() < 0.5:
        exponent = rng.randint(50, 1000)
        written, value = f"2^{exponent}", 2**exponent
    else:
        n = rng.randint(20, 100)
        written, value = f"{n}!", math.factorial(n)
    question = ask(
        coded,
        f"What is the sum of the digits of {written}?",
        f"Compute the digit sum of {written}.",
    )
    return Draft(question, str(sum(map(int, str(value)))))


def _fibonacci(rng: random.Random, coded: bool) -> Draft:
    n = rng.randint(40, 150)
    question = ask(
        coded,
        f"What is the {ordinal(n)} Fibonacci number, counting F(1) = F(2) = 1?",
        f"Use code to find F({n}), the {ordinal(n)} Fibonacci number, with F(1) = F(2) = 1.",
    )
    return Draft(question, str(fibonacci(n)))


def _divisors(rng: random.Random, coded: bool) -> Draft:
    n = math.prod(rng.choice((2, 2, 3, 3, 5, 7, 11, 13)) for _ in range(rng.randint(3, 7)))
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors = set(small) | {n // d for d in small}
    if rng.random() < 0.5:
        question = ask(
            coded, f"How many divisors does {n} have?", f"Write code to count the divisors of {n}."
        )
        return Draft(question, str(len(divisors)))
    question = ask(
        coded,
        f"What is the sum of all the divisors of {n}, including 1 and {n}?",
        f"Calculate the sum of all divisors of {n}, 1 and {n} included.",
    )
    return Draft(question, str(sum(divisors)))


def _smallest_factor(rng: random.Random, coded: bool) -> Draft:
    # Half of them prime, so the question is also "is N prime?".
    n = rng.randint(10_000, 2_000_000) | 1
    if rng.random() < 0.5:
        while smallest_factor(n) != n:
            n += 2
    else:
        n = rng.choice(primes()[100:400]) * rng.choice(primes()[150:1200])
    question = ask(
        coded,
        f"Is {n} prime? If not, what is its smallest prime factor? Answer with one number: "
        f"{n} itself if it is prime.",
        f"Use code to find the smallest prime factor of {n} (that is {n} itself if it is prime).",
    )
    return Draft(question, str(smallest_factor(n)))


PRIMES = Family(
    "primes",
    (
        _prime_sum,
        _nth_prime,
        _gcd_lcm,
        _prime_count,
        _digit_sum,
        _fibonacci,
        _divisors,
        _smallest_factor,
    ),
    fixed=FIRST_50_PRIMES,
)
