"""The rollout-coordinator service and its pure decisions (waves, spec, next steps)."""
