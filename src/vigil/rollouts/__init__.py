"""Fleet rollouts: the rollout-coordinator service, its pure decisions and its commands."""
