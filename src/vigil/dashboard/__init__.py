"""The web dashboard: hosts, containers, cycles and the audit stream, live, on one page.

`view` folds the audit stream into what the page shows (pure); `routes` decides what each
request gets (pure); `server` is the HTTP adapter (h11 on asyncio, as the scanner's HTTP API);
`service` wires them to the bus. The page itself is `static/` (plain HTML, CSS and JavaScript,
no build step, nothing from the network).
"""
