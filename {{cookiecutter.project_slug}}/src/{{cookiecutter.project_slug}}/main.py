"""The ASGI application, configured from the environment: `uvicorn {{ cookiecutter.project_slug }}.main:app`."""

from .factory import create_app

app = create_app()
