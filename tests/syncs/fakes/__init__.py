"""Local fakes of the providers' APIs (pytest-httpserver), shared by the connector tests
and the end-to-end tests."""
