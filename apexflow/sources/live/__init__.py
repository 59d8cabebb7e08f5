"""Live adapters: messages of a running session -> live events (``events``) for the live stage.

``f1``: F1 live timing (the SignalR stream FastF1's ``livetiming`` client records); ``openf1``: OpenF1's
MQTT messages; ``feeds``: the connections that bring those messages (SignalR, MQTT) and recorded
streams replayed at any pace.
"""
