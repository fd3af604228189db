"""OpenAPI description of the project's authentication class (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CookieOrBearerJWTScheme(OpenApiAuthenticationExtension):
    target_class = "authentication.authentication.CookieOrBearerJWTAuthentication"
    name = ["jwtBearer", "jwtCookie"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": "access_token"},
        ]
