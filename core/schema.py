"""OpenAPI description of the project's authentication class (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CookieOrBearerJWTScheme(OpenApiAuthenticationExtension):
    """Either an `Authorization: Bearer` header or the `access_token` cookie authenticates."""

    target_class = "authentication.authentication.CookieOrBearerJWTAuthentication"
    name = ["jwtBearer", "jwtCookie"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": "access_token"},
        ]

    def get_security_requirement(self, auto_schema):
        # A list of requirements means "any one of them" in OpenAPI; a dict would mean "all".
        return [{"jwtBearer": []}, {"jwtCookie": []}]
