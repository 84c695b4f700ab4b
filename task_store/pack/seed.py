"""The built-in pack's seed: secret per installation unless a reproducible one is asked for.

The pack is generated from public code, so a public seed would let anyone regenerate every answer
key without the server. By default each medgym home gets its own random seed, made on first use
and kept in `<home>/pack-seed` (mode 0600). `public` selects the published seed (reproducible smoke
tests and comparisons; never for benchmarking) and an integer selects that seed; either is recorded
as such in every episode's provenance.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from medgym.private import secret_text

PUBLIC_SEED = 20250611
SEED_FILE = "pack-seed"
SeedKind = Literal["secret", "public", "explicit"]


def parse_choice(choice: str) -> str:
    """Validate a `MEDGYM_PACK_SEED` value: `secret`, `public` or an integer."""
    text = choice.strip().lower()
    if text in ("secret", "public") or text.lstrip("-").isdigit():
        return text
    raise ValueError("must be 'secret', 'public' or an integer")


def resolve(home: Path, choice: str) -> tuple[int, SeedKind]:
    """The seed to build with, and what kind of seed it is."""
    text = parse_choice(choice)
    if text == "public":
        return PUBLIC_SEED, "public"
    if text != "secret":
        return int(text), "explicit"
    return _secret(home), "secret"


def _secret(home: Path) -> int:
    return int(secret_text(home / SEED_FILE, lambda: str(secrets.randbits(63))))
