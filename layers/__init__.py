"""Lambda layer build (``python -m layers.build``)."""
