"""Errors that are shown to the user as one clear line (never a traceback)."""


class VeriscopeError(Exception):
    """Base class of every error veriscope reports to a user."""


class MediaError(VeriscopeError):
    """The input cannot be read as media: missing, empty, truncated, unsupported, too large."""

    def __init__(self, path, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):
        # raised in a worker process, it travels back pickled: rebuilt from both arguments
        # (the default rebuilds from the message alone, and unpickling then fails and breaks
        # the whole process pool instead of reporting this one file)
        return type(self), (self.path, self.message)


class DetectorNotFound(VeriscopeError):
    """A detector name given by the user is not registered."""
