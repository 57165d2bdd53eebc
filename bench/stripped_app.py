"""The rendered app without its middleware stack, served as `python -m secure_api` serves it.

`create_app` builds the same app, routes and dependencies; its middleware list is emptied
before the first request (Starlette builds the stack from that list on first use), so
requests still pass Starlette's own error and exception layers and the routing, and
nothing else. Settings come from the environment, as for the real server.
"""

import uvicorn
from secure_api.config import get_settings
from secure_api.factory import create_app
from secure_api.log import configure_logging

settings = get_settings()
configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
app = create_app(settings)
app.user_middleware.clear()

uvicorn.run(
    app,
    host=settings.HOST,
    port=settings.PORT,
    proxy_headers=False,
    server_header=False,
    log_config=None,
    access_log=False,
)
