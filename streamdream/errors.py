"""The two kinds of failure the command line tells apart by exit code."""


class StreamdreamError(Exception):
    """A failure with a one-line message meant for the user, in the library's own terms: a
    setting is named as `name` (in backticks), so the command line can show its flag instead and
    a preset, a schedule or Python can show the name. `setting` is the one the error is about."""

    exit_code = 1

    def __init__(self, message: str = "", setting: str | None = None):
        super().__init__(message)
        self.setting = setting


class UsageError(StreamdreamError):
    """Bad usage or bad input: the user can fix it (exit 2)."""

    exit_code = 2


class Cancelled(Exception):
    """Long work (a dream step) stopped because its run was asked to stop: a clean stop, not a failure."""


class RunError(StreamdreamError):
    """The input was fine but the work failed (exit 1)."""

    exit_code = 1


def did_you_mean(word: str, choices, n: int = 3) -> str:
    """' (did you mean a, b?)' for the closest of `choices`, or '' when none is close."""
    import difflib

    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + ", ".join(lowered[c] for c in close) + "?)"
