from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (or per user for sessions, per address otherwise); the rate is
    ``API_RATE_LIMIT`` (e.g. "1200/min"). Over it: 429 with Retry-After."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        access = getattr(request, "auth", None)
        api_key = getattr(access, "api_key", None)
        if api_key is not None:
            ident = f"key:{api_key.pk}"
        elif getattr(request, "user", None) is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
