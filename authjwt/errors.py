"""Errors of the authentication services, rendered in the envelope by the kernel's handler."""

from rest_framework.exceptions import Throttled

from routerproject.exceptions import DomainError


class InvalidCredentials(DomainError):
    """Wrong user name or password, or a token that is invalid, expired or revoked."""

    status_code = 401
    error_code = "UNAUTHORIZED"
    default_message = "Invalid credentials"


class TooManyAttempts(Throttled):
    """Too many failed passwords for a user name or from an address (`throttles`). A DRF exception,
    because HTTP Basic raises it from inside DRF's authentication: the envelope's 429 with
    `Retry-After`; the sign-in forms and /admin/* catch it and answer in their own shape."""

    default_code = "too_many_attempts"
    wait: int

    def __init__(self, wait: float) -> None:
        # DRF adds "Expected available in N seconds." and rounds `wait` up.
        super().__init__(wait=wait, detail="Too many failed sign-in attempts.")
        unit = "second" if self.wait == 1 else "seconds"
        self.message = f"Too many failed sign-in attempts. Try again in {self.wait} {unit}."
