from stvos.kit.errors import InvalidStateTransition, NotFound


class SessionNotFound(NotFound):
    default_message = "No such playback session"


class SessionClosed(InvalidStateTransition):
    default_message = "This playback session has ended; start a new one"


class SessionExpired(SessionClosed):
    default_message = "This playback session was closed after a silence; start a new one"
    keeps_changes = True  # the session is marked expired even though the heartbeat is refused
