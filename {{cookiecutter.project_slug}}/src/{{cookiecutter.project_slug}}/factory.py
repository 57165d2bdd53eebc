"""The application factory: everything an app instance needs, built once."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from limits.aio.storage import MemoryStorage, Storage
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import health
from .account.closed import WRITE_ERRORS, handle_write_to_closed_account
{%- if cookiecutter.passkeys == "yes" %}
from .account.passkeys_router import router as passkeys_router
{%- endif %}
from .account.router import router as account_router
from .account.sessions_router import router as sessions_router
from .admin.router import router as admin_router
from .api_keys.key_store import DatabaseApiKeyStore
from .api_keys.router import router as api_keys_router
from .auth.cookie_router import router as cookie_router
{%- if cookiecutter.passkeys == "yes" %}
from .auth.passkey_router import cookie_router as passkey_cookie_router
from .auth.passkey_router import router as passkey_login_router
{%- endif %}
from .auth.router import login
from .auth.router import router as auth_router
from .bootstrap import ensure_first_admin
from .config import Settings, get_settings
from .db import create_engine, create_sessionmaker
from .docs import add_docs
from .errors import (
    AppError,
    handle_app_error,
{%- if cookiecutter.use_redis == "yes" %}
    handle_auth_state_unavailable,
{%- endif %}
    handle_hasher_busy,
    handle_rate_limited,
    handle_validation_error,
)
from .items.router import router as items_router
from .mail import create_mail_sender
from .mfa.router import router as mfa_router
from .middleware.body_limit import BodyLimitMiddleware
from .middleware.cors import JsonCORSMiddleware
from .middleware.https_redirect import HTTPSRedirectMiddleware
from .middleware.proxy_headers import trusted_networks
from .middleware.request_context import RequestContextMiddleware
from .middleware.security_headers import REDOC_CSP, SWAGGER_CSP, SecurityHeadersMiddleware
from .middleware.trusted_host import TrustedHostMiddleware
from .migrate import prepare_schema
from .openapi import describe_security
{%- if cookiecutter.multi_tenancy == "yes" %}
from .organizations.router import invitations_router
from .organizations.router import router as organizations_router
{%- endif %}
from .purge import periodic_purge
{%- if cookiecutter.use_redis == "yes" %}
from .redis_state import RedisAuthVersions, create_pool, rate_limit_storage
{%- endif %}
from .security.cookies import CSRF_HEADER, CookiePolicy, CsrfTokens
from .security.encryption import SecretBox
from .security.password_guard import PasswordGuard
from .security.passwords import HasherBusyError, PasswordHasher
{%- if cookiecutter.use_redis == "yes" %}
from .security.principal_cache import (
    AuthStateUnavailableError,
    AuthVersions,
    LocalAuthVersions,
    PrincipalCache,
)
{%- else %}
from .security.principal_cache import AuthVersions, LocalAuthVersions, PrincipalCache
{%- endif %}
from .security.rate_limit import RateLimitedError, RateLimiter
from .security.tokens import TokenCodec
from .services import Services
{%- if cookiecutter.multi_tenancy == "yes" and cookiecutter.database == "postgresql" %}
from .tenancy.row_security import check_row_security
{%- endif %}
{%- if cookiecutter.use_opentelemetry == "yes" %}
from .tracing import add_tracing
{%- endif %}
from .users.router import router as users_router
from .users.session_store import DatabaseSessionStore

API_PREFIX = "/api/v1"
# The HTML pages of the docs, each with the narrowest CSP its viewer works under.
DOCS_PAGE_POLICIES = {"/docs": SWAGGER_CSP, "/redoc": REDOC_CSP}


def create_services(settings: Settings) -> Services:
    engine = create_engine(settings.DATABASE_URL)
    auth_versions, limit_storage = create_shared_state(settings)
    limiter = RateLimiter(
        limit_storage,
        login=settings.RATE_LIMIT_LOGIN,
        refresh=settings.RATE_LIMIT_REFRESH,
        default=settings.RATE_LIMIT_DEFAULT,
    )
    sessionmaker = create_sessionmaker(engine)
    hasher = PasswordHasher(
        time_cost=settings.ARGON2_TIME_COST,
        memory_cost=settings.ARGON2_MEMORY_COST,
        parallelism=settings.ARGON2_PARALLELISM,
        max_workers=settings.PASSWORD_HASH_WORKERS,
        max_waiting=settings.PASSWORD_HASH_QUEUE,
    )
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        hasher=hasher,
        passwords=PasswordGuard(hasher, limiter),
        tokens=TokenCodec(
            secret_key=settings.SECRET_KEY.get_secret_value(),
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
        ),
        mailer=create_mail_sender(settings, limiter),
        principals=PrincipalCache(auth_versions),
        login_sessions=DatabaseSessionStore(sessionmaker),
        api_keys=DatabaseApiKeyStore(sessionmaker),
        cookies=cookie_policy(settings),
        csrf=CsrfTokens(settings.SECRET_KEY.get_secret_value()),
        totp_secrets=SecretBox(settings.mfa_encryption_keys),
        limiter=limiter,
    )


def cookie_policy(settings: Settings) -> CookiePolicy | None:
    if not settings.COOKIE_SESSIONS:
        return None
    return CookiePolicy(
        secure=settings.cookie_secure,
        same_site=settings.COOKIE_SAMESITE,
        api_path=API_PREFIX,
        cookie_routes_path=f"{API_PREFIX}/auth/cookie",
        allowed_origins=frozenset(settings.CORS_ORIGINS),
    )


def create_shared_state(settings: Settings) -> tuple[AuthVersions, Storage]:
{%- if cookiecutter.use_redis == "yes" %}
    """Where auth versions and rate-limit counters live: this process, or Redis."""
{%- else %}
    """Where auth versions and rate-limit counters live: this process."""
{%- endif %}
{%- if cookiecutter.use_redis == "yes" %}
    if settings.REDIS_URL:
        pool = create_pool(settings.REDIS_URL)
        versions = RedisAuthVersions(pool, settings.REDIS_URL)
        return versions, rate_limit_storage(settings.REDIS_URL, pool)
{%- endif %}
    storage = MemoryStorage()
    return LocalAuthVersions(storage), storage


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = create_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            # Nothing else would create a SQLite file's schema; a server database is
            # migrated explicitly, and only checked here.
            await prepare_schema(services.engine, migrate_now=settings.is_sqlite)
{%- if cookiecutter.multi_tenancy == "yes" and cookiecutter.database == "postgresql" %}
            if settings.is_production:
                await check_row_security(services.engine)
{%- endif %}
            await ensure_first_admin(settings, services.sessionmaker, services.hasher)
{%- if cookiecutter.use_redis == "yes" %}
            # One invalidation feed per process (per uvicorn worker): until it is
            # subscribed, every request reads Redis.
            await services.principals.versions.open()
{%- endif %}
            async with periodic_purge(
                services.engine, settings, interval_seconds=settings.PURGE_INTERVAL_MINUTES * 60
            ):
                yield
        finally:
            await services.engine.dispose()
            await services.principals.versions.close()
            services.hasher.close()
{%- if cookiecutter.use_opentelemetry == "yes" %}
            if tracer_provider is not None:
                # Sends the spans still waiting in the batch.
                tracer_provider.shutdown()
{%- endif %}

    app = FastAPI(
        title=settings.PROJECT_NAME,
        version="0.1.0",
        debug=settings.DEBUG,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(RateLimitedError, handle_rate_limited)
{%- if cookiecutter.use_redis == "yes" %}
    app.add_exception_handler(AuthStateUnavailableError, handle_auth_state_unavailable)
{%- endif %}
    app.add_exception_handler(HasherBusyError, handle_hasher_busy)
    for write_error in WRITE_ERRORS:
        app.add_exception_handler(write_error, handle_write_to_closed_account)

    # Each router is included once, straight into the app, busiest first: a request
    # walks the route tables in order, and each table it passes costs time. No two routes
    # share a path, so the order costs time only, never changes which route answers: a
    # new router goes where its traffic ranks (last, if unsure).
    protected = (
        users_router,
        items_router,
        admin_router,
        api_keys_router,
        sessions_router,
        mfa_router,
        account_router,
{%- if cookiecutter.passkeys == "yes" %}
        passkeys_router,
{%- endif %}
{%- if cookiecutter.multi_tenancy == "yes" %}
        organizations_router,
        invitations_router,
{%- endif %}
    )
    for router in protected:
        app.include_router(router, prefix=API_PREFIX)
    # /auth sets its own limits: RATE_LIMIT_LOGIN on the endpoints that take no token.
    app.include_router(auth_router, prefix=API_PREFIX)
    app.include_router(cookie_router, prefix=API_PREFIX)
{%- if cookiecutter.passkeys == "yes" %}
    app.include_router(passkey_login_router, prefix=API_PREFIX)
    app.include_router(passkey_cookie_router, prefix=API_PREFIX)
{%- endif %}
    app.include_router(health.router, prefix=API_PREFIX)
    describe_security(app, token_endpoint=login)
    add_docs(app, settings)
    add_middleware(app, settings)
{%- if cookiecutter.use_opentelemetry == "yes" %}
    tracer_provider = add_tracing(app, settings)
{%- endif %}
    return app


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """The middleware stack; the last added runs first on the way in."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
    if settings.CORS_ORIGINS:
        app.add_middleware(
            JsonCORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=settings.CORS_ALLOW_CREDENTIALS,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Request-ID",
                CSRF_HEADER,
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    if settings.is_production:
        app.add_middleware(HTTPSRedirectMiddleware, exempt_prefixes=(f"{API_PREFIX}/health",))
    # Outside the redirect: an unknown Host is refused, never redirected to.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.ALLOWED_HOSTS)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=settings.is_production, page_policies=DOCS_PAGE_POLICIES
    )
    if settings.TRUSTED_PROXIES:
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=trusted_networks(settings.TRUSTED_PROXIES)
        )
