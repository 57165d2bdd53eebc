"""Starlette's CORS middleware, with refusals in the API's error shape."""

import json

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response


class JsonCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        # Starlette answers a refused preflight in plain text; every error here is JSON.
        reason = bytes(response.body).decode()
        body = json.dumps({"detail": reason}).encode()
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        return Response(body, status_code=400, headers=headers, media_type="application/json")
