"""Socket.IO client managers that can drop every socket of a room on every server process."""

import socketio

# An internal event name: handled by the managers themselves, never delivered to clients.
DISCONNECT_ROOM = "sv:disconnect-room"


class RoomDisconnectMixin:
    """Adds `disconnect_room()`: with a message queue the request travels as an emit to the
    room, so every process (this one included) disconnects its own sockets in that room."""

    def disconnect_room(self, room: str, namespace: str) -> None:
        if isinstance(self, socketio.PubSubManager):
            self.emit(DISCONNECT_ROOM, None, namespace=namespace, room=room)
        else:
            self._disconnect_local(room, namespace)

    def _disconnect_local(self, room: str, namespace: str) -> None:
        for sid, _eio_sid in list(self.get_participants(namespace, room)):
            self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    def _handle_emit(self, message):
        if message.get("event") == DISCONNECT_ROOM:
            self._disconnect_local(message.get("room"), message.get("namespace") or "/")
            return None
        return super()._handle_emit(message)


class LocalManager(RoomDisconnectMixin, socketio.Manager):
    """One process, no message queue."""


class RedisManager(RoomDisconnectMixin, socketio.RedisManager):
    """Several processes sharing rooms through Redis."""


class KombuManager(RoomDisconnectMixin, socketio.KombuManager):
    """Several processes sharing rooms through a Kombu broker (AMQP…)."""


def session_dropping_manager(url: str | None, channel: str | None = None):
    """The client manager for SV_SOCKETIO_MESSAGE_QUEUE (none: this process only)."""
    channel = channel or "flask-socketio"
    if not url:
        return LocalManager()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisManager(url, channel=channel)
    return KombuManager(url, channel=channel)
