"""The OpenAPI 3 description of the API, generated from the code by drf-spectacular.

``schema.JsonApiAutoSchema`` turns each view into JSON:API operations: the query grammar of
``syncservice.jsonapi.query`` as parameters, request and response documents, JSON:API error
responses. What the views cannot tell by themselves (success statuses, extra parameters,
non-resource bodies) each view documents beside it with ``operations.document_operations``;
``extensions`` the authentication schemes;
``views``/``urls`` serve the schema at ``/api/v1/schema`` and Swagger UI at ``/api/v1/docs``.
"""
