"""Files API routes: collection and items end in '/', actions do not (`/files/{id}/content`)."""

from rest_framework.routers import DynamicRoute, SimpleRouter

from . import views


class Router(SimpleRouter):
    routes = [
        route._replace(url=route.url.replace("{trailing_slash}$", "$"))
        if isinstance(route, DynamicRoute)
        else route
        for route in SimpleRouter.routes
    ]


router = Router(trailing_slash=True)
router.register("files", views.FileViewSet, basename="file")

urlpatterns = router.urls
