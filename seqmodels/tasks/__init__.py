"""LightningModules: losses, metrics, logging and figures for the ready tasks."""
