"""`python -m routing.fakeupstream --port N`: the simulated backend without loading Django."""

from .server import main

main()
