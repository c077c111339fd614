"""The kernel's one table: generation moves announced through the database
(`routerproject.state.announced`)."""

from django.db import models


class AnnouncedGeneration(models.Model):
    """How many times any process moved the generation counter `key` (process-local state only)."""

    key = models.CharField(max_length=100, primary_key=True)
    moves = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.moves}"
