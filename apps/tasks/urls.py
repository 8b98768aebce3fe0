"""Inbox pages (end users)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "inbox"

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/<uuid:pk>/", views.task_page, name="task"),
    path("tasks/<uuid:pk>/diagram.svg", views.task_diagram, name="task-diagram"),
    path("tasks/<uuid:pk>/attach/", views.task_attach, name="task-attach"),
    path("tasks/<uuid:pk>/<slug:action>/", views.task_action, name="task-action"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="inbox/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
