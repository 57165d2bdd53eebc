"""The ASGI application, configured from the environment: `uvicorn {{ cookiecutter.project_slug }}.main:app`."""

from .config import get_settings
from .factory import create_app
from .log import configure_logging
{%- if cookiecutter.use_sentry == "yes" %}
from .sentry import init_sentry
{%- endif %}

settings = get_settings()
configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
{%- if cookiecutter.use_sentry == "yes" %}
init_sentry(settings)
{%- endif %}
app = create_app(settings)
