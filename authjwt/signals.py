"""A user's JWTs end with the credentials they were issued under: a password change (the Django
admin, `changepassword`, any `set_password` then `save`), a password removed, or a deactivation
revokes every token of that user, in the database and in the shared revocation set that every
worker reads (`services.user_sessions_end`). Connected in `AuthjwtConfig.ready()`.

Django's own session hash already ends the user's browser sessions on a password change; a JWT
carries no such hash, so without this its access token kept working and its refresh token kept
minting new ones."""

from typing import Any

from .services import user_sessions_end

CHANGED_REASON = "Password changed"
REMOVED_REASON = "Password removed"
DEACTIVATED_REASON = "User deactivated"


def _credential_change(user: Any) -> str | None:
    """Why the user's tokens must end, or None. A password set since the user was loaded is one:
    Django keeps the raw value in `_password` until the save (for `password_changed`), and clears
    it before saving a hash merely upgraded at sign-in. The database is read only when the user
    being saved is inactive or has no usable password."""
    if user.pk is None:
        return None
    if getattr(user, "_password", None) is not None:
        return CHANGED_REASON
    if user.is_active and user.has_usable_password():
        return None
    stored = type(user)._default_manager.filter(pk=user.pk).values("is_active", "password").first()
    if stored is None:
        return None
    if stored["is_active"] and not user.is_active:
        return DEACTIVATED_REASON
    if stored["password"] != user.password:
        return REMOVED_REASON
    return None


def note_credential_change(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """pre_save of the user model: remember what changed, before the row is overwritten."""
    instance._credential_change = None if raw else _credential_change(instance)


def end_sessions_on_credential_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save of the user model, in the saving transaction."""
    reason = getattr(instance, "_credential_change", None)
    if reason is not None:
        instance._credential_change = None
        user_sessions_end(user=instance, reason=reason)
