"""LightningDataModules for the ready tasks."""
