"""The HTTP API: a Powertools resolver (``app.app``) over the read side (``apexflow.query``), one module per area."""

IAM_PREFIX = "/iam"  # services signing with SigV4 call the same routes under this prefix (infra/api.py routes it)
