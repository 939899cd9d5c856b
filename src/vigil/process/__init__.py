"""The host process of `vigil` and `vigil <service>`: the runner (the composition of the
services' roots), each service's config from the options, the embedded NATS, the state lock,
signals, the Prometheus endpoint and the cycles' schedule."""
