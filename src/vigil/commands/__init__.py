"""The `vigil` tools: each command a module (check, status and trigger, events and history,
rollout and approve, skip, --health-check), over the bus a tool opens (tool_bus). None of them
starts a service; the services run under vigil.process."""
