from django.urls import path
from rest_framework.routers import DynamicRoute, SimpleRouter

from . import views


class Router(SimpleRouter):
    """Collections and items end in '/'; actions do not (`/instances/{id}/cancel`)."""

    routes = [
        route._replace(url=route.url.replace("{trailing_slash}$", "$"))
        if isinstance(route, DynamicRoute)
        else route
        for route in SimpleRouter.routes
    ]


router = Router(trailing_slash=True)
router.register("instances", views.InstanceViewSet, basename="instance")
router.register("secrets", views.SecretViewSet, basename="secret")

version = "definitions/<str:key>/versions/<str:version>"

urlpatterns = [
    path("definitions/", views.DefinitionListView.as_view(), name="definition-list"),
    path(
        "definitions/validate", views.DefinitionValidateView.as_view(), name="definition-validate"
    ),
    path("definitions/<str:key>/", views.definition_key_detail, name="definition-detail"),
    path(
        "definitions/<str:key>/starters",
        views.DefinitionStartersView.as_view(),
        name="definition-starters",
    ),
    path(f"{version}/", views.DefinitionVersionView.as_view(), name="definition-version"),
    path(f"{version}/publish", views.publish_version, name="definition-publish"),
    path(f"{version}/archive", views.archive_version, name="definition-archive"),
    path(f"{version}/mark-latest", views.mark_latest_version, name="definition-mark-latest"),
    path(f"{version}/export", views.export_version, name="definition-export"),
    path(f"{version}/diagram.svg", views.version_diagram, name="definition-diagram"),
    path("events/", views.ingest_event, name="event-ingest"),
    *router.urls,
]
