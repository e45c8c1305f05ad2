"""Rules engine: plans (预案), pure evaluation, alarms, durable timers."""
