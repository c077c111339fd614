from django.urls import path

from . import views

urlpatterns = [
    path("config/version", views.VersionListView.as_view()),
    path("config/version/current", views.CurrentVersionView.as_view()),
    path("config/version/<int:version>", views.VersionDetailView.as_view()),
    path("config/version/<int:version>/diff/<int:other>", views.VersionDiffView.as_view()),
    path("config/version/apply/<int:version>", views.VersionApplyView.as_view()),
    path("config/version/rollback/<int:version>", views.VersionRollbackView.as_view()),
]
