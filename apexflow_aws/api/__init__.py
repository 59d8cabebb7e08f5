"""The HTTP API: a Powertools resolver (``app``) over the read side (``apexflow.query``), one module per area."""
