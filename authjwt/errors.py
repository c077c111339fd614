"""Errors of the authentication services, rendered in the envelope by the kernel's handler."""

from routerproject.exceptions import DomainError


class InvalidCredentials(DomainError):
    """Wrong user name or password, or a token that is invalid, expired or revoked."""

    status_code = 401
    error_code = "UNAUTHORIZED"
    default_message = "Invalid credentials"
