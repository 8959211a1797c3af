"""HTTP API: app factory, routers, auth and the error envelope (DESIGN §6)."""
