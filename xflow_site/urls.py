"""The gateway: one URL map for the API, the admin, the inbox, docs and health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from apps.core.api.tokens import ObtainTokenView
from apps.core.api.views import SchemaView, api_root, me
from apps.core.views import healthz, readyz

api_v1 = [
    path("", api_root, name="root"),
    path("me", me, name="me"),
    path("auth/token", ObtainTokenView.as_view(), name="token"),
    path("", include("apps.workflows.api.urls")),
    path("", include("apps.tasks.api.urls")),
    path("", include("apps.files.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("inbox/", include("apps.tasks.urls")),
    path("", include("apps.tasks.root_urls")),
]

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
