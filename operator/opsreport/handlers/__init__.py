"""The only kopf importers. Importing this package registers every handler."""

from opsreport.handlers import login, schedules, startup

__all__ = ["login", "schedules", "startup"]
