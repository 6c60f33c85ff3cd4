"""The only kopf importers. Importing this package registers every handler."""

from opsreport.handlers import schedules, startup

__all__ = ["schedules", "startup"]
