"""Pure domain logic: normalisers, the twin fold and its projections."""
