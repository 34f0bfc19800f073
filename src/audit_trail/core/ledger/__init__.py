"""The tenant log at work: group commit on the way in, proofs and checkpoints on the way out."""

from __future__ import annotations
