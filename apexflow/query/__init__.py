"""The read side: what the API, the command line and the report ask of the database.

One module per resource (``sessions``, ``laps``, ``timing``, ``detections``, ``insights``, ``compare``,
``telemetry``), each with its row models and its SQL; ``base`` holds what they share (filters, pages, errors)
and ``formats`` writes rows as CSV or a readable table.
"""
