"""opsreport: scheduled, measured operations reports for Kubernetes."""

__version__ = "0.1.0"
