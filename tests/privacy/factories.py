"""Generated Dutch test identities (Faker nl_NL); never real personal data."""

from __future__ import annotations

from faker import Faker

from bot.domain.identity import Identity


def fake(seed: int) -> Faker:
    """A Dutch Faker that gives the same people for the same seed."""
    generator = Faker("nl_NL")
    generator.seed_instance(seed)
    return generator


def make_identity(generator: Faker, *, with_bsn: bool = True) -> Identity:
    """One fictional person: a surname, one to three given names, a birth date and a BSN."""
    given = " ".join(generator.first_name() for _ in range(generator.random_int(1, 3)))
    return Identity(
        surname=generator.last_name(),
        given_names=given,
        birth_date=generator.date_of_birth(minimum_age=16, maximum_age=90),
        bsn=generator.ssn() if with_bsn else None,
    )


def make_identities(count: int, *, seed: int = 2026) -> list[Identity]:
    generator = fake(seed)
    return [make_identity(generator, with_bsn=n % 4 != 0) for n in range(count)]
