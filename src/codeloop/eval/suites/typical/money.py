"""Money formulas rounded to the cent: compound interest, a loan's monthly payment, savings, a price
after discount and tax, and percentage change. Worked in 60-digit decimals, rounded once at the end."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext

from codeloop.eval.suites.typical.family import Draft, Family, ask, places_word, rounded

_COMPOUNDING = {"annually": 1, "quarterly": 4, "monthly": 12, "daily": 365}


def _rate(rng: random.Random) -> Decimal:
    """An annual rate in percent, to a quarter point: 3.25, 4.5, 6.75."""
    return Decimal(rng.randint(4, 40)) / 4


def compound(principal: Decimal, rate: Decimal, per_year: int, years: int) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        return principal * (1 + rate / 100 / per_year) ** (per_year * years)


def payment(principal: Decimal, rate: Decimal, months: int) -> Decimal:
    """The monthly payment that pays off a loan at an annual `rate` percent, compounded monthly."""
    with localcontext() as context:
        context.prec = 60
        monthly = rate / 100 / 12
        return principal * monthly / (1 - (1 + monthly) ** -months)


def saved(deposit: Decimal, rate: Decimal, months: int) -> Decimal:
    """What monthly deposits, made at each month's end, come to with interest compounded monthly."""
    with localcontext() as context:
        context.prec = 60
        monthly = rate / 100 / 12
        return deposit * ((1 + monthly) ** months - 1) / monthly


def _compound_interest(rng: random.Random, coded: bool) -> Draft:
    while True:
        principal = Decimal(rng.randint(5, 200) * 100)
        rate, years = _rate(rng), rng.randint(2, 30)
        how = rng.choice(list(_COMPOUNDING))
        if (answer := rounded(compound(principal, rate, _COMPOUNDING[how], years), 2)) is not None:
            break
    question = ask(
        coded,
        f"If I put ${principal:,} in an account paying {rate}% a year, compounded {how}, how much is "
        f"there after {years} years? Round to the cent.",
        f"Calculate the balance of ${principal:,} after {years} years at {rate}% annual interest "
        f"compounded {how}, rounded to the cent.",
    )
    return Draft(question, answer)


def _loan_payment(rng: random.Random, coded: bool) -> Draft:
    while True:
        principal = Decimal(rng.randint(10, 800) * 1000)
        rate, years = _rate(rng), rng.choice((3, 5, 10, 15, 20, 25, 30))
        if (answer := rounded(payment(principal, rate, years * 12), 2)) is not None:
            break
    question = ask(
        coded,
        f"What's the monthly payment on a ${principal:,} loan at {rate}% annual interest over {years} "
        "years, with monthly compounding? Round to the cent.",
        f"Write a program to compute the monthly payment for a {years}-year loan of ${principal:,} at "
        f"{rate}% a year (compounded monthly), rounded to cents.",
    )
    return Draft(question, answer)


def _savings(rng: random.Random, coded: bool) -> Draft:
    while True:
        deposit = Decimal(rng.randint(2, 40) * 25)
        rate, years = _rate(rng), rng.randint(2, 40)
        if (answer := rounded(saved(deposit, rate, years * 12), 2)) is not None:
            break
    question = ask(
        coded,
        f"I save ${deposit} at the end of every month in an account paying {rate}% a year, compounded "
        f"monthly. How much will I have after {years} years? Round to the cent.",
        f"Use code: ${deposit} deposited at the end of each month, {rate}% annual interest compounded "
        f"monthly, {years} years. What is the final balance, to the cent?",
    )
    return Draft(question, answer)


def _discount_and_tax(rng: random.Random, coded: bool) -> Draft:
    while True:
        price = Decimal(rng.randint(500, 60_000)) / 100
        discount = rng.choice((10, 15, 20, 25, 30, 40))
        tax = Decimal(rng.randint(8, 80)) / 8  # 1% to 10%, in eighths of a point as sales taxes go
        with localcontext() as context:
            context.prec = 60
            total = price * (100 - discount) / 100 * (100 + tax) / 100
        if (answer := rounded(total, 2)) is not None:
            break
    question = ask(
        coded,
        f"A ${price:.2f} item is {discount}% off, and then {tax.normalize()}% sales tax is added. What do I "
        "pay? Round only the final amount, to the cent.",
        f"Calculate the final price of a ${price:.2f} item after a {discount}% discount and then "
        f"{tax.normalize()}% sales tax, rounded to the cent at the end.",
    )
    return Draft(question, answer)


def _percent_change(rng: random.Random, coded: bool) -> Draft:
    while True:
        before = Decimal(rng.randint(1_000, 500_000)) / 100
        after = Decimal(rng.randint(1_000, 500_000)) / 100
        places = rng.choice((1, 2))
        with localcontext() as context:
            context.prec = 60
            change = (after - before) / before * 100
        if before != after and (answer := rounded(change, places)) is not None:
            break
    question = ask(
        coded,
        f"A stock went from ${before:,.2f} to ${after:,.2f}. What is the percentage change, to "
        f"{places_word(places)}? Use a negative number for a drop.",
        f"Compute the percent change from ${before:,.2f} to ${after:,.2f}, rounded to {places_word(places)} "
        "(negative if it fell).",
    )
    return Draft(question, answer)


MONEY = Family("money", (_compound_interest, _loan_payment, _savings, _discount_and_tax, _percent_change))
