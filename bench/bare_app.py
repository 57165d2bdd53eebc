"""The baseline: a bare FastAPI endpoint returning the same JSON as the app's /users/me.

bench/run.py serves it with the rendered project's own uvicorn (`uvicorn bare_app:app
--no-access-log`) and passes the body to return in BENCH_USER_JSON.
"""

import json
import os

from fastapi import FastAPI

app = FastAPI()
USER: dict[str, object] = json.loads(os.environ["BENCH_USER_JSON"])


@app.get("/api/v1/users/me")
async def read_me() -> dict[str, object]:
    return USER
