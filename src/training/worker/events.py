"""JSON-lines events on stdout: the worker's only channel to the runner (stderr is for humans)."""
import json
import sys


class Events:
    def __init__(self, stream=sys.stdout):
        self.stream = stream

    def emit(self, event, **fields):
        self.stream.write(json.dumps({"event": event, **fields}, allow_nan=False, default=str) + "\n")
        self.stream.flush()

    def error(self, message):
        self.emit("error", message=message)
