"""Sensing network (一张网): SensorThings model, intake, time series."""
