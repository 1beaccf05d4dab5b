"""The project's exception tree: every error a user can act on derives from IkgError."""


class IkgError(Exception):
    """Root of all errors the platform raises on purpose."""


class ConfigError(IkgError):
    """A setting or configuration file is invalid."""


class InputError(IkgError):
    """Input data is malformed; the message names file, line, field and value."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, value: object = None):
        where = ", ".join(p for p in (
            f"file {file}" if file else "",
            f"line {line}" if line is not None else "",
            f"field {field!r}" if field else "",
        ) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.field, self.value = file, line, field, value
        self.reason = message


class GraphError(IkgError):
    """Neo4j is unreachable, rejected the credentials or failed a query."""


class ServerError(IkgError):
    """The managed local Neo4j server could not be installed, started or stopped."""
