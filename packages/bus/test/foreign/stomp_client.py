"""A foreign deploybus client in Python (Debian's python3-stomp), written from docs/protocol.md alone.

  stomp_client.py send DESTINATION          reads one JSON envelope on stdin and SENDs it (with a receipt)
  stomp_client.py receive DESTINATION N     subscribes, prints the first N message bodies, one per line
"""
import json
import sys
import threading

import stomp


class Collector(stomp.ConnectionListener):
    def __init__(self, wanted):
        self.wanted = wanted
        self.bodies = []
        self.done = threading.Event()

    def on_message(self, frame):
        self.bodies.append(frame.body)
        if len(self.bodies) >= self.wanted:
            self.done.set()


def main():
    mode, destination = sys.argv[1], sys.argv[2]
    conn = stomp.Connection([("127.0.0.1", 61613)], heartbeats=(10000, 10000))
    if mode == "send":
        envelope = json.loads(sys.stdin.read())
        conn.connect("guest", "guest", wait=True)
        conn.send(destination=destination, body=json.dumps(envelope), content_type="application/json",
                  headers={"persistent": "true", "receipt": "sent-1"})
        conn.disconnect(receipt="bye")
        return 0
    wanted = int(sys.argv[3])
    collector = Collector(wanted)
    conn.set_listener("collector", collector)
    conn.connect("guest", "guest", wait=True)
    conn.subscribe(destination=destination, id="1", ack="auto")
    print("READY", flush=True)
    if not collector.done.wait(30):
        print("TIMEOUT", flush=True)
        return 1
    for body in collector.bodies[:wanted]:
        print(body, flush=True)
    conn.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
