from rest_framework.routers import SimpleRouter


class ApiRouter(SimpleRouter):
    """Paths as the references write them (no trailing slash); a trailing slash is tolerated."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
