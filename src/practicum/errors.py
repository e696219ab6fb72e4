"""The one exception type that the command line turns into a one-line message."""


class PracticumError(Exception):
    """A problem the user can fix (bad input, missing data, a diverged run).

    The CLI prints ``practicum: error: <message>`` on one line and exits with status 2,
    never a traceback. Raise it with a message that says what is wrong and what to do.
    """
