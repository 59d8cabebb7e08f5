"""ApexFlow's AWS infrastructure as a CDK (Python) app: one construct per concern."""
